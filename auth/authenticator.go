package auth

import (
	"context"
	"crypto/x509"
	"strings"
)

// An Identity is who authenticated: what a successful login yields and what
// servers pass to their backends.
type Identity struct {
	// Username is the canonical name of the user as the directory knows it
	// (often an email address). Backends key mailboxes by it.
	Username string

	// SendAs lists further addresses this user may use as the envelope or
	// header sender on submission, besides Username itself when it is an
	// address. An entry "@example.org" allows every address in that domain.
	SendAs []string
}

// MaySendAs reports whether the identity may send mail as addr: addr equals
// Username, or matches an entry of SendAs, or its domain matches an
// "@domain" entry. Comparison is case-insensitive.
func (id Identity) MaySendAs(addr string) bool {
	if addr == "" {
		return false
	}
	if strings.EqualFold(addr, id.Username) {
		return true
	}
	at := strings.LastIndexByte(addr, '@')
	for _, a := range id.SendAs {
		if strings.EqualFold(addr, a) {
			return true
		}
		if strings.HasPrefix(a, "@") && at >= 0 && strings.EqualFold(addr[at:], a) {
			return true
		}
	}
	return false
}

// An Authenticator checks a username and password and returns the identity
// they belong to. It is the one interface every host implements; PLAIN, LOGIN
// and the protocols' plain login commands use it.
//
// Authenticate must return an error wrapping [ErrInvalidCredentials] for an
// unknown user, a wrong password or a disabled account alike, and should do
// the same work in each case (hash a dummy password for an unknown user), so
// that neither the reply nor its timing tells them apart. It returns
// [ErrUnavailable] when it cannot answer. The context carries the facts of
// the connection ([github.com/mailfront/mailfront.ConnInfoFromContext]).
//
// An Authenticator must be safe for concurrent use.
type Authenticator interface {
	Authenticate(ctx context.Context, username, password string) (Identity, error)
}

// AuthenticatorFunc adapts a function to the [Authenticator] interface.
type AuthenticatorFunc func(ctx context.Context, username, password string) (Identity, error)

// Authenticate calls f(ctx, username, password).
func (f AuthenticatorFunc) Authenticate(ctx context.Context, username, password string) (Identity, error) {
	return f(ctx, username, password)
}

// SCRAMHash names the hash function of a SCRAM mechanism.
type SCRAMHash string

// The SCRAM hash functions supported.
const (
	SCRAMSHA1   SCRAMHash = "SHA-1"
	SCRAMSHA256 SCRAMHash = "SHA-256"
)

// SCRAMCredentials are the stored keys of one user for one SCRAM hash
// (RFC 5802 §3): enough to verify a client without knowing its password.
type SCRAMCredentials struct {
	// Salt is the salt of the PBKDF2 derivation, sent to the client.
	Salt []byte
	// Iterations is the PBKDF2 iteration count, at least 4096 (RFC 7677 §4).
	Iterations int
	// StoredKey is H(ClientKey): it verifies the client's proof.
	StoredKey []byte
	// ServerKey signs the server's final message, proving the server
	// knows the keys.
	ServerKey []byte
	// Identity is the identity a successful exchange yields.
	Identity Identity
}

// A SCRAMKeyStore is an [Authenticator] that can return stored SCRAM keys. It
// enables SCRAM-SHA-1, SCRAM-SHA-256 and their -PLUS variants for the hashes
// it supports.
//
// SCRAMCredentials returns [ErrInvalidCredentials] for an unknown user (the
// mechanism then continues the exchange with made-up keys so that the client
// learns nothing until the end), and [ErrUnsupportedMechanism] when the user
// exists but has no keys for this hash.
type SCRAMKeyStore interface {
	Authenticator
	SCRAMCredentials(ctx context.Context, hash SCRAMHash, username string) (SCRAMCredentials, error)
	// SCRAMHashes reports which hashes the store can serve; mechanisms for
	// others are not advertised.
	SCRAMHashes() []SCRAMHash
}

// A SecretStore is an [Authenticator] that can return a user's plaintext
// secret. It enables CRAM-MD5 and, where a POP3 server allows it, APOP. Hosts
// should prefer SCRAM: storing plaintext secrets is discouraged.
//
// Secret returns [ErrInvalidCredentials] for an unknown user.
type SecretStore interface {
	Authenticator
	Secret(ctx context.Context, username string) (secret string, id Identity, err error)
}

// An NTHashStore is an [Authenticator] that can return a user's NT hash
// (MD4 of the UTF-16LE password), enabling NTLM — NTLMv2 only; LM and NTLMv1
// responses are refused. domain is the domain the client named, possibly
// empty; the store decides whether it matters.
//
// NTHash returns [ErrInvalidCredentials] for an unknown user.
type NTHashStore interface {
	Authenticator
	NTHash(ctx context.Context, username, domain string) (hash [16]byte, id Identity, err error)
}

// A TokenVerifier is an [Authenticator] that can validate OAuth 2.0 bearer
// tokens, enabling OAUTHBEARER (RFC 7628) and XOAUTH2. username is the user
// the client claims (it may be empty for OAUTHBEARER); the verifier checks the
// token grants access to that user's mail.
//
// VerifyToken returns [ErrInvalidCredentials] for a bad or expired token.
type TokenVerifier interface {
	Authenticator
	VerifyToken(ctx context.Context, username, token string) (Identity, error)
}

// A CertificateMapper is an [Authenticator] that maps a verified TLS client
// certificate chain to an identity, enabling SASL EXTERNAL. authzid is the
// identity the client asked for, possibly empty. The chain has already been
// verified by the TLS layer against the server's client CA pool.
type CertificateMapper interface {
	Authenticator
	MapCertificate(ctx context.Context, chain []*x509.Certificate, authzid string) (Identity, error)
}

// An Authorizer decides whether an authenticated identity may act as another
// user (the authorization identity of PLAIN, SCRAM and EXTERNAL). Without an
// Authorizer, an authorization identity is accepted only when it is empty or
// equal to the authenticated username.
type Authorizer interface {
	Authorize(ctx context.Context, id Identity, authzid string) (Identity, error)
}

package auth

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/netip"
)

// LoginPolicy says on which connections clients may send credentials. The
// names are those Exchange administrators know from Set-PopSettings and
// Set-ImapSettings.
//
//	policy                   cleartext (USER/PASS, LOGIN, PLAIN, bearer tokens)   challenge-response (SCRAM, CRAM-MD5, NTLM)
//	SecureLogin (default)    only after TLS                                       only after TLS
//	PlainTextAuthentication  only after TLS                                       also without TLS
//	PlainTextLogin           also without TLS                                     also without TLS
//
// A connection from a trusted network ([Transport.Trusted]) counts as
// secure under every policy.
type LoginPolicy int

const (
	// SecureLogin accepts credentials only on a TLS connection (implicit
	// TLS, or after STARTTLS/STLS). It is the zero value and the default.
	SecureLogin LoginPolicy = iota
	// PlainTextAuthentication also accepts challenge-response mechanisms,
	// which never reveal the password, without TLS. Cleartext credentials
	// still need TLS.
	PlainTextAuthentication
	// PlainTextLogin accepts every credential without TLS. It exposes
	// passwords to anyone on the path and is discouraged; servers log a
	// warning when they start with it.
	PlainTextLogin
)

var loginPolicyNames = [...]string{"secure", "plaintext-auth", "plaintext"}

// String returns the policy's short name: "secure", "plaintext-auth" or
// "plaintext", as accepted by [ParseLoginPolicy].
func (p LoginPolicy) String() string {
	if p < 0 || int(p) >= len(loginPolicyNames) {
		return fmt.Sprintf("LoginPolicy(%d)", int(p))
	}
	return loginPolicyNames[p]
}

// ParseLoginPolicy parses a policy's short name ("secure", "plaintext-auth",
// "plaintext") or its Exchange name ("SecureLogin",
// "PlainTextAuthentication", "PlainTextLogin").
func ParseLoginPolicy(s string) (LoginPolicy, error) {
	switch s {
	case "secure", "SecureLogin":
		return SecureLogin, nil
	case "plaintext-auth", "PlainTextAuthentication":
		return PlainTextAuthentication, nil
	case "plaintext", "PlainTextLogin":
		return PlainTextLogin, nil
	}
	return 0, fmt.Errorf("auth: unknown login policy %q (want secure, plaintext-auth or plaintext)", s)
}

// A Transport describes the connection a login happens on.
type Transport struct {
	// TLS is the state of the connection's TLS layer, nil when the
	// connection is not (yet) encrypted.
	TLS *tls.ConnectionState
	// LocalCertificate is the certificate the server presented in the TLS
	// handshake, used for the tls-server-end-point channel binding of the
	// SCRAM -PLUS mechanisms. Nil disables that binding type.
	LocalCertificate *x509.Certificate
	// Trusted reports that the client is on a network the host trusts (see
	// [InPrefixes]); such a connection counts as secure under every policy.
	Trusted bool
	// RemoteAddr is the client's address, used for throttling and logs.
	RemoteAddr netip.Addr
	// ServerName is the host name the server announces; NTLM and CRAM-MD5
	// put it in their challenges. Empty means "localhost".
	ServerName string
}

// Secure reports whether the connection is encrypted or trusted.
func (t Transport) Secure() bool { return t.TLS != nil || t.Trusted }

// InPrefixes reports whether addr lies in one of the prefixes. Servers use it
// with their TrustedNetworks field to set [Transport.Trusted].
func InPrefixes(addr netip.Addr, prefixes []netip.Prefix) bool {
	addr = addr.Unmap()
	for _, p := range prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Allowed is what a [LoginPolicy] allows on one connection at one moment.
type Allowed struct {
	// Mechanisms are the SASL mechanisms to advertise and accept, strongest
	// first. Empty when no mechanism is allowed.
	Mechanisms []string
	// PlainLogin reports whether the protocol's own cleartext login command
	// (POP3 USER/PASS, IMAP LOGIN) may be used.
	PlainLogin bool
}

// Allows reports whether mech is among the allowed mechanisms.
func (a Allowed) Allows(mech string) bool {
	for _, m := range a.Mechanisms {
		if m == mech {
			return true
		}
	}
	return false
}

// Allowed returns the mechanisms and login commands the policy allows now, on
// the connection t, for an Authenticator a: exactly what a server should
// advertise. Mechanisms the Authenticator cannot serve (see the optional
// interfaces) and mechanisms the connection cannot carry (-PLUS without TLS,
// EXTERNAL without a client certificate) are left out.
func (p LoginPolicy) Allowed(a Authenticator, t Transport) Allowed {
	if a == nil {
		return Allowed{}
	}
	secure := t.Secure()
	cleartextOK := secure || p == PlainTextLogin
	challengeOK := secure || p == PlainTextLogin || p == PlainTextAuthentication
	var out Allowed
	out.PlainLogin = cleartextOK
	for _, m := range SupportedMechanisms(a, t) {
		if isCleartext(m) && !cleartextOK {
			continue
		}
		if !isCleartext(m) && !challengeOK {
			continue
		}
		out.Mechanisms = append(out.Mechanisms, m)
	}
	return out
}

// isCleartext reports whether the mechanism exposes a reusable secret (a
// password or a bearer token) to anyone who can read the connection.
func isCleartext(mech string) bool {
	switch mech {
	case Plain, Login, OAuthBearer, XOAuth2, External:
		// EXTERNAL carries no secret, but it is only meaningful over TLS,
		// which SupportedMechanisms already requires.
		return true
	}
	return false
}

// A MechanismFilter is an [Authenticator] that narrows the mechanisms its
// optional interfaces would otherwise enable, for instance because no user
// in the directory has the secret a mechanism needs. [SupportedMechanisms]
// leaves out every mechanism for which AllowMechanism returns false.
type MechanismFilter interface {
	AllowMechanism(name string) bool
}

// SupportedMechanisms returns the SASL mechanisms a can serve on t,
// strongest first, regardless of policy.
func SupportedMechanisms(a Authenticator, t Transport) []string {
	mechs := supportedMechanisms(a, t)
	if f, ok := a.(MechanismFilter); ok {
		kept := mechs[:0]
		for _, m := range mechs {
			if f.AllowMechanism(m) {
				kept = append(kept, m)
			}
		}
		mechs = kept
	}
	return mechs
}

func supportedMechanisms(a Authenticator, t Transport) []string {
	var mechs []string
	if ks, ok := a.(SCRAMKeyStore); ok {
		hashes := ks.SCRAMHashes()
		has := func(h SCRAMHash) bool {
			for _, x := range hashes {
				if x == h {
					return true
				}
			}
			return false
		}
		plus := t.TLS != nil && len(channelBindingTypes(t)) > 0
		if has(SCRAMSHA256) {
			if plus {
				mechs = append(mechs, SCRAMSHA256Plus)
			}
			mechs = append(mechs, SCRAMSHA256Name)
		}
		if has(SCRAMSHA1) {
			if plus {
				mechs = append(mechs, SCRAMSHA1Plus)
			}
			mechs = append(mechs, SCRAMSHA1Name)
		}
	}
	if _, ok := a.(NTHashStore); ok {
		mechs = append(mechs, NTLM)
	}
	if _, ok := a.(SecretStore); ok {
		mechs = append(mechs, CRAMMD5)
	}
	if _, ok := a.(TokenVerifier); ok {
		mechs = append(mechs, OAuthBearer, XOAuth2)
	}
	mechs = append(mechs, Plain, Login)
	if _, ok := a.(CertificateMapper); ok && t.TLS != nil && len(t.TLS.VerifiedChains) > 0 {
		mechs = append(mechs, External)
	}
	return mechs
}

package auth

import (
	"context"
	"crypto/md5"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// SASL mechanism names, as advertised on the wire.
const (
	Plain           = "PLAIN"
	Login           = "LOGIN"
	CRAMMD5         = "CRAM-MD5"
	SCRAMSHA1Name   = "SCRAM-SHA-1"
	SCRAMSHA1Plus   = "SCRAM-SHA-1-PLUS"
	SCRAMSHA256Name = "SCRAM-SHA-256"
	SCRAMSHA256Plus = "SCRAM-SHA-256-PLUS"
	OAuthBearer     = "OAUTHBEARER"
	XOAuth2         = "XOAUTH2"
	External        = "EXTERNAL"
	NTLM            = "NTLM"
)

// A ServerSession is the server side of one SASL exchange (RFC 4422). The
// protocol server carries the bytes: it decodes each client response from
// base64 and passes it to Next, and encodes each challenge Next returns.
//
// A ServerSession is used by one goroutine. It bounds its own work: it fails
// with [ErrMalformed] on an oversized message or when the client keeps going
// past the mechanism's last step.
type ServerSession interface {
	// Next consumes the client's next response and returns the next
	// challenge to send.
	//
	// On the first call, response is the client's initial response: nil when
	// the client sent none, non-nil and empty when it sent an empty one ("="
	// on the wire). When the mechanism has final data for the client (a
	// SCRAM server signature), Next returns it as a challenge with done
	// false; the client's (empty) answer then completes the exchange.
	//
	// When done is true the client is authenticated and Identity returns who
	// it is. A non-nil error ends the exchange: [ErrInvalidCredentials],
	// [ErrMalformed], [ErrUnavailable], [ErrThrottled] or an error from the
	// Authenticator wrapping one of them.
	Next(ctx context.Context, response []byte) (challenge []byte, done bool, err error)

	// Identity returns the authenticated identity once Next has reported
	// done.
	Identity() Identity

	// Username returns the username the client has claimed so far, for logs
	// and throttling; empty when it is not known (yet).
	Username() string
}

// SessionOptions configure a [ServerSession].
type SessionOptions struct {
	// Transport describes the connection: TLS state for channel binding and
	// EXTERNAL, the server name for challenges.
	Transport Transport

	// Admit, when set, is called with the claimed username before the
	// Authenticator is consulted; an error it returns ends the exchange and
	// is returned unchanged. Servers use it to refuse a throttled username
	// without touching the user directory. The username is empty when the
	// client names no one (OAUTHBEARER without an authorization identity,
	// EXTERNAL with an empty one); Admit is called all the same.
	Admit func(ctx context.Context, username string) error
}

// Bounds every mechanism applies unless it sets tighter ones.
const (
	// maxSASLMessage is the largest client response any mechanism accepts:
	// room for an 8 KiB OAuth token with its framing (Dovecot stops at 8 KiB
	// of base64 per line; OAuth tokens of 2-4 KiB are common).
	maxSASLMessage = 16 << 10
	// maxNameBytes bounds a username or authorization identity.
	maxNameBytes = 1024
	// maxSecretBytes bounds a password.
	maxSecretBytes = 4096
)

// NewServerSession starts the server side of one SASL exchange with the
// mechanism named mech (case-insensitive), authenticating against a.
//
// It returns [ErrUnsupportedMechanism] when the name is unknown or when a or
// the connection described by opts.Transport cannot serve it: exactly the
// mechanisms [SupportedMechanisms] lists are available. It does not apply a
// [LoginPolicy]; servers check [LoginPolicy.Allowed] before they start an
// exchange.
//
// Every mechanism reports the claimed username through
// [ServerSession.Username] as soon as it is known, calls opts.Admit before
// it consults a, and fails an unknown user and a wrong secret with the same
// error (wrapping [ErrInvalidCredentials]) after the same work. Errors from
// a pass through wrapped, so [ErrUnavailable] stays detectable.
//
// The session is used by one goroutine and holds no resources: a server
// that abandons an exchange (the client cancelled it, or the connection
// dropped) simply drops the session.
func NewServerSession(mech string, a Authenticator, opts SessionOptions) (ServerSession, error) {
	return newServerSession(mech, a, opts, nil)
}

// sessionHooks replaces the randomness of a session, so that tests can
// replay published vectors. Production sessions have none.
type sessionHooks struct {
	scramNonce    string // server part of the SCRAM nonce
	cramChallenge string // whole CRAM-MD5 challenge
	ntlmChallenge []byte // 8-byte NTLM server challenge
}

func newServerSession(mech string, a Authenticator, opts SessionOptions, hooks *sessionHooks) (ServerSession, error) {
	if a == nil {
		return nil, fmt.Errorf("%w: no authenticator", ErrUnsupportedMechanism)
	}
	name := strings.ToUpper(mech)
	if !slices.Contains(SupportedMechanisms(a, opts.Transport), name) {
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedMechanism, mech)
	}
	s := &saslSession{a: a, opts: opts, hooks: hooks, maxSize: maxSASLMessage}
	switch name {
	case Plain:
		s.mech, s.maxSteps = &plainMech{}, 2
		s.maxSize = 2*maxNameBytes + maxSecretBytes + 2
	case Login:
		s.mech, s.maxSteps = &loginMech{}, 3
		s.maxSize = maxSecretBytes
	case CRAMMD5:
		s.mech, s.maxSteps = &cramMech{}, 2
		s.maxSize = maxNameBytes + 1 + 2*md5.Size
	case SCRAMSHA1Name, SCRAMSHA256Name, SCRAMSHA1Plus, SCRAMSHA256Plus:
		s.mech, s.maxSteps = newSCRAMMech(name), 4
		s.maxSize = maxSCRAMMessage
	case OAuthBearer:
		s.mech, s.maxSteps = &oauthBearerMech{}, 3
	case XOAuth2:
		s.mech, s.maxSteps = &xoauth2Mech{}, 3
	case External:
		s.mech, s.maxSteps = &externalMech{}, 2
		s.maxSize = maxNameBytes
	case NTLM:
		s.mech, s.maxSteps = &ntlmMech{}, 3
		s.maxSize = maxNTLMMessage
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedMechanism, mech)
	}
	return s, nil
}

// A mechanism is the state machine of one SASL mechanism. The saslSession
// around it enforces what all mechanisms share: bounded steps and sizes, no
// use after the end, and the identity bookkeeping.
type mechanism interface {
	// step consumes one client response; first is true for the initial
	// response (nil when the client sent none).
	step(ctx context.Context, s *saslSession, response []byte, first bool) (challenge []byte, done bool, err error)
}

// saslSession implements ServerSession around a mechanism.
type saslSession struct {
	a        Authenticator
	opts     SessionOptions
	hooks    *sessionHooks
	mech     mechanism
	maxSteps int
	maxSize  int

	steps    int
	finished bool
	success  bool
	username string
	id       Identity
}

func (s *saslSession) Next(ctx context.Context, response []byte) ([]byte, bool, error) {
	if s.finished {
		return nil, false, fmt.Errorf("%w: exchange already ended", ErrMalformed)
	}
	first := s.steps == 0
	s.steps++
	if s.steps > s.maxSteps {
		s.finished = true
		return nil, false, fmt.Errorf("%w: too many steps", ErrMalformed)
	}
	if len(response) > s.maxSize {
		s.finished = true
		return nil, false, fmt.Errorf("%w: response of %d bytes exceeds %d", ErrMalformed, len(response), s.maxSize)
	}
	challenge, done, err := s.mech.step(ctx, s, response, first)
	if err != nil {
		s.finished = true
		s.id = Identity{}
		return nil, false, err
	}
	if done {
		s.finished = true
		if s.id.Username == "" {
			s.id.Username = s.username
		}
		if s.id.Username == "" {
			// An Authenticator that accepts without saying whom:
			// never log in as nobody.
			s.id = Identity{}
			return nil, false, fmt.Errorf("%w: no identity for the authenticated user", ErrInvalidCredentials)
		}
		s.success = true
		return nil, true, nil
	}
	if challenge == nil {
		challenge = []byte{}
	}
	return challenge, false, nil
}

func (s *saslSession) Identity() Identity {
	if !s.success {
		return Identity{}
	}
	return s.id
}

func (s *saslSession) Username() string { return s.username }

// claim records the username the client claims and asks the Admit hook
// whether it may be tried at all. Mechanisms call it before they consult
// the Authenticator.
func (s *saslSession) claim(ctx context.Context, username string) error {
	s.username = username
	if s.opts.Admit != nil {
		if err := s.opts.Admit(ctx, username); err != nil {
			return err
		}
	}
	return nil
}

// authorize applies an authorization identity to an authenticated id: an
// empty authzid or one naming the same user keeps id; any other needs an
// [Authorizer].
func (s *saslSession) authorize(ctx context.Context, id Identity, authcid, authzid string) (Identity, error) {
	if authzid == "" || authzid == authcid || strings.EqualFold(authzid, id.Username) {
		return id, nil
	}
	az, ok := s.a.(Authorizer)
	if !ok {
		return Identity{}, fmt.Errorf("%w: %q may not act as %q", ErrInvalidCredentials, authcid, authzid)
	}
	nid, err := az.Authorize(ctx, id, authzid)
	if err != nil {
		return Identity{}, fmt.Errorf("auth: authorizing %q as %q: %w", authcid, authzid, err)
	}
	if nid.Username == "" {
		nid.Username = authzid
	}
	return nid, nil
}

// malformed returns an ErrMalformed error naming the mechanism and problem.
func malformed(mech, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrMalformed, mech, fmt.Sprintf(format, args...))
}

// validName reports whether s is an acceptable username or authorization
// identity: valid UTF-8 without NUL or other C0 control characters, at most
// maxNameBytes long. Empty names are checked by the callers.
func validName(s string) bool {
	if len(s) > maxNameBytes || !utf8.ValidString(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// validSecret reports whether s is an acceptable password: non-empty valid
// UTF-8 without NUL, at most maxSecretBytes long.
func validSecret(s string) bool {
	return s != "" && len(s) <= maxSecretBytes && utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// serverName returns the host name for challenges: t.ServerName when it is a
// plausible DNS name, otherwise "localhost".
func serverName(t Transport) string {
	n := strings.TrimSuffix(t.ServerName, ".")
	if n == "" || len(n) > 253 {
		return "localhost"
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return "localhost"
		}
	}
	return n
}

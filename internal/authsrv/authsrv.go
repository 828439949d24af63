// Package authsrv runs logins for the protocol servers: it applies the login
// policy, the throttle, the per-connection failure limit and the audit hook
// around the auth package's Authenticator and SASL mechanisms, so that POP3,
// IMAP and submission behave the same. The protocols only frame the bytes.
package authsrv

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/netip"
	"time"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/internal/netsrv"
)

// ErrUserConnLimit means the login succeeded but the user already has the
// maximum number of connections from this address.
var ErrUserConnLimit = errors.New("too many connections for this user from this address")

// DefaultMaxFailures is the default number of failed logins a connection may
// make before the server disconnects it (ADVERSARIAL A7).
const DefaultMaxFailures = 3

// MaxResponseLine bounds one base64 SASL response line: RFC 4954's 12,288
// octets for an SMTP AUTH line, which also fits an 8 KiB OAuth token.
const MaxResponseLine = 12288

// Config is the authentication setup of one server, resolved from its
// fields.
type Config struct {
	Protocol        string
	Authenticator   auth.Authenticator
	Policy          auth.LoginPolicy
	TrustedNetworks []netip.Prefix
	// Throttle must not be nil.
	Throttle *auth.Throttle
	// OnAttempt may be nil.
	OnAttempt auth.AttemptHook
	// MaxFailures per connection; zero means DefaultMaxFailures, negative
	// no limit.
	MaxFailures int
	// ServerName is announced in NTLM and CRAM-MD5 challenges.
	ServerName string
}

// Session is the authentication state of one connection.
type Session struct {
	cfg      *Config
	conn     *netsrv.Conn
	failures int
}

// New returns the authentication state for a connection.
func New(cfg *Config, conn *netsrv.Conn) *Session {
	return &Session{cfg: cfg, conn: conn}
}

// Transport describes the connection for the auth package.
func (s *Session) Transport() auth.Transport {
	return auth.Transport{
		TLS:              s.conn.TLS(),
		LocalCertificate: s.conn.LocalCertificate(),
		Trusted:          auth.InPrefixes(s.conn.Addr(), s.cfg.TrustedNetworks),
		RemoteAddr:       s.conn.Addr(),
		ServerName:       s.cfg.ServerName,
	}
}

// Allowed returns what may be advertised and used on the connection now.
func (s *Session) Allowed() auth.Allowed {
	return s.cfg.Policy.Allowed(s.cfg.Authenticator, s.Transport())
}

// TooManyFailures reports whether the connection has used up its failed
// attempts; the protocol should then say so and disconnect.
func (s *Session) TooManyFailures() bool {
	max := netsrv.Limit(s.cfg.MaxFailures, DefaultMaxFailures)
	return max > 0 && s.failures >= max
}

// Login checks a username and password given with the protocol's own login
// command (POP3 USER/PASS, IMAP LOGIN); command names it for the audit hook.
// Errors: [auth.ErrEncryptionRequired] (policy: the credentials were not
// checked), [auth.ErrInvalidCredentials] (also for throttled attempts, after
// the delay), [auth.ErrUnavailable], [ErrUserConnLimit], or the context's
// error.
func (s *Session) Login(ctx context.Context, command, username, password string) (auth.Identity, error) {
	if !s.Allowed().PlainLogin {
		s.audit(ctx, command, username, auth.ErrEncryptionRequired)
		return auth.Identity{}, auth.ErrEncryptionRequired
	}
	if err := s.cfg.Throttle.Check(s.conn.Addr(), username); err != nil {
		return auth.Identity{}, s.fail(ctx, command, username, err)
	}
	id, err := s.cfg.Authenticator.Authenticate(ctx, username, password)
	if err != nil {
		return auth.Identity{}, s.fail(ctx, command, username, err)
	}
	return s.succeed(ctx, command, username, id)
}

// Verify runs a challenge-response login whose proof the protocol checks
// itself (POP3 APOP, RFC 1939 §7): the password never crosses the wire, so
// the policy allows it where it allows challenge-response SASL mechanisms.
// Around verify it applies the throttle, the failure accounting and delay,
// the audit hook and the per-user connection limit exactly as Login does.
// verify must return an error wrapping [auth.ErrInvalidCredentials] for any
// credential failure, after the same work for an unknown user as for a
// known one. Errors are those of Login.
func (s *Session) Verify(ctx context.Context, command, username string, verify func(ctx context.Context) (auth.Identity, error)) (auth.Identity, error) {
	if !verifyAllowed(s.cfg.Policy, s.Transport()) {
		s.audit(ctx, command, username, auth.ErrEncryptionRequired)
		return auth.Identity{}, auth.ErrEncryptionRequired
	}
	if err := s.cfg.Throttle.Check(s.conn.Addr(), username); err != nil {
		return auth.Identity{}, s.fail(ctx, command, username, err)
	}
	id, err := verify(ctx)
	if err != nil {
		return auth.Identity{}, s.fail(ctx, command, username, err)
	}
	return s.succeed(ctx, command, username, id)
}

// verifyAllowed reports whether policy allows a [Session.Verify] login on t:
// as a challenge-response mechanism, anywhere but on an insecure connection
// under auth.SecureLogin.
func verifyAllowed(policy auth.LoginPolicy, t auth.Transport) bool {
	return t.Secure() || policy != auth.SecureLogin
}

// SASL runs one SASL exchange. initial is the client's initial response as
// it appeared on the wire (nil when there was none; "=" means empty). next
// sends a base64 challenge with the protocol's framing and returns the
// client's next response line.
//
// Errors: [auth.ErrUnsupportedMechanism], [auth.ErrEncryptionRequired] (the
// policy refuses the mechanism here), [auth.ErrMalformed] (bad base64 or
// mechanism syntax), [auth.ErrCanceled], [auth.ErrInvalidCredentials] (also
// throttled attempts, after the delay), [auth.ErrUnavailable],
// [ErrUserConnLimit], the error of next, or the context's error.
func (s *Session) SASL(ctx context.Context, mech string, initial []byte, next func(challenge string) ([]byte, error)) (auth.Identity, error) {
	t := s.Transport()
	allowed := s.cfg.Policy.Allowed(s.cfg.Authenticator, t)
	if !allowed.Allows(mech) {
		err := auth.ErrUnsupportedMechanism
		for _, m := range auth.SupportedMechanisms(s.cfg.Authenticator, t) {
			if m == mech {
				err = auth.ErrEncryptionRequired
			}
		}
		s.audit(ctx, mech, "", err)
		return auth.Identity{}, err
	}
	if err := s.cfg.Throttle.Check(s.conn.Addr(), ""); err != nil {
		return auth.Identity{}, s.fail(ctx, mech, "", err)
	}
	sess, err := auth.NewServerSession(mech, s.cfg.Authenticator, auth.SessionOptions{
		Transport: t,
		Admit: func(ctx context.Context, username string) error {
			return s.cfg.Throttle.Check(s.conn.Addr(), username)
		},
	})
	if err != nil {
		s.audit(ctx, mech, "", err)
		return auth.Identity{}, err
	}
	var resp []byte
	if initial != nil {
		if resp, err = DecodeResponse(initial); err != nil {
			return auth.Identity{}, s.fail(ctx, mech, "", err)
		}
	}
	for {
		challenge, done, err := sess.Next(ctx, resp)
		if err != nil {
			return auth.Identity{}, s.fail(ctx, mech, sess.Username(), err)
		}
		if done {
			return s.succeed(ctx, mech, sess.Username(), sess.Identity())
		}
		line, err := next(base64.StdEncoding.EncodeToString(challenge))
		if err != nil {
			s.audit(ctx, mech, sess.Username(), err)
			return auth.Identity{}, err
		}
		if resp, err = DecodeResponse(line); err != nil {
			return auth.Identity{}, s.fail(ctx, mech, sess.Username(), err)
		}
	}
}

// DecodeResponse decodes a SASL response line: "*" cancels
// ([auth.ErrCanceled]), "=" is an empty response, anything else must be
// strict base64 ([auth.ErrMalformed]).
func DecodeResponse(line []byte) ([]byte, error) {
	switch string(line) {
	case "*":
		return nil, auth.ErrCanceled
	case "=":
		return []byte{}, nil
	}
	out := make([]byte, base64.StdEncoding.DecodedLen(len(line)))
	n, err := base64.StdEncoding.Strict().Decode(out, line)
	if err != nil {
		return nil, auth.ErrMalformed
	}
	return out[:n], nil
}

func (s *Session) succeed(ctx context.Context, mech, username string, id auth.Identity) (auth.Identity, error) {
	s.cfg.Throttle.Success(s.conn.Addr(), username)
	if !s.conn.SetUser(id.Username) {
		s.conn.Logger.LogAttrs(ctx, slog.LevelWarn, "per-user connection limit reached", slog.String("user", id.Username))
		s.audit(ctx, mech, username, ErrUserConnLimit)
		return auth.Identity{}, ErrUserConnLimit
	}
	s.failures = 0
	s.conn.Logger.LogAttrs(ctx, slog.LevelInfo, "login", slog.String("mech", mech))
	s.audit(ctx, mech, username, nil)
	return id, nil
}

// fail accounts for a failed attempt and normalises the error the protocol
// sees: every credential failure, throttled or not, becomes
// ErrInvalidCredentials after the throttle's delay.
func (s *Session) fail(ctx context.Context, mech, username string, err error) error {
	s.audit(ctx, mech, username, err)
	switch {
	case errors.Is(err, auth.ErrUnavailable):
		s.conn.Logger.LogAttrs(ctx, slog.LevelError, "authentication service unavailable", slog.String("mech", mech), slog.Any("err", err))
		return auth.ErrUnavailable
	case errors.Is(err, auth.ErrCanceled):
		return auth.ErrCanceled
	case errors.Is(err, auth.ErrMalformed):
		s.failures++
		return auth.ErrMalformed
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	level := slog.LevelInfo
	if errors.Is(err, auth.ErrThrottled) {
		level = slog.LevelWarn
	}
	s.conn.Logger.LogAttrs(ctx, level, "login failed", slog.String("mech", mech), slog.String("username", username), slog.Any("reason", err))
	s.failures++
	delay := s.cfg.Throttle.Failure(s.conn.Addr(), username)
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return auth.ErrInvalidCredentials
}

func (s *Session) audit(ctx context.Context, mech, username string, err error) {
	if s.cfg.OnAttempt == nil {
		return
	}
	s.cfg.OnAttempt(ctx, auth.Attempt{
		Protocol:   s.cfg.Protocol,
		Mechanism:  mech,
		Username:   username,
		RemoteAddr: s.conn.Addr(),
		TLS:        s.conn.TLS() != nil,
		Err:        err,
	})
}

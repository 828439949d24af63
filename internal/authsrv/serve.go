package authsrv

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/mailfront/mailfront/auth"
)

// What the protocol servers check and set up about logins when they start
// serving a listener.

// OwnThrottle is the Throttle of a server whose host set none: an
// [auth.Throttle] with its defaults, made on first use and private to that
// server, so that all its listeners share it. The zero value is ready to
// use; an OwnThrottle must not be copied after first use.
type OwnThrottle struct {
	once sync.Once
	t    *auth.Throttle
}

// Or returns shared if it is not nil (the host's Throttle), else the
// private one.
func (o *OwnThrottle) Or(shared *auth.Throttle) *auth.Throttle {
	if shared != nil {
		return shared
	}
	o.once.Do(func() { o.t = &auth.Throttle{} })
	return o.t
}

// Logins are the ways to log in that a protocol offers besides SASL, for
// [Config.CheckLoginPossible].
type Logins struct {
	// Command is the protocol's own cleartext login command, run with
	// [Session.Login] (POP3 USER/PASS, IMAP LOGIN).
	Command bool
	// Verify is a challenge-response login the protocol checks itself, run
	// with [Session.Verify] (POP3 APOP).
	Verify bool
}

// CheckLoginPossible returns an error when no client could ever log in on a
// listener, so that Serve refuses to serve a useless port. A login is
// possible when the listener's connections are or can become secure (secure:
// implicit TLS, or a certificate for STARTTLS), when some client network is
// trusted, or when the policy allows without TLS a SASL mechanism of the
// Authenticator or one of the logins the protocol offers.
func (cfg *Config) CheckLoginPossible(secure bool, logins Logins) error {
	if secure || len(cfg.TrustedNetworks) > 0 {
		return nil
	}
	var plain auth.Transport
	allowed := cfg.Policy.Allowed(cfg.Authenticator, plain)
	if len(allowed.Mechanisms) > 0 ||
		logins.Command && allowed.PlainLogin ||
		logins.Verify && verifyAllowed(cfg.Policy, plain) {
		return nil
	}
	return fmt.Errorf("%s: no client could log in: LoginPolicy %q allows no login without TLS with this Authenticator, "+
		"and the Server has neither a TLSConfig with a certificate nor TrustedNetworks; "+
		"set TLSConfig, use ServeTLS, or choose another LoginPolicy", cfg.Protocol, cfg.Policy)
}

// WarnPlainTextLogin logs at Warn, when the policy is auth.PlainTextLogin,
// that the listener at addr accepts passwords without TLS. Servers call it
// when they start serving a listener.
func (cfg *Config) WarnPlainTextLogin(logger *slog.Logger, addr net.Addr) {
	if cfg.Policy != auth.PlainTextLogin {
		return
	}
	logger.LogAttrs(context.Background(), slog.LevelWarn,
		"LoginPolicy PlainTextLogin accepts passwords without TLS; anyone on the network path can read them",
		slog.String("proto", cfg.Protocol), slog.String("addr", addr.String()))
}

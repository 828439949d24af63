package authsrv_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/internal/authsrv"
)

// MaxFailures: zero is DefaultMaxFailures, negative is no limit.
func TestMaxFailures(t *testing.T) {
	for _, tt := range []struct {
		max  int
		want int // failures that end the connection; 0: none do
	}{
		{0, authsrv.DefaultMaxFailures},
		{1, 1},
		{5, 5},
		{-1, 0},
	} {
		t.Run(fmt.Sprint(tt.max), func(t *testing.T) {
			h := newHarness(t, &users{}, auth.PlainTextLogin)
			h.cfg.MaxFailures = tt.max
			h.start(t)
			c := h.dial(t, from)
			tries := tt.want
			if tries == 0 {
				tries = 12 // past the Throttle's lockout too
			}
			for i := 1; i < tries; i++ {
				assert.Equal(t, "-ERR "+auth.ErrInvalidCredentials.Error(), c.do("LOGIN alice x"), "failure %d", i)
			}
			assert.Equal(t, "-ERR "+auth.ErrInvalidCredentials.Error(), c.do("LOGIN alice x"))
			if tt.want > 0 {
				assert.Equal(t, "-ERR too many failures", c.line(), "failure %d ends the connection", tt.want)
			} else {
				assert.Equal(t, "+OK false", c.do("FAILED"), "no limit")
			}
		})
	}
}

// An OwnThrottle gives the host's Throttle when there is one, else one
// private Throttle, the same for every caller.
func TestOwnThrottle(t *testing.T) {
	var own authsrv.OwnThrottle
	shared := &auth.Throttle{}
	assert.Same(t, shared, own.Or(shared))

	got := make([]*auth.Throttle, 8)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() { got[i] = own.Or(nil) })
	}
	wg.Wait()
	require.NotNil(t, got[0])
	assert.NotSame(t, shared, got[0])
	for _, th := range got {
		assert.Same(t, got[0], th)
	}
}

// secrets is a SecretStore: it enables the challenge-response CRAM-MD5.
type secrets struct{ users }

func (*secrets) Secret(context.Context, string) (string, auth.Identity, error) {
	return "", auth.Identity{}, auth.ErrInvalidCredentials
}

// noPlain allows no cleartext SASL mechanism, so that only a protocol's own
// login command can carry a password.
type noPlain struct{ users }

func (*noPlain) AllowMechanism(m string) bool { return m != auth.Plain && m != auth.Login }

// A listener is useless, and Serve refuses it, only when its connections
// can never be secure and the policy allows no login without TLS.
func TestCheckLoginPossible(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tt := range []struct {
		name    string
		a       auth.Authenticator
		policy  auth.LoginPolicy
		secure  bool
		trusted []netip.Prefix
		logins  authsrv.Logins
		ok      bool
	}{
		{"secure login, TLS possible", &users{}, auth.SecureLogin, true, nil, authsrv.Logins{}, true},
		{"secure login, trusted network", &users{}, auth.SecureLogin, false, trusted, authsrv.Logins{}, true},
		{"secure login, neither", &users{}, auth.SecureLogin, false, nil, authsrv.Logins{Command: true, Verify: true}, false},
		{"plaintext-auth, no challenge mechanism", &users{}, auth.PlainTextAuthentication, false, nil, authsrv.Logins{Command: true}, false},
		{"plaintext-auth, challenge mechanism", &secrets{}, auth.PlainTextAuthentication, false, nil, authsrv.Logins{}, true},
		{"plaintext-auth, Verify login", &users{}, auth.PlainTextAuthentication, false, nil, authsrv.Logins{Verify: true}, true},
		{"plaintext, SASL PLAIN", &users{}, auth.PlainTextLogin, false, nil, authsrv.Logins{}, true},
		{"plaintext, no cleartext SASL, no login command", &noPlain{}, auth.PlainTextLogin, false, nil, authsrv.Logins{}, false},
		{"plaintext, no cleartext SASL, login command", &noPlain{}, auth.PlainTextLogin, false, nil, authsrv.Logins{Command: true}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := authsrv.Config{Protocol: "test", Authenticator: tt.a, Policy: tt.policy, TrustedNetworks: tt.trusted}
			err := cfg.CheckLoginPossible(tt.secure, tt.logins)
			if tt.ok {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), "test: no client could log in")
			assert.Contains(t, err.Error(), fmt.Sprintf("LoginPolicy %q", tt.policy.String()))
		})
	}
}

// The warning names the protocol and the listener, and only PlainTextLogin
// gets it.
func TestWarnPlainTextLogin(t *testing.T) {
	addr := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 110}
	for _, policy := range []auth.LoginPolicy{auth.SecureLogin, auth.PlainTextAuthentication, auth.PlainTextLogin} {
		t.Run(policy.String(), func(t *testing.T) {
			var logs bytes.Buffer
			cfg := authsrv.Config{Protocol: "test", Policy: policy}
			cfg.WarnPlainTextLogin(slog.New(slog.NewTextHandler(&logs, nil)), addr)
			if policy != auth.PlainTextLogin {
				assert.Empty(t, logs.String())
				return
			}
			assert.Contains(t, logs.String(), `level=WARN msg="LoginPolicy PlainTextLogin accepts passwords without TLS; anyone on the network path can read them" proto=test addr=192.0.2.1:110`)
		})
	}
}

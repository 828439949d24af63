package authsrv_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront"
	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/internal/authsrv"
	"github.com/mailfront/mailfront/internal/netsrv"
	"github.com/mailfront/mailfront/internal/testutil"
	"github.com/mailfront/mailfront/tlsconfig"
)

func TestMain(m *testing.M) { testutil.MainWithLeakCheck(m) }

// users is a counting Authenticator with one user, alice / secret.
type users struct {
	calls       atomic.Int32
	unavailable bool
}

func (u *users) Authenticate(ctx context.Context, username, password string) (auth.Identity, error) {
	u.calls.Add(1)
	if u.unavailable {
		return auth.Identity{}, fmt.Errorf("db down: %w", auth.ErrUnavailable)
	}
	if username == "alice" && password == "secret" {
		return auth.Identity{Username: "alice"}, nil
	}
	return auth.Identity{}, fmt.Errorf("no: %w", auth.ErrInvalidCredentials)
}

type harness struct {
	srv      netsrv.Server
	cfg      authsrv.Config
	tls      *tls.Config
	client   *tls.Config
	l        *testutil.Listener
	done     chan error
	mu       sync.Mutex
	attempts []auth.Attempt
	limit    int
}

func newHarness(t *testing.T, a auth.Authenticator, policy auth.LoginPolicy) *harness {
	cert, err := tlsconfig.SelfSigned("localhost")
	require.NoError(t, err)
	h := &harness{tls: tlsconfig.New(cert.GetCertificate), client: cert.ClientConfig(), l: testutil.NewListener(), done: make(chan error, 1)}
	h.client.ServerName = "localhost"
	h.cfg = authsrv.Config{
		Protocol:      "test",
		Authenticator: a,
		Policy:        policy,
		Throttle:      &auth.Throttle{FailureDelay: -1},
		OnAttempt: func(ctx context.Context, at auth.Attempt) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.attempts = append(h.attempts, at)
		},
	}
	return h
}

func (h *harness) start(t *testing.T) {
	cfg := netsrv.Config{
		Protocol:            "test",
		Logger:              slog.New(slog.NewTextHandler(io.Discard, nil)),
		TLSConfig:           h.tls,
		MaxConnsPerUserAddr: h.limit,
		Handle:              h.handle,
	}
	go func() { h.done <- h.srv.Serve(h.l, cfg, false) }()
	t.Cleanup(func() {
		h.srv.Close()
		<-h.done
	})
}

func (h *harness) handle(c *netsrv.Conn) {
	s := authsrv.New(&h.cfg, c)
	reply := func(err error) {
		if err != nil {
			fmt.Fprintf(c.W, "-ERR %v\r\n", err)
		} else {
			c.W.WriteString("+OK\r\n")
		}
	}
	c.W.WriteString("+OK hello\r\n")
	c.Flush()
	for {
		line, err := c.ReadCommand(authsrv.MaxResponseLine, time.Minute)
		if err != nil {
			return
		}
		f := strings.Fields(string(line))
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "MECHS":
			a := s.Allowed()
			fmt.Fprintf(c.W, "+OK %s plain=%v\r\n", strings.Join(a.Mechanisms, ","), a.PlainLogin)
		case "LOGIN":
			_, err := s.Login(c.Ctx, "LOGIN", f[1], f[2])
			reply(err)
		case "AUTH":
			var initial []byte
			if len(f) > 2 {
				initial = []byte(f[2])
			}
			_, err := s.SASL(c.Ctx, f[1], initial, func(ch string) ([]byte, error) {
				fmt.Fprintf(c.W, "+ %s\r\n", ch)
				if err := c.Flush(); err != nil {
					return nil, err
				}
				return c.ReadLine(authsrv.MaxResponseLine, time.Minute)
			})
			reply(err)
		case "STARTTLS":
			c.W.WriteString("+OK\r\n")
			c.Flush()
			if c.StartTLS() != nil {
				return
			}
			continue
		case "FAILED":
			fmt.Fprintf(c.W, "+OK %v\r\n", s.TooManyFailures())
		}
		if s.TooManyFailures() {
			c.W.WriteString("-ERR too many failures\r\n")
			c.Flush()
			return
		}
		c.Flush()
	}
}

type client struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
	w    io.Writer
}

func (h *harness) dial(t *testing.T, from string) *client {
	conn, err := h.l.DialFrom(from)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	c := &client{t: t, conn: conn, r: bufio.NewReader(conn), w: conn}
	require.Equal(t, "+OK hello", c.line())
	return c
}

// startTLS upgrades the connection; the server sends nothing after its +OK
// until the handshake, so the buffered reader holds nothing to lose.
func (c *client) startTLS(cfg *tls.Config) {
	c.t.Helper()
	require.Equal(c.t, "+OK", c.do("STARTTLS"))
	tc := tls.Client(c.conn, cfg)
	require.NoError(c.t, tc.Handshake())
	c.r, c.w = bufio.NewReader(tc), tc
}

func (c *client) cmd(s string) { fmt.Fprintf(c.w, "%s\r\n", s) }

func (c *client) do(s string) string {
	c.t.Helper()
	c.cmd(s)
	return c.line()
}

func (c *client) line() string {
	c.t.Helper()
	l, err := c.r.ReadString('\n')
	require.NoError(c.t, err)
	return strings.TrimRight(l, "\r\n")
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

const from = "198.51.100.1:40000"

// X4: on a plain connection under SecureLogin nothing is offered and
// credentials are never checked.
func TestSecureLoginRefusesCleartext(t *testing.T) {
	u := &users{}
	h := newHarness(t, u, auth.SecureLogin)
	h.start(t)
	c := h.dial(t, from)
	assert.Equal(t, "+OK  plain=false", c.do("MECHS"))
	assert.Equal(t, "-ERR "+auth.ErrEncryptionRequired.Error(), c.do("LOGIN alice secret"))
	assert.Equal(t, "-ERR "+auth.ErrEncryptionRequired.Error(), c.do("AUTH PLAIN "+b64("\x00alice\x00secret")))
	assert.Equal(t, "-ERR "+auth.ErrUnsupportedMechanism.Error(), c.do("AUTH NOPE"))
	assert.Zero(t, u.calls.Load(), "credentials are never checked before TLS")
	assert.Equal(t, "+OK false", c.do("FAILED"), "policy refusals are not failures")

	c.startTLS(h.client)
	assert.Equal(t, "+OK PLAIN,LOGIN plain=true", c.do("MECHS"))
	assert.Equal(t, "+OK", c.do("LOGIN alice secret"))
	assert.Equal(t, int32(1), u.calls.Load())
}

func TestPolicies(t *testing.T) {
	tests := []struct {
		policy  auth.LoginPolicy
		trusted bool
		want    string
	}{
		{auth.SecureLogin, false, "+OK  plain=false"},
		{auth.SecureLogin, true, "+OK PLAIN,LOGIN plain=true"},
		{auth.PlainTextAuthentication, false, "+OK  plain=false"},
		{auth.PlainTextLogin, false, "+OK PLAIN,LOGIN plain=true"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v/trusted=%v", tt.policy, tt.trusted), func(t *testing.T) {
			h := newHarness(t, &users{}, tt.policy)
			if tt.trusted {
				h.cfg.TrustedNetworks = []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}
			}
			h.start(t)
			assert.Equal(t, tt.want, h.dial(t, from).do("MECHS"))
		})
	}
}

// A6: unknown user and wrong password give byte-identical replies, and the
// hook never sees a password.
func TestIdenticalFailures(t *testing.T) {
	h := newHarness(t, &users{}, auth.PlainTextLogin)
	h.cfg.MaxFailures = 100
	h.start(t)
	c := h.dial(t, from)
	unknown := c.do("LOGIN nobody secret")
	wrong := c.do("LOGIN alice wrong")
	assert.Equal(t, unknown, wrong)
	assert.Equal(t, unknown, c.do("AUTH PLAIN "+b64("\x00alice\x00wrong")))
	assert.Equal(t, unknown, c.do("AUTH PLAIN "+b64("\x00nobody\x00secret")))
	h.mu.Lock()
	defer h.mu.Unlock()
	require.Len(t, h.attempts, 4)
	for _, a := range h.attempts {
		assert.ErrorIs(t, a.Err, auth.ErrInvalidCredentials)
		assert.NotContains(t, fmt.Sprintf("%+v", a), "secret")
		assert.NotContains(t, fmt.Sprintf("%+v", a), "wrong")
	}
	assert.Equal(t, "PLAIN", h.attempts[3].Mechanism)
	assert.Equal(t, "nobody", h.attempts[3].Username)
}

// A7: failures are delayed; the connection is cut after three; the 11th
// failure from one address within a minute never reaches the Authenticator;
// another address is unaffected; success resets the connection's count.
func TestThrottling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		u := &users{}
		h := newHarness(t, u, auth.PlainTextLogin)
		// 10 failures a minute per address; a short delay so that ten
		// sequential failures fit in the window.
		h.cfg.Throttle = &auth.Throttle{FailureDelay: 100 * time.Millisecond, MaxFailureDelay: time.Second}
		h.start(t)

		c := h.dial(t, from)
		start := time.Now()
		assert.Equal(t, "-ERR "+auth.ErrInvalidCredentials.Error(), c.do("LOGIN alice x"))
		assert.Equal(t, 100*time.Millisecond, time.Since(start), "the first failure is delayed")
		assert.Equal(t, "+OK", c.do("LOGIN alice secret"), "a success after a failure")
		c.do("LOGIN alice x")
		c.do("LOGIN alice x")
		c.cmd("LOGIN alice x")
		c.line()
		assert.Equal(t, "-ERR too many failures", c.line(), "three failures on a connection end it")

		const attacker = "192.0.2.50:4000"
		before := u.calls.Load()
		for u.calls.Load()-before < 10 {
			c := h.dial(t, attacker)
			c.do("LOGIN bob x")
		}
		calls := u.calls.Load()
		c = h.dial(t, attacker)
		assert.Equal(t, "-ERR "+auth.ErrInvalidCredentials.Error(), c.do("LOGIN alice secret"), "a locked-out address is refused even with the right password")
		assert.Equal(t, calls, u.calls.Load(), "without asking the Authenticator")

		other := h.dial(t, "203.0.113.5:1000")
		assert.Equal(t, "+OK", other.do("LOGIN alice secret"), "another address is unaffected")
	})
}

// A1, A2: bad base64 and cancel end only the exchange; another mechanism
// then works.
func TestSASLErrors(t *testing.T) {
	h := newHarness(t, &users{}, auth.PlainTextLogin)
	h.start(t)
	c := h.dial(t, from)
	assert.Equal(t, "-ERR "+auth.ErrMalformed.Error(), c.do("AUTH PLAIN !!!notbase64"))
	assert.Equal(t, "+ "+b64("Username:"), c.do("AUTH LOGIN"))
	assert.Equal(t, "-ERR "+auth.ErrCanceled.Error(), c.do("*"))
	assert.Equal(t, "+ ", c.do("AUTH PLAIN"))
	assert.Equal(t, "-ERR "+auth.ErrMalformed.Error(), c.do("not base64 either"))
	c.cmd("AUTH LOGIN " + b64("alice"))
	assert.Equal(t, "+ "+b64("Password:"), c.line())
	assert.Equal(t, "+OK", c.do(b64("secret")), "a different mechanism after aborted ones")
}

func TestSASLEmptyInitialResponse(t *testing.T) {
	h := newHarness(t, &users{}, auth.PlainTextLogin)
	h.start(t)
	c := h.dial(t, from)
	// "=" is an empty initial response: PLAIN rejects an empty message.
	assert.Equal(t, "-ERR "+auth.ErrMalformed.Error(), c.do("AUTH PLAIN ="))
}

func TestUnavailable(t *testing.T) {
	h := newHarness(t, &users{unavailable: true}, auth.PlainTextLogin)
	h.start(t)
	c := h.dial(t, from)
	for range 5 {
		assert.Equal(t, "-ERR "+auth.ErrUnavailable.Error(), c.do("LOGIN alice secret"))
	}
	assert.Equal(t, "+OK false", c.do("FAILED"), "an unavailable directory is not the client's failure")
}

func TestUserConnLimit(t *testing.T) {
	h := newHarness(t, &users{}, auth.PlainTextLogin)
	h.limit = 1
	h.start(t)
	assert.Equal(t, "+OK", h.dial(t, from).do("LOGIN alice secret"))
	c := h.dial(t, from)
	assert.Equal(t, "-ERR "+authsrv.ErrUserConnLimit.Error(), c.do("LOGIN alice secret"))
	h.mu.Lock()
	defer h.mu.Unlock()
	assert.ErrorIs(t, h.attempts[len(h.attempts)-1].Err, authsrv.ErrUserConnLimit)
}

func TestDecodeResponse(t *testing.T) {
	tests := []struct {
		in   string
		want []byte
		err  error
	}{
		{"*", nil, auth.ErrCanceled},
		{"=", []byte{}, nil},
		{b64("hi"), []byte("hi"), nil},
		{"aGk", nil, auth.ErrMalformed},   // missing padding
		{"aG k=", nil, auth.ErrMalformed}, // space
		{"", []byte{}, nil},
	}
	for _, tt := range tests {
		got, err := authsrv.DecodeResponse([]byte(tt.in))
		if tt.err != nil {
			assert.True(t, errors.Is(err, tt.err), "%q: got %v", tt.in, err)
			continue
		}
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, got, tt.in)
	}
}

var _ = mailfront.LevelTrace

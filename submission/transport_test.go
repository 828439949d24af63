package submission_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/submission"
)

// secureServer is a server with TLS whose clients are not trusted: the
// default SecureLogin policy applies.
func secureServer(t testing.TB, configure func(*submission.Server)) *env {
	return newServer(t, func(s *submission.Server) {
		withTLS(s)
		s.TrustedNetworks = nil
		if configure != nil {
			configure(s)
		}
	})
}

// X1: plaintext pipelined after STARTTLS is discarded, never answered, and
// never authenticates.
func TestX1StartTLSInjection(t *testing.T) {
	var attempts atomic.Int32
	e := secureServer(t, func(s *submission.Server) {
		s.OnAuthAttempt = func(context.Context, auth.Attempt) { attempts.Add(1) }
	})
	c := e.dialGreeted()
	c.ehlo()
	c.send("STARTTLS\r\nEHLO evil\r\nAUTH PLAIN " + plainIR("alice@example.org", "secret") + "\r\nMAIL FROM:<alice@example.org>\r\n")
	c.expect("220 2.0.0")
	c.handshake()
	c.cmd("NOOP")
	assert.Equal(t, "250 2.0.0 OK", c.line(), "the first reply after the handshake answers NOOP, not an injected line")
	c.run("> MAIL FROM:<alice@example.org>", "< 503 5.5.1") // no EHLO was taken
	c.ehlo()
	c.run("> MAIL FROM:<alice@example.org>", "< 530 5.7.0") // and no AUTH
	assert.Zero(t, attempts.Load(), "the injected AUTH never reached authentication")
	assert.Contains(t, e.logs.String(), "discarded plaintext pipelined after STARTTLS")
}

// X2: after STARTTLS the session starts over: MAIL needs a new EHLO (503,
// not a panic), STARTTLS is no longer offered, and a login made before TLS
// is forgotten.
func TestX2StateResetAfterStartTLS(t *testing.T) {
	e := newServer(t, func(s *submission.Server) {
		withTLS(s) // and the client network is trusted: AUTH works before TLS
		s.MaxBadCommands = 10
	})
	c := e.dialGreeted()
	c.login()
	c.run("> MAIL FROM:<alice@example.org>", "< 250 2.1.0")
	c.startTLS()
	c.run("> MAIL FROM:<alice@example.org>", "< 503 5.5.1 Send EHLO first")
	c.run("> RCPT TO:<bob@example.net>", "< 503 5.5.1")
	ext := c.ehlo()
	assert.NotContains(t, ext, "STARTTLS")
	c.run("> MAIL FROM:<alice@example.org>", "< 530 5.7.0 Authentication required")
	c.login()
	assert.Contains(t, c.sendMessage("alice@example.org", "bob@example.net", simpleMsg+".\r\n"), "250 2.0.0")
	assert.Len(t, e.backend.got(), 1, "the transaction begun before STARTTLS was dropped")
}

// X3: STARTTLS when TLS is already active is refused and the session goes
// on, on a STARTTLS port and on an implicit TLS port.
func TestX3StartTLSTwice(t *testing.T) {
	e := newServer(t, withTLS)
	c := e.dialGreeted()
	c.ehlo()
	c.startTLS()
	c.run("> STARTTLS", "< 502 5.5.1 TLS is already active", "> NOOP", "< 250")

	e465 := &env{t: t, backend: &fakeBackend{}, logs: &syncBuffer{}, done: make(chan error, 1), states: &stateLog{}}
	e465.srv = e.srv
	e465.start(true)
	c = e465.dial()
	c.handshake()
	c.expect("220 ")
	ext := c.ehlo()
	assert.NotContains(t, ext, "STARTTLS")
	c.run("> STARTTLS", "< 502 5.5.1", "> NOOP", "< 250")
}

// countingAuth counts Authenticate calls.
type countingAuth struct{ n atomic.Int32 }

func (a *countingAuth) Authenticate(ctx context.Context, u, p string) (auth.Identity, error) {
	a.n.Add(1)
	return users.Authenticate(ctx, u, p)
}

// X4: cleartext credentials before TLS are refused without being checked.
func TestX4CleartextCredentialsRefused(t *testing.T) {
	a := &countingAuth{}
	e := secureServer(t, func(s *submission.Server) { s.Authenticator = a })
	c := e.dialGreeted()
	ext := c.ehlo()
	assert.NotContains(t, strings.Join(ext, " "), "AUTH", "AUTH is hidden before TLS")
	c.run(
		"> AUTH PLAIN "+plainIR("alice@example.org", "secret"), "< 530 5.7.0 Must issue a STARTTLS command first",
		"> AUTH LOGIN", "< 530 5.7.0 Must issue a STARTTLS command first",
	)
	assert.Zero(t, a.n.Load(), "the credentials were never checked")
	c.startTLS()
	c.login()
	assert.Equal(t, int32(1), a.n.Load())

	// Without STARTTLS to offer, the refusal is RFC 4954's 538.
	e2 := newServer(t, func(s *submission.Server) {
		s.TrustedNetworks = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	})
	c = e2.dialGreeted()
	c.ehlo()
	c.run("> AUTH PLAIN "+plainIR("alice@example.org", "secret"), "< 538 5.7.11")
}

// Every login policy, before and after TLS.
func TestLoginPolicies(t *testing.T) {
	tests := []struct {
		policy    auth.LoginPolicy
		auth      auth.Authenticator
		before    string // AUTH line of EHLO before TLS ("" if none)
		plainPre  string // reply to AUTH PLAIN before TLS
		cramPre   bool   // CRAM-MD5 works before TLS
		afterAuth string
	}{
		{auth.SecureLogin, secrets{}, "", "530 5.7.0", false, "AUTH CRAM-MD5 PLAIN LOGIN"},
		{auth.PlainTextAuthentication, secrets{}, "AUTH CRAM-MD5", "530 5.7.0", true, "AUTH CRAM-MD5 PLAIN LOGIN"},
		{auth.PlainTextLogin, secrets{}, "AUTH CRAM-MD5 PLAIN LOGIN", "235 2.7.0", true, "AUTH CRAM-MD5 PLAIN LOGIN"},
	}
	for _, tt := range tests {
		t.Run(tt.policy.String(), func(t *testing.T) {
			e := secureServer(t, func(s *submission.Server) {
				s.LoginPolicy = tt.policy
				s.Authenticator = tt.auth
			})
			c := e.dialGreeted()
			ext := c.ehlo()
			var authLine string
			for _, l := range ext {
				if strings.HasPrefix(l, "AUTH") {
					authLine = l
				}
			}
			assert.Equal(t, tt.before, authLine)
			c.cmd("AUTH PLAIN " + plainIR("alice@example.org", "secret"))
			c.expect(tt.plainPre)
			if tt.cramPre && !strings.HasPrefix(tt.plainPre, "235") {
				c.cramMD5("alice@example.org", "secret")
			}
			c2 := e.dialGreeted()
			c2.ehlo()
			c2.startTLS()
			assert.Contains(t, c2.ehlo(), tt.afterAuth)
			c2.cramMD5("alice@example.org", "secret")
		})
	}
}

// X5: a client capped at TLS 1.1 fails the handshake; 1.2 and 1.3 succeed.
func TestX5TLSVersionFloor(t *testing.T) {
	e := newServer(t, withTLS)
	for _, v := range []uint16{tls.VersionTLS11, tls.VersionTLS12, tls.VersionTLS13} {
		conn, err := e.l.Dial()
		require.NoError(t, err)
		cfg := testCert(t).ClientConfig()
		cfg.ServerName = "localhost"
		cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS10, v
		c := &client{t: t, conn: conn, r: bufio.NewReader(conn)}
		c.expect("220")
		c.ehlo()
		c.cmd("STARTTLS")
		c.expect("220")
		tc := tls.Client(conn, cfg)
		err = tc.Handshake()
		if v < tls.VersionTLS12 {
			assert.Error(t, err, "TLS 1.1 is refused")
		} else {
			require.NoError(t, err, "version %x", v)
			assert.Equal(t, v, tc.ConnectionState().Version)
		}
		conn.Close()
	}
}

// X6: a client that opens a TLS port (or sends STARTTLS) and then stays
// silent is closed at the handshake timeout, leaking nothing.
func TestX6HandshakeSlowloris(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := &env{t: t, backend: &fakeBackend{}, logs: &syncBuffer{}, done: make(chan error, 1), states: &stateLog{}}
		e.srv = &submission.Server{Backend: e.backend, Authenticator: users, HandshakeTimeout: 10 * time.Second,
			Logger: quietLogger(e.logs), ConnState: e.states.add}
		withTLS(e.srv)
		e.start(true)
		c := e.dial()
		start := time.Now()
		_, err := c.r.ReadByte()
		assert.Error(t, err, "closed without a greeting")
		assert.Equal(t, 10*time.Second, time.Since(start))

		e2 := &env{t: t, backend: &fakeBackend{}, logs: &syncBuffer{}, done: make(chan error, 1), states: &stateLog{}}
		e2.srv = &submission.Server{Backend: e.backend, Authenticator: users, Logger: quietLogger(e.logs), ConnState: e2.states.add}
		withTLS(e2.srv)
		e2.start(false)
		c = e2.dialGreeted()
		c.ehlo()
		c.cmd("STARTTLS")
		c.expect("220")
		start = time.Now()
		_, err = c.r.ReadByte()
		assert.Error(t, err)
		assert.Equal(t, 30*time.Second, time.Since(start), "the default handshake timeout")
		assert.Equal(t, []string{"closed:tls handshake failed"}, e2.waitClosed(1))
	})
}

// X9: an endless line is refused at the bound and the connection closed;
// a line over the command limit that does end is refused and the session
// goes on, while MAIL may be longer for its parameters.
func TestX9EndlessLine(t *testing.T) {
	e := newServer(t, nil)
	c := e.dialGreeted()
	conn := c.conn
	go func() {
		chunk := strings.Repeat("x", 64<<10)
		for range 16 {
			if _, err := io.WriteString(conn, chunk); err != nil {
				return
			}
		}
	}()
	c.expect("500 5.5.2 Line too long")
	c.expectEOF()
	assert.Equal(t, []string{"closed:protocol error"}, e.waitClosed(1))

	c = e.dialGreeted()
	c.login()
	c.run("> NOOP "+strings.Repeat("n", 600), "< 500 5.5.2 Line too long", "> NOOP", "< 250")
	long := "> MAIL FROM:<alice@example.org> ENVID=" + strings.Repeat("e", 100) + " AUTH=" + strings.Repeat("a", 500) + " SIZE=10 BODY=8BITMIME"
	require.Greater(t, len(long), 512)
	c.run(long, "< 250 2.1.0")
}

// X10: silent and dripping clients are closed after the per-command
// timeout, 5 minutes by default, before and after login, and in DATA.
func TestX10IdleAndSlowDrip(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newServer(t, func(s *submission.Server) { s.Logger = quietLogger(nil) })
		c := e.dialGreeted()
		start := time.Now()
		c.expect("421 4.4.2 mx.example.org")
		assert.Equal(t, 5*time.Minute, time.Since(start), "pre-auth idle")
		c.expectEOF()

		c = e.dialGreeted()
		c.login()
		start = time.Now()
		c.expect("421 4.4.2")
		assert.Equal(t, 5*time.Minute, time.Since(start), "post-auth idle: RFC 5321's 5 minutes")

		c = e.dialGreeted()
		start = time.Now()
		done := make(chan struct{})
		conn := c.conn
		go func() {
			defer close(done)
			for range 100 {
				time.Sleep(20 * time.Second)
				if _, err := conn.Write([]byte("N")); err != nil {
					return
				}
			}
		}()
		c.expect("421 4.4.2")
		assert.Equal(t, 5*time.Minute, time.Since(start), "dripping does not extend the command deadline")
		c.conn.Close()
		<-done

		c = e.dialGreeted()
		c.login()
		c.run("> MAIL FROM:<alice@example.org>", "< 250", "> RCPT TO:<b@example.net>", "< 250", "> DATA", "< 354")
		c.send("Subject: x\r\n\r\npartial")
		start = time.Now()
		c.expect("421 4.4.2")
		assert.Equal(t, 5*time.Minute, time.Since(start), "a stalled upload")
		assert.Empty(t, e.backend.got(), "nothing partial is committed")
		assert.Equal(t, []string{"closed:idle timeout", "closed:idle timeout", "closed:idle timeout", "closed:idle timeout"}, e.waitClosed(4))
	})
}

// X10 in DATA and BDAT: a client dripping message data, a byte every 20
// s (within ReadTimeout each time), is closed once DataGrace has passed
// and its average rate is below MinDataRate; a slow but steady client
// (2 KiB/s for 15 minutes) is not.
func TestX10DataDrip(t *testing.T) {
	drip := func(t *testing.T, c *client, stop <-chan struct{}) {
		conn := c.conn
		go func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Second):
				}
				if _, err := conn.Write([]byte("x")); err != nil {
					return
				}
			}
		}()
	}
	synctest.Test(t, func(t *testing.T) {
		e := newServer(t, func(s *submission.Server) { s.Logger = quietLogger(nil) })
		c := e.dialGreeted()
		c.login()
		c.run("> MAIL FROM:<alice@example.org>", "< 250", "> RCPT TO:<b@example.net>", "< 250", "> DATA", "< 354")
		c.send("Subject: x\r\n\r\n")
		stop := make(chan struct{})
		start := time.Now()
		drip(t, c, stop)
		c.expect("421 4.4.2")
		took := time.Since(start)
		close(stop)
		assert.GreaterOrEqual(t, took, submission.DataGrace)
		assert.Less(t, took, submission.DataGrace+time.Minute, "closed soon after the grace period")
		assert.Empty(t, e.backend.got(), "nothing partial is committed")

		c = e.dialGreeted()
		c.login()
		c.run("> MAIL FROM:<alice@example.org>", "< 250", "> RCPT TO:<b@example.net>", "< 250", "> BDAT 100000 LAST")
		stop = make(chan struct{})
		start = time.Now()
		drip(t, c, stop)
		c.expect("421 4.4.2")
		took = time.Since(start)
		close(stop)
		assert.GreaterOrEqual(t, took, submission.DataGrace)
		assert.Less(t, took, submission.DataGrace+time.Minute, "BDAT: closed soon after the grace period")
		assert.Empty(t, e.backend.got(), "nothing partial is committed")
		assert.Equal(t, []string{"closed:idle timeout", "closed:idle timeout"}, e.waitClosed(2))
	})
	synctest.Test(t, func(t *testing.T) {
		e := newServer(t, nil)
		c := e.dialGreeted()
		c.login()
		c.run("> MAIL FROM:<alice@example.org>", "< 250", "> RCPT TO:<b@example.net>", "< 250", "> DATA", "< 354")
		c.send("From: alice@example.org\r\nSubject: slow\r\n\r\n")
		line := strings.Repeat("y", 2046) + "\r\n"
		start := time.Now()
		for range 15 * 60 {
			time.Sleep(time.Second)
			c.send(line)
		}
		c.send(".\r\n")
		c.expect("250 2.0.0")
		assert.GreaterOrEqual(t, time.Since(start), 15*time.Minute)
		require.Len(t, e.backend.got(), 1)
	})
}

// X11: connections past the per-address limit are refused with 421 4.7.0;
// other addresses are unaffected; the default allows 20 from one address.
func TestX11ConnectionFlood(t *testing.T) {
	e := newServer(t, func(s *submission.Server) { s.MaxConnsPerAddr = 2 })
	e.dialGreeted()
	e.dialGreeted()
	c := e.dial()
	c.expect("421 4.7.0 mx.example.org Too many connections")
	c.expectEOF()
	e.dialFrom("203.0.113.7:1000").expect("220 ")

	e = newServer(t, nil)
	for range 20 {
		e.dialGreeted()
	}
	e = newServer(t, func(s *submission.Server) { s.MaxConns = 1 })
	e.dialGreeted()
	e.dialFrom("203.0.113.7:1000").expect("421 4.7.0")
}

// X12: a panic in a backend hook ends only that session, with 421, and is
// logged with its stack; the server goes on.
func TestX12PanicInBackend(t *testing.T) {
	tests := []struct {
		name  string
		setup func(e *env)
		steps []string
	}{
		{"Submit", func(e *env) { e.backend.panicSubmit = true },
			[]string{"> MAIL FROM:<alice@example.org>", "< 250", "> RCPT TO:<b@example.net>", "< 250", "> DATA", "< 354", ">> " + simpleMsg + ".\r\n", "< 421 4.3.0", "EOF"}},
		{"Submit via BDAT", func(e *env) { e.backend.panicSubmit = true },
			[]string{"> MAIL FROM:<alice@example.org>", "< 250", "> RCPT TO:<b@example.net>", "< 250", ">> BDAT 6 LAST\r\nX: y\r\n", "< 421 4.3.0", "EOF"}},
		{"CheckRecipient", func(e *env) { e.backend.rcptPanic = true },
			[]string{"> MAIL FROM:<alice@example.org>", "< 250", "> RCPT TO:<b@example.net>", "< 421 4.3.0", "EOF"}},
		{"SenderPolicy", func(e *env) {},
			[]string{"> MAIL FROM:<panic@example.org>", "< 421 4.3.0", "EOF"}},
		{"SenderPolicy on the header", func(e *env) {},
			[]string{"> MAIL FROM:<alice@example.org>", "< 250", "> RCPT TO:<b@example.net>", "< 250", "> DATA", "< 354", ">> From: panic@example.org\r\n\r\n.\r\n", "< 421 4.3.0", "EOF"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newServer(t, func(s *submission.Server) {
				s.SenderPolicy = func(ctx context.Context, id auth.Identity, f submission.SenderField, addr string) error {
					if strings.HasPrefix(addr, "panic@") {
						panic("policy boom")
					}
					return nil
				}
			})
			tt.setup(e)
			c := e.dialGreeted()
			c.login()
			c.run(tt.steps...)
			assert.Contains(t, e.logs.String(), "panic")
			assert.Contains(t, e.logs.String(), "goroutine", "the stack is logged")
			assert.Equal(t, []string{"closed:internal error"}, e.waitClosed(1))
			assert.Empty(t, e.backend.got())
			e.backend.panicSubmit, e.backend.rcptPanic = false, false
			c = e.dialGreeted()
			c.login()
			assert.Contains(t, c.sendMessage("alice@example.org", "b@example.net", simpleMsg+".\r\n"), "250 2.0.0", "the server goes on")
		})
	}
}

// X12: a panic in the Authenticator ends only that session.
func TestX12PanicInAuthenticator(t *testing.T) {
	e := newServer(t, func(s *submission.Server) {
		s.Authenticator = auth.AuthenticatorFunc(func(ctx context.Context, u, p string) (auth.Identity, error) {
			if u == "panic@example.org" {
				panic("authenticator boom")
			}
			return users.Authenticate(ctx, u, p)
		})
	})
	c := e.dialGreeted()
	c.ehlo()
	c.run("> AUTH PLAIN "+plainIR("panic@example.org", "x"), "< 421 4.3.0 mx.example.org", "EOF")
	assert.Equal(t, []string{"closed:internal error"}, e.waitClosed(1))
	e.dialGreeted().login()
}

// X13: a flood of unknown commands is cut off at the threshold: 3 before
// login, 20 after.
func TestX13GarbageFlood(t *testing.T) {
	e := newServer(t, nil)
	c := e.dialGreeted()
	c.ehlo()
	for i := range 3 {
		c.cmd("GARBAGE" + strings.Repeat("X", i))
		c.expect("500 5.5.2")
	}
	c.expect("421 4.7.0 mx.example.org Too many errors")
	c.expectEOF()

	c = e.dialGreeted()
	c.login()
	for range 20 {
		c.cmd("GARBAGE")
		c.expect("500 5.5.2")
	}
	c.expect("421 4.7.0")
	c.expectEOF()
	assert.Equal(t, []string{"closed:too many bad commands", "closed:too many bad commands"}, e.waitClosed(2))
}

// X14: Shutdown says 421 4.3.2 to idle sessions at once, lets a DATA in
// flight finish (and be acknowledged), then closes it; a client cut off by
// Close commits nothing.
func TestX14ShutdownDuringData(t *testing.T) {
	e := newServer(t, nil)
	e.backend.entered = make(chan struct{})
	busy := e.dialGreeted()
	busy.login()
	busy.run("> MAIL FROM:<alice@example.org>", "< 250", "> RCPT TO:<b@example.net>", "< 250", "> DATA", "< 354")
	busy.send("Subject: in flight\r\n\r\nfirst half\r\n")
	<-e.backend.entered
	idle := e.dialGreeted()
	idle.login()
	bdat := e.dialGreeted()
	bdat.login()
	bdat.run("> MAIL FROM:<alice@example.org>", "< 250", "> RCPT TO:<b@example.net>", "< 250", ">> BDAT 9\r\nSubject: ", "< 250 2.0.0")

	shut := make(chan error, 1)
	go func() { shut <- e.srv.Shutdown(context.Background()) }()
	idle.expect("421 4.3.2 mx.example.org")
	idle.expectEOF()
	bdat.expect("421 4.3.2")
	bdat.expectEOF()

	busy.send("second half\r\n.\r\n")
	busy.expect("250 2.0.0")
	busy.expect("421 4.3.2")
	busy.expectEOF()
	require.NoError(t, <-shut)
	msgs := e.backend.got()
	require.Len(t, msgs, 1, "the message in flight was delivered, the BDAT one was not")
	assert.Contains(t, msgs[0].data, "first half\r\nsecond half\r\n")

	// Close cuts a DATA in flight: the backend sees its stream fail.
	e = newServer(t, nil)
	e.backend.entered = make(chan struct{})
	c := e.dialGreeted()
	c.login()
	c.run("> MAIL FROM:<alice@example.org>", "< 250", "> RCPT TO:<b@example.net>", "< 250", "> DATA", "< 354")
	c.send("Subject: cut\r\n\r\npartial\r\n")
	<-e.backend.entered
	require.NoError(t, e.srv.Close())
	c.expectEOF()
	require.Eventually(t, func() bool {
		e.backend.mu.Lock()
		defer e.backend.mu.Unlock()
		return e.backend.readErr != nil
	}, 5*time.Second, time.Millisecond)
	assert.Empty(t, e.backend.got(), "nothing partial is committed")
}

// A slow backend sees its context cancelled when the server is closed.
func TestSlowBackendSeesCancel(t *testing.T) {
	e := newServer(t, nil)
	e.backend.block = make(chan struct{})
	e.backend.entered = make(chan struct{})
	c := e.dialGreeted()
	c.login()
	c.run("> MAIL FROM:<alice@example.org>", "< 250", "> RCPT TO:<b@example.net>", "< 250", "> DATA", "< 354", ">> "+simpleMsg+".\r\n")
	<-e.backend.entered
	e.srv.Close()
	c.expectEOF()
	require.Eventually(t, func() bool {
		e.backend.mu.Lock()
		defer e.backend.mu.Unlock()
		return e.backend.ctxErr != nil
	}, 5*time.Second, time.Millisecond)
	assert.ErrorIs(t, e.backend.ctxErr, context.Canceled)
}

func quietLogger(w io.Writer) *slog.Logger {
	if w == nil {
		w = io.Discard
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// The connection-state hook sees every connection end with its reason.
func TestConnStateReasons(t *testing.T) {
	e := newServer(t, nil)
	c := e.dialGreeted()
	c.run("> QUIT", "< 221", "EOF")
	assert.Equal(t, []string{"closed:client quit"}, e.waitClosed(1))
	c = e.dialGreeted()
	c.conn.Close()
	assert.Equal(t, []string{"closed:client quit", "closed:read error"}, e.waitClosed(2))
}

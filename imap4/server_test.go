package imap4_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront"
	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/internal/testutil"
	"github.com/mailfront/mailfront/tlsconfig"
)

var testCert = sync.OnceValue(func() *tlsconfig.SelfSignedCert {
	c, err := tlsconfig.SelfSigned("imap.test", "127.0.0.1")
	if err != nil {
		panic(err)
	}
	return c
})

func withTLS(s *imap4.Server) {
	s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{testCert().Certificate}}
	s.LoginPolicy = auth.SecureLogin
}

// startTLS upgrades a client after "OK Begin TLS".
func (c *client) startTLS() {
	c.t.Helper()
	cfg := testCert().ClientConfig()
	cfg.ServerName = "imap.test"
	tc := tls.Client(c.nc, cfg)
	require.NoError(c.t, tc.Handshake())
	c.nc = tc
	c.r = bufio.NewReader(tc)
}

func TestServeValidates(t *testing.T) {
	tests := []struct {
		name string
		srv  *imap4.Server
		tls  bool
		want string
	}{
		{"no backend", &imap4.Server{Authenticator: newDirectory()}, false, "Backend is nil"},
		{"no authenticator", &imap4.Server{Backend: newFakeBackend()}, false, "Authenticator is nil"},
		{"no way to log in", &imap4.Server{Backend: newFakeBackend(), Authenticator: newDirectory()}, false, "no client could log in"},
		{"ServeTLS without certificate", &imap4.Server{Backend: newFakeBackend(), Authenticator: newDirectory()}, true, "TLS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := testutil.NewListener()
			var err error
			if tt.tls {
				err = tt.srv.ServeTLS(l)
			} else {
				err = tt.srv.Serve(l)
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			_, derr := l.Dial()
			assert.Error(t, derr, "Serve closes the listener")
		})
	}
}

// TestZeroValueServer: a zero Server with a Backend, an Authenticator and a
// certificate serves, and is secure: no login before TLS.
func TestZeroValueServer(t *testing.T) {
	e := newEnv(t, func(s *imap4.Server) {
		*s = imap4.Server{Backend: s.Backend, Authenticator: s.Authenticator, Throttle: s.Throttle}
		withTLS(s)
	})
	c := e.dial()
	caps := c.do("CAPABILITY")[0]
	assert.Contains(t, caps, " STARTTLS")
	assert.Contains(t, caps, " LOGINDISABLED")
	assert.NotContains(t, caps, "AUTH=")
	assert.Equal(t, "NO [PRIVACYREQUIRED] Use STARTTLS or the TLS port before logging in", tagged(c.do("LOGIN alice secret")))
	assert.Zero(t, e.dir.calls, "credentials are not checked before TLS (X4)")
}

// TestX4CleartextRefused: before TLS, LOGIN and AUTHENTICATE PLAIN are
// refused with PRIVACYREQUIRED and the credentials are never checked.
func TestX4CleartextRefused(t *testing.T) {
	e := newEnv(t, withTLS)
	c := e.dial()
	assert.Contains(t, c.do("CAPABILITY")[0], "LOGINDISABLED")
	assert.Equal(t, "NO [PRIVACYREQUIRED] Use STARTTLS or the TLS port before logging in", tagged(c.do("LOGIN alice secret")))
	assert.Equal(t, "NO [PRIVACYREQUIRED] Use STARTTLS or the TLS port before logging in", tagged(c.do("AUTHENTICATE PLAIN "+b64("\x00alice\x00secret"))))
	assert.Equal(t, "NO [PRIVACYREQUIRED] Use STARTTLS or the TLS port before logging in", tagged(c.do("AUTHENTICATE LOGIN")))
	assert.Zero(t, e.dir.calls)
	c.ok("STARTTLS")
	c.startTLS()
	c.ok("LOGIN alice secret")
}

func TestLiteralMinus(t *testing.T) {
	e := newEnv(t, func(s *imap4.Server) { s.DisableLiteralPlus = true })
	c := e.login("alice")
	caps := c.do("CAPABILITY")[0]
	assert.Contains(t, strings.Fields(caps), "LITERAL-")
	assert.NotContains(t, strings.Fields(caps), "LITERAL+")
	c.ok("APPEND INBOX {4096+}\r\n" + strings.Repeat("x", 4096))
	c.write("a APPEND INBOX {5000+}\r\n" + strings.Repeat("b NOOP\r\n", 625) + "\r\n")
	c.expect("a BAD [TOOBIG] Non-synchronizing literals are limited to 4096 octets (LITERAL-)")
	c.ok("SELECT INBOX")
	c.ok("CHECK")
	assert.Len(t, e.b.users["alice"].boxes["INBOX"].msgs, 1)
	c.send("c APPEND INBOX {5000}")
	c.expect("+ Ready for literal data")
	c.write(strings.Repeat("y", 5000) + "\r\n")
	c.expect("* 2 EXISTS", "* 2 RECENT", `~c OK \[APPENDUID \d+ 2\] APPEND completed`)
}

func TestShutdownAndErrServerClosed(t *testing.T) {
	e := newEnv(t)
	c := e.login("alice")
	c.ok("SELECT INBOX")
	require.NoError(t, e.srv.Shutdown(context.Background()))
	c.expect("* BYE [UNAVAILABLE] Server shutting down")
	assert.Equal(t, io.EOF, c.readErr())
	assert.ErrorIs(t, <-e.done, imap4.ErrServerClosed)
	e.done <- imap4.ErrServerClosed // for the cleanup
	assert.ErrorIs(t, e.srv.Serve(testutil.NewListener()), imap4.ErrServerClosed)
}

func TestGreetingAndCapability(t *testing.T) {
	e := newEnv(t)
	nc, err := e.l.Dial()
	require.NoError(t, err)
	defer nc.Close()
	c := newClient(t, nc)
	c.expect(`~\* OK \[CAPABILITY IMAP4rev1 IMAP4rev2 AUTH=PLAIN AUTH=LOGIN LITERAL\+ SASL-IR .* APPENDLIMIT=36700160\] imap\.test IMAP4rev2 server ready \(conn [0-9a-f]+-\d+\)`)
	out := c.do("CAPABILITY")
	require.Len(t, out, 2)
	for _, capability := range []string{"IDLE", "UIDPLUS", "MOVE", "NAMESPACE", "ID", "ENABLE", "LITERAL+", "SASL-IR", "SPECIAL-USE",
		"CREATE-SPECIAL-USE", "CHILDREN", "LIST-EXTENDED", "LIST-STATUS", "UNSELECT", "ESEARCH", "SEARCHRES", "STATUS=SIZE",
		"BINARY", "UTF8=ACCEPT", "CONDSTORE", "QRESYNC", "MULTIAPPEND"} {
		assert.Contains(t, strings.Fields(out[0]), capability)
	}
	assert.NotContains(t, out[0], "STARTTLS", "no TLSConfig, no STARTTLS")
	c.ok("LOGIN alice secret")
	out = c.do("CAPABILITY")
	assert.NotContains(t, out[0], "AUTH=")
	assert.NotContains(t, out[0], "LOGINDISABLED")
}

// TestX1STARTTLSInjection: commands pipelined after STARTTLS in the same
// segment are discarded, never answered after the handshake.
func TestX1STARTTLSInjection(t *testing.T) {
	e := newEnv(t, withTLS)
	c := e.dial()
	c.write("a STARTTLS\r\nb LOGIN alice secret\r\n")
	c.expect("a OK Begin TLS negotiation now")
	c.startTLS()
	out := c.do("NOOP")
	assert.Equal(t, []string{"t1 OK NOOP completed"}, out, "no reply to the injected LOGIN")
	assert.Contains(t, c.do("SELECT INBOX")[0], "BAD", "not authenticated")
	assert.Zero(t, e.dir.calls)
}

// TestX2StateAfterSTARTTLS: the capabilities change after TLS, and
// STARTTLS after login is refused.
func TestX2StateAfterSTARTTLS(t *testing.T) {
	e := newEnv(t, withTLS)
	c := e.dial()
	before := c.do("CAPABILITY")[0]
	assert.Contains(t, before, "STARTTLS")
	assert.Contains(t, before, "LOGINDISABLED")
	c.ok("STARTTLS")
	c.startTLS()
	after := c.do("CAPABILITY")[0]
	assert.NotContains(t, after, "STARTTLS")
	assert.NotContains(t, after, "LOGINDISABLED")
	assert.Contains(t, after, "AUTH=PLAIN")
	c.ok("LOGIN alice secret")
	assert.Equal(t, "BAD Command not valid in this state: already logged in", tagged(c.do("STARTTLS")))
}

// TestX3STARTTLSTwice: STARTTLS on a TLS connection is BAD and the session
// goes on.
func TestX3STARTTLSTwice(t *testing.T) {
	t.Run("after STARTTLS", func(t *testing.T) {
		e := newEnv(t, withTLS)
		c := e.dial()
		c.ok("STARTTLS")
		c.startTLS()
		assert.Equal(t, "BAD TLS is already active", tagged(c.do("STARTTLS")))
		c.ok("LOGIN alice secret")
	})
	t.Run("implicit TLS", func(t *testing.T) {
		e := newEnv(t, withTLS)
		l := testutil.NewListener()
		done := make(chan error, 1)
		go func() { done <- e.srv.ServeTLS(l) }()
		defer func() { l.Close(); <-done }()
		nc, err := l.Dial()
		require.NoError(t, err)
		defer nc.Close()
		cfg := testCert().ClientConfig()
		cfg.ServerName = "imap.test"
		tc := tls.Client(nc, cfg)
		c := newClient(t, tc)
		assert.Contains(t, c.line(), "* OK [CAPABILITY IMAP4rev1 IMAP4rev2 AUTH=PLAIN")
		assert.Equal(t, "BAD TLS is already active", tagged(c.do("STARTTLS")))
		c.ok("LOGIN alice secret")
	})
}

// TestX5TLSVersionFloor: TLS 1.1 clients are refused; 1.2 and 1.3 work.
func TestX5TLSVersionFloor(t *testing.T) {
	e := newEnv(t, withTLS)
	l := testutil.NewListener()
	done := make(chan error, 1)
	go func() { done <- e.srv.ServeTLS(l) }()
	defer func() { l.Close(); <-done }()
	for _, v := range []uint16{tls.VersionTLS11, tls.VersionTLS12, tls.VersionTLS13} {
		nc, err := l.Dial()
		require.NoError(t, err)
		cfg := testCert().ClientConfig()
		cfg.ServerName = "imap.test"
		cfg.MinVersion, cfg.MaxVersion = v, v
		err = tls.Client(nc, cfg).Handshake()
		if v == tls.VersionTLS11 {
			assert.Error(t, err, "TLS 1.1")
		} else {
			assert.NoError(t, err, tls.VersionName(v))
		}
		nc.Close()
	}
}

// TestX6HandshakeSlowloris: a client that never finishes the handshake is
// dropped at the handshake timeout.
func TestX6HandshakeSlowloris(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, withTLS)
		l := testutil.NewListener()
		done := make(chan error, 1)
		go func() { done <- e.srv.ServeTLS(l) }()
		nc, err := l.Dial()
		require.NoError(t, err)
		start := time.Now()
		_, err = nc.Read(make([]byte, 1))
		assert.Error(t, err)
		assert.Equal(t, 30*time.Second, time.Since(start))

		// STARTTLS, then silence.
		c := e.dial()
		c.ok("STARTTLS")
		start = time.Now()
		assert.Error(t, c.readErr())
		assert.Equal(t, 30*time.Second, time.Since(start))
		nc.Close()
		l.Close()
		<-done
		e.srv.Close()
	})
}

// TestX9EndlessLine: a line without end is refused at 64 KiB with BAD and
// the connection closed, in bounded memory.
func TestX9EndlessLine(t *testing.T) {
	e := newEnv(t)
	c := e.dial()
	go func() {
		chunk := strings.Repeat("x", 64<<10)
		for range 1600 { // 100 MiB
			if _, err := io.WriteString(c.nc, chunk); err != nil {
				return
			}
		}
	}()
	c.expect("* BAD [TOOBIG] Line too long", "* BYE Line too long")
	assert.Error(t, c.readErr())
}

// TestX10Timeouts: before login the session ends after 60 s of silence;
// after login not before 30 minutes (31 by default, and a shorter setting
// is raised to 30); a slow drip does not extend a command's deadline.
func TestX10Timeouts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		c := e.dial()
		start := time.Now()
		c.expect("* BYE Autologout: idle for too long")
		assert.Equal(t, 60*time.Second, time.Since(start))

		c = e.login("alice")
		start = time.Now()
		c.expect("* BYE Autologout: idle for too long")
		assert.Equal(t, 31*time.Minute, time.Since(start))

		c = e.dial()
		start = time.Now()
		dripper := c.nc
		go func() {
			for range 10 {
				time.Sleep(20 * time.Second)
				if _, err := dripper.Write([]byte("a")); err != nil {
					return
				}
			}
		}()
		c.expect("* BYE Autologout: idle for too long")
		assert.Equal(t, 60*time.Second, time.Since(start), "dripping does not extend the deadline")
		c.nc.Close()
		e.srv.Close()
		<-e.done
		e.done <- nil

		e2 := newEnv(t, func(s *imap4.Server) { s.ReadTimeout = 5 * time.Minute })
		c = e2.login("alice")
		start = time.Now()
		c.expect("* BYE Autologout: idle for too long")
		assert.Equal(t, 30*time.Minute, time.Since(start), "RFC 9051 §5.4: at least 30 minutes")
		e2.srv.Close()
		<-e2.done
		e2.done <- nil
		synctest.Wait()
	})
}

// TestX11ConnectionLimits: per address and per user+address limits refuse
// with a protocol reply; the default allows 20 sessions per user+address.
func TestX11ConnectionLimits(t *testing.T) {
	t.Run("per address", func(t *testing.T) {
		e := newEnv(t, func(s *imap4.Server) { s.MaxConnsPerAddr = 2 })
		e.dial()
		e.dial()
		nc, err := e.l.Dial()
		require.NoError(t, err)
		defer nc.Close()
		c := newClient(t, nc)
		c.expect("* BYE [UNAVAILABLE] Too many connections; try again later")
		e.dialFrom("198.51.100.2:1000") // another address is fine
	})
	t.Run("per user and address", func(t *testing.T) {
		e := newEnv(t)
		for range 20 {
			e.login("alice")
		}
		c := e.dial()
		assert.Equal(t, "NO [UNAVAILABLE] Too many connections for this user from this address", tagged(c.do("LOGIN alice secret")))
		c.ok("LOGIN bob hunter2")
		e.dialFrom("198.51.100.9:1").ok("LOGIN alice secret")
	})
}

// TestX12BackendPanic: a panic in a backend call ends only that session,
// with BYE [SERVERBUG]; it is logged with its stack and others go on.
func TestX12BackendPanic(t *testing.T) {
	e := newEnv(t)
	other := e.selectInbox()
	c := e.login("alice")
	e.b.mu.Lock()
	e.b.panics["OpenMailbox"] = true
	e.b.mu.Unlock()
	c.send("a SELECT INBOX")
	c.expect("* BYE [SERVERBUG] Internal server error")
	assert.Error(t, c.readErr())
	assert.Contains(t, e.logs.String(), "panic serving connection")
	assert.Contains(t, e.logs.String(), "fake backend: panic in OpenMailbox")
	other.ok("NOOP")
}

// TestX13GarbageFlood: bad commands end the session at the threshold with
// a final line: 3 before login, 20 in a row after.
func TestX13GarbageFlood(t *testing.T) {
	e := newEnv(t)
	c := e.dial()
	// One write: the server closes after the third line, so later writes
	// could fail.
	var flood strings.Builder
	for i := range 25 {
		flood.WriteString("x" + string(rune('a'+i)) + " GARBAGE\r\n")
	}
	c.write(flood.String())
	c.expect("xa BAD Unknown command", "xb BAD Unknown command", "xc BAD Unknown command", "* BYE Too many invalid commands")
	assert.Error(t, c.readErr())

	c = e.login("alice")
	for range 19 {
		assert.Equal(t, "BAD Unknown command", tagged(c.do("GARBAGE")))
	}
	c.ok("NOOP") // a good command resets the count
	for range 19 {
		c.do("GARBAGE")
	}
	assert.Equal(t, []string{"t41 BAD Unknown command"}, c.do("GARBAGE"))
	c.expect("* BYE Too many invalid commands")
	assert.Error(t, c.readErr())
	assert.Contains(t, e.logs.String(), "too many bad commands")
}

// TestX14ShutdownWhileIdle: Shutdown says BYE to sessions in IDLE and at a
// command boundary, and waits for an APPEND in progress.
func TestX14ShutdownWhileIdle(t *testing.T) {
	e := newEnv(t)
	idler := e.selectInbox()
	idler.send("i IDLE")
	idler.expect("+ idling")

	slow := make(chan struct{})
	e.b.setSlow("Append", slow)
	appender := e.login("bob")
	appender.send("a APPEND INBOX {5+}\r\nhello")
	assert.Equal(t, "Append", <-e.b.started)

	shut := make(chan error, 1)
	go func() { shut <- e.srv.Shutdown(context.Background()) }()
	idler.expect("* BYE [UNAVAILABLE] Server shutting down")
	assert.Error(t, idler.readErr())
	select {
	case <-shut:
		t.Fatal("Shutdown returned while an APPEND was in progress")
	default:
	}
	close(slow)
	appender.expect(`~a OK \[APPENDUID \d+ 1\] APPEND completed`)
	appender.expect("* BYE [UNAVAILABLE] Server shutting down")
	require.NoError(t, <-shut)
	assert.Len(t, e.b.users["bob"].boxes["INBOX"].msgs, 1, "the APPEND in progress completed")
}

// TestConnStateAndCloseReasons: the ConnState hook sees the session's
// life and why it ended.
func TestConnStateAndCloseReasons(t *testing.T) {
	closed := make(chan mailfront.CloseReason, 10)
	e := newEnv(t, func(s *imap4.Server) {
		s.ConnState = func(ci mailfront.ConnInfo, st mailfront.ConnState) {
			if st == mailfront.StateClosed {
				closed <- ci.CloseReason
			}
		}
	})
	c := e.login("alice")
	c.ok("LOGOUT")
	assert.Equal(t, mailfront.ClientQuit, <-closed)
	c = e.dial()
	c.nc.Close()
	assert.Equal(t, mailfront.ReadError, <-closed)
	c = e.dial()
	for range 3 {
		c.send("x FOO")
	}
	assert.Equal(t, mailfront.TooManyBadCommands, <-closed)
}

func TestTrustedNetworks(t *testing.T) {
	e := newEnv(t, func(s *imap4.Server) {
		s.LoginPolicy = auth.SecureLogin
		s.TrustedNetworks = []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}
	})
	c := e.dial()
	assert.NotContains(t, c.do("CAPABILITY")[0], "LOGINDISABLED")
	c.ok("LOGIN alice secret")
	c = e.dialFrom("203.0.113.5:1")
	assert.Contains(t, tagged(c.do("LOGIN alice secret")), "PRIVACYREQUIRED")
}

// TestBackendErrorsMapped: sentinels map to response codes; unknown errors
// become SERVERBUG without their text on the wire, and are logged.
func TestBackendErrorsMapped(t *testing.T) {
	e := newEnv(t)
	c := e.login("alice")
	e.b.setErr("CreateMailbox", errBoom)
	out := tagged(c.do("CREATE x"))
	assert.Equal(t, "NO [SERVERBUG] Internal server error", out)
	assert.Contains(t, e.logs.String(), "disk on fire")
	e.b.setErr("CreateMailbox", &imap4.Error{Code: imap4.CodeOverQuota, Text: "Mailbox\r\nlimit reached", Err: errBoom})
	assert.Equal(t, "NO [OVERQUOTA] Mailboxlimit reached", tagged(c.do("CREATE x")))
	e.b.setErr("CreateMailbox", imap4.ErrQuotaExceeded)
	assert.Equal(t, "NO [OVERQUOTA] Quota exceeded", tagged(c.do("CREATE x")))
	e.b.setErr("OpenUser", errors.New("store down"))
	c = e.dial()
	assert.Equal(t, "NO [UNAVAILABLE] Mail store temporarily unavailable", tagged(c.do("LOGIN alice secret")))
}

// TestSlowBackendSeesCancel: Close cancels the context of a backend call
// in progress.
func TestSlowBackendSeesCancel(t *testing.T) {
	e := newEnv(t)
	c := e.login("alice")
	e.b.setSlow("ListMailboxes", make(chan struct{})) // never released
	c.send("a LIST \"\" *")
	assert.Equal(t, "ListMailboxes", <-e.b.started)
	require.NoError(t, e.srv.Close())
	err := c.readErr()
	if err == nil {
		err = c.readErr()
	}
	assert.Error(t, err)
	assert.ErrorIs(t, <-e.done, imap4.ErrServerClosed)
	e.done <- nil
}

package netsrv_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront"
	"github.com/mailfront/mailfront/internal/netsrv"
	"github.com/mailfront/mailfront/internal/testutil"
	"github.com/mailfront/mailfront/internal/wire"
	"github.com/mailfront/mailfront/tlsconfig"
)

func TestMain(m *testing.M) { testutil.MainWithLeakCheck(m) }

// echo is a minimal line protocol over netsrv, enough to exercise the
// machinery every real protocol relies on.
type echo struct {
	srv     netsrv.Server
	tls     *tls.Config
	timeout time.Duration
	slow    chan struct{} // SLOW waits on it
	limits  netsrv.Config
	logs    *syncBuffer

	mu     sync.Mutex
	states []string
	ctxs   []context.Context
}

type syncBuffer = testutil.SyncBuffer

func newEcho() *echo {
	return &echo{slow: make(chan struct{}), logs: &syncBuffer{}, timeout: time.Minute}
}

func (e *echo) config() netsrv.Config {
	cfg := e.limits
	cfg.Protocol = "echo"
	cfg.Logger = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.TLSConfig = e.tls
	cfg.ConnState = func(ci mailfront.ConnInfo, st mailfront.ConnState) {
		e.mu.Lock()
		defer e.mu.Unlock()
		s := st.String()
		if st == mailfront.StateClosed {
			s += ":" + ci.CloseReason.String()
		}
		e.states = append(e.states, s)
	}
	cfg.Refuse = func(c *netsrv.Conn, reason mailfront.CloseReason) {
		fmt.Fprintf(c.W, "-ERR refused: %s\r\n", reason)
	}
	cfg.Handle = e.handle
	return cfg
}

func (e *echo) handle(c *netsrv.Conn) {
	e.mu.Lock()
	e.ctxs = append(e.ctxs, c.Ctx)
	e.mu.Unlock()
	fmt.Fprintf(c.W, "+OK ready %s\r\n", c.ID())
	c.Flush()
	for {
		line, err := c.ReadCommand(64, e.timeout)
		switch {
		case errors.Is(err, netsrv.ErrShutdown):
			c.SetCloseReason(mailfront.Shutdown)
			c.W.WriteString("-ERR shutting down\r\n")
			return
		case errors.Is(err, netsrv.ErrTimeout):
			c.SetCloseReason(mailfront.IdleTimeout)
			c.W.WriteString("-ERR timeout\r\n")
			return
		case errors.Is(err, wire.ErrLineTooLong):
			c.SetCloseReason(mailfront.ProtocolError)
			c.W.WriteString("-ERR line too long\r\n")
			return
		case err != nil:
			c.SetCloseReason(netsrv.CloseReasonFor(err))
			return
		}
		cmd, arg, _ := strings.Cut(string(line), " ")
		switch cmd {
		case "ECHO":
			fmt.Fprintf(c.W, "+OK %s\r\n", arg)
		case "QUIT":
			c.SetCloseReason(mailfront.ClientQuit)
			c.W.WriteString("+OK bye\r\n")
			return
		case "STARTTLS":
			if !c.CanStartTLS() {
				c.W.WriteString("-ERR no\r\n")
				break
			}
			c.W.WriteString("+OK go\r\n")
			c.Flush()
			if err := c.StartTLS(); err != nil {
				return
			}
		case "TLS":
			if c.TLS() != nil {
				fmt.Fprintf(c.W, "+OK tls %v\r\n", c.LocalCertificate() != nil)
			} else {
				c.W.WriteString("+OK plain\r\n")
			}
		case "INFO":
			ci, _ := mailfront.ConnInfoFromContext(c.Ctx)
			fmt.Fprintf(c.W, "+OK %s %s %s %v\r\n", ci.ID, ci.Protocol, ci.RemoteAddr, ci.TLS != nil)
		case "USER":
			if c.SetUser(arg) {
				c.W.WriteString("+OK\r\n")
			} else {
				c.W.WriteString("-ERR too many sessions\r\n")
			}
		case "SLOW":
			select {
			case <-e.slow:
			case <-c.Ctx.Done():
				return
			}
			c.W.WriteString("+OK done\r\n")
		case "PANIC":
			panic("boom")
		default:
			c.W.WriteString("-ERR unknown\r\n")
		}
		if err := c.Flush(); err != nil {
			return
		}
	}
}

func (e *echo) stateLog() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.states...)
}

// waitState waits until the last state reported is state.
func (e *echo) waitState(t *testing.T, state string) {
	t.Helper()
	require.Eventually(t, func() bool {
		s := e.stateLog()
		return len(s) > 0 && s[len(s)-1] == state
	}, 5*time.Second, time.Millisecond)
}

// client is a line-oriented test client.
type client struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

func newClient(t testing.TB, conn net.Conn) *client {
	return &client{t: t, conn: conn, r: bufio.NewReader(conn)}
}

func (c *client) send(s string) {
	c.t.Helper()
	_, err := io.WriteString(c.conn, s)
	require.NoError(c.t, err)
}

func (c *client) line() string {
	c.t.Helper()
	l, err := c.r.ReadString('\n')
	require.NoError(c.t, err, "reading a reply")
	return strings.TrimRight(l, "\r\n")
}

func (c *client) expect(prefix string) string {
	c.t.Helper()
	l := c.line()
	require.True(c.t, strings.HasPrefix(l, prefix), "got %q, want prefix %q", l, prefix)
	return l
}

func (c *client) expectEOF() {
	c.t.Helper()
	l, err := c.r.ReadString('\n')
	require.Error(c.t, err, "expected the server to close, got %q", l)
}

func serve(t *testing.T, e *echo, implicitTLS bool) (*testutil.Listener, chan error) {
	l := testutil.NewListener()
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(l, e.config(), implicitTLS) }()
	return l, done
}

func dial(t *testing.T, l *testutil.Listener) *client {
	conn, err := l.Dial()
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return newClient(t, conn)
}

func TestServeAndShutdown(t *testing.T) {
	e := newEcho()
	l, done := serve(t, e, false)
	c := dial(t, l)
	c.expect("+OK ready")
	c.send("ECHO hello\r\n")
	assert.Equal(t, "+OK hello", c.line())
	c.send("INFO\r\n")
	assert.Regexp(t, `^\+OK \w+-1 echo 198\.51\.100\.1:40000 false$`, c.line())
	// The reply comes before the handler waits again: let it get there, so
	// that Shutdown finds the connection idle.
	require.Eventually(t, func() bool { return len(e.stateLog()) == 6 }, 5*time.Second, time.Millisecond)

	require.NoError(t, e.srv.Shutdown(context.Background()))
	assert.Equal(t, "-ERR shutting down", c.line(), "an idle connection is told and closed")
	c.expectEOF()
	assert.ErrorIs(t, <-done, netsrv.ErrServerClosed)
	_, err := l.Dial()
	assert.Error(t, err, "the listener is closed")
	require.Eventually(t, func() bool { return len(e.stateLog()) == 7 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, []string{"new", "idle", "active", "idle", "active", "idle", "closed:shutdown"}, e.stateLog())
}

func TestServeAfterShutdown(t *testing.T) {
	e := newEcho()
	require.NoError(t, e.srv.Shutdown(context.Background()))
	l := testutil.NewListener()
	assert.ErrorIs(t, e.srv.Serve(l, e.config(), false), netsrv.ErrServerClosed)
	_, err := l.Dial()
	assert.Error(t, err, "Serve closes its listener even when refusing it")
}

func TestShutdownWaitsForCommandInFlight(t *testing.T) {
	e := newEcho()
	l, done := serve(t, e, false)
	busy := dial(t, l)
	busy.expect("+OK ready")
	idle := dial(t, l)
	idle.expect("+OK ready")
	busy.send("SLOW\r\n")
	// Wait until SLOW is running: a later command on the same connection
	// cannot be answered before it.
	e.waitState(t, "active")

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, e.srv.Shutdown(ctx), context.DeadlineExceeded, "a command in flight holds Shutdown")
	assert.Equal(t, "-ERR shutting down", idle.line(), "idle connections are ended at once")

	close(e.slow)
	assert.Equal(t, "+OK done", busy.line(), "the command in flight completes")
	assert.Equal(t, "-ERR shutting down", busy.line(), "then the connection is told")
	require.NoError(t, e.srv.Shutdown(context.Background()))
	assert.ErrorIs(t, <-done, netsrv.ErrServerClosed)
}

// ShutdownLogged logs the start and the end of a shutdown, and says when
// ctx ended it first.
func TestShutdownLogged(t *testing.T) {
	e := newEcho()
	l, done := serve(t, e, false)
	busy := dial(t, l)
	busy.expect("+OK ready")
	busy.send("SLOW\r\n")
	e.waitState(t, "active")

	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, e.srv.ShutdownLogged(ctx, logger, "echo"), context.Canceled)
	assert.Contains(t, logs.String(), `level=INFO msg="shutting down" proto=echo`)
	assert.Contains(t, logs.String(), `level=INFO msg="shutdown cut short; connections remain" proto=echo err="context canceled"`)
	assert.NotContains(t, logs.String(), `msg="shut down"`)

	close(e.slow)
	require.NoError(t, e.srv.ShutdownLogged(context.Background(), logger, "echo"))
	assert.Contains(t, logs.String(), `level=INFO msg="shut down" proto=echo`)
	assert.ErrorIs(t, <-done, netsrv.ErrServerClosed)
}

func TestCloseIsImmediate(t *testing.T) {
	e := newEcho()
	l, done := serve(t, e, false)
	c := dial(t, l)
	c.expect("+OK ready")
	c.send("SLOW\r\n")
	require.Eventually(t, func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return len(e.ctxs) == 1
	}, 5*time.Second, time.Millisecond)
	require.NoError(t, e.srv.Close())
	c.expectEOF()
	assert.ErrorIs(t, <-done, netsrv.ErrServerClosed)
	e.mu.Lock()
	ctx := e.ctxs[0]
	e.mu.Unlock()
	<-ctx.Done() // the connection context is cancelled
	e.waitState(t, "closed:shutdown")
}

func TestPerAddressLimit(t *testing.T) {
	e := newEcho()
	e.limits.MaxConnsPerAddr = 2
	l, _ := serve(t, e, false)
	defer e.srv.Close()
	var conns []*client
	for range 2 {
		c := dial(t, l)
		c.expect("+OK ready")
		conns = append(conns, c)
	}
	c := dial(t, l)
	assert.Equal(t, "-ERR refused: limit exceeded", c.line())
	c.expectEOF()

	other, err := l.DialFrom("203.0.113.9:1234")
	require.NoError(t, err)
	defer other.Close()
	newClient(t, other).expect("+OK ready")

	conns[0].send("QUIT\r\n")
	conns[0].expect("+OK bye")
	conns[0].expectEOF()
	require.Eventually(t, func() bool {
		c := dial(t, l)
		return strings.HasPrefix(c.line(), "+OK ready")
	}, 5*time.Second, 5*time.Millisecond, "a slot frees when a connection ends")
	assert.Contains(t, e.logs.String(), "connection limit reached")
}

func TestTotalLimit(t *testing.T) {
	e := newEcho()
	e.limits.MaxConns = 1
	l, _ := serve(t, e, false)
	defer e.srv.Close()
	first := dial(t, l)
	first.expect("+OK ready")
	other, err := l.DialFrom("203.0.113.9:1234")
	require.NoError(t, err)
	defer other.Close()
	assert.Equal(t, "-ERR refused: limit exceeded", newClient(t, other).line())
}

func TestPerUserAddressLimit(t *testing.T) {
	e := newEcho()
	e.limits.MaxConnsPerUserAddr = 2
	l, _ := serve(t, e, false)
	defer e.srv.Close()
	for i := range 3 {
		c := dial(t, l)
		c.expect("+OK ready")
		c.send("USER Alice\r\n")
		if i < 2 {
			assert.Equal(t, "+OK", c.line())
		} else {
			assert.Equal(t, "-ERR too many sessions", c.line(), "third session for one user from one address")
			c.send("USER bob\r\n")
			assert.Equal(t, "+OK", c.line(), "another user from the same address is fine")
		}
	}
}

// X10: a silent client is closed at the timeout; a client dripping one byte
// at a time is closed at the same per-command deadline.
func TestIdleTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEcho()
		e.timeout = 10 * time.Minute
		l, done := serve(t, e, false)
		c := dial(t, l)
		c.expect("+OK ready")
		start := time.Now()
		assert.Equal(t, "-ERR timeout", c.line())
		assert.Equal(t, 10*time.Minute, time.Since(start))

		c = dial(t, l)
		c.expect("+OK ready")
		start = time.Now()
		dripped := make(chan struct{})
		go func() {
			defer close(dripped)
			for range 100 {
				time.Sleep(20 * time.Second)
				if _, err := c.conn.Write([]byte("E")); err != nil {
					return
				}
			}
		}()
		assert.Equal(t, "-ERR timeout", c.line())
		assert.Equal(t, 10*time.Minute, time.Since(start), "dripping bytes does not extend the deadline")
		c.conn.Close()
		<-dripped
		e.srv.Close()
		<-done
	})
}

// X9: an endless line is refused at the limit and the connection closed.
func TestEndlessLine(t *testing.T) {
	e := newEcho()
	l, _ := serve(t, e, false)
	defer e.srv.Close()
	c := dial(t, l)
	c.expect("+OK ready")
	go func() {
		chunk := bytes.Repeat([]byte{0}, 64<<10)
		for range 1600 { // 100 MiB, if the server kept reading
			if _, err := c.conn.Write(chunk); err != nil {
				return
			}
		}
	}()
	assert.Equal(t, "-ERR line too long", c.line())
	c.expectEOF()
}

func selfSigned(t testing.TB) (*tls.Config, *tls.Config) {
	cert, err := tlsconfig.SelfSigned("localhost", "127.0.0.1")
	require.NoError(t, err)
	return tlsconfig.New(cert.GetCertificate), cert.ClientConfig()
}

// X1: plaintext pipelined after STARTTLS never runs after the handshake.
func TestStartTLSInjection(t *testing.T) {
	e := newEcho()
	var clientCfg *tls.Config
	e.tls, clientCfg = selfSigned(t)
	l, _ := serve(t, e, false)
	defer e.srv.Close()
	c := dial(t, l)
	c.expect("+OK ready")
	c.send("TLS\r\n")
	assert.Equal(t, "+OK plain", c.line())
	c.send("STARTTLS\r\nECHO injected\r\n")
	assert.Equal(t, "+OK go", c.line())
	cfg := clientCfg.Clone()
	cfg.ServerName = "localhost"
	tc := tls.Client(c.conn, cfg)
	require.NoError(t, tc.Handshake())
	tcl := newClient(t, tc)
	tcl.send("ECHO after\r\n")
	assert.Equal(t, "+OK after", tcl.line(), "the injected command never ran")
	tcl.send("TLS\r\n")
	assert.Equal(t, "+OK tls true", tcl.line(), "the certificate presented is known for channel binding")
	tcl.send("STARTTLS\r\n")
	assert.Equal(t, "-ERR no", tcl.line(), "no second STARTTLS")
	assert.Contains(t, e.logs.String(), "discarded plaintext pipelined after STARTTLS")
}

func TestImplicitTLSNeedsCertificate(t *testing.T) {
	e := newEcho()
	assert.ErrorIs(t, e.srv.Serve(testutil.NewListener(), e.config(), true), netsrv.ErrNoTLSConfig)
}

// X5: TLS 1.1 is refused, 1.2 and 1.3 accepted, on implicit TLS.
func TestImplicitTLSVersions(t *testing.T) {
	e := newEcho()
	var clientCfg *tls.Config
	e.tls, clientCfg = selfSigned(t)
	l, _ := serve(t, e, true)
	defer e.srv.Close()
	for _, v := range []uint16{tls.VersionTLS11, tls.VersionTLS12, tls.VersionTLS13} {
		conn, err := l.Dial()
		require.NoError(t, err)
		cfg := clientCfg.Clone()
		cfg.ServerName = "localhost"
		cfg.MinVersion, cfg.MaxVersion = v, v
		tc := tls.Client(conn, cfg)
		err = tc.Handshake()
		if v < tls.VersionTLS12 {
			assert.Error(t, err, "TLS %x must fail", v)
			conn.Close()
			continue
		}
		require.NoError(t, err, "TLS %x", v)
		tcl := newClient(t, tc)
		tcl.expect("+OK ready")
		tcl.send("INFO\r\n")
		assert.True(t, strings.HasSuffix(tcl.line(), " true"), "ConnInfo reports TLS")
		conn.Close()
	}
	require.Eventually(t, func() bool { return strings.Contains(e.logs.String(), "TLS handshake failed") }, 5*time.Second, time.Millisecond)
}

// X6: a client that opens a TLS port and sends nothing, or half a
// ClientHello, is closed at the handshake timeout: HandshakeTimeout, 30
// seconds when it is zero, and never when it is negative.
func TestHandshakeTimeout(t *testing.T) {
	for _, tt := range []struct {
		name    string
		timeout time.Duration
		want    time.Duration // 0: not closed
	}{
		{"set", 10 * time.Second, 10 * time.Second},
		{"zero is 30 seconds", 0, 30 * time.Second},
		{"negative is none", -1, 0},
	} {
		for _, partial := range []string{"", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"} {
			t.Run(fmt.Sprintf("%s/%d bytes", tt.name, len(partial)), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					e := newEcho()
					e.tls, _ = selfSigned(t)
					e.limits.HandshakeTimeout = tt.timeout
					l, done := serve(t, e, true)
					conn, err := l.Dial()
					require.NoError(t, err)
					conn.Write([]byte(partial))
					start := time.Now()
					if tt.want == 0 {
						// Wait far longer than any default, then give up.
						require.NoError(t, conn.SetReadDeadline(start.Add(1000*time.Hour)))
						_, err = io.ReadAll(conn)
						assert.ErrorIs(t, err, os.ErrDeadlineExceeded, "the server keeps waiting")
						assert.Equal(t, 1000*time.Hour, time.Since(start))
					} else {
						_, err = io.ReadAll(conn)
						assert.NoError(t, err, "the server closes the connection")
						assert.Equal(t, tt.want, time.Since(start))
						synctest.Wait()
						assert.Equal(t, "closed:tls handshake failed", e.stateLog()[len(e.stateLog())-1])
					}
					conn.Close()
					e.srv.Close()
					<-done
				})
			})
		}
	}
}

// X12: a panic ends only its own connection.
func TestPanicRecovery(t *testing.T) {
	e := newEcho()
	l, _ := serve(t, e, false)
	defer e.srv.Close()
	bad := dial(t, l)
	bad.expect("+OK ready")
	bad.send("PANIC\r\n")
	assert.Equal(t, "-ERR refused: internal error", bad.line())
	bad.expectEOF()
	good := dial(t, l)
	good.expect("+OK ready")
	good.send("ECHO still here\r\n")
	assert.Equal(t, "+OK still here", good.line())
	logs := e.logs.String()
	assert.Contains(t, logs, "level=ERROR msg=\"panic serving connection\"")
	assert.Contains(t, logs, "netsrv_test.(*echo).handle", "the stack is logged")
}

// flakyListener fails its first Accepts with a temporary error.
type flakyListener struct {
	*testutil.Listener
	mu       sync.Mutex
	failures int
}

type tempErr struct{}

func (tempErr) Error() string   { return "accept: too many open files" }
func (tempErr) Temporary() bool { return true }
func (tempErr) Timeout() bool   { return false }

func (f *flakyListener) Accept() (net.Conn, error) {
	f.mu.Lock()
	if f.failures > 0 {
		f.failures--
		f.mu.Unlock()
		return nil, tempErr{}
	}
	f.mu.Unlock()
	return f.Listener.Accept()
}

func TestAcceptBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEcho()
		l := &flakyListener{Listener: testutil.NewListener(), failures: 3}
		done := make(chan error, 1)
		go func() { done <- e.srv.Serve(l, e.config(), false) }()
		start := time.Now()
		conn, err := l.Dial()
		require.NoError(t, err)
		c := newClient(t, conn)
		c.expect("+OK ready")
		assert.Equal(t, 35*time.Millisecond, time.Since(start), "backs off 5+10+20 ms")
		conn.Close()
		e.srv.Close()
		assert.ErrorIs(t, <-done, netsrv.ErrServerClosed)
		assert.Contains(t, e.logs.String(), "accept error; retrying")
	})
}

func TestListenerErrorEndsServe(t *testing.T) {
	e := newEcho()
	l := testutil.NewListener()
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(l, e.config(), false) }()
	require.Eventually(t, func() bool { return strings.Contains(e.logs.String(), "listening") }, 5*time.Second, time.Millisecond)
	l.Close() // closed by someone else: not a shutdown
	err := <-done
	assert.ErrorIs(t, err, net.ErrClosed)
	assert.NotErrorIs(t, err, netsrv.ErrServerClosed)
}

// The address from a trusted PROXY header is the one limits and logs use.
func TestProxyProtocolAddress(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	l := mailfront.ProxyListener(tcp, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, time.Second)
	e := newEcho()
	e.limits.MaxConnsPerAddr = 1
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(l, e.config(), false) }()
	defer func() { e.srv.Close(); <-done }()

	dialVia := func(src string) *client {
		conn, err := net.Dial("tcp", tcp.Addr().String())
		require.NoError(t, err)
		t.Cleanup(func() { conn.Close() })
		fmt.Fprintf(conn, "PROXY TCP4 %s 127.0.0.1 5000 110\r\n", src)
		return newClient(t, conn)
	}
	a := dialVia("192.0.2.10")
	a.expect("+OK ready")
	a.send("INFO\r\n")
	assert.Contains(t, a.line(), " 192.0.2.10:5000 ")
	b := dialVia("192.0.2.11")
	b.expect("+OK ready")
	c := dialVia("192.0.2.10")
	assert.Equal(t, "-ERR refused: limit exceeded", c.line(), "the limit applies to the proxied address")
}

func TestConnContextHooks(t *testing.T) {
	type key struct{}
	e := newEcho()
	e.limits.BaseContext = func(net.Listener) context.Context {
		return context.WithValue(context.Background(), key{}, "base")
	}
	e.limits.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		return context.WithValue(ctx, key{}, ctx.Value(key{}).(string)+"+conn")
	}
	l, _ := serve(t, e, false)
	defer e.srv.Close()
	c := dial(t, l)
	c.expect("+OK ready")
	e.mu.Lock()
	ctx := e.ctxs[0]
	e.mu.Unlock()
	assert.Equal(t, "base+conn", ctx.Value(key{}))
	_, ok := mailfront.ConnInfoFromContext(ctx)
	assert.True(t, ok)
}

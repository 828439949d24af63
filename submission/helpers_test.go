package submission_test

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront"
	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/internal/testutil"
	"github.com/mailfront/mailfront/submission"
	"github.com/mailfront/mailfront/tlsconfig"
)

func TestMain(m *testing.M) { testutil.MainWithLeakCheck(m) }

// message is what the fake backend received.
type message struct {
	env  submission.Envelope
	data string
}

// fakeBackend records messages and has knobs for every error path.
type fakeBackend struct {
	mu       sync.Mutex
	messages []message
	calls    int

	submitErr   error         // returned after reading the whole message
	readErr     error         // the error reading msg returned, when reading failed
	stopAfter   int           // read only this many bytes, then return submitErr (0: all)
	panicSubmit bool          // panic in Submit
	block       chan struct{} // Submit waits on it (or ctx) before reading
	entered     chan struct{} // closed when Submit is first called, if non-nil
	ctxErr      error         // the ctx error Submit saw while blocked
	ignoreErr   bool          // return nil even when reading fails

	rcptErr   func(rcpt submission.Recipient) error
	rcptPanic bool
	rcptCalls int
}

func (b *fakeBackend) Submit(ctx context.Context, env *submission.Envelope, msg io.Reader) error {
	b.mu.Lock()
	b.calls++
	if b.entered != nil {
		select {
		case <-b.entered:
		default:
			close(b.entered)
		}
	}
	block, panicSubmit, stop := b.block, b.panicSubmit, b.stopAfter
	b.mu.Unlock()
	if panicSubmit {
		panic("backend boom")
	}
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			b.mu.Lock()
			b.ctxErr = ctx.Err()
			b.mu.Unlock()
			return ctx.Err()
		}
	}
	var data []byte
	var err error
	if stop > 0 {
		data = make([]byte, stop)
		var n int
		n, err = io.ReadFull(msg, data)
		data = data[:n]
	} else {
		data, err = io.ReadAll(msg)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		b.readErr = err
		if b.ignoreErr {
			return nil
		}
		return err // commit nothing
	}
	if b.submitErr != nil {
		return b.submitErr
	}
	e := *env
	e.Recipients = append([]submission.Recipient(nil), env.Recipients...)
	b.messages = append(b.messages, message{env: e, data: string(data)})
	return nil
}

func (b *fakeBackend) CheckRecipient(ctx context.Context, env *submission.Envelope, rcpt submission.Recipient) error {
	b.mu.Lock()
	b.rcptCalls++
	f, p := b.rcptErr, b.rcptPanic
	b.mu.Unlock()
	if p {
		panic("rcpt boom")
	}
	if f != nil {
		return f(rcpt)
	}
	return nil
}

func (b *fakeBackend) got() []message {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]message(nil), b.messages...)
}

func (b *fakeBackend) submitCalls() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls
}

// users is a tiny Authenticator: alice may also send as alias@example.org
// and anything at alice.example; bob has no aliases.
var users = auth.AuthenticatorFunc(func(ctx context.Context, username, password string) (auth.Identity, error) {
	switch {
	case username == "alice@example.org" && password == "secret":
		return auth.Identity{Username: username, SendAs: []string{"alias@example.org", "@alice.example"}}, nil
	case username == "bob@example.org" && password == "hunter2":
		return auth.Identity{Username: username}, nil
	}
	return auth.Identity{}, auth.ErrInvalidCredentials
})

// syncBuffer collects logs.
type syncBuffer = testutil.SyncBuffer

var (
	certOnce sync.Once
	cert     *tlsconfig.SelfSignedCert
)

func testCert(t testing.TB) *tlsconfig.SelfSignedCert {
	certOnce.Do(func() {
		var err error
		cert, err = tlsconfig.SelfSigned()
		if err != nil {
			panic(err)
		}
	})
	return cert
}

// clientNet is the network of testutil's default client address; the test
// servers trust it so AUTH works without TLS unless a test says otherwise.
var clientNet = netip.MustParsePrefix("198.51.100.0/24")

// env is one test server on an in-memory listener.
type env struct {
	t       testing.TB
	srv     *submission.Server
	backend *fakeBackend
	l       *testutil.Listener
	logs    *syncBuffer
	done    chan error
	states  *stateLog
}

type stateLog struct {
	mu     sync.Mutex
	states []string
}

func (s *stateLog) add(ci mailfront.ConnInfo, st mailfront.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := st.String()
	if st == mailfront.StateClosed {
		v += ":" + ci.CloseReason.String()
	}
	s.states = append(s.states, v)
}

func (s *stateLog) closed() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, v := range s.states {
		if strings.HasPrefix(v, "closed") {
			out = append(out, v)
		}
	}
	return out
}

// newServer returns a Server trusting the client network, with a fake
// backend and a quiet throttle; configure adjusts it before it starts.
func newServer(t testing.TB, configure func(*submission.Server)) *env {
	t.Helper()
	e := &env{t: t, backend: &fakeBackend{}, logs: &syncBuffer{}, done: make(chan error, 1), states: &stateLog{}}
	e.srv = &submission.Server{
		Backend:         e.backend,
		Authenticator:   users,
		TrustedNetworks: []netip.Prefix{clientNet},
		Throttle:        &auth.Throttle{FailureDelay: -1},
		Hostname:        "mx.example.org",
		Logger:          slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: mailfront.LevelTrace})),
		ConnState:       e.states.add,
	}
	if configure != nil {
		configure(e.srv)
	}
	e.start(false)
	return e
}

func (e *env) start(implicitTLS bool) {
	e.l = testutil.NewListener()
	go func() {
		if implicitTLS {
			e.done <- e.srv.ServeTLS(e.l)
		} else {
			e.done <- e.srv.Serve(e.l)
		}
	}()
	e.t.Cleanup(func() {
		e.srv.Close()
		<-e.done
	})
}

func withTLS(s *submission.Server) {
	testCert(nil)
	s.TLSConfig = tlsconfig.New(nil)
	s.TLSConfig.Certificates = []tls.Certificate{cert.Certificate}
}

// client is a scripted SMTP client.
type client struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

func (e *env) dial() *client {
	e.t.Helper()
	return e.dialFrom("198.51.100.1:40000")
}

func (e *env) dialFrom(addr string) *client {
	e.t.Helper()
	conn, err := e.l.DialFrom(addr)
	require.NoError(e.t, err)
	e.t.Cleanup(func() { conn.Close() })
	return &client{t: e.t, conn: conn, r: bufio.NewReader(conn)}
}

// dialGreeted dials and reads the greeting.
func (e *env) dialGreeted() *client {
	e.t.Helper()
	c := e.dial()
	c.expect("220 ")
	return c
}

func (c *client) send(lines ...string) {
	c.t.Helper()
	_, err := io.WriteString(c.conn, strings.Join(lines, ""))
	require.NoError(c.t, err)
}

// cmd sends one line with CRLF.
func (c *client) cmd(line string) { c.t.Helper(); c.send(line + "\r\n") }

// line reads one reply line without its CRLF.
func (c *client) line() string {
	c.t.Helper()
	l, err := c.r.ReadString('\n')
	require.NoError(c.t, err, "reading a reply (got %q)", l)
	return strings.TrimSuffix(l, "\r\n")
}

// reply reads a whole (possibly multi-line) reply and returns its lines.
func (c *client) reply() []string {
	c.t.Helper()
	var lines []string
	for {
		l := c.line()
		lines = append(lines, l)
		if len(l) < 4 || l[3] != '-' {
			return lines
		}
	}
}

// expect reads a reply and checks that its last line starts with prefix.
func (c *client) expect(prefix string) string {
	c.t.Helper()
	lines := c.reply()
	last := lines[len(lines)-1]
	require.True(c.t, strings.HasPrefix(last, prefix), "got %q, want prefix %q", lines, prefix)
	return last
}

func (c *client) expectEOF() {
	c.t.Helper()
	l, err := c.r.ReadString('\n')
	require.Error(c.t, err, "expected the server to close, got %q", l)
}

// ehlo sends EHLO and returns the extension lines.
func (c *client) ehlo() []string {
	c.t.Helper()
	c.cmd("EHLO client.example")
	lines := c.reply()
	require.True(c.t, strings.HasPrefix(lines[0], "250"), "EHLO: %q", lines)
	var ext []string
	for _, l := range lines[1:] {
		ext = append(ext, l[4:])
	}
	return ext
}

func plainIR(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
}

// login sends EHLO and AUTH PLAIN as alice.
func (c *client) login() {
	c.t.Helper()
	c.ehlo()
	c.cmd("AUTH PLAIN " + plainIR("alice@example.org", "secret"))
	c.expect("235 2.7.0")
}

// startTLS upgrades the client side after a 220 to STARTTLS.
func (c *client) startTLS() {
	c.t.Helper()
	c.cmd("STARTTLS")
	c.expect("220 2.0.0")
	c.handshake()
}

func (c *client) handshake() {
	c.t.Helper()
	cfg := testCert(c.t).ClientConfig()
	cfg.ServerName = "localhost"
	tc := tls.Client(c.conn, cfg)
	require.NoError(c.t, tc.Handshake())
	c.conn = tc
	c.r = bufio.NewReader(tc)
}

// sendMessage runs MAIL, RCPT and DATA and returns the final reply.
func (c *client) sendMessage(from, to, data string) string {
	c.t.Helper()
	c.cmd("MAIL FROM:<" + from + ">")
	c.expect("250 ")
	c.cmd("RCPT TO:<" + to + ">")
	c.expect("250 ")
	c.cmd("DATA")
	c.expect("354 ")
	c.send(data)
	return strings.Join(c.reply(), "\n")
}

const simpleMsg = "From: alice@example.org\r\nTo: bob@example.net\r\nSubject: hi\r\nDate: Mon, 01 Jan 2024 10:00:00 +0000\r\nMessage-ID: <1@example.org>\r\n\r\nHello.\r\n"

// body returns the message as the client sent it: the data without the
// server's Received header.
func body(t testing.TB, m message) string {
	t.Helper()
	require.True(t, strings.HasPrefix(m.data, "Received: "), "message starts with a Received header: %q", m.data)
	i := strings.Index(m.data, "\r\n")
	for i >= 0 && i+2 < len(m.data) && (m.data[i+2] == '\t' || m.data[i+2] == ' ') {
		j := strings.Index(m.data[i+2:], "\r\n")
		require.GreaterOrEqual(t, j, 0)
		i += 2 + j
	}
	return m.data[i+2:]
}

var errTest = errors.New("test: backend failure")

// waitClosed waits until the server has recorded n closed connections.
func (e *env) waitClosed(n int) []string {
	e.t.Helper()
	require.Eventually(e.t, func() bool { return len(e.states.closed()) >= n }, 5*time.Second, time.Millisecond)
	return e.states.closed()
}

// secrets is a SecretStore (enabling CRAM-MD5) over the same users.
type secrets struct{}

func (secrets) Authenticate(ctx context.Context, u, p string) (auth.Identity, error) {
	return users.Authenticate(ctx, u, p)
}

func (secrets) Secret(ctx context.Context, u string) (string, auth.Identity, error) {
	if u == "alice@example.org" {
		id, err := users.Authenticate(ctx, u, "secret")
		return "secret", id, err
	}
	return "", auth.Identity{}, auth.ErrInvalidCredentials
}

// tokens is a TokenVerifier (enabling XOAUTH2 and OAUTHBEARER): any token
// of 8 KiB of "t" is valid for alice.
type tokens struct{}

func (tokens) Authenticate(ctx context.Context, u, p string) (auth.Identity, error) {
	return users.Authenticate(ctx, u, p)
}

func (tokens) VerifyToken(ctx context.Context, u, token string) (auth.Identity, error) {
	if u == "alice@example.org" && token == strings.Repeat("t", 8192) {
		return auth.Identity{Username: u}, nil
	}
	return auth.Identity{}, auth.ErrInvalidCredentials
}

// cramMD5 logs in with CRAM-MD5.
func (c *client) cramMD5(user, secret string) {
	c.t.Helper()
	c.cmd("AUTH CRAM-MD5")
	l := c.expect("334 ")
	challenge, err := base64.StdEncoding.DecodeString(l[4:])
	require.NoError(c.t, err)
	mac := hmac.New(md5.New, []byte(secret))
	mac.Write(challenge)
	c.cmd(base64.StdEncoding.EncodeToString([]byte(user + " " + hex.EncodeToString(mac.Sum(nil)))))
	c.expect("235 2.7.0")
}

package pop3_test

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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront"
	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/internal/testutil"
	"github.com/mailfront/mailfront/internal/wire"
	"github.com/mailfront/mailfront/pop3"
	"github.com/mailfront/mailfront/tlsconfig"
)

func TestMain(m *testing.M) { testutil.MainWithLeakCheck(m) }

// ---- authenticator ----

// directory is a SecretStore with plaintext secrets (test only): it enables
// PLAIN, LOGIN, CRAM-MD5 and APOP.
type directory struct {
	mu          sync.Mutex
	users       map[string]string
	apopOnly    map[string]bool // accounts that may use APOP only (P7)
	unavailable bool
	calls       int
}

func newDirectory() *directory {
	return &directory{
		users: map[string]string{
			"alice":  "secret",
			"bob":    "hunter2 with spaces",
			"jörg":   "pässwörd",
			"carol":  "carol-pw",
			"dave":   "dave-pw",
			"apop":   "apop-secret",
			"broken": "broken-pw",
		},
		apopOnly: map[string]bool{"apop": true},
	}
}

func (d *directory) Authenticate(ctx context.Context, username, password string) (auth.Identity, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	if d.unavailable {
		return auth.Identity{}, fmt.Errorf("directory down: %w", auth.ErrUnavailable)
	}
	pw, ok := d.users[username]
	if !ok || pw != password || d.apopOnly[username] {
		return auth.Identity{}, fmt.Errorf("no: %w", auth.ErrInvalidCredentials)
	}
	return auth.Identity{Username: username}, nil
}

func (d *directory) Secret(ctx context.Context, username string) (string, auth.Identity, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	if d.unavailable {
		return "", auth.Identity{}, auth.ErrUnavailable
	}
	pw, ok := d.users[username]
	if !ok || !d.apopOnly[username] {
		return "", auth.Identity{}, auth.ErrInvalidCredentials
	}
	return pw, auth.Identity{Username: username}, nil
}

func (d *directory) callCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls
}

// ---- backend with knobs ----

type fakeMsg struct {
	uid  string
	body []byte
	size int64 // reported size; 0 means the CRLF size of body
}

// fakeBackend is an in-memory Backend whose every method can be made to
// fail, panic or block until its context is cancelled.
type fakeBackend struct {
	mu       sync.Mutex
	boxes    map[string][]fakeMsg
	locked   map[string]bool
	snapshot bool // no locking: concurrent sessions share the maildrop
	fail     map[string]error
	panics   map[string]bool
	block    map[string]bool
	blocked  chan string // receives the method name when a blocking call starts
	ctxErrs  chan error  // receives ctx.Err() when a blocking call returns
	policy   *pop3.MaildropPolicy
	top      bool // the maildrop implements TopOpener
	wrap     bool // the maildrop is wrapped (optional interfaces via Unwrap)
	ops      []string
	closes   int
	source   func(uid string) io.Reader // overrides the stored body
}

func newBackend() *fakeBackend {
	return &fakeBackend{
		boxes: map[string][]fakeMsg{
			"alice": {
				{uid: "uid-1", body: []byte("Subject: one\r\n\r\nFirst message.\r\n")},
				{uid: "uid-2", body: []byte("Subject: two\r\nX: y\r\n\r\nLine 1\r\n.Line 2 starts with a dot\r\n.\r\nLine 4\r\n")},
				{uid: "uid-3", body: []byte("Subject: bare LF\n\nstored with bare LF\nsecond line\n")},
			},
		},
		locked:  map[string]bool{},
		fail:    map[string]error{},
		panics:  map[string]bool{},
		block:   map[string]bool{},
		blocked: make(chan string, 16),
		ctxErrs: make(chan error, 16),
	}
}

func crlfSize(b []byte) int64 {
	n, _ := wire.CRLFSize(bytes.NewReader(b))
	return n
}

// knob runs the fault injection for method.
func (b *fakeBackend) knob(ctx context.Context, method string) error {
	b.mu.Lock()
	b.ops = append(b.ops, method)
	err, p, blk := b.fail[method], b.panics[method], b.block[method]
	b.mu.Unlock()
	if p {
		panic("fake backend panic in " + method)
	}
	if blk {
		b.blocked <- method
		<-ctx.Done()
		b.ctxErrs <- ctx.Err()
		return ctx.Err()
	}
	return err
}

func (b *fakeBackend) set(f func(b *fakeBackend)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f(b)
}

func (b *fakeBackend) messages(user string) []fakeMsg {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]fakeMsg(nil), b.boxes[user]...)
}

func (b *fakeBackend) isLocked(user string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.locked[user]
}

func (b *fakeBackend) OpenMaildrop(ctx context.Context, id auth.Identity) (pop3.Maildrop, error) {
	if err := b.knob(ctx, "OpenMaildrop"); err != nil {
		return nil, err
	}
	if _, ok := mailfront.ConnInfoFromContext(ctx); !ok {
		return nil, errors.New("no ConnInfo in the context")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.snapshot {
		if b.locked[id.Username] {
			return nil, fmt.Errorf("lock held: %w", pop3.ErrMaildropLocked)
		}
		b.locked[id.Username] = true
	}
	var md pop3.Maildrop = &fakeMaildrop{b: b, user: id.Username}
	if b.top {
		md = &topMaildrop{md.(*fakeMaildrop)}
	}
	if b.policy != nil {
		md = &policyMaildrop{Maildrop: md, p: *b.policy}
	}
	if b.wrap {
		md = &wrappedMaildrop{md}
	}
	return md, nil
}

type fakeMaildrop struct {
	b    *fakeBackend
	user string
}

func (m *fakeMaildrop) Messages(ctx context.Context) ([]pop3.MessageInfo, error) {
	if err := m.b.knob(ctx, "Messages"); err != nil {
		return nil, err
	}
	var out []pop3.MessageInfo
	for _, msg := range m.b.messages(m.user) {
		size := msg.size
		if size == 0 {
			size = crlfSize(msg.body)
		}
		out = append(out, pop3.MessageInfo{UID: msg.uid, Size: size})
	}
	return out, nil
}

func (m *fakeMaildrop) Open(ctx context.Context, uid string) (io.ReadCloser, error) {
	if err := m.b.knob(ctx, "Open"); err != nil {
		return nil, err
	}
	m.b.mu.Lock()
	src := m.b.source
	m.b.mu.Unlock()
	if src != nil {
		return io.NopCloser(src(uid)), nil
	}
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	for _, msg := range m.b.boxes[m.user] {
		if msg.uid == uid {
			return io.NopCloser(bytes.NewReader(msg.body)), nil
		}
	}
	return nil, fmt.Errorf("%s: %w", uid, pop3.ErrNoSuchMessage)
}

func (m *fakeMaildrop) Delete(ctx context.Context, uids []string) error {
	if err := m.b.knob(ctx, "Delete"); err != nil {
		return err
	}
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	gone := map[string]bool{}
	for _, u := range uids {
		gone[u] = true
	}
	var kept []fakeMsg
	for _, msg := range m.b.boxes[m.user] {
		if !gone[msg.uid] {
			kept = append(kept, msg)
		}
	}
	m.b.boxes[m.user] = kept
	return nil
}

func (m *fakeMaildrop) Close() error {
	m.b.mu.Lock()
	m.b.closes++
	m.b.ops = append(m.b.ops, "Close")
	if !m.b.snapshot {
		delete(m.b.locked, m.user)
	}
	m.b.mu.Unlock()
	return nil
}

// topMaildrop adds TopOpener; it serves TOP from a marker so a test can
// see it was used.
type topMaildrop struct{ *fakeMaildrop }

func (m *topMaildrop) OpenTop(ctx context.Context, uid string, lines int) (io.ReadCloser, error) {
	if err := m.b.knob(ctx, "OpenTop"); err != nil {
		return nil, err
	}
	return io.NopCloser(strings.NewReader(fmt.Sprintf("X-Top: %s %d\r\n\r\nb1\r\nb2\r\nb3\r\n", uid, lines))), nil
}

type policyMaildrop struct {
	pop3.Maildrop
	p pop3.MaildropPolicy
}

func (m *policyMaildrop) Policy() pop3.MaildropPolicy { return m.p }
func (m *policyMaildrop) Unwrap() pop3.Maildrop       { return m.Maildrop }

// wrappedMaildrop hides optional interfaces behind Unwrap, as a logging
// wrapper would.
type wrappedMaildrop struct{ pop3.Maildrop }

func (m *wrappedMaildrop) Unwrap() pop3.Maildrop { return m.Maildrop }

// ---- logs ----

type syncBuffer = testutil.SyncBuffer

// ---- TLS ----

// testCert is made when the test binary starts, so that a test under
// testing/synctest (whose clock starts in 2000) never makes it.
var testCert = func() func() (*tlsconfig.SelfSignedCert, error) {
	cert, err := tlsconfig.SelfSigned("localhost", "127.0.0.1")
	return func() (*tlsconfig.SelfSignedCert, error) { return cert, err }
}()

func serverTLS(t testing.TB) *tls.Config {
	cert, err := testCert()
	require.NoError(t, err)
	return tlsconfig.New(cert.GetCertificate)
}

func clientTLS(t testing.TB) *tls.Config {
	cert, err := testCert()
	require.NoError(t, err)
	cfg := cert.ClientConfig()
	cfg.ServerName = "localhost"
	// Verify at a time the certificate is valid, also under synctest.
	valid := cert.Certificate.Leaf.NotBefore.Add(2 * time.Hour)
	cfg.Time = func() time.Time { return valid }
	return cfg
}

// ---- harness ----

// trustedAddr and untrustedAddr are client addresses: the harness trusts
// the first (as a host trusts its own network) so most tests can log in
// without TLS; policy tests dial from the second.
const (
	trustedAddr   = "198.51.100.1:40000"
	untrustedAddr = "203.0.113.9:50000"
)

type harness struct {
	t        testing.TB
	srv      *pop3.Server
	backend  *fakeBackend
	dir      *directory
	logs     *syncBuffer
	l        *testutil.Listener
	done     chan error
	mu       sync.Mutex
	attempts []auth.Attempt
	states   []string
}

// newHarness returns an unstarted server with a fake backend, the test
// directory, TLS, a trusted network and no failure delay.
func newHarness(t testing.TB) *harness {
	h := &harness{t: t, backend: newBackend(), dir: newDirectory(), logs: &syncBuffer{}}
	h.srv = &pop3.Server{
		Backend:         h.backend,
		Authenticator:   h.dir,
		TLSConfig:       serverTLS(t),
		TrustedNetworks: []netip.Prefix{netip.MustParsePrefix("198.51.100.1/32")},
		Throttle:        &auth.Throttle{FailureDelay: -1},
		Hostname:        "pop.example.org",
		Logger:          slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: mailfront.LevelTrace})),
		OnAuthAttempt: func(_ context.Context, a auth.Attempt) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.attempts = append(h.attempts, a)
		},
		ConnState: func(ci mailfront.ConnInfo, st mailfront.ConnState) {
			h.mu.Lock()
			defer h.mu.Unlock()
			s := st.String()
			if st == mailfront.StateClosed {
				s += ":" + ci.CloseReason.String()
			}
			h.states = append(h.states, s)
		},
	}
	return h
}

// start serves on an in-memory listener (implicit TLS if asked) and
// arranges for the server to be closed at the end of the test.
func (h *harness) start(implicitTLS bool) *harness {
	h.l = testutil.NewListener()
	h.done = make(chan error, 1)
	go func() {
		if implicitTLS {
			h.done <- h.srv.ServeTLS(h.l)
		} else {
			h.done <- h.srv.Serve(h.l)
		}
	}()
	h.t.Cleanup(func() {
		h.srv.Close()
		<-h.done
	})
	return h
}

func (h *harness) closeReasons() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, s := range h.states {
		if r, ok := strings.CutPrefix(s, "closed:"); ok {
			out = append(out, r)
		}
	}
	return out
}

func (h *harness) authAttempts() []auth.Attempt {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]auth.Attempt(nil), h.attempts...)
}

// dialFrom connects from addr and reads the greeting.
func (h *harness) dialFrom(addr string) *client {
	conn, err := h.l.DialFrom(addr)
	require.NoError(h.t, err)
	c := newClient(h.t, conn)
	h.t.Cleanup(func() { conn.Close() })
	c.greeting = c.expect("+OK ")
	return c
}

// dial connects from the trusted address.
func (h *harness) dial() *client { return h.dialFrom(trustedAddr) }

// dialTLS connects with implicit TLS.
func (h *harness) dialTLS(addr string) *client {
	conn, err := h.l.DialFrom(addr)
	require.NoError(h.t, err)
	h.t.Cleanup(func() { conn.Close() })
	tc := tls.Client(conn, clientTLS(h.t))
	require.NoError(h.t, tc.Handshake())
	c := newClient(h.t, tc)
	c.greeting = c.expect("+OK ")
	return c
}

// login dials from the trusted address and logs in as alice.
func (h *harness) login() *client {
	c := h.dial()
	c.cmdOK("USER alice")
	c.cmdOK("PASS secret")
	return c
}

// client is a scripted POP3 client.
type client struct {
	t        testing.TB
	conn     net.Conn
	r        *bufio.Reader
	greeting string
}

func newClient(t testing.TB, conn net.Conn) *client {
	return &client{t: t, conn: conn, r: bufio.NewReader(conn)}
}

// send writes lines, each ended by CRLF, in one write.
func (c *client) send(lines ...string) {
	c.t.Helper()
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l + "\r\n")
	}
	_, err := io.WriteString(c.conn, b.String())
	require.NoError(c.t, err)
}

func (c *client) line() string {
	c.t.Helper()
	l, err := c.r.ReadString('\n')
	require.NoError(c.t, err, "reading a reply (got %q so far)", l)
	require.True(c.t, strings.HasSuffix(l, "\r\n"), "reply %q must end with CRLF", l)
	return strings.TrimSuffix(l, "\r\n")
}

func (c *client) cmd(s string) string {
	c.t.Helper()
	c.send(s)
	return c.line()
}

func (c *client) expect(prefix string) string {
	c.t.Helper()
	l := c.line()
	require.True(c.t, strings.HasPrefix(l, prefix), "got %q, want prefix %q", l, prefix)
	return l
}

func (c *client) cmdOK(s string) string {
	c.t.Helper()
	c.send(s)
	return c.expect("+OK")
}

// multi reads the body of a multi-line reply, undoing dot-stuffing.
func (c *client) multi() []string {
	c.t.Helper()
	var out []string
	for {
		l := c.line()
		if l == "." {
			return out
		}
		if strings.HasPrefix(l, ".") {
			l = l[1:]
		}
		out = append(out, l)
	}
}

// raw reads a multi-line body as raw wire bytes, up to and including the
// terminating line.
func (c *client) raw() string {
	c.t.Helper()
	var b strings.Builder
	for {
		l, err := c.r.ReadString('\n')
		require.NoError(c.t, err)
		b.WriteString(l)
		if l == ".\r\n" {
			return b.String()
		}
	}
}

func (c *client) expectEOF() {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	l, err := c.r.ReadString('\n')
	require.Error(c.t, err, "expected the server to close, got %q", l)
}

// startTLS upgrades after a +OK to STLS and returns the client over TLS.
func (c *client) startTLS() *client {
	c.t.Helper()
	tc := tls.Client(c.conn, clientTLS(c.t))
	require.NoError(c.t, tc.Handshake())
	n := newClient(c.t, tc)
	n.greeting = c.greeting
	return n
}

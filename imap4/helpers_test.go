package imap4_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/internal/testutil"
)

func TestMain(m *testing.M) { testutil.MainWithLeakCheck(m) }

// directory is the tests' Authenticator.
type directory struct {
	mu          sync.Mutex
	users       map[string]string
	calls       int
	unavailable bool
}

func newDirectory() *directory {
	return &directory{users: map[string]string{"alice": "secret", "bob": "hunter2", "carol": "pw with spaces"}}
}

func (d *directory) Authenticate(ctx context.Context, username, password string) (auth.Identity, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	if d.unavailable {
		return auth.Identity{}, auth.ErrUnavailable
	}
	if pw, ok := d.users[username]; !ok || pw != password {
		return auth.Identity{}, fmt.Errorf("nope: %w", auth.ErrInvalidCredentials)
	}
	return auth.Identity{Username: username}, nil
}

// syncBuffer collects logs.
type syncBuffer = testutil.SyncBuffer

// env is a server on an in-memory listener with a fake backend.
type env struct {
	t    testing.TB
	srv  *imap4.Server
	l    *testutil.Listener
	b    *fakeBackend
	dir  *directory
	logs *syncBuffer
	done chan error
}

// newEnv starts a server. By default it accepts LOGIN without TLS
// (PlainTextLogin) so that most tests need no TLS; opts adjust it.
func newEnv(t testing.TB, opts ...func(*imap4.Server)) *env {
	e := &env{t: t, b: newFakeBackend(), dir: newDirectory(), logs: &syncBuffer{}, l: testutil.NewListener(), done: make(chan error, 1)}
	e.srv = &imap4.Server{
		Backend:       e.b,
		Authenticator: e.dir,
		LoginPolicy:   auth.PlainTextLogin,
		Throttle:      &auth.Throttle{FailureDelay: -1},
		Logger:        slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.Level(-8)})),
		Hostname:      "imap.test",
	}
	for _, o := range opts {
		o(e.srv)
	}
	go func() { e.done <- e.srv.Serve(e.l) }()
	t.Cleanup(func() {
		e.srv.Close()
		<-e.done
	})
	return e
}

// dial connects and reads the greeting.
func (e *env) dial() *client {
	return e.dialFrom("198.51.100.1:40000")
}

func (e *env) dialFrom(addr string) *client {
	nc, err := e.l.DialFrom(addr)
	require.NoError(e.t, err)
	c := newClient(e.t, nc)
	e.t.Cleanup(func() { nc.Close() })
	g := c.line()
	require.True(e.t, strings.HasPrefix(g, "* OK [CAPABILITY IMAP4rev1 IMAP4rev2"), "greeting %q", g)
	return c
}

// login dials and logs in as user (password from the directory).
func (e *env) login(user string) *client {
	c := e.dial()
	c.ok("LOGIN " + user + " " + quote(e.dir.users[user]))
	return c
}

// selectInbox logs in as alice and selects INBOX.
func (e *env) selectInbox() *client {
	c := e.login("alice")
	c.ok("SELECT INBOX")
	return c
}

func quote(s string) string { return strconv.Quote(s) }

// client is a scripted IMAP client.
type client struct {
	t   testing.TB
	nc  net.Conn
	r   *bufio.Reader
	tag int
	// skipRecent drops "* n RECENT" lines, for tests where which session
	// learns of a message first is a race.
	skipRecent bool
}

func newClient(t testing.TB, nc net.Conn) *client {
	return &client{t: t, nc: nc, r: bufio.NewReader(nc)}
}

// write sends raw bytes.
func (c *client) write(s string) {
	c.t.Helper()
	_, err := io.WriteString(c.nc, s)
	require.NoError(c.t, err)
}

// send sends a line.
func (c *client) send(line string) { c.t.Helper(); c.write(line + "\r\n") }

var literalRE = regexp.MustCompile(`~?\{(\d+)\}$`)

// line reads one response line; literals are read too and kept inline
// ("{5}\r\nhello").
func (c *client) line() string {
	c.t.Helper()
	for {
		l := c.rawLine()
		if !c.skipRecent || !recentRE.MatchString(l) {
			return l
		}
	}
}

var recentRE = regexp.MustCompile(`^\* \d+ RECENT$`)

// rawLine is line without skipping.
func (c *client) rawLine() string {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(3 * time.Hour))
	var b strings.Builder
	for {
		l, err := c.r.ReadString('\n')
		require.NoError(c.t, err, "reading a response after %q", b.String())
		l = strings.TrimSuffix(l, "\r\n")
		b.WriteString(l)
		m := literalRE.FindStringSubmatch(l)
		if m == nil || strings.HasPrefix(l, "+ ") {
			return b.String()
		}
		n, _ := strconv.Atoi(m[1])
		buf := make([]byte, n)
		_, err = io.ReadFull(c.r, buf)
		require.NoError(c.t, err)
		b.WriteString("\r\n")
		b.Write(buf)
	}
}

// readErr reads a line expecting the connection to end; it returns the
// error (io.EOF when the server closed).
func (c *client) readErr() error {
	c.nc.SetReadDeadline(time.Now().Add(3 * time.Hour))
	_, err := c.r.ReadString('\n')
	return err
}

// expect reads one line per want. A want starting with "~" is a regular
// expression for the whole line.
func (c *client) expect(wants ...string) {
	c.t.Helper()
	for _, want := range wants {
		got := c.line()
		if strings.HasPrefix(want, "~") {
			assert.Regexp(c.t, "^(?:"+want[1:]+")$", got)
		} else {
			assert.Equal(c.t, want, got)
		}
	}
}

// do sends a command with the next tag and returns every response up to
// and including the tagged one.
func (c *client) do(command string) []string {
	c.t.Helper()
	c.tag++
	tag := "t" + strconv.Itoa(c.tag)
	c.send(tag + " " + command)
	return c.until(tag)
}

// until reads responses up to the one tagged tag.
func (c *client) until(tag string) []string {
	c.t.Helper()
	var out []string
	for {
		l := c.line()
		out = append(out, l)
		if strings.HasPrefix(l, tag+" ") {
			return out
		}
		if strings.HasPrefix(l, "* BYE") && !strings.Contains(l, "Logging out") {
			return out
		}
	}
}

// ok runs a command and requires a tagged OK; it returns the responses
// with the tagged one last.
func (c *client) ok(command string) []string {
	c.t.Helper()
	out := c.do(command)
	require.Regexp(c.t, `^t\d+ OK`, out[len(out)-1], "command %q: %q", command, out)
	return out
}

// tagged returns the tagged response of a transcript without its tag.
func tagged(lines []string) string {
	last := lines[len(lines)-1]
	_, rest, _ := strings.Cut(last, " ")
	return rest
}

// untagged returns the untagged responses of a transcript.
func untagged(lines []string) []string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, "* ") {
			out = append(out, l)
		}
	}
	return out
}

// msg builds a small RFC 5322 message.
func msg(subject, body string) string {
	return "From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: " + subject +
		"\r\nDate: Mon, 4 Mar 2024 10:00:00 +0100\r\nMessage-ID: <" + strings.ReplaceAll(subject, " ", ".") + "@example.org>\r\n\r\n" + body + "\r\n"
}

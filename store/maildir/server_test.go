package maildir_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/pop3"
	"github.com/mailfront/mailfront/store/maildir"
	"github.com/mailfront/mailfront/submission"
)

// lineClient is a minimal line-oriented protocol client for the
// end-to-end tests.
type lineClient struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dial(t *testing.T, addr string) *lineClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(watchTimeout)))
	return &lineClient{t: t, conn: c, r: bufio.NewReader(c)}
}

func (c *lineClient) send(format string, args ...any) {
	c.t.Helper()
	_, err := fmt.Fprintf(c.conn, format+"\r\n", args...)
	require.NoError(c.t, err)
}

func (c *lineClient) line() string {
	c.t.Helper()
	l, err := c.r.ReadString('\n')
	require.NoError(c.t, err, "reading a response line")
	return strings.TrimRight(l, "\r\n")
}

// until reads lines up to one starting with prefix and returns them all.
func (c *lineClient) until(prefix string) []string {
	c.t.Helper()
	var lines []string
	for {
		l := c.line()
		lines = append(lines, l)
		if strings.HasPrefix(l, prefix) {
			return lines
		}
	}
}

func serve(t *testing.T, srv interface {
	Serve(net.Listener) error
	Close() error
}) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	go func() { srv.Serve(ln); close(done) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return ln.Addr().String()
}

var anyPassword = auth.AuthenticatorFunc(func(ctx context.Context, user, pass string) (auth.Identity, error) {
	if pass != "secret" {
		return auth.Identity{}, auth.ErrInvalidCredentials
	}
	return auth.Identity{Username: user}, nil
})

// End to end with the IMAP and POP3 servers: a message another program
// drops into new/ during IDLE is announced as EXISTS; FETCH serves it with
// CRLF line endings and its CRLF size; a POP3 deletion is seen by the IMAP
// session as EXPUNGE.
func TestServersEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers")
	}
	s := &maildir.Store{Root: t.TempDir(), PollInterval: 50 * time.Millisecond}
	t.Cleanup(func() { s.Close() })
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	imapAddr := serve(t, &imap4.Server{Backend: s, Authenticator: anyPassword, LoginPolicy: auth.PlainTextLogin, Logger: quiet})
	popAddr := serve(t, &pop3.Server{Backend: s, Authenticator: anyPassword, LoginPolicy: auth.PlainTextLogin, Logger: quiet})

	c := dial(t, imapAddr)
	c.line() // greeting
	c.send("a LOGIN pat@example.org secret")
	c.until("a OK")
	c.send("b SELECT INBOX")
	c.until("b OK")
	c.send("c IDLE")
	c.until("+")

	root, _ := s.UserDir("pat@example.org")
	lf := "From: x@example.org\nSubject: dropped\n\nhello\n"
	deliverFile(t, root, "new", "1700000000.V1I1.mx", lf)
	exists := c.until("* 1 EXISTS")
	assert.Contains(t, exists[len(exists)-1], "* 1 EXISTS")
	c.send("DONE")
	c.until("c OK")

	c.send("d FETCH 1 (UID RFC822.SIZE BODY.PEEK[])")
	lines := c.until("d OK")
	all := strings.Join(lines, "\n")
	assert.Contains(t, all, fmt.Sprintf("RFC822.SIZE %d", len(toCRLF(lf))))
	assert.Contains(t, all, fmt.Sprintf("{%d}", len(toCRLF(lf))))

	// POP3 deletes it; the IMAP session hears of it.
	p := dial(t, popAddr)
	p.line()
	p.send("USER pat@example.org")
	p.line()
	p.send("PASS secret")
	require.True(t, strings.HasPrefix(p.line(), "+OK"))
	p.send("LIST")
	list := p.until(".")
	assert.Equal(t, fmt.Sprintf("1 %d", len(toCRLF(lf))), list[1])
	p.send("RETR 1")
	retr := p.until(".")
	assert.Equal(t, []string{"From: x@example.org", "Subject: dropped", "", "hello", "."}, retr[1:])
	p.send("DELE 1")
	p.line()
	p.send("QUIT")
	require.True(t, strings.HasPrefix(p.line(), "+OK"))

	c.send("e IDLE")
	c.until("+")
	c.until("* 1 EXPUNGE")
	c.send("DONE")
	c.until("e OK")
	c.send("f LOGOUT")
	c.until("f OK")
	assert.Empty(t, listDir(t, filepath.Join(root, "cur")))
}

// End to end with the submission server: a message submitted for a local
// user is announced to that user's IDLE session (I12), and a recipient who
// is not local is refused at RCPT.
func TestSubmissionEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers")
	}
	s := &maildir.Store{Root: t.TempDir(), PollInterval: 50 * time.Millisecond}
	t.Cleanup(func() { s.Close() })
	require.NoError(t, s.CreateUser(ctx, "quinn@example.org"))
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	imapAddr := serve(t, &imap4.Server{Backend: s, Authenticator: anyPassword, LoginPolicy: auth.PlainTextLogin, Logger: quiet})
	subAddr := serve(t, &submission.Server{Backend: s, Authenticator: anyPassword, LoginPolicy: auth.PlainTextLogin, Logger: quiet})

	c := dial(t, imapAddr)
	c.line()
	c.send("a LOGIN quinn@example.org secret")
	c.until("a OK")
	c.send("b SELECT INBOX")
	c.until("b OK")
	c.send("c IDLE")
	c.until("+")

	m := dial(t, subAddr)
	m.until("220 ")
	m.send("EHLO client.example.org")
	m.until("250 ")
	m.send("AUTH PLAIN %s", base64.StdEncoding.EncodeToString([]byte("\x00pat@example.org\x00secret")))
	require.True(t, strings.HasPrefix(m.line(), "235"))
	m.send("MAIL FROM:<pat@example.org>")
	require.True(t, strings.HasPrefix(m.line(), "250"))
	m.send("RCPT TO:<nobody@example.org>")
	assert.True(t, strings.HasPrefix(m.line(), "550"), "non-local recipient")
	m.send("RCPT TO:<Quinn@Example.org>")
	require.True(t, strings.HasPrefix(m.line(), "250"))
	m.send("DATA")
	require.True(t, strings.HasPrefix(m.line(), "354"))
	m.send("From: pat@example.org\r\nTo: quinn@example.org\r\nSubject: over SMTP\r\n\r\nHi Quinn.\r\n.")
	require.True(t, strings.HasPrefix(m.line(), "250"), "message accepted")
	m.send("QUIT")

	c.until("* 1 EXISTS")
	c.send("DONE")
	c.until("c OK")
	c.send("d FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]")
	lines := c.until("d OK")
	assert.Contains(t, strings.Join(lines, "\n"), "Subject: over SMTP")
	c.send("e LOGOUT")
	c.until("e OK")
}

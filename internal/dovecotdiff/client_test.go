package dovecotdiff_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// ioTimeout bounds every read and write of the scripted clients, so that a
// server that hangs fails the test instead of hanging it.
const ioTimeout = 20 * time.Second

// imapClient is a minimal scripted IMAP client that keeps responses as the
// exact bytes received.
type imapClient struct {
	t      *testing.T
	server string // "dovecot" or "mailfront", for messages
	nc     net.Conn
	br     *bufio.Reader
	n      int // tags sent
}

// reply is what one command got: its untagged responses (each with the
// literals it carries, exactly as received) and the tagged completion.
type reply struct {
	untagged [][]byte
	tagged   []byte
}

// raw is the reply as received, for failure messages.
func (r reply) raw() string {
	var b strings.Builder
	for _, u := range r.untagged {
		b.Write(u)
	}
	b.Write(r.tagged)
	return b.String()
}

func dialIMAP(t *testing.T, server, addr string) *imapClient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, ioTimeout)
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	c := &imapClient{t: t, server: server, nc: nc, br: bufio.NewReader(nc)}
	for {
		greeting := c.readResponse()
		// Dovecot's login process greets with this while its auth
		// process starts, then with the real greeting.
		if bytes.Contains(greeting, []byte("Waiting for authentication process")) {
			continue
		}
		require.True(t, bytes.HasPrefix(greeting, []byte("* OK")), "%s greeting: %q", server, greeting)
		break
	}
	return c
}

// login dials and logs in as the test user.
func loginIMAP(t *testing.T, server, addr string) *imapClient {
	t.Helper()
	c := dialIMAP(t, server, addr)
	r := c.cmd("LOGIN " + quote(testUser) + " " + quote(testPassword))
	require.True(t, statusIs(r.tagged, "OK"), "%s LOGIN: %s", server, r.raw())
	return c
}

func quote(s string) string { return strconv.Quote(s) }

// statusIs reports whether a tagged response has the status word.
func statusIs(tagged []byte, word string) bool {
	f := bytes.Fields(tagged)
	return len(f) >= 2 && strings.EqualFold(string(f[1]), word)
}

// readResponse reads one response line with the literals it announces.
func (c *imapClient) readResponse() []byte {
	c.t.Helper()
	var buf []byte
	for {
		require.NoError(c.t, c.nc.SetReadDeadline(time.Now().Add(ioTimeout)))
		line, err := c.br.ReadBytes('\n')
		require.NoError(c.t, err, "%s: reading a response after %q", c.server, buf)
		buf = append(buf, line...)
		n, ok := literalAtEnd(line)
		if !ok {
			return buf
		}
		lit := make([]byte, n)
		_, err = io.ReadFull(c.br, lit)
		require.NoError(c.t, err, "%s: reading a literal of %d octets", c.server, n)
		buf = append(buf, lit...)
	}
}

// literalAtEnd reports the size of a literal announced at the end of line:
// {N}, {N+} or ~{N} followed by CRLF.
func literalAtEnd(line []byte) (int, bool) {
	s := strings.TrimRight(string(line), "\r\n")
	if !strings.HasSuffix(s, "}") {
		return 0, false
	}
	i := strings.LastIndexByte(s, '{')
	if i < 0 {
		return 0, false
	}
	num := strings.TrimSuffix(s[i+1:len(s)-1], "+")
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// cmd sends a command (without its tag; it may hold CRLFs and LITERAL+
// literals) and reads the responses up to its tagged completion.
func (c *imapClient) cmd(command string) reply {
	c.t.Helper()
	c.n++
	tag := fmt.Sprintf("T%03d", c.n)
	c.write(tag + " " + command + "\r\n")
	var r reply
	for {
		resp := c.readResponse()
		if bytes.HasPrefix(resp, []byte(tag+" ")) {
			r.tagged = resp
			return r
		}
		if bytes.HasPrefix(resp, []byte("+")) {
			c.t.Fatalf("%s: unexpected continuation request to %q: %q", c.server, command, resp)
		}
		r.untagged = append(r.untagged, resp)
	}
}

// write sends s as it is.
func (c *imapClient) write(s string) {
	c.t.Helper()
	require.NoError(c.t, c.nc.SetWriteDeadline(time.Now().Add(ioTimeout)))
	_, err := io.WriteString(c.nc, s)
	require.NoError(c.t, err, "%s: writing", c.server)
}

// appendCmd returns an APPEND command with a LITERAL+ literal.
func appendCmd(mailbox, flags, date string, msg []byte) string {
	var b strings.Builder
	b.WriteString("APPEND ")
	b.WriteString(quote(mailbox))
	if flags != "" {
		b.WriteString(" (" + flags + ")")
	}
	if date != "" {
		b.WriteString(" " + quote(date))
	}
	fmt.Fprintf(&b, " {%d+}\r\n", len(msg))
	b.Write(msg)
	return b.String()
}

// pop3Client is a minimal scripted POP3 client.
type pop3Client struct {
	t      *testing.T
	server string
	nc     net.Conn
	br     *bufio.Reader
}

func loginPOP3(t *testing.T, server, addr string) *pop3Client {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, ioTimeout)
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	c := &pop3Client{t: t, server: server, nc: nc, br: bufio.NewReader(nc)}
	g := c.line()
	require.True(t, strings.HasPrefix(g, "+OK"), "%s greeting: %q", server, g)
	r := c.cmd("USER "+testUser, false)
	require.True(t, strings.HasPrefix(r, "+OK"), "%s USER: %q", server, r)
	r = c.cmd("PASS "+testPassword, false)
	require.True(t, strings.HasPrefix(r, "+OK"), "%s PASS: %q", server, r)
	return c
}

// line reads one line, with its CRLF.
func (c *pop3Client) line() string {
	c.t.Helper()
	require.NoError(c.t, c.nc.SetReadDeadline(time.Now().Add(ioTimeout)))
	l, err := c.br.ReadString('\n')
	require.NoError(c.t, err, "%s: reading", c.server)
	return l
}

// cmd sends a command and returns the reply exactly as received: the
// status line, and for a successful multi-line command every line up to
// and including the terminating ".".
func (c *pop3Client) cmd(command string, multi bool) string {
	c.t.Helper()
	require.NoError(c.t, c.nc.SetWriteDeadline(time.Now().Add(ioTimeout)))
	_, err := io.WriteString(c.nc, command+"\r\n")
	require.NoError(c.t, err)
	first := c.line()
	if !multi || !strings.HasPrefix(first, "+OK") {
		return first
	}
	var b strings.Builder
	b.WriteString(first)
	for {
		l := c.line()
		b.WriteString(l)
		if l == ".\r\n" {
			return b.String()
		}
	}
}

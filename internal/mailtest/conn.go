package mailtest

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// DefaultTimeout is how long a scripted client waits for each read (and
// write, and the dial) before it fails the test: long enough for a loaded CI
// machine, short enough that a hung server fails the test instead of
// hanging it until the test binary's own timeout.
const DefaultTimeout = 30 * time.Second

// Bounds on what a scripted client accepts from a server, so that a server
// bug that streams garbage fails the test instead of exhausting memory.
const (
	maxLine    = 16 << 20
	maxLiteral = 256 << 20
)

// transcriptLines is how many recent lines a failure message shows.
const transcriptLines = 20

// A Conn is the core of a scripted client: it writes command lines and reads
// replies with a deadline per read, and fails its test with the recent
// transcript when something goes wrong. The public packages wrap it.
//
// A Conn is used by one goroutine, the one running its test (failures call
// t.Fatalf).
type Conn struct {
	t       testing.TB
	name    string // the public package, for messages: "pop3test"
	nc      net.Conn
	r       *bufio.Reader
	tlsCfg  *tls.Config
	timeout time.Duration
	lines   []string // the recent transcript, "C: ..." and "S: ..."
}

// NewConn returns a Conn over nc, which it closes at t's cleanup.
func NewConn(t testing.TB, name string, nc net.Conn, tlsCfg *tls.Config) *Conn {
	t = OrPanic(t)
	c := &Conn{t: t, name: name, nc: nc, r: bufio.NewReader(nc), tlsCfg: tlsCfg, timeout: DefaultTimeout}
	t.Cleanup(c.Close)
	return c
}

// SetTimeout sets how long each read and write may take; zero or negative
// restores DefaultTimeout.
func (c *Conn) SetTimeout(d time.Duration) {
	if d <= 0 {
		d = DefaultTimeout
	}
	c.timeout = d
}

// NetConn returns the underlying connection: the *tls.Conn after a TLS
// handshake.
func (c *Conn) NetConn() net.Conn { return c.nc }

// Close closes the connection. It is safe to call more than once.
func (c *Conn) Close() {
	// A TLS close_notify is a write: bound it.
	c.nc.SetDeadline(time.Now().Add(c.timeout))
	c.nc.Close()
}

// Fatalf fails the test with the message, prefixed with the package name and
// followed by the recent transcript.
func (c *Conn) Fatalf(format string, args ...any) {
	c.t.Helper()
	msg := c.name + ": " + fmt.Sprintf(format, args...)
	if len(c.lines) > 0 {
		msg += "\ntranscript (most recent last):\n\t" + strings.Join(c.lines, "\n\t")
	}
	c.t.Fatalf("%s", msg)
}

// record adds a line to the transcript, shortened and with control
// characters made visible.
func (c *Conn) record(dir, s string) {
	const maxShown = 200
	for line := range strings.Lines(s) {
		line = strings.TrimRight(line, "\r\n")
		if len(line) > maxShown {
			line = line[:maxShown] + fmt.Sprintf("... (%d octets)", len(line))
		}
		q := strconv.Quote(line)
		c.lines = append(c.lines, dir+q[1:len(q)-1])
	}
	if n := len(c.lines) - transcriptLines; n > 0 {
		c.lines = append(c.lines[:0], c.lines[n:]...)
	}
}

// Send writes line followed by CRLF. line may itself hold CRLFs (a message
// after DATA, a command with literals).
func (c *Conn) Send(line string) {
	c.t.Helper()
	c.write(line+"\r\n", "Send")
}

// SendRaw writes data exactly as given.
func (c *Conn) SendRaw(data string) {
	c.t.Helper()
	c.write(data, "SendRaw")
}

func (c *Conn) write(data, op string) {
	c.t.Helper()
	c.record("C: ", data)
	c.nc.SetWriteDeadline(time.Now().Add(c.timeout))
	if _, err := io.WriteString(c.nc, data); err != nil {
		c.Fatalf("%s: %v", op, err)
	}
}

// readErr describes a failed read for a failure message.
func (c *Conn) readErr(err error) string {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Sprintf("no reply within %v", c.timeout)
	case errors.Is(err, io.EOF):
		return "the server closed the connection"
	}
	return err.Error()
}

// ReadLine reads one line and returns it without its line ending.
func (c *Conn) ReadLine(op string) string {
	c.t.Helper()
	line, err := c.readLine()
	if err != nil {
		c.Fatalf("%s: %s", op, c.readErr(err))
	}
	c.record("S: ", line)
	return line
}

// readLine reads one line, CRLF or LF terminated, bounded by maxLine.
func (c *Conn) readLine() (string, error) {
	c.nc.SetReadDeadline(time.Now().Add(c.timeout))
	var buf []byte
	for {
		chunk, err := c.r.ReadSlice('\n')
		buf = append(buf, chunk...)
		switch {
		case err == nil:
			buf = bytes.TrimSuffix(bytes.TrimSuffix(buf, []byte("\n")), []byte("\r"))
			return string(buf), nil
		case errors.Is(err, bufio.ErrBufferFull):
			if len(buf) > maxLine {
				return "", fmt.Errorf("a line longer than %d octets", maxLine)
			}
		default:
			if len(buf) > 0 && errors.Is(err, io.EOF) {
				err = fmt.Errorf("the server closed the connection in the middle of a line (%q)", buf)
			}
			return "", err
		}
	}
}

// ReadDotLines reads the lines of a POP3 multi-line reply up to the line
// holding a lone ".", removes the dot-stuffing and returns them.
func (c *Conn) ReadDotLines(op string) []string {
	c.t.Helper()
	var lines []string
	for {
		line := c.ReadLine(op)
		if line == "." {
			return lines
		}
		lines = append(lines, strings.TrimPrefix(line, "."))
	}
}

// ReadSMTPReply reads one SMTP reply, all its lines up to the one whose code
// is followed by a space (or nothing), and returns them joined with "\n". A
// line that is not a reply line fails the test.
func (c *Conn) ReadSMTPReply(op string) string {
	c.t.Helper()
	var lines []string
	for {
		line := c.ReadLine(op)
		if len(line) < 3 || !isDigits(line[:3]) || (len(line) > 3 && line[3] != ' ' && line[3] != '-') {
			c.Fatalf("%s: %q is not an SMTP reply line", op, line)
		}
		if len(lines) > 0 && line[:3] != lines[0][:3] {
			c.Fatalf("%s: reply line %q continues a reply with another code", op, line)
		}
		lines = append(lines, line)
		if len(line) == 3 || line[3] == ' ' {
			return strings.Join(lines, "\n")
		}
	}
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// literalRE finds the literal announcement at the end of an IMAP line:
// {N} (or {N+} / ~{N}, which a server does not send but costs nothing).
var literalRE = regexp.MustCompile(`~?\{([0-9]+)\+?\}$`)

// ReadIMAPLine reads one IMAP response line together with the literals it
// announces: each "{N}" at the end of a line is followed, in the returned
// string, by CRLF and the N octets of the literal, then the rest of the
// line. Literals returns the literals of such a string.
func (c *Conn) ReadIMAPLine(op string) string {
	c.t.Helper()
	var b strings.Builder
	for {
		line, err := c.readLine()
		if err != nil {
			c.Fatalf("%s: %s", op, c.readErr(err))
		}
		b.WriteString(line)
		m := literalRE.FindStringSubmatch(line)
		if m == nil {
			c.record("S: ", b.String())
			return b.String()
		}
		n, err := strconv.Atoi(m[1])
		if err != nil || n > maxLiteral {
			c.record("S: ", line)
			c.Fatalf("%s: literal of %s octets is too large for a test client", op, m[1])
		}
		lit := make([]byte, n)
		c.nc.SetReadDeadline(time.Now().Add(c.timeout))
		if _, err := io.ReadFull(c.r, lit); err != nil {
			c.record("S: ", line)
			c.Fatalf("%s: reading a literal of %d octets: %s", op, n, c.readErr(err))
		}
		b.WriteString("\r\n")
		b.Write(lit)
	}
}

// Literals returns the contents of the literals in s, a response as
// ReadIMAPLine returns it, in order.
func Literals(s string) []string {
	var out []string
	for {
		i := strings.Index(s, "}\r\n")
		if i < 0 {
			return out
		}
		open := strings.LastIndexByte(s[:i], '{')
		if open < 0 {
			return out
		}
		n, err := strconv.Atoi(strings.TrimSuffix(s[open+1:i], "+"))
		rest := s[i+3:]
		if err != nil || n < 0 || n > len(rest) {
			s = rest
			continue
		}
		out = append(out, rest[:n])
		s = rest[n:]
	}
}

// HandshakeTLS runs the client side of a TLS handshake on the connection,
// with the configuration given to NewConn (the harness's ClientTLSConfig
// for a Conn from Harness.Dial); it follows STARTTLS or STLS, or opens an
// implicit-TLS connection.
func (c *Conn) HandshakeTLS() {
	c.t.Helper()
	if c.tlsCfg == nil {
		c.Fatalf("TLS handshake: no client TLS configuration")
	}
	if c.r.Buffered() > 0 {
		b, _ := c.r.Peek(c.r.Buffered())
		c.Fatalf("TLS handshake: the server sent %q before the handshake", b)
	}
	tc := tls.Client(c.nc, c.tlsCfg)
	tc.SetDeadline(time.Now().Add(c.timeout))
	if err := tc.Handshake(); err != nil {
		c.Fatalf("TLS handshake: %v", err)
	}
	tc.SetDeadline(time.Time{})
	c.record("", "-- TLS handshake done --")
	c.nc = tc
	c.r = bufio.NewReader(tc)
}

// CheckPrefix fails the test unless got starts with prefix.
func (c *Conn) CheckPrefix(op, got, prefix string) {
	c.t.Helper()
	if !strings.HasPrefix(got, prefix) {
		c.Fatalf("%s(%q): got %q", op, prefix, got)
	}
}

// Expect reads one reply with read (the Conn's ReadLine, ReadIMAPLine or
// ReadSMTPReply: what a reply is depends on the protocol) and fails the
// test unless it starts with prefix. It returns the reply.
func (c *Conn) Expect(read func(op string) string, prefix string) string {
	c.t.Helper()
	reply := read("Expect(" + Quote(prefix) + ")")
	c.CheckPrefix("Expect", reply, prefix)
	return reply
}

// ExpectRegexp reads one reply with read, as Expect does, and fails the
// test unless it matches the regular expression expr. It returns the match
// and its submatches.
func (c *Conn) ExpectRegexp(read func(op string) string, expr string) []string {
	c.t.Helper()
	reply := read("ExpectRegexp(" + Quote(expr) + ")")
	re, err := regexp.Compile(expr)
	if err != nil {
		c.Fatalf("ExpectRegexp: %v", err)
	}
	m := re.FindStringSubmatch(reply)
	if m == nil {
		c.Fatalf("ExpectRegexp(%q): got %q", expr, reply)
	}
	return m
}

// T returns the test the Conn reports to.
func (c *Conn) T() testing.TB { return c.t }

// Quote quotes s as Go source would, for failure messages.
func Quote(s string) string { return strconv.Quote(s) }

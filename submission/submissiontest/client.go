package submissiontest

import (
	"encoding/base64"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mailfront/mailfront/internal/mailtest"
)

// A Client is a scripted SMTP client for one-line protocol assertions:
//
//	c := srv.Dial(t)
//	c.StartTLS()
//	c.Hello()
//	c.Login(submissiontest.DefaultUser, submissiontest.DefaultPassword)
//	c.Send("MAIL FROM:<mallory@example.org>")
//	c.Expect("553 5.7.1")
//
// Expect and ExpectRegexp read a whole reply, all its lines ("250-..."
// continuation lines up to the final "250 ..."). Every read waits at most
// the client's timeout (30 seconds, see SetTimeout), so a server that does
// not answer fails the test instead of hanging it. A failed expectation or
// read fails the test with t.Fatalf, showing the reply received and the
// recent transcript, so a Client must be used from the goroutine running
// its test.
type Client struct {
	c        *mailtest.Conn
	greeting string
}

// Dial connects to the plain listener (Addr), reads the greeting, checks
// that it is "220", and registers t.Cleanup to close the connection.
// t may be nil outside tests: failures then panic, and the caller closes the
// client.
func (s *Server) Dial(t testing.TB) *Client {
	mailtest.OrPanic(t).Helper()
	return s.dial(t, s.Addr, false)
}

// DialTLS is like Dial, with TLS from the first byte on the implicit-TLS
// listener (TLSAddr), verified with ClientTLSConfig.
func (s *Server) DialTLS(t testing.TB) *Client {
	mailtest.OrPanic(t).Helper()
	return s.dial(t, s.TLSAddr, true)
}

func (s *Server) dial(t testing.TB, addr string, implicitTLS bool) *Client {
	mailtest.OrPanic(t).Helper()
	c := &Client{c: s.h.Dial(t, addr, implicitTLS)}
	c.greeting = c.Expect("220")
	return c
}

// Greeting returns the server's greeting reply.
func (c *Client) Greeting() string { return c.greeting }

// SetTimeout sets how long each read and write may take before the test
// fails; zero restores the default of 30 seconds.
func (c *Client) SetTimeout(d time.Duration) { c.c.SetTimeout(d) }

// NetConn returns the connection, a *tls.Conn after StartTLS or DialTLS,
// for tests that need to misbehave at the socket level.
func (c *Client) NetConn() net.Conn { return c.c.NetConn() }

// Close closes the connection without QUIT. It is safe to call more than
// once.
func (c *Client) Close() { c.c.Close() }

// Send writes line followed by CRLF. line may hold CRLFs itself, to send a
// message after DATA in one call.
func (c *Client) Send(line string) {
	c.c.T().Helper()
	c.c.Send(line)
}

// SendRaw writes data exactly as given, for malformed input: a bare LF, a
// line cut short, pipelined commands.
func (c *Client) SendRaw(data string) {
	c.c.T().Helper()
	c.c.SendRaw(data)
}

// ReadLine reads one reply line ("250-PIPELINING", say) and returns it
// without its CRLF.
func (c *Client) ReadLine() string {
	c.c.T().Helper()
	return c.c.ReadLine("ReadLine")
}

// Expect reads one reply and fails the test unless its first line starts
// with prefix ("250", "530 5.7.0"). It returns the reply, its lines joined
// with "\n".
func (c *Client) Expect(prefix string) string {
	c.c.T().Helper()
	return c.c.Expect(c.c.ReadSMTPReply, prefix)
}

// ExpectRegexp reads one reply and fails the test unless it matches the
// regular expression expr; a multi-line reply is matched as its lines
// joined with "\n" (use (?m) to anchor at each line). It returns the match
// and its submatches, as regexp.Regexp.FindStringSubmatch does.
func (c *Client) ExpectRegexp(expr string) []string {
	c.c.T().Helper()
	return c.c.ExpectRegexp(c.c.ReadSMTPReply, expr)
}

// Hello sends "EHLO localhost", expects "250", and returns the extensions
// the server announced, one per line without the reply code
// ("PIPELINING", "SIZE 36700160", "STARTTLS", "AUTH PLAIN LOGIN ...").
// A session needs it before AUTH and MAIL, and again after StartTLS.
func (c *Client) Hello() []string {
	c.c.T().Helper()
	c.Send("EHLO localhost")
	lines := strings.Split(c.Expect("250"), "\n")
	ext := make([]string, 0, len(lines)-1)
	for _, l := range lines[1:] {
		if len(l) > 4 {
			ext = append(ext, l[4:])
		}
	}
	return ext
}

// StartTLS sends STARTTLS, expects "220", and runs the TLS handshake with
// the server's ClientTLSConfig. The session starts over: call Hello again.
func (c *Client) StartTLS() {
	c.c.T().Helper()
	c.Send("STARTTLS")
	c.Expect("220")
	c.c.HandshakeTLS()
}

// Login authenticates with AUTH PLAIN and expects "235".
func (c *Client) Login(user, password string) {
	c.c.T().Helper()
	c.Send("AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+password)))
	c.Expect("235")
}

// SendMail runs one mail transaction and expects it to succeed: MAIL FROM,
// RCPT TO for each recipient, DATA, the message with its line endings made
// CRLF and its lines dot-stuffed, and the final "250". It returns the
// final reply ("250 2.0.0 OK: queued as ...").
func (c *Client) SendMail(from string, to []string, msg string) string {
	c.c.T().Helper()
	c.Send("MAIL FROM:<" + from + ">")
	c.Expect("250")
	for _, rcpt := range to {
		c.Send("RCPT TO:<" + rcpt + ">")
		c.Expect("250")
	}
	c.Send("DATA")
	c.Expect("354")
	var b strings.Builder
	for line := range strings.Lines(msg) {
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if strings.HasPrefix(line, ".") {
			b.WriteByte('.')
		}
		b.WriteString(line)
		b.WriteString("\r\n")
	}
	b.WriteString(".")
	c.Send(b.String())
	return c.Expect("250")
}

package pop3test

import (
	"net"
	"testing"
	"time"

	"github.com/mailfront/mailfront/internal/mailtest"
)

// A Client is a scripted POP3 client for one-line protocol assertions:
//
//	c := srv.Dial(t)
//	c.StartTLS()
//	c.Send("USER " + pop3test.DefaultUser)
//	c.Expect("+OK")
//	c.Send("PASS " + pop3test.DefaultPassword)
//	c.Expect("+OK Logged in")
//
// Every read waits at most the client's timeout (30 seconds, see
// SetTimeout), so a server that does not answer fails the test instead of
// hanging it. A failed expectation or read fails the test with t.Fatalf,
// showing the line received and the recent transcript, so a Client must be
// used from the goroutine running its test.
type Client struct {
	c        *mailtest.Conn
	greeting string
}

// Dial connects to the plain listener (Addr), reads the greeting, checks
// that it is "+OK", and registers t.Cleanup to close the connection.
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
	c.greeting = c.Expect("+OK")
	return c
}

// Greeting returns the server's greeting line.
func (c *Client) Greeting() string { return c.greeting }

// SetTimeout sets how long each read and write may take before the test
// fails; zero restores the default of 30 seconds.
func (c *Client) SetTimeout(d time.Duration) { c.c.SetTimeout(d) }

// NetConn returns the connection, a *tls.Conn after StartTLS or DialTLS,
// for tests that need to misbehave at the socket level.
func (c *Client) NetConn() net.Conn { return c.c.NetConn() }

// Close closes the connection (without QUIT: the session ends without the
// UPDATE state, so nothing is deleted). It is safe to call more than once.
func (c *Client) Close() { c.c.Close() }

// Send writes line followed by CRLF.
func (c *Client) Send(line string) {
	c.c.T().Helper()
	c.c.Send(line)
}

// SendRaw writes data exactly as given, for malformed input: a bare LF, a
// line cut short, several pipelined commands.
func (c *Client) SendRaw(data string) {
	c.c.T().Helper()
	c.c.SendRaw(data)
}

// ReadLine reads one line and returns it without its CRLF.
func (c *Client) ReadLine() string {
	c.c.T().Helper()
	return c.c.ReadLine("ReadLine")
}

// Expect reads one line and fails the test unless it starts with prefix
// ("+OK", "-ERR [AUTH]"). It returns the line.
func (c *Client) Expect(prefix string) string {
	c.c.T().Helper()
	return c.c.Expect(c.c.ReadLine, prefix)
}

// ExpectRegexp reads one line and fails the test unless it matches the
// regular expression expr. It returns the match and its submatches, as
// regexp.Regexp.FindStringSubmatch does.
func (c *Client) ExpectRegexp(expr string) []string {
	c.c.T().Helper()
	return c.c.ExpectRegexp(c.c.ReadLine, expr)
}

// ExpectMultiline reads a status line that must start with prefix, then
// the lines of the multi-line reply up to the terminating ".", and returns
// those lines with their dot-stuffing removed (RETR, TOP, LIST, UIDL, CAPA).
func (c *Client) ExpectMultiline(prefix string) []string {
	c.c.T().Helper()
	c.Expect(prefix)
	return c.c.ReadDotLines("ExpectMultiline(" + mailtest.Quote(prefix) + ")")
}

// StartTLS sends STLS, expects "+OK", and runs the TLS handshake with the
// server's ClientTLSConfig.
func (c *Client) StartTLS() {
	c.c.T().Helper()
	c.Send("STLS")
	c.Expect("+OK")
	c.c.HandshakeTLS()
}

// Login sends USER and PASS and expects "+OK" to both.
func (c *Client) Login(user, password string) {
	c.c.T().Helper()
	c.Send("USER " + user)
	c.Expect("+OK")
	c.Send("PASS " + password)
	c.Expect("+OK")
}

package imap4test

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailfront/mailfront/internal/mailtest"
)

// A Client is a scripted IMAP client for one-line protocol assertions:
//
//	c := srv.Dial(t)
//	c.StartTLS()
//	c.Login(imap4test.DefaultUser, imap4test.DefaultPassword)
//	c.Command("SELECT INBOX")                // expects "a2 OK", returns the untagged responses
//	c.Send("a3 FETCH 9 FLAGS")
//	c.ExpectTagged("a3 BAD")                 // reads untagged responses up to a3's
//
// A response that announces a literal ({N} at the end of a line) is read
// whole: the strings the Client returns hold the line, CRLF, the N octets of
// the literal and the rest of the response, as sent (see Literals).
//
// Every read waits at most the client's timeout (30 seconds, see
// SetTimeout), so a server that does not answer fails the test instead of
// hanging it. A failed expectation or read fails the test with t.Fatalf,
// showing the response received and the recent transcript, so a Client
// must be used from the goroutine running its test.
type Client struct {
	c        *mailtest.Conn
	greeting string
	tags     int
}

// Dial connects to the plain listener (Addr), reads the greeting, checks
// that it is "* OK", and registers t.Cleanup to close the connection.
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
	c.greeting = c.Expect("* OK")
	return c
}

// Greeting returns the server's greeting, "* OK [CAPABILITY ...] ...".
func (c *Client) Greeting() string { return c.greeting }

// SetTimeout sets how long each read and write may take before the test
// fails; zero restores the default of 30 seconds. IDLE tests that wait for
// an update use it to fail fast.
func (c *Client) SetTimeout(d time.Duration) { c.c.SetTimeout(d) }

// NetConn returns the connection, a *tls.Conn after StartTLS or DialTLS,
// for tests that need to misbehave at the socket level.
func (c *Client) NetConn() net.Conn { return c.c.NetConn() }

// Close closes the connection without LOGOUT. It is safe to call more than
// once.
func (c *Client) Close() { c.c.Close() }

// Send writes line followed by CRLF. line may hold CRLFs itself, for a
// command with non-synchronizing literals ("a1 APPEND INBOX {5+}\r\nhello").
func (c *Client) Send(line string) {
	c.c.T().Helper()
	c.c.Send(line)
}

// SendRaw writes data exactly as given, for malformed input and for the
// parts of a command around a synchronizing literal.
func (c *Client) SendRaw(data string) {
	c.c.T().Helper()
	c.c.SendRaw(data)
}

// ReadLine reads one response (one line, with any literals it announces)
// and returns it without its final CRLF.
func (c *Client) ReadLine() string {
	c.c.T().Helper()
	return c.c.ReadIMAPLine("ReadLine")
}

// Expect reads one response and fails the test unless it starts with
// prefix ("* OK", "* 3 EXISTS", "+ "). It returns the response. To wait for
// a tagged response past untagged ones, use ExpectTagged.
func (c *Client) Expect(prefix string) string {
	c.c.T().Helper()
	return c.c.Expect(c.c.ReadIMAPLine, prefix)
}

// ExpectRegexp reads one response and fails the test unless it matches the
// regular expression expr. It returns the match and its submatches, as
// regexp.Regexp.FindStringSubmatch does.
func (c *Client) ExpectRegexp(expr string) []string {
	c.c.T().Helper()
	return c.c.ExpectRegexp(c.c.ReadIMAPLine, expr)
}

// ExpectTagged reads responses up to the tagged one, whose tag is the first
// word of prefix ("a1 OK", "a1 NO [TRYCREATE]"), fails the test unless that
// response starts with prefix, and returns the responses before it
// (untagged ones, continuation requests), in order.
// ExpectTaggedResponse also returns the tagged response.
func (c *Client) ExpectTagged(prefix string) []string {
	c.c.T().Helper()
	untagged, _ := c.expectTagged(prefix)
	return untagged
}

// ExpectTaggedResponse is ExpectTagged that also returns the tagged
// response, for tests that look at its response code or text.
func (c *Client) ExpectTaggedResponse(prefix string) (untagged []string, tagged string) {
	c.c.T().Helper()
	return c.expectTagged(prefix)
}

func (c *Client) expectTagged(prefix string) ([]string, string) {
	c.c.T().Helper()
	tag, _, _ := strings.Cut(prefix, " ")
	if tag == "" || tag == "*" || tag == "+" {
		c.c.Fatalf("ExpectTagged(%q): the prefix must start with a tag", prefix)
	}
	op := "ExpectTagged(" + mailtest.Quote(prefix) + ")"
	var untagged []string
	for {
		line := c.c.ReadIMAPLine(op)
		if strings.HasPrefix(line, tag+" ") {
			c.c.CheckPrefix("ExpectTagged", line, prefix)
			return untagged, line
		}
		untagged = append(untagged, line)
	}
}

// Command sends cmd with the next tag of the client ("a1", "a2", ...),
// expects the tagged "OK", and returns the untagged responses before it.
func (c *Client) Command(cmd string) []string {
	c.c.T().Helper()
	tag := c.NextTag()
	c.Send(tag + " " + cmd)
	return c.ExpectTagged(tag + " OK")
}

// NextTag returns a new tag ("a1", "a2", ...), for a command the test sends
// itself and expects to fail: c.Send(tag + " SELECT nowhere");
// c.ExpectTagged(tag + " NO").
func (c *Client) NextTag() string {
	c.tags++
	return "a" + strconv.Itoa(c.tags)
}

// StartTLS sends STARTTLS, expects the tagged OK, and runs the TLS
// handshake with the server's ClientTLSConfig.
func (c *Client) StartTLS() {
	c.c.T().Helper()
	c.Command("STARTTLS")
	c.c.HandshakeTLS()
}

// Login sends LOGIN with user and password as IMAP strings (quoted, or
// non-synchronizing literals when they hold characters a quoted string
// cannot) and expects the tagged OK.
func (c *Client) Login(user, password string) {
	c.c.T().Helper()
	c.Command("LOGIN " + Quote(user) + " " + Quote(password))
}

// Quote returns s as an IMAP string for a command: a quoted string, with
// backslash and double quote escaped, or a non-synchronizing literal
// ({N+} CRLF s, RFC 7888) when s holds CR, LF, NUL or non-ASCII octets.
func Quote(s string) string {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b == '\r' || b == '\n' || b == 0 || b >= 0x80 {
			return fmt.Sprintf("{%d+}\r\n%s", len(s), s)
		}
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// Literals returns the contents of the literals in a response as a Client
// returns it, in order: the message of "* 1 FETCH (BODY[] {42}\r\n...)".
func Literals(response string) []string { return mailtest.Literals(response) }

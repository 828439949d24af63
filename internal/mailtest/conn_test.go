package mailtest_test

import (
	"crypto/tls"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/internal/mailtest"
	"github.com/mailfront/mailfront/internal/testutil"
	"github.com/mailfront/mailfront/tlsconfig"
)

func TestMain(m *testing.M) { testutil.MainWithLeakCheck(m) }

// script runs fn against a Conn whose server side writes serverSays and
// then stays open (or closes, with closeAfter), under synctest so that
// timeouts cost no real time. It returns whether fn completed and the
// failures reported.
func script(t *testing.T, serverSays string, closeAfter bool, fn func(c *mailtest.Conn)) (bool, []string) {
	t.Helper()
	var completed bool
	var failures []string
	synctest.Test(t, func(t *testing.T) {
		client, server := testutil.Pipe(testutil.Addr("client:1"), testutil.Addr("server:2"))
		defer server.Close()
		go func() {
			io.WriteString(server, serverSays)
			if closeAfter {
				server.Close()
			}
		}()
		go io.Copy(io.Discard, server)
		f := mailtest.NewFakeTB()
		c := mailtest.NewConn(f, "xtest", client, nil)
		completed = f.Run(func(testing.TB) { fn(c) })
		f.Finish()
		failures = f.Failures()
	})
	return completed, failures
}

func TestReadLine(t *testing.T) {
	ok, fails := script(t, "+OK hello\r\nbare LF\n", false, func(c *mailtest.Conn) {
		assert.Equal(t, "+OK hello", c.ReadLine("ReadLine"))
		assert.Equal(t, "bare LF", c.ReadLine("ReadLine"))
	})
	assert.True(t, ok)
	assert.Empty(t, fails)
}

// A silent server fails the test after the timeout, with the transcript.
func TestReadTimeout(t *testing.T) {
	ok, fails := script(t, "+OK ready\r\n", false, func(c *mailtest.Conn) {
		c.ReadLine("greeting")
		c.Send("NOOP")
		c.ReadLine("Expect(\"+OK\")")
	})
	assert.False(t, ok)
	require.Len(t, fails, 1)
	assert.Equal(t, `xtest: Expect("+OK"): no reply within 30s
transcript (most recent last):
	S: +OK ready
	C: NOOP`, fails[0])
}

func TestReadEOF(t *testing.T) {
	ok, fails := script(t, "+OK bye\r\n-ERR cut sh", true, func(c *mailtest.Conn) {
		c.ReadLine("a")
		c.ReadLine("b")
	})
	assert.False(t, ok)
	require.Len(t, fails, 1)
	assert.Contains(t, fails[0], `xtest: b: the server closed the connection in the middle of a line ("-ERR cut sh")`)
}

func TestSetTimeout(t *testing.T) {
	ok, fails := script(t, "", false, func(c *mailtest.Conn) {
		c.SetTimeout(time.Second)
		c.ReadLine("x")
	})
	assert.False(t, ok)
	assert.Contains(t, fails[0], "no reply within 1s")
}

func TestTranscriptIsBounded(t *testing.T) {
	long := strings.Repeat("x", 300)
	ok, fails := script(t, strings.Repeat("S line\r\n", 30)+long+"\r\n\x01ctl\r\n", false, func(c *mailtest.Conn) {
		for range 32 {
			c.ReadLine("r")
		}
		c.Fatalf("stop")
	})
	assert.False(t, ok)
	lines := strings.Split(fails[0], "\n\t")
	assert.Len(t, lines, 1+20, "the message and the last 20 lines")
	assert.Contains(t, fails[0], "xxx... (300 octets)")
	assert.Contains(t, fails[0], `S: \x01ctl`)
}

func TestDotLines(t *testing.T) {
	ok, fails := script(t, "line 1\r\n..dotted\r\n\r\n.\r\nnext\r\n", false, func(c *mailtest.Conn) {
		assert.Equal(t, []string{"line 1", ".dotted", ""}, c.ReadDotLines("d"))
		assert.Equal(t, "next", c.ReadLine("n"))
	})
	assert.True(t, ok)
	assert.Empty(t, fails)
}

// Expect and ExpectRegexp read one reply with the reader given and name
// the expectation in their failures.
func TestExpect(t *testing.T) {
	in := "+OK 2 320\r\n250-a\r\n250 b\r\n-ERR no\r\n"
	ok, fails := script(t, in, false, func(c *mailtest.Conn) {
		assert.Equal(t, []string{"+OK 2 320", "2"}, c.ExpectRegexp(c.ReadLine, `^\+OK (\d+) \d+$`))
		assert.Equal(t, "250-a\n250 b", c.Expect(c.ReadSMTPReply, "250"))
		c.Expect(c.ReadLine, "+OK")
	})
	assert.False(t, ok)
	require.Len(t, fails, 1)
	assert.Contains(t, fails[0], `xtest: Expect("+OK"): got "-ERR no"`)

	ok, fails = script(t, "* OK {2}\r\nhi\r\n", false, func(c *mailtest.Conn) {
		c.ExpectRegexp(c.ReadIMAPLine, `^\* NO`)
	})
	assert.False(t, ok)
	require.Len(t, fails, 1)
	assert.Contains(t, fails[0], `xtest: ExpectRegexp("^\\* NO"): got "* OK {2}\r\nhi"`)

	ok, fails = script(t, "+OK\r\n", false, func(c *mailtest.Conn) { c.ExpectRegexp(c.ReadLine, `(`) })
	assert.False(t, ok)
	require.Len(t, fails, 1)
	assert.Contains(t, fails[0], "xtest: ExpectRegexp: error parsing regexp")
}

func TestSMTPReplies(t *testing.T) {
	tests := []struct {
		name, in string
		want     string
		fail     string
	}{
		{name: "single", in: "250 OK\r\n", want: "250 OK"},
		{name: "bare code", in: "250\r\n", want: "250"},
		{name: "multi", in: "250-a\r\n250-b\r\n250 c\r\n", want: "250-a\n250-b\n250 c"},
		{name: "not a reply", in: "hello\r\n", fail: `"hello" is not an SMTP reply line`},
		{name: "bad separator", in: "250x\r\n", fail: `"250x" is not an SMTP reply line`},
		{name: "mixed codes", in: "250-a\r\n251 b\r\n", fail: `reply line "251 b" continues a reply with another code`},
		{name: "cut short", in: "250-a\r\n", fail: "no reply within"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			ok, fails := script(t, tt.in, false, func(c *mailtest.Conn) { got = c.ReadSMTPReply("r") })
			if tt.fail != "" {
				assert.False(t, ok)
				require.Len(t, fails, 1)
				assert.Contains(t, fails[0], tt.fail)
				return
			}
			assert.True(t, ok, fails)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestIMAPLines(t *testing.T) {
	in := "* 1 FETCH (BODY[] {7}\r\nab\r\n{3}\r UID 5)\r\n" +
		"* 2 FETCH (BODY[HEADER] {0}\r\n BODY[TEXT] {2}\r\nhi)\r\n" +
		"a1 OK done\r\n"
	ok, fails := script(t, in, false, func(c *mailtest.Conn) {
		first := c.ReadIMAPLine("r")
		assert.Equal(t, "* 1 FETCH (BODY[] {7}\r\nab\r\n{3}\r UID 5)", first)
		assert.Equal(t, []string{"ab\r\n{3}"}, mailtest.Literals(first))
		second := c.ReadIMAPLine("r")
		assert.Equal(t, []string{"", "hi"}, mailtest.Literals(second))
		assert.Equal(t, "a1 OK done", c.ReadIMAPLine("r"))
	})
	assert.True(t, ok, fails)
	assert.Empty(t, fails)

	ok, fails = script(t, "* 1 FETCH (BODY[] {999999999999}\r\n", false, func(c *mailtest.Conn) { c.ReadIMAPLine("r") })
	assert.False(t, ok)
	assert.Contains(t, fails[0], "too large for a test client")

	ok, fails = script(t, "* 1 FETCH (BODY[] {10}\r\nabc", true, func(c *mailtest.Conn) { c.ReadIMAPLine("r") })
	assert.False(t, ok)
	assert.Contains(t, fails[0], "reading a literal of 10 octets")
}

func TestLiterals(t *testing.T) {
	assert.Empty(t, mailtest.Literals("* OK no literal {here}"))
	assert.Empty(t, mailtest.Literals("* X {5}\r\nabc"), "a literal cut short")
	assert.Equal(t, []string{"abc"}, mailtest.Literals("* X {x}\r\n {3}\r\nabc"), "a bad count is skipped")
}

func FuzzLiterals(f *testing.F) {
	f.Add("* 1 FETCH (BODY[] ", "hello}\r\n{2}\r\n", " UID 1)")
	f.Add("", "", "")
	f.Add("{", "}\r\n", "{3}\r\n")
	f.Fuzz(func(t *testing.T, before, lit, after string) {
		mailtest.Literals(before + lit + after) // must not panic
		if strings.ContainsAny(before, "{}") {
			return
		}
		s := before + "{" + strconv.Itoa(len(lit)) + "}\r\n" + lit
		got := mailtest.Literals(s)
		require.NotEmpty(t, got)
		assert.Equal(t, lit, got[0])
	})
}

// HandshakeTLS refuses plaintext the server sent after its STARTTLS reply
// (it would be injected data), and upgrades otherwise.
func TestHandshakeTLS(t *testing.T) {
	cert, err := tlsconfig.SelfSigned()
	require.NoError(t, err)
	clientCfg := cert.ClientConfig()
	clientCfg.ServerName = "localhost"

	t.Run("injected plaintext", func(t *testing.T) {
		client, server := net.Pipe()
		defer server.Close()
		go io.WriteString(server, "+OK begin TLS\r\n-ERR injected\r\n")
		f := mailtest.NewFakeTB()
		defer f.Finish()
		c := mailtest.NewConn(f, "xtest", client, clientCfg)
		assert.False(t, f.Run(func(testing.TB) {
			c.ReadLine("stls") // reads both lines, in one chunk, into its buffer
			c.HandshakeTLS()
		}))
		if assert.Len(t, f.Failures(), 1) {
			assert.Contains(t, f.Failures()[0], `TLS handshake: the server sent "-ERR injected\r\n" before the handshake`)
		}
	})
	t.Run("upgrade", func(t *testing.T) {
		client, server := net.Pipe()
		defer server.Close()
		go func() {
			io.WriteString(server, "+OK begin TLS\r\n")
			tc := tls.Server(server, &tls.Config{Certificates: []tls.Certificate{cert.Certificate}})
			if tc.Handshake() == nil {
				io.WriteString(tc, "+OK secure\r\n")
				io.Copy(io.Discard, tc) // the client's close_notify
			}
		}()
		f := mailtest.NewFakeTB()
		defer f.Finish()
		c := mailtest.NewConn(f, "xtest", client, clientCfg)
		assert.True(t, f.Run(func(testing.TB) {
			c.ReadLine("stls")
			c.HandshakeTLS()
			assert.Equal(t, "+OK secure", c.ReadLine("after"))
		}), f.Failures())
		_, isTLS := c.NetConn().(*tls.Conn)
		assert.True(t, isTLS)
	})
	t.Run("no configuration", func(t *testing.T) {
		client, server := net.Pipe()
		defer server.Close()
		f := mailtest.NewFakeTB()
		defer f.Finish()
		c := mailtest.NewConn(f, "xtest", client, nil)
		assert.False(t, f.Run(func(testing.TB) { c.HandshakeTLS() }))
		assert.Contains(t, f.Failures()[0], "no client TLS configuration")
	})
}

// FuzzReplies feeds arbitrary server output to the readers: they return
// or fail the test, never panic or hang.
func FuzzReplies(f *testing.F) {
	f.Add([]byte("250-a\r\n250 b\r\n"))
	f.Add([]byte("* 1 FETCH (BODY[] {3}\r\nabc)\r\na1 OK\r\n"))
	f.Add([]byte("+OK\r\n..x\r\n.\r\n"))
	f.Add([]byte("{5}\r\n{2}\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		readers := []func(c *mailtest.Conn){
			func(c *mailtest.Conn) { c.ReadSMTPReply("r") },
			func(c *mailtest.Conn) { c.ReadIMAPLine("r") },
			func(c *mailtest.Conn) { c.ReadDotLines("r") },
		}
		for _, read := range readers {
			client, server := testutil.Pipe(testutil.Addr("c:1"), testutil.Addr("s:2"))
			go func() {
				server.Write(data)
				server.Close()
			}()
			tb := mailtest.NewFakeTB()
			c := mailtest.NewConn(tb, "xtest", client, nil)
			tb.Run(func(testing.TB) {
				for { // until the data runs out and the read fails
					read(c)
				}
			})
			tb.Finish()
			require.NotEmpty(t, tb.Failures())
		}
	})
}

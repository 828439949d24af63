package main

import (
	"bufio"
	"bytes"
	"net"
	"testing"
	"time"
)

// fakeConn is a net.Conn reading from a byte slice; writes are discarded.
type fakeConn struct {
	net.Conn
	r *bytes.Reader
}

func (f fakeConn) Read(p []byte) (int, error)  { return f.r.Read(p) }
func (f fakeConn) Write(p []byte) (int, error) { return len(p), nil }
func (f fakeConn) SetDeadline(time.Time) error { return nil }
func (f fakeConn) Close() error                { return nil }

// FuzzIMAPResponses feeds arbitrary server output to the IMAP client's
// response reader and command loop: no panic, and no read past the input.
func FuzzIMAPResponses(f *testing.F) {
	for _, seed := range []string{
		"* 3 EXISTS\r\n* 1 FETCH (UID 1 FLAGS (\\Seen))\r\na1 OK done\r\n",
		"* 1 FETCH (ENVELOPE (\"d\" {5}\r\nhello NIL NIL NIL NIL NIL NIL NIL NIL) BODY[] {0}\r\n)\r\na1 OK\r\n",
		"* OK [CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS] hi\r\na1 OK [APPENDUID 1 2] ok\r\n",
		"* SEARCH 1 2 3\r\na1 NO nope\r\n",
		"* 1 FETCH {99999999999999999999}\r\n",
		"+ go on\r\n",
		"a1 BAD\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var c counters
		tc := &textConn{d: &dialer{counters: &c}, timeout: time.Second}
		tc.setConn(fakeConn{r: bytes.NewReader(data)})
		ic := &imapConn{textConn: tc}
		var fetches int
		ic.command("UID FETCH 1:* (UID FLAGS)", func(line []byte) {
			if isFetch(line) {
				fetches++
			}
			existsCount(line)
		})
		if c.in.Load() > int64(len(data)) {
			t.Fatalf("read %d octets of %d", c.in.Load(), len(data))
		}
	})
}

// FuzzPOP3Multiline feeds arbitrary server output to the POP3 multi-line
// reader: it ends at the input's end or at a lone dot line.
func FuzzPOP3Multiline(f *testing.F) {
	for _, seed := range []string{"a\r\n..b\r\n.\r\n", ".\r\n", "no end", "\n.\r\n"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var c counters
		tc := &textConn{d: &dialer{counters: &c}, timeout: time.Second}
		tc.setConn(fakeConn{r: bytes.NewReader(data)})
		tc.r = bufio.NewReaderSize(tc.nc, 16) // long lines too
		pc := &popConn{textConn: tc}
		n, err := pc.multiline()
		if err == nil && !bytes.Contains(data, []byte(".\r\n")) {
			t.Fatalf("ended after %d lines without a dot line", n)
		}
	})
}

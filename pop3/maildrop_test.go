package pop3_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/pop3"
)

// P1: a connection dropped after DELE, without QUIT, deletes nothing; the
// next session sees every message.
func TestP1DropWithoutQuit(t *testing.T) {
	h := newHarness(t).start(false)
	c := h.login()
	c.cmdOK("DELE 1")
	c.cmdOK("DELE 2")
	c.conn.Close()
	require.Eventually(t, func() bool { return !h.backend.isLocked("alice") }, 5*time.Second, time.Millisecond)
	c = h.login()
	assert.Equal(t, "+OK 3 154", c.cmd("STAT"))
	h.backend.mu.Lock()
	defer h.backend.mu.Unlock()
	assert.NotContains(t, h.backend.ops, "Delete")
}

// QUIT from TRANSACTION deletes exactly the marked messages, once.
func TestQuitDeletes(t *testing.T) {
	h := newHarness(t).start(false)
	c := h.login()
	c.cmdOK("DELE 3")
	c.cmdOK("DELE 1")
	assert.Equal(t, "+OK Goodbye; 1 message left", c.cmd("QUIT"))
	msgs := h.backend.messages("alice")
	require.Len(t, msgs, 1)
	assert.Equal(t, "uid-2", msgs[0].uid)
}

// P2: a second session for a locked maildrop gets [IN-USE] and is closed;
// the first is unaffected, and once it quits the maildrop is free.
func TestP2ConcurrentMaildrop(t *testing.T) {
	t.Run("locked", func(t *testing.T) {
		h := newHarness(t).start(false)
		a := h.login()
		b := h.dial()
		b.cmdOK("USER alice")
		assert.Equal(t, "-ERR [IN-USE] Maildrop is locked by another session; try again later", b.cmd("PASS secret"))
		b.expectEOF()
		assert.Equal(t, "+OK 3 154", a.cmd("STAT"))
		a.cmdOK("DELE 1")
		a.cmdOK("QUIT")
		c := h.login() // at once: the lock was released before the reply
		assert.Equal(t, "+OK 2 122", c.cmd("STAT"))
	})
	t.Run("snapshot", func(t *testing.T) {
		h := newHarness(t)
		h.backend.snapshot = true
		h.start(false)
		a, b := h.login(), h.login()
		a.cmdOK("DELE 1")
		a.cmdOK("QUIT")
		assert.Equal(t, "+OK 3 messages (154 octets)", b.cmd("LIST"))
		assert.Equal(t, []string{"1 32", "2 68", "3 54"}, b.multi(), "another session's deletions never renumber this one")
		assert.Equal(t, "-ERR Message 1 is no longer available", b.cmd("RETR 1"))
		assert.Equal(t, "+OK 68 octets", b.cmd("RETR 2"))
		b.multi()
		b.cmdOK("DELE 1")
		assert.Equal(t, "+OK Goodbye; 2 messages left", b.cmd("QUIT"), "deleting a message already gone is tolerated")
	})
}

// P5: dot-stuffing, bare LF sent as CRLF, the terminating line always
// sent, and LIST sizes equal to the octets RETR sends (before stuffing).
func TestP5Framing(t *testing.T) {
	h := newHarness(t)
	h.backend.boxes["alice"] = append(h.backend.boxes["alice"],
		fakeMsg{uid: "uid-4", body: []byte("Subject: no final newline\r\n\r\n.starts with a dot")},
		fakeMsg{uid: "uid-5", body: []byte("")},
		fakeMsg{uid: "uid-6", body: []byte("A: b\n\n.\n..\n...\r\nbare CR\r here\n")},
	)
	h.start(false)
	c := h.login()
	c.cmdOK("LIST")
	sizes := map[string]string{}
	for _, l := range c.multi() {
		n, size, _ := strings.Cut(l, " ")
		sizes[n] = size
	}
	want := map[string]string{
		"2": "Subject: two\r\nX: y\r\n\r\nLine 1\r\n..Line 2 starts with a dot\r\n..\r\nLine 4\r\n.\r\n",
		"3": "Subject: bare LF\r\n\r\nstored with bare LF\r\nsecond line\r\n.\r\n",
		"4": "Subject: no final newline\r\n\r\n..starts with a dot\r\n.\r\n",
		"5": ".\r\n",
		"6": "A: b\r\n\r\n..\r\n...\r\n....\r\nbare CR\r here\r\n.\r\n",
	}
	for n, raw := range want {
		assert.Equal(t, "+OK "+sizes[n]+" octets", c.cmd("RETR "+n))
		got := c.raw()
		assert.Equal(t, raw, got, "message %s on the wire", n)
		unstuffed := strings.ReplaceAll("\r\n"+strings.TrimSuffix(got, ".\r\n"), "\r\n.", "\r\n")[2:]
		if n != "4" { // 4 did not end its last line: the server added CRLF
			assert.Equal(t, sizes[n], fmt.Sprint(len(unstuffed)), "LIST size of message %s equals the RETR octets", n)
		}
	}
}

// If a backend's Size is wrong, LIST says what the backend said and RETR
// still sends the real content (the documented contract).
func TestSizeMismatch(t *testing.T) {
	h := newHarness(t)
	h.backend.boxes["alice"] = []fakeMsg{{uid: "u", body: []byte("Subject: x\n\nbody\n"), size: 5}}
	h.start(false)
	c := h.login()
	assert.Equal(t, "+OK 1 5", c.cmd("LIST 1"))
	assert.Equal(t, "+OK 5 octets", c.cmd("RETR 1"))
	assert.Equal(t, "Subject: x\r\n\r\nbody\r\n.\r\n", c.raw())
}

// TOP without a TopOpener reads the message and stops after the lines.
func TestTOP(t *testing.T) {
	h := newHarness(t)
	h.backend.boxes["alice"] = append(h.backend.boxes["alice"],
		fakeMsg{uid: "noblank", body: []byte("Subject: only a header\r\nX: y\r\n")},
		fakeMsg{uid: "crlfcr", body: []byte("A: b\r\n\r\n\r\nline2\r\n")},
	)
	h.start(false)
	c := h.login()
	for _, tc := range []struct {
		cmd  string
		want []string
	}{
		{"TOP 2 0", []string{"Subject: two", "X: y", ""}},
		{"TOP 2 2", []string{"Subject: two", "X: y", "", "Line 1", ".Line 2 starts with a dot"}},
		{"TOP 2 100", []string{"Subject: two", "X: y", "", "Line 1", ".Line 2 starts with a dot", ".", "Line 4"}},
		{"TOP 3 1", []string{"Subject: bare LF", "", "stored with bare LF"}},
		{"TOP 4 0", []string{"Subject: only a header", "X: y"}},
		{"TOP 5 1", []string{"A: b", "", ""}},
		{"TOP 5 2", []string{"A: b", "", "", "line2"}},
	} {
		assert.Equal(t, "+OK Top of message follows", c.cmd(tc.cmd))
		assert.Equal(t, tc.want, c.multi(), tc.cmd)
	}
}

// Optional interfaces are found through Unwrap, and the server still
// enforces TOP's line count on what OpenTop returns.
func TestOptionalInterfacesThroughUnwrap(t *testing.T) {
	h := newHarness(t)
	h.backend.top = true
	h.backend.wrap = true
	h.start(false)
	c := h.login()
	assert.Equal(t, "+OK Top of message follows", c.cmd("TOP 2 1"))
	assert.Equal(t, []string{"X-Top: uid-2 1", "", "b1"}, c.multi())
	assert.Equal(t, "+OK 68 octets", c.cmd("RETR 2"), "RETR still uses Open")
	assert.Len(t, c.multi(), 7)
}

// Backend errors map to response codes; their text never reaches the wire.
func TestBackendErrors(t *testing.T) {
	secret := errors.New("db password=hunter2 at 10.0.0.1")
	for _, tc := range []struct {
		method string
		err    error
		want   string
		closed bool
	}{
		{"OpenMaildrop", secret, "-ERR [SYS/TEMP] Internal error; try again later", true},
		{"OpenMaildrop", fmt.Errorf("x: %w", pop3.ErrPermanent), "-ERR [SYS/PERM] Mailbox unavailable; contact your administrator", true},
		{"OpenMaildrop", fmt.Errorf("x: %w", pop3.ErrLoginDelay), "-ERR [LOGIN-DELAY] Logged in too recently; try again later", true},
		{"OpenMaildrop", &pop3.Error{Code: pop3.CodeSysPerm, Text: "Mailbox disabled\r\n+OK injected", Err: secret}, "-ERR [SYS/PERM] Mailbox disabled  +OK injected", true},
		{"Messages", secret, "-ERR [SYS/TEMP] Internal error; try again later", true},
		{"Open", secret, "-ERR [SYS/TEMP] Internal error; try again later", false},
		{"Open", fmt.Errorf("gone: %w", pop3.ErrNoSuchMessage), "-ERR Message 1 is no longer available", false},
		{"Open", &pop3.Error{Text: "Message quarantined"}, "-ERR Message quarantined", false},
		{"Delete", secret, "-ERR [SYS/TEMP] Some deleted messages not removed: Internal error; try again later", true},
	} {
		t.Run(tc.method+"/"+tc.want, func(t *testing.T) {
			h := newHarness(t).start(false)
			h.backend.set(func(b *fakeBackend) { b.fail[tc.method] = tc.err })
			c := h.dial()
			c.cmdOK("USER alice")
			var reply string
			switch tc.method {
			case "OpenMaildrop", "Messages":
				reply = c.cmd("PASS secret")
			case "Open":
				c.cmdOK("PASS secret")
				reply = c.cmd("RETR 1")
			case "Delete":
				c.cmdOK("PASS secret")
				c.cmdOK("DELE 1")
				reply = c.cmd("QUIT")
			}
			assert.Equal(t, tc.want, reply)
			if tc.closed {
				c.expectEOF()
			} else {
				assert.Equal(t, "+OK 3 154", c.cmd("STAT"), "the session goes on")
			}
			assert.False(t, strings.Contains(reply, "hunter2"))
			if errors.Is(tc.err, secret) && !errors.As(tc.err, new(*pop3.Error)) {
				assert.Contains(t, h.logs.String(), "level=ERROR", "unknown errors are logged at Error")
			}
			if tc.method == "Delete" {
				assert.Len(t, h.backend.messages("alice"), 3)
			}
		})
	}
}

// A UID the backend should never have returned is replaced on the wire by
// a stable substitute; the backend still sees its own UID.
func TestInvalidUID(t *testing.T) {
	h := newHarness(t)
	bad := "has space and is fine otherwise"
	h.backend.boxes["alice"] = []fakeMsg{{uid: bad, body: []byte("A: b\r\n\r\nx\r\n")}, {uid: strings.Repeat("u", 71), body: []byte("x\r\n")}}
	h.start(false)
	c := h.login()
	c.cmdOK("UIDL")
	first := c.multi()
	require.Len(t, first, 2)
	for _, l := range first {
		_, uid, _ := strings.Cut(l, " ")
		assert.Regexp(t, `^x-[0-9a-f]{40}$`, uid)
	}
	c.cmdOK("DELE 1")
	c.cmdOK("QUIT")
	c = h.login()
	c.cmdOK("UIDL")
	second := c.multi()
	require.Len(t, second, 1)
	assert.Equal(t, strings.TrimPrefix(first[1], "2 "), strings.TrimPrefix(second[0], "1 "), "the substitute is stable across sessions")
	assert.Contains(t, h.logs.String(), "backend returned an invalid UID")
	assert.Len(t, h.backend.messages("alice"), 1)
}

// LOGIN-DELAY is enforced between logins of the same user.
func TestLoginDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		h.srv.LoginDelay = time.Minute
		h.start(false)
		c := h.login()
		c.cmdOK("QUIT")
		c = h.dial()
		c.cmdOK("USER alice")
		assert.Equal(t, "-ERR [LOGIN-DELAY] Logged in too recently; wait 60 seconds between logins", c.cmd("PASS secret"))
		c.expectEOF()
		assert.False(t, h.backend.isLocked("alice"))
		c = h.dial()
		c.cmdOK("USER carol")
		c.cmdOK("PASS carol-pw") // another user is not delayed
		time.Sleep(time.Minute)
		h.login()
	})
}

// A 100 MB message is streamed in constant memory.
func TestLargeMessageConstantMemory(t *testing.T) {
	size := 100 << 20
	if testing.Short() || raceEnabled {
		size = 16 << 20
	}
	h := newHarness(t)
	h.backend.source = func(string) io.Reader { return &slowReader{remaining: size, every: 0} }
	h.backend.boxes["alice"] = []fakeMsg{{uid: "big", size: int64(size)}}
	h.srv.Logger = slog.New(slog.DiscardHandler) // measure the server, not the trace
	h.srv.TrustedNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	// Over TCP: the in-memory pipe would allocate as it buffers.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- h.srv.Serve(l) }()
	defer func() { h.srv.Close(); <-done }()
	conn, err := net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	c := newClient(t, conn)
	c.expect("+OK")
	c.cmdOK("USER alice")
	c.cmdOK("PASS secret")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	assert.Equal(t, fmt.Sprintf("+OK %d octets", size), c.cmd("RETR 1"))
	n, err := io.Copy(io.Discard, &dotBody{r: c.r})
	require.NoError(t, err)
	runtime.ReadMemStats(&after)
	assert.Equal(t, int64(size), n)
	alloc := after.TotalAlloc - before.TotalAlloc
	assert.Less(t, alloc, uint64(4<<20), "allocated %d bytes to send %d", alloc, size)
}

// dotBody reads a multi-line body up to its terminating line.
type dotBody struct {
	r    interface{ ReadSlice(byte) ([]byte, error) }
	done bool
}

func (d *dotBody) Read(p []byte) (int, error) {
	if d.done {
		return 0, io.EOF
	}
	line, err := d.r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if string(line) == ".\r\n" {
		d.done = true
		return 0, io.EOF
	}
	if len(line) > len(p) {
		return 0, errors.New("line longer than the buffer")
	}
	return copy(p, line), nil
}

package imap4_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// deliverNow delivers a message whose internal date is now: it arrived
// while the server runs.
func (b *fakeBackend) deliverNow(user, box, msg string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.boxLocked(user, box).add([]byte(toCRLF(msg)), nil, time.Now())
}

// TestRecent: \Recent (RFC 3501 §2.3.2) for IMAP4rev1 sessions. A message
// is recent in the first session that learns of it; a read-write session
// takes it from later ones, EXAMINE does not; SELECT, EXISTS updates,
// FETCH FLAGS, SEARCH RECENT/NEW/OLD and STATUS RECENT agree; messages
// from before the server started are not recent; rev2 sessions never see
// the flag.
func TestRecent(t *testing.T) {
	e := newEnv(t)
	e.b.deliver("alice", "INBOX", msg("old", "from before the server started"))
	e.b.deliverNow("alice", "INBOX", msg("new", "arrived since"))

	a := e.login("alice")
	out := untagged(a.ok("SELECT INBOX"))
	assert.Contains(t, out, "* 2 EXISTS")
	assert.Contains(t, out, "* 1 RECENT")
	assert.Equal(t, []string{`* 1 FETCH (FLAGS ())`, `* 2 FETCH (FLAGS (\Recent))`}, untagged(a.ok("FETCH 1:* FLAGS")))
	assert.Equal(t, []string{"* SEARCH 2"}, untagged(a.ok("SEARCH RECENT")))
	assert.Equal(t, []string{"* SEARCH 2"}, untagged(a.ok("SEARCH NEW")))
	assert.Equal(t, []string{"* SEARCH 1"}, untagged(a.ok("SEARCH OLD")))
	a.ok(`STORE 2 +FLAGS.SILENT (\Seen)`)
	assert.Equal(t, []string{"* SEARCH"}, untagged(a.ok("SEARCH NEW")), "NEW is RECENT UNSEEN")
	assert.Equal(t, []string{`* 2 FETCH (FLAGS (\Recent \Seen))`}, untagged(a.ok("FETCH 2 FLAGS")))
	assert.Equal(t, []string{`* STATUS INBOX (RECENT 1 MESSAGES 2)`}, untagged(a.ok("STATUS INBOX (RECENT MESSAGES)")),
		"STATUS of the selected mailbox: the session's own count")

	// a, read-write, took message 2 from every later session.
	b := e.login("alice")
	out = untagged(b.ok("SELECT INBOX"))
	assert.Contains(t, out, "* 0 RECENT")
	assert.Equal(t, []string{`* 2 FETCH (FLAGS (\Seen))`}, untagged(b.ok("FETCH 2 FLAGS")))

	// A delivery: EXAMINE sees it recent and leaves it so; the next
	// read-write session to learn of it (a, at its NOOP) takes it.
	e.b.deliverNow("alice", "INBOX", msg("third", "3"))
	d := e.login("alice")
	assert.Equal(t, []string{`* STATUS INBOX (RECENT 1)`}, untagged(d.ok("STATUS INBOX (RECENT)")), "no session has learnt of it")
	x := e.login("alice")
	out = untagged(x.ok("EXAMINE INBOX"))
	assert.Contains(t, out, "* 3 EXISTS")
	assert.Contains(t, out, "* 1 RECENT")
	assert.Equal(t, []string{`* 3 FETCH (FLAGS (\Recent))`}, untagged(x.ok("FETCH 3 FLAGS")))
	assert.Equal(t, []string{`* STATUS INBOX (RECENT 1)`}, untagged(d.ok("STATUS INBOX (RECENT)")), "EXAMINE claims nothing")
	assert.Equal(t, []string{"* 3 EXISTS", "* 2 RECENT"}, untagged(a.ok("NOOP")))
	assert.Equal(t, []string{"* 3 EXISTS"}, untagged(b.ok("NOOP")), "b's count stays 0: no RECENT response")
	assert.Equal(t, []string{`* STATUS INBOX (RECENT 0)`}, untagged(d.ok("STATUS INBOX (RECENT)")))
	assert.Equal(t, []string{"* SEARCH 2 3"}, untagged(a.ok("SEARCH RECENT")))
	assert.Equal(t, []string{"* SEARCH"}, untagged(b.ok("SEARCH RECENT")))

	// A client cannot set or clear \Recent.
	assert.Regexp(t, `^BAD `, tagged(a.do(`STORE 3 -FLAGS.SILENT (\Recent)`)))
	assert.Regexp(t, `^BAD `, tagged(b.do(`STORE 1 +FLAGS.SILENT (\Recent)`)))
	assert.Equal(t, []string{`* 3 FETCH (FLAGS (\Recent))`}, untagged(a.ok("FETCH 3 FLAGS")))
	assert.Equal(t, []string{`* 1 FETCH (FLAGS ())`}, untagged(b.ok("FETCH 1 FLAGS")))

	// An IMAP4rev2 session never sees \Recent nor RECENT, but learning of
	// a message still takes it from the others.
	r := e.login("alice")
	r.ok("ENABLE IMAP4rev2")
	out = untagged(r.ok("SELECT INBOX"))
	for _, l := range out {
		assert.NotContains(t, l, "RECENT")
	}
	e.b.deliverNow("alice", "INBOX", msg("fourth", "4"))
	assert.Equal(t, []string{"* 4 EXISTS"}, untagged(r.ok("NOOP")))
	assert.Equal(t, []string{`* 4 FETCH (FLAGS ())`}, untagged(r.ok("FETCH 4 FLAGS")))
	assert.Equal(t, []string{"* 4 EXISTS"}, untagged(a.ok("NOOP")))
	assert.Equal(t, []string{`* 4 FETCH (FLAGS ())`}, untagged(a.ok("FETCH 4 FLAGS")))

	// An expunge leaves the other recent messages recent.
	a.ok(`STORE 2 +FLAGS.SILENT (\Deleted)`)
	out = untagged(a.ok("EXPUNGE"))
	require.Contains(t, out, "* 2 EXPUNGE")
	assert.Equal(t, []string{"* SEARCH 2"}, untagged(a.ok("SEARCH RECENT")))
	assert.Equal(t, []string{`* 2 FETCH (UID 3 FLAGS (\Recent))`}, untagged(a.ok("FETCH 2 (UID FLAGS)")))
}

// TestRecentOwnAppend: a message appended to the selected mailbox is
// recent in the session that appended it (it learns of it first, with the
// EXISTS before the tagged OK).
func TestRecentOwnAppend(t *testing.T) {
	e := newEnv(t)
	a := e.login("alice")
	a.ok("SELECT INBOX")
	out := untagged(a.ok("APPEND INBOX {3+}\r\nabc"))
	assert.Equal(t, []string{"* 1 EXISTS", "* 1 RECENT"}, out)
	assert.Equal(t, []string{`* 1 FETCH (FLAGS (\Recent))`}, untagged(a.ok("FETCH 1 FLAGS")))
	b := e.login("alice")
	assert.Contains(t, untagged(b.ok("SELECT INBOX")), "* 0 RECENT")

	// b idles while a appends and copies into the mailbox both have
	// selected: however fast b learns of them, they are a's.
	for i := range 20 {
		b.send("i IDLE")
		b.expect("+ idling")
		if i%2 == 0 {
			a.ok("APPEND INBOX {3+}\r\nabc")
		} else {
			a.ok("COPY 1 INBOX")
		}
		b.expect("* " + itoaT(i+2) + " EXISTS")
		b.send("DONE")
		b.expect("i OK IDLE terminated")
	}
	assert.Equal(t, []string{"* SEARCH"}, untagged(b.ok("SEARCH RECENT")))
	out = untagged(a.ok("SEARCH RECENT"))
	require.Len(t, out, 1)
	assert.Len(t, strings.Fields(out[0]), 2+21, "a has all 21: %s", out[0])
}

package imap4_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/imap4"
)

// TestUnilateralUpdates: one session's APPEND, STORE and EXPUNGE, and a
// delivery, reach another session at its next command.
func TestUnilateralUpdates(t *testing.T) {
	e := newEnv(t)
	e.b.deliver("alice", "INBOX", msg("one", "x"))
	e.b.deliver("alice", "INBOX", msg("two", "y"))
	a := e.selectInbox()
	b := e.selectInbox()

	b.ok("APPEND INBOX {3+}\r\nabc")
	assert.Equal(t, []string{"* 3 EXISTS"}, untagged(a.ok("NOOP")))
	e.b.deliver("alice", "INBOX", msg("four", "z"))
	// The delivery is new to every session, and a learns of it first; b
	// learnt of its own APPEND before its command completed.
	assert.Equal(t, []string{"* 4 EXISTS", "* 1 RECENT"}, untagged(a.ok("NOOP")))
	b.ok(`STORE 2 +FLAGS (\Flagged)`)
	assert.Equal(t, []string{`* 2 FETCH (UID 2 FLAGS (\Flagged))`}, untagged(a.ok("NOOP")))
	b.ok(`STORE 1,3 +FLAGS.SILENT (\Deleted)`)
	b.ok("EXPUNGE")
	out := a.ok("NOOP")
	assert.Equal(t, []string{"* 3 EXPUNGE", "* 1 EXPUNGE"}, untagged(out))
	assert.Equal(t, []string{"* SEARCH 2 4"}, untagged(a.ok("UID SEARCH ALL")))
	assert.Empty(t, untagged(a.ok("NOOP")), "reported once")
}

// TestI10ConcurrentExpunge: no EXPUNGE is sent during FETCH, STORE or
// SEARCH; sequence numbers stay consistent; UIDs are never reused.
func TestI10ConcurrentExpunge(t *testing.T) {
	e := newEnv(t)
	for range 4 {
		e.b.deliver("alice", "INBOX", msg("m", "x"))
	}
	a := e.selectInbox()
	b := e.selectInbox()
	b.ok(`STORE 2 +FLAGS.SILENT (\Deleted)`)
	b.ok("EXPUNGE")
	for _, cmd := range []string{"FETCH 1:4 (UID)", `STORE 4 +FLAGS.SILENT (\Seen)`, "SEARCH ALL"} {
		out := a.ok(cmd)
		for _, l := range out {
			assert.NotRegexp(t, `^\* \d+ EXPUNGE$`, l, cmd)
		}
	}
	out := a.ok("FETCH 1:4 (UID)")
	assert.Equal(t, []string{"* 1 FETCH (UID 1)", "* 2 FETCH (UID 2)", "* 3 FETCH (UID 3)", "* 4 FETCH (UID 4)"}, untagged(out),
		"numbers as the client knows them until the EXPUNGE is sent")
	assert.Equal(t, []string{"* SEARCH 1 2 3 4"}, untagged(a.ok("SEARCH ALL")), "SEARCH may still match it")
	assert.Contains(t, untagged(a.ok("UID FETCH 1:* (UID)")), "* 2 EXPUNGE", "UID FETCH may send EXPUNGE")
	assert.Equal(t, []string{"* 1 FETCH (UID 1)", "* 2 FETCH (UID 3)", "* 3 FETCH (UID 4)"}, untagged(a.ok("FETCH 1:* (UID)")))

	b.ok(`STORE 3 +FLAGS.SILENT (\Deleted)`)
	b.ok("EXPUNGE")
	b.ok("APPEND INBOX {1+}\r\nx")
	out = a.ok("NOOP")
	assert.Equal(t, []string{"* 3 EXPUNGE", "* 3 EXISTS"}, untagged(out))
	assert.Equal(t, []string{"* 3 FETCH (UID 5)"}, untagged(a.ok("FETCH 3 (UID)")), "UIDs are not reused")
	st := a.ok("STATUS INBOX (UIDNEXT)")
	assert.Equal(t, "* STATUS INBOX (UIDNEXT 6)", st[0])
}

func TestIdleUpdates(t *testing.T) {
	e := newEnv(t)
	e.b.deliver("alice", "INBOX", msg("one", "x"))
	a := e.selectInbox()
	b := e.selectInbox()
	// Which of a and b learns of new messages first, and gets * n RECENT,
	// is a race: that is TestRecent's business.
	a.skipRecent = true
	a.send("i IDLE")
	a.expect("+ idling")
	b.ok("APPEND INBOX {3+}\r\nabc")
	a.expect("* 2 EXISTS")
	b.ok(`STORE 1 +FLAGS (\Seen)`)
	a.expect(`* 1 FETCH (UID 1 FLAGS (\Seen))`)
	e.b.deliver("alice", "INBOX", msg("delivered", "y"))
	a.expect("* 3 EXISTS")
	b.ok(`STORE 2 +FLAGS.SILENT (\Deleted)`)
	a.expect(`* 2 FETCH (UID 2 FLAGS (\Deleted))`)
	b.ok("EXPUNGE")
	a.expect("* 2 EXPUNGE")
	a.write("DO")
	a.write("NE\r\n") // DONE split across writes
	a.expect("i OK IDLE terminated")
	a.ok("NOOP")

	// IDLE in the authenticated state only keeps the connection.
	c := e.login("bob")
	c.send("j IDLE")
	c.expect("+ idling")
	c.send("done")
	c.expect("j OK IDLE terminated")
}

// TestI12IdleLifecycle: keepalives every 2 minutes, no logout before the
// autologout (31 minutes of client silence), and a vanished client frees
// everything.
func TestI12IdleLifecycle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		c := e.selectInbox()
		start := time.Now()
		c.send("i IDLE")
		c.expect("+ idling")
		for i := 1; i <= 15; i++ {
			c.expect("* OK Still here")
			assert.Equal(t, time.Duration(i)*2*time.Minute, time.Since(start))
		}
		c.expect("* BYE Autologout: idle for too long")
		assert.Equal(t, 31*time.Minute, time.Since(start))
		assert.Error(t, c.readErr())

		c = e.selectInbox()
		c.send("i IDLE")
		c.expect("+ idling")
		c.nc.Close() // the client vanishes
		synctest.Wait()
		e.b.mu.Lock()
		assert.Zero(t, e.b.opened, "the mailbox was closed")
		assert.Zero(t, e.b.users0, "the user store was closed")
		e.b.mu.Unlock()
		e.srv.Close()
		<-e.done
		e.done <- nil
	})
}

// TestM6ManySessions: 50 sessions append, store, expunge, fetch and idle
// in parallel; every view ends consistent with the store.
func TestM6ManySessions(t *testing.T) {
	e := newEnv(t, func(s *imap4.Server) { s.MaxConnsPerUserAddr = 100 })
	for range 20 {
		e.b.deliver("alice", "INBOX", msg("seed", "x"))
	}
	const n = 50
	var wg sync.WaitGroup
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = e.selectInbox()
	}
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 1))
			for range 20 {
				switch r.IntN(6) {
				case 0:
					c.ok("APPEND INBOX {5+}\r\nhello")
				case 1:
					c.do(fmt.Sprintf(`UID STORE %d +FLAGS (\Deleted)`, 1+r.IntN(40)))
				case 2:
					c.ok("EXPUNGE")
				case 3:
					c.ok("FETCH 1:* (UID FLAGS)")
				case 4:
					c.ok("SEARCH UNSEEN")
				case 5:
					c.send("i IDLE")
					c.expect("+ idling")
					c.send("DONE")
					c.until("i")
				}
			}
		}()
	}
	wg.Wait()
	e.b.mu.Lock()
	var want []string
	for _, m := range e.b.users["alice"].boxes["INBOX"].msgs {
		want = append(want, strconv.Itoa(int(m.uid)))
	}
	e.b.mu.Unlock()
	for _, c := range clients {
		c.ok("NOOP")
		out := untagged(c.ok("UID SEARCH ALL"))
		require.Len(t, out, 1)
		assert.Equal(t, strings.TrimSpace("* SEARCH "+strings.Join(want, " ")), out[0])
		// Sequence numbers agree with the store too.
		f := untagged(c.ok("FETCH 1:* (UID)"))
		var uids []string
		for k, l := range f {
			require.True(t, strings.HasPrefix(l, "* "+strconv.Itoa(k+1)+" FETCH (UID "), l)
			uids = append(uids, strings.TrimSuffix(l[strings.LastIndex(l, " ")+1:], ")"))
		}
		assert.True(t, slices.Equal(want, uids))
	}
}

// TestPipelining: commands sent together are answered in order, in one
// flush.
func TestPipelining(t *testing.T) {
	e := newEnv(t)
	e.b.deliver("alice", "INBOX", msg("one", "x"))
	c := e.dial()
	c.write("a LOGIN alice secret\r\nb SELECT INBOX\r\nc FETCH 1 (UID)\r\nd NOOP\r\ne LOGOUT\r\n")
	out := c.until("e")
	var tags []string
	for _, l := range out {
		if !strings.HasPrefix(l, "* ") {
			tags = append(tags, l[:1])
		}
	}
	assert.Equal(t, []string{"a", "b", "c", "d", "e"}, tags)
	assert.Contains(t, out, "* 1 FETCH (UID 1)")
}

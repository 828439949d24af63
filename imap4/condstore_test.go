package imap4_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var highestRE = regexp.MustCompile(`HIGHESTMODSEQ (\d+)`)

// highest extracts HIGHESTMODSEQ from responses.
func highest(t *testing.T, lines []string) int {
	t.Helper()
	for _, l := range lines {
		if m := highestRE.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[1])
			return n
		}
	}
	t.Fatalf("no HIGHESTMODSEQ in %q", lines)
	return 0
}

func n(i int) string { return strconv.Itoa(i) }

// TestCondstore follows the CONDSTORE examples of RFC 7162 §3.1.
func TestCondstore(t *testing.T) {
	e := newEnv(t)
	for range 9 {
		e.b.deliver("alice", "INBOX", msg("m", "x"))
	}
	c := e.login("alice")
	out := c.ok("SELECT INBOX (CONDSTORE)")
	h := highest(t, out) // 10: the box starts at 1, each delivery adds one
	assert.Equal(t, 10, h)

	// UNCHANGEDSINCE with .SILENT: the new mod-sequences are reported.
	out = c.ok(`UID STORE 6,4,8 (UNCHANGEDSINCE ` + n(h) + `) +FLAGS.SILENT (\Deleted)`)
	assert.Equal(t, []string{
		"* 4 FETCH (UID 4 MODSEQ (11))",
		"* 6 FETCH (UID 6 MODSEQ (12))",
		"* 8 FETCH (UID 8 MODSEQ (13))",
	}, untagged(out))
	assert.Equal(t, "OK UID STORE completed", tagged(out))

	// Another session changes 7 and 9; a conditional STORE fails for them.
	other := e.selectInbox()
	other.ok(`STORE 7,9 +FLAGS (\Seen)`)
	out = c.ok(`STORE 7,5,9 (UNCHANGEDSINCE 13) +FLAGS.SILENT (\Deleted)`)
	assert.Equal(t, "OK [MODIFIED 7,9] Conditional STORE failed", tagged(out))
	assert.Contains(t, out, "* 5 FETCH (UID 5 MODSEQ (16))")
	// Its own session also hears about the other's change.
	assert.Contains(t, out, `* 7 FETCH (UID 7 FLAGS (\Seen) MODSEQ (14))`)

	// UNCHANGEDSINCE 0 always fails.
	assert.Equal(t, "OK [MODIFIED 1] Conditional STORE failed", tagged(c.ok(`STORE 1 (UNCHANGEDSINCE 0) +FLAGS (\Seen)`)))

	// FETCH CHANGEDSINCE returns only what changed, with MODSEQ.
	out = c.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE 13)")
	assert.Equal(t, []string{
		`* 5 FETCH (UID 5 FLAGS (\Deleted) MODSEQ (16))`,
		`* 7 FETCH (UID 7 FLAGS (\Seen) MODSEQ (14))`,
		`* 9 FETCH (UID 9 FLAGS (\Seen) MODSEQ (15))`,
	}, untagged(out))

	// SEARCH MODSEQ reports the highest mod-sequence of the matches.
	assert.Equal(t, []string{"* SEARCH 5 7 9 (MODSEQ 16)"}, untagged(c.ok(`SEARCH MODSEQ "/flags/\\deleted" all 14`)))
	assert.Equal(t, []string{"* SEARCH"}, untagged(c.ok(`SEARCH MODSEQ 100`)))
	assert.Equal(t, []string{`* ESEARCH (TAG "t9") MAX 9 MODSEQ 16`}, untagged(c.ok(`SEARCH RETURN (MAX) MODSEQ 14`)))

	// EXPUNGE answers with the new HIGHESTMODSEQ.
	out = c.ok("EXPUNGE")
	assert.Equal(t, []string{"* 8 EXPUNGE", "* 6 EXPUNGE", "* 5 EXPUNGE", "* 4 EXPUNGE"}, untagged(out))
	assert.Equal(t, "OK [HIGHESTMODSEQ 17] EXPUNGE completed", tagged(out))
}

// TestCondstoreEnabledByCommand: the first CONDSTORE-enabling command in
// the selected state announces HIGHESTMODSEQ (RFC 7162 §3.1).
func TestCondstoreEnabledByCommand(t *testing.T) {
	e := newEnv(t)
	e.b.deliver("alice", "INBOX", msg("m", "x"))
	c := e.selectInbox()
	out := c.ok("FETCH 1 (FLAGS) (CHANGEDSINCE 1)")
	assert.Equal(t, []string{"* OK [HIGHESTMODSEQ 2] Highest", "* 1 FETCH (FLAGS () MODSEQ (2))"}, untagged(out))
	assert.Equal(t, []string{"* 1 FETCH (FLAGS () MODSEQ (2))"}, untagged(c.ok("FETCH 1 (FLAGS)")))
}

// TestQresync follows RFC 7162 §3.2: SELECT (QRESYNC ...) reports what
// changed and vanished since the client's mod-sequence.
func TestQresync(t *testing.T) {
	e := newEnv(t)
	for range 6 {
		e.b.deliver("alice", "INBOX", msg("m", "x"))
	}
	c := e.login("alice")
	assert.Regexp(t, "^BAD ", tagged(c.do("SELECT INBOX (QRESYNC (1 1))")), "QRESYNC must be enabled")
	c.ok("ENABLE QRESYNC")
	out := c.ok("SELECT INBOX")
	h := highest(t, out)
	var uidValidity string
	for _, l := range out {
		if m := regexp.MustCompile(`UIDVALIDITY (\d+)`).FindStringSubmatch(l); m != nil {
			uidValidity = m[1]
		}
	}
	require.NotEmpty(t, uidValidity)
	c.ok("LOGOUT")

	// Meanwhile: 2 and 4 expunged, 5 flagged, 7 arrives.
	other := e.selectInbox()
	other.ok(`STORE 2,4 +FLAGS.SILENT (\Deleted)`)
	other.ok("EXPUNGE")
	other.ok(`UID STORE 5 +FLAGS.SILENT (\Flagged)`)
	e.b.deliver("alice", "INBOX", msg("new", "y"))

	c = e.login("alice")
	c.ok("ENABLE QRESYNC")
	out = c.ok("SELECT INBOX (QRESYNC (" + uidValidity + " " + n(h) + "))")
	got := untagged(out)
	assert.Contains(t, got, "* VANISHED (EARLIER) 2,4")
	assert.Contains(t, got, `* 3 FETCH (UID 5 FLAGS (\Flagged) MODSEQ (11))`)
	assert.Contains(t, got, `* 5 FETCH (UID 7 FLAGS (\Recent) MODSEQ (12))`, "7 arrived since any session selected INBOX")
	assert.Equal(t, "* 5 EXISTS", got[2])

	// Known UIDs narrow VANISHED, and the flag changes reported.
	out = c.ok("SELECT INBOX (QRESYNC (" + uidValidity + " " + n(h) + " 1:3))")
	assert.Equal(t, "* OK [CLOSED] Previous mailbox closed", out[0])
	assert.Contains(t, untagged(out), "* VANISHED (EARLIER) 2")
	assert.NotContains(t, untagged(out), "* VANISHED (EARLIER) 2,4")
	for _, l := range out {
		assert.NotContains(t, l, "FETCH", "UIDs 5 and 7 changed but are not among the known UIDs")
	}
	out = c.ok("SELECT INBOX (QRESYNC (" + uidValidity + " " + n(h) + " 5:6))")
	assert.Contains(t, untagged(out), `* 3 FETCH (UID 5 FLAGS (\Flagged) MODSEQ (11))`)
	assert.NotContains(t, untagged(out), "* 5 FETCH (UID 7 FLAGS () MODSEQ (12))")

	// A different UIDVALIDITY: no resynchronisation data.
	out = c.ok("SELECT INBOX (QRESYNC (1 " + n(h) + "))")
	for _, l := range out {
		assert.NotContains(t, l, "VANISHED")
		assert.NotContains(t, l, "FETCH")
	}

	// With QRESYNC, expunges are VANISHED, not EXPUNGE.
	other.ok(`STORE 1 +FLAGS.SILENT (\Deleted)`)
	other.ok("EXPUNGE")
	assert.Equal(t, []string{"* VANISHED 1"}, untagged(c.ok("NOOP")))
	c.ok(`UID STORE 3 +FLAGS.SILENT (\Deleted)`)
	out = c.ok("UID EXPUNGE 3")
	assert.Equal(t, []string{"* VANISHED 3"}, untagged(out))

	// UID FETCH ... (CHANGEDSINCE n VANISHED).
	out = c.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE " + n(h) + " VANISHED)")
	got = untagged(out)
	require.NotEmpty(t, got)
	assert.Equal(t, "* VANISHED (EARLIER) 1:4", got[0])
	assert.Contains(t, got, "* 3 FETCH (UID 7 FLAGS () MODSEQ (12))")
	assert.Regexp(t, "^BAD ", tagged(c.do("FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)")), "VANISHED needs UID FETCH")
}

func TestQresyncVanishedNeedsEnable(t *testing.T) {
	e := newEnv(t)
	e.b.deliver("alice", "INBOX", msg("m", "x"))
	c := e.selectInbox()
	assert.Regexp(t, "^BAD ", tagged(c.do("UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)")))
	assert.True(t, strings.HasPrefix(tagged(c.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1)")), "OK"))
}

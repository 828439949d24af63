package imap4

import (
	"cmp"
	"slices"
	"sync"
	"time"
)

// The \Recent flag (RFC 3501 §2.3.2): a message is recent in the first
// session that learns of it; once a read-write session has, later sessions
// see it without \Recent. IMAP4rev2 dropped the flag, but rev1 clients
// still count RECENT and search NEW.
//
// Backends know nothing of it: the Server keeps, per user, mailbox and
// UIDVALIDITY, the highest UID a read-write session has claimed (every
// UID up to it has been seen). UIDs only grow, so a session claims the
// run of UIDs above that mark it has just learnt of, in one step.
//
// The marks live in memory. For a mailbox the Server has not seen since it
// started (or has forgotten, see maxRecentMarks), the mark starts below
// the first message (in UID order) that arrived after the Server started
// (by its internal date), or that the Server itself added (APPEND, COPY,
// MOVE, whatever their dates): mail that came while it ran is recent, mail
// from before is not. RFC 3501 asks that a message be considered recent
// when the server cannot tell; calling a whole mailbox recent after every
// restart would make the count meaningless.

// maxRecentMarks bounds the marks a Server keeps; past it, the least
// recently used half is forgotten.
const maxRecentMarks = 100_000

type recentKey struct {
	user, mailbox string
	uidValidity   uint32
}

type recentMark struct {
	claimed UID    // every UID up to this one has been claimed
	used    uint64 // tracker clock at the last use, for forgetting
	// added: the mark is not made yet, but the Server itself added
	// messages to the mailbox, the lowest of them claimed+1 (see added).
	added bool
}

// recentTracker holds a Server's marks. The zero value is ready; the start
// time is set by the first Serve (or the first use).
type recentTracker struct {
	mu    sync.Mutex
	start time.Time
	marks map[recentKey]*recentMark
	clock uint64
	// adding counts the sessions adding messages to a mailbox they have
	// selected (by user and mailbox name): meanwhile no other session
	// claims, so that the new messages are the adding session's, as in
	// Dovecot, whoever learns of them first.
	adding map[[2]string]int
}

// started records when the Server started, once.
func (t *recentTracker) started(now time.Time) {
	t.mu.Lock()
	if t.start.IsZero() {
		t.start = now
	}
	t.mu.Unlock()
}

// claim gives the session the UIDs it learns of now, from through to
// (both within the view, from the first new one to the view's last): it
// returns the first UID of the run that is recent for it (to+1 when none
// is). A read-write session takes them from every other session; a
// read-only one (EXAMINE) leaves them recent for the next. first is
// called, only when the mailbox has no mark yet, for the UID below the
// first message that arrived after the Server started.
func (t *recentTracker) claim(k recentKey, from, to UID, readOnly bool, first func(since time.Time) UID) UID {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.markLocked(k, first)
	if t.adding[[2]string{k.user, k.mailbox}] > 0 {
		return to + 1 // the messages being added are the adder's
	}
	lo := max(from, m.claimed+1)
	if !readOnly && to > m.claimed {
		m.claimed = to
	}
	if lo > to {
		return to + 1
	}
	return lo
}

// claimed returns the mailbox's mark: the UIDs above it are recent for
// the next session (STATUS RECENT).
func (t *recentTracker) claimed(k recentKey, first func(since time.Time) UID) UID {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.markLocked(k, first).claimed
}

// peek returns the mailbox's mark, if it has one.
func (t *recentTracker) peek(k recentKey) (UID, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if m := t.marks[k]; m != nil && !m.added {
		return m.claimed, true
	}
	return 0, false
}

// added notes messages the Server itself put into a mailbox (APPEND, COPY,
// MOVE), lowest being the lowest UID: they are new, whatever internal
// date they carry. It matters only while the mailbox has no mark: when
// the mark is made, they stay above it.
func (t *recentTracker) added(k recentKey, lowest UID) {
	if lowest == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.marks[k]
	switch {
	case m == nil:
		t.newMarkLocked(k, &recentMark{claimed: lowest - 1, added: true})
	case m.added:
		m.claimed = min(m.claimed, lowest-1)
	}
}

// beginAdding notes that a session is about to add messages to a mailbox
// it has selected; endAdding undoes it, first giving the session the UIDs
// lo through hi (none when lo is 0) unless readOnly.
func (t *recentTracker) beginAdding(user, mailbox string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.adding == nil {
		t.adding = make(map[[2]string]int)
	}
	t.adding[[2]string{user, mailbox}]++
}

func (t *recentTracker) endAdding(k recentKey, lo, hi UID, readOnly bool, first func(since time.Time) UID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	a := [2]string{k.user, k.mailbox}
	if t.adding[a]--; t.adding[a] <= 0 {
		delete(t.adding, a)
	}
	if lo == 0 || readOnly {
		return
	}
	m := t.markLocked(k, first)
	m.claimed = max(m.claimed, hi)
}

// newMarkLocked adds a mark, forgetting old ones first when there are too
// many.
func (t *recentTracker) newMarkLocked(k recentKey, m *recentMark) {
	if t.marks == nil {
		t.marks = make(map[recentKey]*recentMark)
	}
	if len(t.marks) >= maxRecentMarks {
		t.forgetLocked()
	}
	t.clock++
	m.used = t.clock
	t.marks[k] = m
}

// markLocked returns the mailbox's mark, making it if needed.
func (t *recentTracker) markLocked(k recentKey, first func(since time.Time) UID) *recentMark {
	if t.start.IsZero() {
		t.start = time.Now()
	}
	m := t.marks[k]
	switch {
	case m == nil:
		m = &recentMark{claimed: first(t.start)}
		t.newMarkLocked(k, m)
	case m.added:
		m.claimed, m.added = min(m.claimed, first(t.start)), false
	}
	t.clock++
	m.used = t.clock
	return m
}

// forgetLocked drops the least recently used half of the marks.
func (t *recentTracker) forgetLocked() {
	uses := make([]uint64, 0, len(t.marks))
	for _, m := range t.marks {
		uses = append(uses, m.used)
	}
	slices.Sort(uses)
	cut := uses[len(uses)/2]
	for k, m := range t.marks {
		if m.used < cut {
			delete(t.marks, k)
		}
	}
}

// firstAfter returns, for a view's ascending UIDs and packed internal
// dates, the UID below the first message that arrived at or after since
// (the last UID when none did).
func firstAfter(uids []UID, dates []int64, since time.Time) UID {
	s := since.Unix()
	for i := range uids {
		if dates[i]>>16 >= s {
			if i == 0 {
				return 0
			}
			return uids[i-1]
		}
	}
	if len(uids) == 0 {
		return 0
	}
	return uids[len(uids)-1]
}

// firstAfterMeta is firstAfter for the messages of a SyncData.
func firstAfterMeta(msgs []MessageMeta, since time.Time) UID {
	var below UID
	for i := range msgs {
		if !msgs[i].InternalDate.Before(since.Truncate(time.Second)) {
			return below
		}
		below = msgs[i].UID
	}
	return below
}

// A uidRange is the UIDs lo through hi.
type uidRange struct{ lo, hi UID }

// isRecent reports whether uid is recent in this session.
func (s *selected) isRecent(uid UID) bool {
	i, _ := slices.BinarySearchFunc(s.recent, uid, func(r uidRange, u UID) int {
		switch {
		case r.hi < u:
			return -1
		case r.lo > u:
			return 1
		}
		return 0
	})
	return i < len(s.recent) && s.recent[i].lo <= uid && uid <= s.recent[i].hi
}

// recentCount counts the messages of the view recent in this session.
func (s *selected) recentCount() int {
	n := 0
	for _, r := range s.recent {
		lo, _ := slices.BinarySearch(s.uids, r.lo)
		hi, found := slices.BinarySearch(s.uids, r.hi)
		if found {
			hi++
		}
		n += hi - lo
	}
	return n
}

// claimRecent claims, for the session, the messages of the view from UID
// from on, which it has just learnt of.
func (c *conn) claimRecent(from UID) {
	sel := c.sel
	to := sel.lastUID()
	// Even with nothing new, claim: the mailbox gets its mark now (at
	// SELECT), so that what arrives later is recent whatever its date.
	k := recentKey{user: c.id.Username, mailbox: sel.name, uidValidity: sel.uidValidity}
	lo := c.s.recent.claim(k, from, to, sel.readOnly, func(since time.Time) UID {
		return firstAfter(sel.uids, sel.dates, since)
	})
	if lo <= to {
		sel.addRecent(lo, to)
	}
}

// appendFlags appends the flag list of message i, with \Recent first when
// it is recent in this session (IMAP4rev1 only: rev2 has no \Recent).
func (c *conn) appendFlags(b []byte, i int) []byte {
	sel := c.sel
	r := sel.ft.sets[sel.flags[i]].rendered
	if c.rev2 || len(sel.recent) == 0 || !sel.isRecent(sel.uids[i]) {
		return append(b, r...)
	}
	b = append(b, `(\Recent`...)
	if len(r) > 2 {
		b = append(b, ' ')
		return append(b, r[1:]...)
	}
	return append(b, ')')
}

// statusRecent is STATUS RECENT: the session's own count for the selected
// mailbox; for another, the messages no read-write session has learnt of
// yet. Only then is the mailbox opened, to know their UIDs.
func (c *conn) statusRecent(name string, st *MailboxStatus) uint64 {
	if sel := c.sel; sel != nil && sel.name == name && sel.uidValidity == st.UIDValidity {
		return uint64(sel.recentCount())
	}
	if st.Messages == 0 {
		return 0
	}
	k := recentKey{user: c.id.Username, mailbox: name, uidValidity: st.UIDValidity}
	if m, ok := c.s.recent.peek(k); ok && m >= st.UIDNext-1 {
		return 0
	}
	mb, err := c.user.OpenMailbox(c.nc.Ctx, name)
	if err != nil || mb == nil {
		return 0 // the other items are still worth answering
	}
	defer mb.Close()
	sd, err := syncMailbox(c.nc.Ctx, mb, 0)
	if err != nil || sd.UIDValidity != st.UIDValidity {
		return 0
	}
	mark := c.s.recent.claimed(k, func(since time.Time) UID { return firstAfterMeta(sd.Messages, since) })
	i, _ := slices.BinarySearchFunc(sd.Messages, mark+1, func(m MessageMeta, u UID) int { return cmp.Compare(m.UID, u) })
	return uint64(len(sd.Messages) - i)
}

// lowestUID returns the lowest non-zero UID of uids (0 if none is).
func lowestUID(uids []UID) UID {
	var lo UID
	for _, u := range uids {
		if u != 0 && (lo == 0 || u < lo) {
			lo = u
		}
	}
	return lo
}

// tellRecent sends "* n RECENT" to an IMAP4rev1 client when the number of
// messages recent in its session changed (new ones, or expunged ones), as
// RFC 3501 §7.3.2 asks and Dovecot does.
func (c *conn) tellRecent() {
	sel := c.sel
	if c.rev2 || sel == nil {
		return
	}
	if r := sel.recentCount(); r != sel.recentTold {
		c.enc.Raw("* ").Number(uint64(r)).Raw(" RECENT").CRLF()
		sel.recentTold = r
	}
}

// An addition is a command adding messages to a mailbox (APPEND, COPY,
// MOVE). New messages are recent for the next session to learn of them;
// but when the mailbox is the session's selected one, they are this
// session's (as in Dovecot), and other sessions do not claim any message
// of the mailbox while the addition runs.
type addition struct {
	c     *conn
	name  string
	sel   *selected // the selected mailbox, when it is the one added to
	ended bool
}

// adding starts an addition to mailbox name; done or end must follow
// (end is safe to defer).
func (c *conn) adding(name string) *addition {
	a := &addition{c: c, name: name}
	if c.sel != nil && c.sel.name == name {
		a.sel = c.sel
		c.s.recent.beginAdding(c.id.Username, name)
	}
	return a
}

// done ends the addition with the UIDs added.
func (a *addition) done(uidValidity uint32, uids []UID) {
	if a.ended {
		return
	}
	a.ended = true
	c, sel := a.c, a.sel
	k := recentKey{user: c.id.Username, mailbox: a.name, uidValidity: uidValidity}
	lo, hi := lowestUID(uids), UID(0)
	for _, u := range uids {
		hi = max(hi, u)
	}
	if uidValidity != 0 && lo != 0 {
		c.s.recent.added(k, lo)
	}
	if sel == nil {
		return
	}
	if uidValidity == 0 || uidValidity != sel.uidValidity || c.sel != sel {
		lo = 0
	}
	c.s.recent.endAdding(k, lo, hi, sel.readOnly, func(since time.Time) UID {
		return firstAfter(sel.uids, sel.dates, since)
	})
	if lo != 0 && !sel.readOnly {
		sel.addRecent(lo, hi)
	}
}

// end ends the addition without claiming (it failed), unless done did.
func (a *addition) end() {
	if a.ended {
		return
	}
	a.ended = true
	if a.sel != nil {
		a.c.s.recent.endAdding(recentKey{user: a.c.id.Username, mailbox: a.name}, 0, 0, true, nil)
	}
}

// addRecent adds the UIDs lo through hi to the session's recent ones,
// keeping the ranges sorted and disjoint.
func (s *selected) addRecent(lo, hi UID) {
	if n := len(s.recent); n > 0 && s.recent[n-1].hi < lo {
		if s.recent[n-1].hi+1 == lo {
			s.recent[n-1].hi = hi // the common case: the next run
		} else {
			s.recent = append(s.recent, uidRange{lo, hi})
		}
		return
	}
	s.recent = append(s.recent, uidRange{lo, hi})
	slices.SortFunc(s.recent, func(a, b uidRange) int { return cmp.Compare(a.lo, b.lo) })
	out := s.recent[:1]
	for _, r := range s.recent[1:] {
		if last := &out[len(out)-1]; r.lo <= last.hi+1 {
			last.hi = max(last.hi, r.hi)
		} else {
			out = append(out, r)
		}
	}
	s.recent = out
}

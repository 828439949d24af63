package imap4

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/mailfront/mailfront/imap4/internal/imapmsg"
	"github.com/mailfront/mailfront/imap4/internal/imapwire"
)

// Flag bits, for the flags the server itself looks at.
const (
	bitSeen uint8 = 1 << iota
	bitAnswered
	bitFlagged
	bitDeleted
	bitDraft
)

var systemFlags = [...]struct {
	name string
	bit  uint8
}{
	{FlagSeen, bitSeen}, {FlagAnswered, bitAnswered}, {FlagFlagged, bitFlagged},
	{FlagDeleted, bitDeleted}, {FlagDraft, bitDraft},
}

// A flagSet is one distinct combination of flags in the selected mailbox.
// Messages refer to their set by index, so the view holds one uint32 per
// message for its flags, and FETCH FLAGS copies a pre-rendered list.
type flagSet struct {
	flags    []string
	rendered []byte // "(\Seen $Junk)"
	bits     uint8
}

// A flagTable interns the flag sets of a mailbox.
type flagTable struct {
	sets     []flagSet
	index    map[string]uint32
	keywords []string            // keywords in use, in order of appearance
	kwIndex  map[string]struct{} // lower-cased keywords in use
	newKW    bool                // a keyword appeared since the last FLAGS response
	key      []byte

	// empty is the set of no flags, once interned (emptyOK).
	empty   uint32
	emptyOK bool
	// last are the two slices internRun interned last, and their sets: a
	// backend may share one slice between messages with equal flags, and
	// runs of such messages (or of two kinds, seen and unseen) are
	// common. Valid only within one SyncData (see startRun): a backend
	// may reuse its memory afterwards.
	last    [2][]string
	lastIdx [2]uint32
}

// startRun starts interning the flags of one SyncData with internRun.
func (t *flagTable) startRun() { t.last = [2][]string{} }

// internRun is intern for the messages of one SyncData: a slice that is
// the very one of a message before (same memory and length) holds the
// same flags, and needs no lookup.
func (t *flagTable) internRun(flags []string) uint32 {
	if len(flags) == 0 {
		if !t.emptyOK {
			t.empty, t.emptyOK = t.intern(nil), true
		}
		return t.empty
	}
	p := unsafe.SliceData(flags)
	for k := range t.last {
		if len(flags) == len(t.last[k]) && p == unsafe.SliceData(t.last[k]) {
			return t.lastIdx[k]
		}
	}
	i := t.intern(flags)
	t.last[1], t.lastIdx[1] = t.last[0], t.lastIdx[0]
	t.last[0], t.lastIdx[0] = flags, i
	return i
}

// intern returns the index of the set holding exactly flags (in that
// order), adding it if needed. Looking up a known set allocates nothing.
func (t *flagTable) intern(flags []string) uint32 {
	key := t.key[:0]
	for i, f := range flags {
		if i > 0 {
			key = append(key, 0)
		}
		key = append(key, f...)
	}
	t.key = key
	if i, ok := t.index[string(key)]; ok {
		return i
	}
	if t.index == nil {
		t.index = make(map[string]uint32)
		t.kwIndex = make(map[string]struct{})
	}
	fs := flagSet{flags: flags}
	fs.rendered = append(fs.rendered, '(')
	n := 0
	for _, f := range flags {
		if !validFlag(f) {
			continue // never put a broken atom on the wire
		}
		isSystem := false
		for _, sf := range systemFlags {
			if strings.EqualFold(f, sf.name) {
				fs.bits |= sf.bit
				f = sf.name
				isSystem = true
			}
		}
		if !isSystem && f[0] != '\\' {
			lower := strings.ToLower(f)
			if _, ok := t.kwIndex[lower]; !ok {
				t.kwIndex[lower] = struct{}{}
				t.keywords = append(t.keywords, f)
				t.newKW = true
			}
		}
		if n > 0 {
			fs.rendered = append(fs.rendered, ' ')
		}
		fs.rendered = append(fs.rendered, f...)
		n++
	}
	fs.rendered = append(fs.rendered, ')')
	t.sets = append(t.sets, fs)
	i := uint32(len(t.sets) - 1)
	t.index[string(key)] = i
	return i
}

// validFlag reports whether f can be sent as a flag: an atom, optionally
// after one backslash.
func validFlag(f string) bool {
	s := strings.TrimPrefix(f, `\`)
	if s == "" || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c <= ' ' || c >= 0x7f, c == '(' || c == ')' || c == '{' || c == '%' || c == '*' || c == '"' || c == '\\' || c == ']':
			return false
		}
	}
	return true
}

// selected is the selected mailbox and the session's view of it: the
// messages as the client knows them, in sequence-number order, kept in
// parallel flat slices (index = sequence number - 1).
type selected struct {
	mb       Mailbox
	name     string
	readOnly bool
	mover    Mover
	cache    StructureCache
	searcher Searcher
	watch    <-chan struct{}

	uidValidity uint32
	uidNext     UID
	highest     ModSeq // the mailbox's HIGHESTMODSEQ the view reflects
	exists      int    // the message count the client was last told

	uids    []UID
	flags   []uint32 // index into ft.sets
	modseqs []ModSeq
	sizes   []int64
	dates   []int64 // packed internal dates, see packDate

	ft      flagTable
	pending []UID // expunged elsewhere, not yet reported (ascending)
	saved   []UID // the SEARCHRES result, "$"
	changed []UID // scratch: messages whose changes are to be reported

	recent     []uidRange // UIDs recent in this session (see recent.go)
	recentTold int        // the RECENT count the client was last told

	structs map[UID]*imapmsg.Structure // parsed structures of this session
}

// maxSessionStructs bounds the structures a session keeps.
const maxSessionStructs = 512

// packDate packs a time into Unix seconds and a zone offset in minutes.
func packDate(t time.Time) int64 {
	_, off := t.Zone()
	return t.Unix()<<16 | int64(uint16(int16(off/60)))
}

// A dateCache packs many dates as packDate does, looking a zone up only
// when a date leaves the span of time in which the last one's zone was in
// effect (looking up time.Local for each of 100,000 messages at SELECT
// would be most of its cost).
type dateCache struct {
	loc    *time.Location
	lo, hi int64 // the zone's span [lo, hi), Unix seconds
	off    int64 // its offset in minutes
}

func (c *dateCache) pack(t time.Time) int64 {
	u := t.Unix()
	if loc := t.Location(); loc != c.loc || u < c.lo || u >= c.hi {
		_, off := t.Zone()
		start, end := t.ZoneBounds()
		c.loc, c.off, c.lo, c.hi = loc, int64(off/60), math.MinInt64, math.MaxInt64
		if !start.IsZero() {
			c.lo = start.Unix()
		}
		if !end.IsZero() {
			c.hi = end.Unix()
		}
	}
	return u<<16 | int64(uint16(int16(c.off)))
}

// appendDate appends a packed date as an IMAP date-time, without
// allocating.
func appendDate(dst []byte, v int64) []byte {
	unix, offMin := v>>16, int64(int16(v&0xffff))
	t := time.Unix(unix+offMin*60, 0).UTC()
	year, month, day := t.Date()
	h, m, s := t.Clock()
	dst = append(dst, '"', byte('0'+day/10), byte('0'+day%10), '-')
	dst = append(dst, monthNames[month-1]...)
	dst = append(dst, '-')
	dst = appendDigits(dst, year, 4)
	dst = append(dst, ' ')
	dst = appendDigits(dst, h, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, m, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, s, 2)
	sign := byte('+')
	if offMin < 0 {
		sign, offMin = '-', -offMin
	}
	dst = append(dst, ' ', sign)
	dst = appendDigits(dst, int(offMin/60), 2)
	dst = appendDigits(dst, int(offMin%60), 2)
	return append(dst, '"')
}

var monthNames = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

func appendDigits(dst []byte, v, width int) []byte {
	var b [8]byte
	i := len(b)
	for w := 0; w < width || v > 0; w++ {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if i == 0 {
			break
		}
	}
	return append(dst, b[i:]...)
}

// dayOf returns the day of message i's internal date, in the date's own
// time zone, as days since 1970-01-01 (SEARCH BEFORE, ON, SINCE compare
// dates "disregarding time and timezone").
func (s *selected) dayOf(i int) int64 {
	v := s.dates[i]
	local := v>>16 + int64(int16(v&0xffff))*60
	return floorDiv(local, 86400)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// build fills a new view with the messages of Sync(0), reusing the
// memory of prev (the view of the mailbox selected before, no longer in
// use) where it is large enough: a client that SELECTs a large mailbox
// again and again then costs no allocation.
func (s *selected) build(msgs []MessageMeta, prev *selected) {
	n := len(msgs)
	if prev != nil && cap(prev.uids) >= n && cap(prev.flags) >= n && cap(prev.modseqs) >= n &&
		cap(prev.sizes) >= n && cap(prev.dates) >= n {
		s.uids, s.flags, s.modseqs, s.sizes, s.dates = prev.uids[:n], prev.flags[:n], prev.modseqs[:n], prev.sizes[:n], prev.dates[:n]
	} else {
		s.uids, s.flags, s.modseqs = make([]UID, n), make([]uint32, n), make([]ModSeq, n)
		s.sizes, s.dates = make([]int64, n), make([]int64, n)
	}
	uids, flags, modseqs, sizes, dates := s.uids, s.flags, s.modseqs, s.sizes, s.dates
	s.ft.startRun()
	var dc dateCache
	k := 0
	for i := range msgs {
		m := &msgs[i]
		if k > 0 && m.UID <= uids[k-1] {
			continue // not ascending: a backend bug; keep the view sane
		}
		uids[k] = m.UID
		flags[k] = s.ft.internRun(m.Flags)
		modseqs[k] = m.ModSeq
		sizes[k] = m.Size
		dates[k] = dc.pack(m.InternalDate)
		k++
	}
	s.uids, s.flags, s.modseqs, s.sizes, s.dates = uids[:k], flags[:k], modseqs[:k], sizes[:k], dates[:k]
}

// add appends a message of a SyncData to the view (after ft.startRun).
func (s *selected) add(m *MessageMeta) {
	s.uids = append(s.uids, m.UID)
	s.flags = append(s.flags, s.ft.internRun(m.Flags))
	s.modseqs = append(s.modseqs, m.ModSeq)
	s.sizes = append(s.sizes, m.Size)
	s.dates = append(s.dates, packDate(m.InternalDate))
}

// find returns the index of uid in the view.
func (s *selected) find(uid UID) (int, bool) {
	return slices.BinarySearch(s.uids, uid)
}

// lastUID returns the largest UID in the view, 0 if empty.
func (s *selected) lastUID() UID {
	if len(s.uids) == 0 {
		return 0
	}
	return s.uids[len(s.uids)-1]
}

// bits returns the system flag bits of message i.
func (s *selected) bits(i int) uint8 { return s.ft.sets[s.flags[i]].bits }

// remove drops the messages at the given ascending indexes from the view,
// in one pass.
func (s *selected) remove(idx []int) {
	if len(idx) == 0 {
		return
	}
	w := idx[0]
	k := 0
	for r := idx[0]; r < len(s.uids); r++ {
		if k < len(idx) && idx[k] == r {
			k++
			continue
		}
		s.uids[w], s.flags[w], s.modseqs[w], s.sizes[w], s.dates[w] = s.uids[r], s.flags[r], s.modseqs[r], s.sizes[r], s.dates[r]
		w++
	}
	s.uids, s.flags, s.modseqs, s.sizes, s.dates = s.uids[:w], s.flags[:w], s.modseqs[:w], s.sizes[:w], s.dates[:w]
}

// errNoData is a backend bug: a nil result without an error.
var errNoData = errors.New("imap4: backend returned neither data nor an error")

// syncMailbox calls Mailbox.Sync, refusing a nil result.
func syncMailbox(ctx context.Context, mb Mailbox, since ModSeq) (*SyncData, error) {
	sd, err := mb.Sync(ctx, since)
	if err == nil && sd == nil {
		err = errNoData
	}
	return sd, err
}

// setFlags calls Mailbox.SetFlags, accepting a nil result as "nothing
// changed".
func setFlags(ctx context.Context, mb Mailbox, uids []UID, op StoreOp, flags []string, opts *StoreOptions) (*StoreResult, error) {
	res, err := mb.SetFlags(ctx, uids, op, flags, opts)
	if err == nil && res == nil {
		res = &StoreResult{}
	}
	return res, err
}

// span is a run of view indexes [lo, hi).
type span struct{ lo, hi int }

// resolve turns a sequence set (of UIDs when uid) into runs of view
// indexes, ascending and without overlap. A sequence number beyond the
// mailbox is an error (BAD); UIDs that are not in the view are skipped.
func (s *selected) resolve(set imapwire.SeqSet, uid bool) ([]span, error) {
	if set.Saved {
		return s.spansOf(s.saved), nil
	}
	var out []span
	if uid {
		for _, r := range set.Resolve(uint32(s.lastUID())) {
			lo, _ := slices.BinarySearch(s.uids, UID(r.Start))
			hi, found := slices.BinarySearch(s.uids, UID(r.Stop))
			if found {
				hi++
			}
			if lo < hi {
				out = append(out, span{lo, hi})
			}
		}
		return out, nil
	}
	n := uint32(len(s.uids))
	if n == 0 && set.HasStar() {
		return nil, nil // "1:*" in an empty mailbox: nothing, not an error
	}
	if set.MaxNumber() > n {
		return nil, bad("", "Invalid sequence number: the mailbox has "+itoa(uint64(n))+" messages")
	}
	for _, r := range set.Resolve(n) {
		out = append(out, span{int(r.Start) - 1, int(r.Stop)})
	}
	return out, nil
}

// spansOf returns the runs of view indexes holding the given ascending
// UIDs (those still in the view).
func (s *selected) spansOf(uids []UID) []span {
	var out []span
	for _, u := range uids {
		i, ok := s.find(u)
		if !ok {
			continue
		}
		if n := len(out); n > 0 && out[n-1].hi == i {
			out[n-1].hi++
		} else {
			out = append(out, span{i, i + 1})
		}
	}
	return out
}

// uidsIn returns the UIDs of the messages in spans.
func (s *selected) uidsIn(spans []span) []UID {
	n := 0
	for _, sp := range spans {
		n += sp.hi - sp.lo
	}
	out := make([]UID, 0, n)
	for _, sp := range spans {
		out = append(out, s.uids[sp.lo:sp.hi]...)
	}
	return out
}

func itoa(n uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

package memstore

import (
	"cmp"
	"slices"

	"github.com/mailfront/mailfront/imap4"
)

// A change records that a message got a ModSeq (it arrived or its flags
// changed).
type change struct {
	modseq imap4.ModSeq
	uid    imap4.UID
}

// changeLog lets Sync(since) find the messages changed after since without
// scanning the mailbox: what an IDLE wake-up costs is then proportional to
// the changes, not to the mailbox size.
//
// Entries are in ModSeq order. The invariant: every message in the mailbox
// has an entry with its current ModSeq. Older entries (of messages changed
// again, or expunged) are stale; when they outnumber the messages, the log
// is rebuilt with one entry per message.
type changeLog struct {
	entries []change
}

// record notes that uid got modseq, which is at least every ModSeq
// recorded before.
func (l *changeLog) record(uid imap4.UID, modseq imap4.ModSeq, msgs []message) {
	l.entries = append(l.entries, change{modseq, uid})
	if len(l.entries) > 2*len(msgs)+1024 {
		l.compact(msgs)
	}
}

// compact rebuilds the log with one entry per message. Sorting the
// mailbox's (ModSeq, UID) pairs is cheaper than checking each old entry
// against the mailbox, whose messages are large and far apart in memory.
func (l *changeLog) compact(msgs []message) {
	if cap(l.entries) < len(msgs) || cap(l.entries) > 4*len(msgs)+2048 {
		l.entries = make([]change, 0, 2*len(msgs)+1024)
	}
	l.entries = l.entries[:0]
	for i := range msgs {
		l.entries = append(l.entries, change{msgs[i].modseq, msgs[i].uid})
	}
	slices.SortFunc(l.entries, func(a, b change) int { return cmp.Compare(a.modseq, b.modseq) })
}

// since returns the indexes in msgs of the messages whose ModSeq is above
// modseq, in UID order, or ok false if that is a large part of the
// mailbox and a scan is cheaper.
func (l *changeLog) since(modseq imap4.ModSeq, msgs []message) (idx []int, ok bool) {
	i, _ := slices.BinarySearchFunc(l.entries, modseq+1, func(c change, m imap4.ModSeq) int {
		return cmp.Compare(c.modseq, m)
	})
	recent := l.entries[i:]
	if len(recent) > len(msgs)/8 {
		return nil, false
	}
	uids := make([]imap4.UID, len(recent))
	for j, c := range recent {
		uids[j] = c.uid
	}
	slices.Sort(uids)
	for _, uid := range slices.Compact(uids) {
		if j, found := slices.BinarySearchFunc(msgs, uid, cmpMessageUID); found && msgs[j].modseq > modseq {
			idx = append(idx, j)
		}
	}
	return idx, true
}

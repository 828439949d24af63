package memstore

import (
	"cmp"
	"slices"

	"github.com/mailfront/mailfront/imap4"
)

// defaultExpungeHistory is the default of Store.ExpungeHistory.
const defaultExpungeHistory = 4096

// A tombstone records one expunged UID and the ModSeq of its expunge.
type tombstone struct {
	uid    imap4.UID
	modseq imap4.ModSeq
}

// tombstones remember what a mailbox expunged, for Sync(since). The newest
// expunges are kept one by one, in ModSeq order. When there are more than
// the limit, the older half is folded into one UID range [lo, hi] with the
// highest ModSeq among them, and individual memory of them is lost.
//
// The superset rule: a Sync(since) with since older than the folded ModSeq
// reports every UID in [lo, hi] that is not in the mailbox now. Every such
// UID was assigned to a message (UIDs are handed out consecutively) and that
// message is gone, so the report is correct except that it may include
// expunges at or before since, which SyncData allows ("UIDs that were never
// in the mailbox", or that the client already knows are gone, are
// harmless).
type tombstones struct {
	recent []tombstone // ascending modseq
	lo, hi imap4.UID   // the folded range; hi == 0 if none
	folded imap4.ModSeq
}

// add records the expunge of uids at modseq, folding when there are more
// than limit tombstones.
func (t *tombstones) add(uids []imap4.UID, modseq imap4.ModSeq, limit int) {
	for _, u := range uids {
		t.recent = append(t.recent, tombstone{u, modseq})
	}
	if len(t.recent) <= limit {
		return
	}
	n := len(t.recent) - limit/2
	for _, ts := range t.recent[:n] {
		if t.hi == 0 || ts.uid < t.lo {
			t.lo = ts.uid
		}
		t.hi = max(t.hi, ts.uid)
		t.folded = max(t.folded, ts.modseq)
	}
	t.recent = slices.Clone(t.recent[n:]) // let the old array go
}

// since returns, in ascending order, the UIDs expunged after modseq
// (with the superset rule above). msgs is the mailbox's current content, in
// UID order.
func (t *tombstones) since(modseq imap4.ModSeq, msgs []message) []imap4.UID {
	var out []imap4.UID
	i, _ := slices.BinarySearchFunc(t.recent, modseq+1, func(ts tombstone, m imap4.ModSeq) int {
		return cmp.Compare(ts.modseq, m)
	})
	for _, ts := range t.recent[i:] {
		out = append(out, ts.uid)
	}
	if t.hi != 0 && modseq < t.folded {
		j, _ := slices.BinarySearchFunc(msgs, t.lo, cmpMessageUID)
		for u := t.lo; u <= t.hi && u != 0; u++ {
			for j < len(msgs) && msgs[j].uid < u {
				j++
			}
			if j < len(msgs) && msgs[j].uid == u {
				continue
			}
			out = append(out, u)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

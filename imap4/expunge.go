package imap4

import (
	"slices"

	"github.com/mailfront/mailfront/imap4/internal/imapwire"
)

// cmdExpunge runs EXPUNGE and UID EXPUNGE (RFC 4315 §2.1).
func (c *conn) cmdExpunge(cmd *command) error {
	d := cmd.d
	var set imapwire.SeqSet
	if cmd.uid {
		d.SP()
		set = d.SequenceSet()
	}
	if err := cmd.end(); err != nil {
		return err
	}
	sel := c.sel
	if sel.readOnly {
		return no("READ-ONLY", "Mailbox is read-only")
	}
	spans := []span{{0, len(sel.uids)}}
	if cmd.uid {
		var err error
		if spans, err = sel.resolve(set, true); err != nil {
			return err
		}
	}
	var uids []UID
	for _, sp := range spans {
		for i := sp.lo; i < sp.hi; i++ {
			if sel.bits(i)&bitDeleted != 0 {
				uids = append(uids, sel.uids[i])
			}
		}
	}
	if len(uids) > 0 {
		removed, err := sel.mb.Expunge(c.nc.Ctx, uids)
		if err != nil {
			return err
		}
		c.expunged(removed)
		// Learn the mailbox's new HIGHESTMODSEQ (and anything else).
		c.syncView()
	}
	if c.condstore && !c.end {
		return ok("HIGHESTMODSEQ "+itoa(uint64(sel.highest)), cmd.name+" completed")
	}
	return nil
}

// expunged reports and removes from the view messages this session
// expunged (EXPUNGE, MOVE).
func (c *conn) expunged(removed []UID) {
	sel := c.sel
	slices.Sort(removed)
	idx := make([]int, 0, len(removed))
	for _, u := range removed {
		if i, in := sel.find(u); in {
			idx = append(idx, i)
		}
		if k, in := slices.BinarySearch(sel.pending, u); in {
			sel.pending = slices.Delete(sel.pending, k, k+1)
		}
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	c.writeExpunged(idx)
	sel.remove(idx)
	c.tellRecent()
}

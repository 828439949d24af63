package imap4

import (
	"log/slog"
	"slices"

	"github.com/mailfront/mailfront/imap4/internal/imapwire"
)

// qresyncParams are the parameters of SELECT (QRESYNC (...)) (RFC 7162
// §3.2.5).
type qresyncParams struct {
	uidValidity uint32
	modSeq      ModSeq
	known       imapwire.SeqSet // known UIDs; empty: all
	hasKnown    bool
}

// optional finds an optional interface on a mailbox, looking through
// wrappers that implement Unwrapper.
func optional[T any](mb Mailbox) (T, bool) {
	for depth := 0; mb != nil && depth < 16; depth++ {
		if t, ok := mb.(T); ok {
			return t, true
		}
		u, ok := mb.(Unwrapper)
		if !ok {
			break
		}
		mb = u.Unwrap()
	}
	var zero T
	return zero, false
}

func (c *conn) cmdSelect(cmd *command) error {
	d := cmd.d
	d.SP()
	raw := d.AString()
	var qr *qresyncParams
	condstore := false
	if d.Accept(' ') {
		d.List(func() {
			switch p := d.Keyword(); p {
			case "CONDSTORE":
				condstore = true
			case "QRESYNC":
				if !c.qresync && d.Err() == nil {
					d.Failf("QRESYNC is not enabled")
					return
				}
				qr = &qresyncParams{}
				d.SP()
				d.Expect('(')
				qr.uidValidity = d.NzNumber()
				d.SP()
				qr.modSeq = ModSeq(d.Number64())
				if d.Accept(' ') {
					qr.known = d.SequenceSet()
					qr.hasKnown = true
					if d.Accept(' ') {
						// seq-match-data: a hint the server may ignore.
						d.Expect('(')
						d.SequenceSet()
						d.SP()
						d.SequenceSet()
						d.Expect(')')
					}
				}
				d.Expect(')')
			default:
				d.Failf("unknown SELECT parameter %s", p)
			}
		})
	}
	if err := cmd.end(); err != nil {
		return err
	}
	name, err := c.mailboxName(raw)
	if err != nil {
		return err
	}
	prev := c.sel
	if c.sel != nil {
		c.closeMailbox()
		c.untaggedStatus(ok("CLOSED", "Previous mailbox closed"))
	}
	if condstore || qr != nil {
		c.condstore = true
	}
	readOnly := cmd.name == "EXAMINE"
	mb, err := c.user.OpenMailbox(c.nc.Ctx, name)
	if err == nil && mb == nil {
		err = errNoData
	}
	if err != nil {
		return err
	}
	sd, err := syncMailbox(c.nc.Ctx, mb, 0)
	if err != nil {
		mb.Close()
		return err
	}
	sel := &selected{mb: mb, name: name, readOnly: readOnly, watch: mb.Watch()}
	sel.mover, _ = optional[Mover](mb)
	sel.cache, _ = optional[StructureCache](mb)
	sel.searcher, _ = optional[Searcher](mb)
	sel.uidValidity = sd.UIDValidity
	sel.uidNext = sd.UIDNext
	sel.highest = sd.HighestModSeq
	sel.build(sd.Messages, prev)
	sel.exists = len(sel.uids)
	c.sel = sel
	c.state = stateSelected
	c.claimRecent(1)
	sel.recentTold = sel.recentCount()

	c.writeFlags() // and PERMANENTFLAGS when read-write
	if readOnly {
		c.untaggedStatus(ok("PERMANENTFLAGS ()", "No permanent flags permitted"))
	}
	c.enc.Raw("* ").Number(uint64(len(sel.uids))).Raw(" EXISTS").CRLF()
	if !c.rev2 {
		c.enc.Raw("* ").Number(uint64(sel.recentTold)).Raw(" RECENT").CRLF()
		for i := range sel.uids {
			if sel.bits(i)&bitSeen == 0 {
				c.untaggedStatus(ok("UNSEEN "+itoa(uint64(i+1)), "First unseen"))
				break
			}
		}
	}
	c.untaggedStatus(ok("UIDVALIDITY "+itoa(uint64(sel.uidValidity)), "UIDs valid"))
	c.untaggedStatus(ok("UIDNEXT "+itoa(uint64(sel.uidNext)), "Predicted next UID"))
	if c.condstore {
		c.untaggedStatus(ok("HIGHESTMODSEQ "+itoa(uint64(sel.highest)), "Highest"))
	}
	if c.rev2 {
		c.enc.Raw("* LIST () \"/\" ")
		c.appendName(name)
		c.enc.CRLF()
	}
	if qr != nil && qr.uidValidity == sel.uidValidity {
		if err := c.qresyncSelect(qr); err != nil {
			return err
		}
	}
	if readOnly {
		return ok("READ-ONLY", cmd.name+" completed")
	}
	return ok("READ-WRITE", cmd.name+" completed")
}

// writeFlags writes the FLAGS response: the system flags and the keywords
// in use; and, when the mailbox is read-write, PERMANENTFLAGS with the
// same flags and \*, since a flag that is in FLAGS but not in
// PERMANENTFLAGS cannot be set permanently (RFC 9051 §7.1). Both go out
// again whenever a new keyword appears.
func (c *conn) writeFlags() {
	c.enc.Raw(`* FLAGS (\Answered \Flagged \Deleted \Seen \Draft`)
	for _, kw := range c.sel.ft.keywords {
		c.enc.SP().Raw(kw)
	}
	c.enc.Byte(')').CRLF()
	if !c.sel.readOnly {
		c.enc.Raw(`* OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft`)
		for _, kw := range c.sel.ft.keywords {
			c.enc.SP().Raw(kw)
		}
		c.enc.Raw(` \*)] Flags permitted`).CRLF()
	}
	c.sel.ft.newKW = false
}

// qresyncSelect reports what changed since the client's last session
// (RFC 7162 §3.2.5): the UIDs expunged since its mod-sequence, as
// VANISHED (EARLIER), and the flags of every message changed since.
func (c *conn) qresyncSelect(qr *qresyncParams) error {
	sel := c.sel
	sd, err := syncMailbox(c.nc.Ctx, sel.mb, qr.modSeq)
	if err != nil {
		return err
	}
	var known []imapwire.Range
	if qr.hasKnown && !qr.known.Saved {
		known = qr.known.Resolve(uint32(sel.lastUID()))
	}
	vanished := make([]UID, 0, len(sd.Expunged))
	for _, u := range sd.Expunged {
		if _, in := sel.find(u); in {
			continue
		}
		if known != nil && !inRanges(known, uint32(u)) {
			continue
		}
		vanished = append(vanished, u)
	}
	slices.Sort(vanished)
	if len(vanished) > 0 {
		c.enc.Raw("* VANISHED (EARLIER) ")
		c.enc.Buf = imapwire.AppendSet(c.enc.Buf, vanished)
		c.enc.CRLF()
	}
	for i := range sel.uids {
		if sel.modseqs[i] <= qr.modSeq {
			continue
		}
		if known != nil && !inRanges(known, uint32(sel.uids[i])) {
			// Known UIDs narrow the flag changes too (RFC 7162
			// §3.2.5.1), as in Dovecot: the client learns of the other
			// messages the way it learns of new ones.
			continue
		}
		c.writeFlagsFetch(i, true)
	}
	return nil
}

func inRanges(rs []imapwire.Range, n uint32) bool {
	_, found := slices.BinarySearchFunc(rs, n, func(r imapwire.Range, n uint32) int {
		switch {
		case r.Stop < n:
			return -1
		case r.Start > n:
			return 1
		}
		return 0
	})
	return found
}

// writeFlagsFetch writes "* n FETCH (UID u FLAGS (...) [MODSEQ (m)])" for
// message i: how flag changes are reported.
func (c *conn) writeFlagsFetch(i int, withModSeq bool) {
	sel := c.sel
	e := &c.enc
	e.Buf = append(e.Buf, "* "...)
	e.Number(uint64(i + 1))
	e.Buf = append(e.Buf, " FETCH (UID "...)
	e.Number(uint64(sel.uids[i]))
	e.Buf = append(e.Buf, " FLAGS "...)
	e.Buf = c.appendFlags(e.Buf, i)
	if withModSeq {
		e.Buf = append(e.Buf, " MODSEQ ("...)
		e.Number(uint64(sel.modseqs[i]))
		e.Buf = append(e.Buf, ')')
	}
	e.Byte(')').CRLF()
}

func (c *conn) cmdClose(cmd *command) error {
	if err := cmd.end(); err != nil {
		return err
	}
	if cmd.name == "CLOSE" && !c.sel.readOnly {
		// Expunge silently (RFC 9051 §6.4.1).
		var uids []UID
		for i := range c.sel.uids {
			if c.sel.bits(i)&bitDeleted != 0 {
				uids = append(uids, c.sel.uids[i])
			}
		}
		if len(uids) > 0 {
			if _, err := c.sel.mb.Expunge(c.nc.Ctx, uids); err != nil {
				if st := c.mapError(err); st == nil {
					return errShutdown
				}
				c.log(slog.LevelDebug, "CLOSE could not expunge", slog.Any("err", err))
			}
		}
	}
	c.closeMailbox()
	return nil
}

// closeMailbox releases the selected mailbox and returns to the
// authenticated state.
func (c *conn) closeMailbox() {
	if c.sel == nil {
		return
	}
	if err := c.sel.mb.Close(); err != nil {
		c.log(slog.LevelDebug, "closing mailbox", slog.Any("err", err))
	}
	c.sel = nil
	if c.state == stateSelected {
		c.state = stateAuth
	}
}

// enableCondstore enables CONDSTORE on the first CONDSTORE-enabling
// command; in the selected state the client learns the mailbox's
// HIGHESTMODSEQ at once (RFC 7162 §3.1).
func (c *conn) enableCondstore() {
	if c.condstore {
		return
	}
	c.condstore = true
	if c.sel != nil {
		c.untaggedStatus(ok("HIGHESTMODSEQ "+itoa(uint64(c.sel.highest)), "Highest"))
	}
}

package imap4

import (
	"log/slog"
	"slices"

	"github.com/mailfront/mailfront"
	"github.com/mailfront/mailfront/imap4/internal/imapwire"
)

// Unilateral updates: other sessions' changes reach this session as
// EXISTS, FETCH (flags) and EXPUNGE or VANISHED responses. The session
// learns of them from the mailbox's change feed (Mailbox.Watch) and reads
// them with Mailbox.Sync(since its HIGHESTMODSEQ). Expunges are held back
// while a command that uses sequence numbers runs (RFC 9051 §7.5.1).

// preSync runs before a command in the selected state: when the mailbox
// signalled a change, the view takes in new messages and flag changes, so
// the command works on fresh data. Expunges wait for update.
func (c *conn) preSync() {
	if c.sel == nil {
		return
	}
	select {
	case _, open := <-c.sel.watch:
		if !open {
			c.sel.watch = nil
		}
		c.syncView()
	default:
	}
}

// update runs before a command's tagged response in the selected state:
// it synchronises the view when a change was signalled (always for NOOP,
// CHECK and IDLE) and reports the changes, including pending expunges
// unless the command forbids them.
func (c *conn) update(cmd *command) {
	force := cmd.spec != nil && cmd.spec.poll
	allowExpunge := cmd.spec == nil || !cmd.spec.noExpunge
	c.refresh(force, allowExpunge)
}

// refresh synchronises (when forced or signalled) and reports.
func (c *conn) refresh(force, allowExpunge bool) {
	sel := c.sel
	select {
	case _, open := <-sel.watch:
		if !open {
			sel.watch = nil
		}
		force = true
	default:
	}
	if force {
		c.syncView()
	}
	if c.sel == nil || c.end {
		return
	}
	c.report(allowExpunge)
}

// syncView asks the backend for the changes since the view's
// HIGHESTMODSEQ and applies them to the view; what the client must hear
// about is noted in sel.pending and sel.changed.
func (c *conn) syncView() {
	sel := c.sel
	sd, err := syncMailbox(c.nc.Ctx, sel.mb, sel.highest)
	if err != nil {
		if st := c.mapError(err); st == nil {
			c.bye(mailfront.Shutdown, "[UNAVAILABLE] Server shutting down")
		}
		return
	}
	if sd.UIDValidity != sel.uidValidity {
		c.log(slog.LevelWarn, "UIDVALIDITY of the selected mailbox changed; closing the session",
			slog.String("mailbox", sel.name))
		c.bye(mailfront.InternalError, "Mailbox UIDVALIDITY changed; please reconnect")
		return
	}
	sel.uidNext = max(sel.uidNext, sd.UIDNext)
	for _, u := range sd.Expunged {
		if _, in := sel.find(u); !in {
			continue
		}
		if i, dup := slices.BinarySearch(sel.pending, u); !dup {
			sel.pending = slices.Insert(sel.pending, i, u)
		}
	}
	sel.ft.startRun()
	seen := sel.lastUID()
	for i := range sd.Messages {
		m := &sd.Messages[i]
		if idx, in := sel.find(m.UID); in {
			fi := sel.ft.internRun(m.Flags)
			if fi != sel.flags[idx] || (c.condstore && m.ModSeq != sel.modseqs[idx]) {
				sel.changed = append(sel.changed, m.UID)
			}
			sel.flags[idx] = fi
			sel.modseqs[idx] = m.ModSeq
			continue
		}
		if m.UID <= sel.lastUID() {
			continue // already expunged from the view
		}
		if _, gone := slices.BinarySearch(sd.Expunged, m.UID); gone {
			continue
		}
		sel.add(m)
	}
	if sd.HighestModSeq > sel.highest {
		sel.highest = sd.HighestModSeq
	}
	c.claimRecent(seen + 1)
}

// report sends what the view learnt: expunges (when allowed), a new FLAGS
// list, EXISTS, and the flags of changed messages.
func (c *conn) report(allowExpunge bool) {
	sel := c.sel
	if allowExpunge && len(sel.pending) > 0 {
		idx := make([]int, 0, len(sel.pending))
		for _, u := range sel.pending {
			if i, in := sel.find(u); in {
				idx = append(idx, i)
			}
		}
		c.writeExpunged(idx)
		sel.remove(idx)
		sel.pending = sel.pending[:0]
	}
	if sel.ft.newKW {
		c.writeFlags()
	}
	if n := len(sel.uids); n != sel.exists {
		c.enc.Raw("* ").Number(uint64(n)).Raw(" EXISTS").CRLF()
		sel.exists = n
	}
	c.tellRecent()
	if len(sel.changed) > 0 {
		slices.Sort(sel.changed)
		last := UID(0)
		for _, u := range sel.changed {
			if u == last {
				continue
			}
			last = u
			if i, in := sel.find(u); in {
				c.writeFlagsFetch(i, c.condstore)
			}
		}
		sel.changed = sel.changed[:0]
	}
}

// writeExpunged reports expunged messages, given by their ascending view
// indexes, before they leave the view: VANISHED with QRESYNC, otherwise one
// EXPUNGE per message, highest sequence number first so that each number
// is right when the client reads it.
func (c *conn) writeExpunged(idx []int) {
	if len(idx) == 0 {
		return
	}
	sel := c.sel
	if c.qresync {
		uids := make([]UID, len(idx))
		for k, i := range idx {
			uids[k] = sel.uids[i]
		}
		c.enc.Raw("* VANISHED ")
		c.enc.Buf = imapwire.AppendSet(c.enc.Buf, uids)
		c.enc.CRLF()
	} else {
		for k := len(idx) - 1; k >= 0; k-- {
			c.enc.Raw("* ").Number(uint64(idx[k] + 1)).Raw(" EXPUNGE").CRLF()
		}
	}
	sel.exists -= len(idx)
}

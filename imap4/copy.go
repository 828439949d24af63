package imap4

import (
	"errors"
	"log/slog"

	"github.com/mailfront/mailfront/imap4/internal/imapwire"
)

// cmdCopy runs COPY, MOVE and their UID forms (RFC 9051 §6.4.7, §6.4.8,
// RFC 6851, RFC 4315 COPYUID).
func (c *conn) cmdCopy(cmd *command) error {
	d := cmd.d
	d.SP()
	set := d.SequenceSet()
	d.SP()
	raw := d.AString()
	if err := cmd.end(); err != nil {
		return err
	}
	sel := c.sel
	spans, err := sel.resolve(set, cmd.uid)
	if err != nil {
		return err
	}
	dest, err := c.mailboxName(raw)
	if err != nil {
		return err
	}
	move := cmd.name == "MOVE" || cmd.name == "UID MOVE"
	if move && sel.readOnly {
		return no("READ-ONLY", "Mailbox is read-only")
	}
	uids := sel.uidsIn(spans)
	if len(uids) == 0 {
		return nil
	}
	var res *CopyResult
	add := c.adding(dest)
	defer add.end()
	switch {
	case !move:
		res, err = sel.mb.CopyTo(c.nc.Ctx, uids, dest)
	case sel.mover != nil:
		res, err = sel.mover.MoveTo(c.nc.Ctx, uids, dest)
	default:
		res, err = c.moveFallback(uids, dest)
	}
	if errors.Is(err, ErrNoSuchMailbox) {
		return no(string(CodeTryCreate), "No such mailbox")
	}
	if err != nil {
		return err
	}
	code := ""
	if res != nil && len(res.Source) > 0 && len(res.Source) == len(res.Dest) {
		code = "COPYUID " + itoa(uint64(res.UIDValidity)) + " " +
			string(imapwire.AppendSet(nil, res.Source)) + " " + string(imapwire.AppendSet(nil, res.Dest))
	}
	if res != nil {
		add.done(res.UIDValidity, res.Dest)
	}
	if dest == sel.name {
		c.syncView() // our own new messages: EXISTS
	}
	if !move {
		return ok(code, cmd.name+" completed")
	}
	if code != "" {
		c.untaggedStatus(ok(code, "Moved"))
	}
	moved := uids
	if res != nil && len(res.Source) > 0 {
		moved = res.Source
	}
	c.expunged(append([]UID(nil), moved...))
	c.syncView()
	return nil
}

// moveFallback moves messages without a Mover: copy, flag \Deleted,
// expunge just those.
func (c *conn) moveFallback(uids []UID, dest string) (*CopyResult, error) {
	sel := c.sel
	res, err := sel.mb.CopyTo(c.nc.Ctx, uids, dest)
	if err != nil {
		return nil, err
	}
	moved := uids
	if res != nil && len(res.Source) > 0 {
		moved = res.Source
	}
	sr, err := setFlags(c.nc.Ctx, sel.mb, moved, StoreAdd, []string{FlagDeleted}, nil)
	if err != nil {
		return nil, err
	}
	for k := range sr.Updated {
		c.applyMeta(&sr.Updated[k])
	}
	if _, err := sel.mb.Expunge(c.nc.Ctx, moved); err != nil {
		c.log(slog.LevelWarn, "MOVE copied the messages but could not expunge them", slog.Any("err", err))
		return nil, err
	}
	return res, nil
}

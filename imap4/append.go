package imap4

import (
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/mailfront/mailfront/imap4/internal/imapwire"
	"github.com/mailfront/mailfront/internal/wire"
)

// cmdAppend runs APPEND, with MULTIAPPEND (RFC 3502), literal8 message
// data (RFC 3516 §4.4), UTF8 (literal8) data (RFC 6855) and APPENDUID
// (RFC 4315). The target mailbox is
// opened, and the message size checked against APPENDLIMIT, before the
// client is asked for the message, so TRYCREATE and TOOBIG come before any
// data is sent.
func (c *conn) cmdAppend(cmd *command) error {
	d := cmd.d
	d.SP()
	raw := d.AString()
	if d.Err() != nil {
		return d.Err()
	}
	name, err := c.mailboxName(raw)
	if err != nil {
		return err
	}
	var mb Mailbox
	if c.sel != nil && c.sel.name == name {
		mb = c.sel.mb
	} else {
		mb, err = c.user.OpenMailbox(c.nc.Ctx, name)
		if err == nil && mb == nil {
			err = errNoData
		}
		if errors.Is(err, ErrNoSuchMailbox) {
			return no(string(CodeTryCreate), "No such mailbox")
		}
		if err != nil {
			return err
		}
		defer mb.Close()
	}
	var uids []UID
	var uidValidity uint32
	add := c.adding(name)
	defer add.end()
	for {
		d.SP()
		var flags []string
		if d.Peek() == '(' {
			flags = d.FlagList()
			d.SP()
		}
		var date time.Time
		if d.Peek() == '"' {
			date = d.DateTime()
			d.SP()
		}
		if d.Err() != nil {
			break
		}
		flags, err = parseFlags(flags)
		if err != nil {
			break
		}
		// RFC 6855 §4: "UTF8 (" literal8 ")" carries a message with UTF-8
		// headers from a client that enabled UTF8=ACCEPT.
		utf8Data := c.utf8 && d.PeekString("UTF8 (")
		if utf8Data {
			d.Keyword()
			d.SP()
			d.Expect('(')
		}
		lit := d.MessageLiteral()
		if d.Err() != nil {
			break
		}
		if utf8Data && !lit.Binary {
			d.Failf("UTF8 needs a literal8")
			break
		}
		var body io.Reader = lit
		if !lit.Binary {
			body = wire.NewCRLFReader(lit)
		}
		var res AppendResult
		res, err = mb.Append(c.nc.Ctx, body, &AppendOptions{Flags: flags, InternalDate: date})
		d.EndLiteral()
		if utf8Data {
			d.Expect(')')
		}
		if err == nil && d.Err() != nil {
			err = d.Err()
		}
		if err != nil {
			if res.UID != 0 {
				uids = append(uids, res.UID)
			}
			break
		}
		uids = append(uids, res.UID)
		uidValidity = res.UIDValidity
		if d.AtEnd() {
			break
		}
	}
	if err == nil {
		err = cmd.end()
	}
	if err != nil {
		// MULTIAPPEND is all or nothing (RFC 3502 §6.3.11).
		c.undoAppend(mb, uids)
		if d.Err() == nil {
			c.discard()
		}
		return err
	}
	add.done(uidValidity, uids)
	if c.sel != nil && c.sel.name == name {
		c.syncView()
	}
	if uidValidity == 0 || len(uids) == 0 || slicesHasZero(uids) {
		return nil
	}
	return ok("APPENDUID "+itoa(uint64(uidValidity))+" "+string(imapwire.AppendSet(nil, uids)), "APPEND completed")
}

// undoAppend removes the messages a failed MULTIAPPEND had added.
func (c *conn) undoAppend(mb Mailbox, uids []UID) {
	if len(uids) == 0 {
		return
	}
	ctx := c.nc.Ctx
	if _, err := mb.SetFlags(ctx, uids, StoreAdd, []string{FlagDeleted}, nil); err == nil {
		_, err = mb.Expunge(ctx, uids)
		if err == nil {
			return
		}
	}
	c.log(slog.LevelWarn, "could not remove the messages of a failed MULTIAPPEND", slog.Int("messages", len(uids)))
}

func slicesHasZero(uids []UID) bool {
	for _, u := range uids {
		if u == 0 {
			return true
		}
	}
	return false
}

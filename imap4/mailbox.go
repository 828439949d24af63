package imap4

import (
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/mailfront/mailfront/imap4/internal/imapwire"
)

// specialUses are the special-use attributes of RFC 6154 that CREATE
// accepts.
var specialUses = map[string]string{
	`\ALL`: `\All`, `\ARCHIVE`: `\Archive`, `\DRAFTS`: `\Drafts`, `\FLAGGED`: `\Flagged`,
	`\JUNK`: `\Junk`, `\SENT`: `\Sent`, `\TRASH`: `\Trash`,
}

func (c *conn) cmdCreate(cmd *command) error {
	d := cmd.d
	d.SP()
	raw := d.AString()
	var uses []string
	if d.Accept(' ') {
		d.List(func() {
			if kw := d.Keyword(); kw != "USE" && d.Err() == nil {
				d.Failf("unknown CREATE parameter %s", kw)
			}
			d.SP()
			d.List(func() { uses = append(uses, d.Flag()) })
		})
	}
	if err := cmd.end(); err != nil {
		return err
	}
	name, err := c.decodeName(raw)
	if err != nil {
		return err
	}
	// A trailing delimiter declares the intent to create names below
	// (RFC 9051 §6.3.4); the backend creates levels as needed anyway.
	name = strings.TrimSuffix(name, string(Delimiter))
	if name, err = validateName(name); err != nil {
		return err
	}
	if name == "INBOX" {
		return no(string(CodeAlreadyExists), "INBOX always exists")
	}
	var opts CreateOptions
	switch len(uses) {
	case 0:
	case 1:
		su, ok := specialUses[strings.ToUpper(uses[0])]
		if !ok {
			return no("USEATTR", "Unknown special use "+cleanText(uses[0]))
		}
		opts.SpecialUse = su
	default:
		return no("USEATTR", "Only one special use per mailbox")
	}
	err = c.user.CreateMailbox(c.nc.Ctx, name, &opts)
	if err != nil && opts.SpecialUse != "" && errors.Is(err, ErrCannot) {
		return no("USEATTR", "This special use cannot be set here")
	}
	return err
}

func (c *conn) cmdDelete(cmd *command) error {
	d := cmd.d
	d.SP()
	raw := d.AString()
	if err := cmd.end(); err != nil {
		return err
	}
	name, err := c.mailboxName(raw)
	if err != nil {
		return err
	}
	if name == "INBOX" {
		return no(string(CodeCannot), "INBOX cannot be deleted")
	}
	if err := c.user.DeleteMailbox(c.nc.Ctx, name); err != nil {
		return err
	}
	if c.sel != nil && c.sel.name == name {
		c.closeMailbox()
		c.untaggedStatus(ok("CLOSED", "The selected mailbox was deleted"))
	}
	return nil
}

func (c *conn) cmdRename(cmd *command) error {
	d := cmd.d
	d.SP()
	rawOld := d.AString()
	d.SP()
	rawNew := d.AString()
	if err := cmd.end(); err != nil {
		return err
	}
	oldName, err := c.mailboxName(rawOld)
	if err != nil {
		return err
	}
	newName, err := c.mailboxName(rawNew)
	if err != nil {
		return err
	}
	if newName == "INBOX" {
		return no(string(CodeAlreadyExists), "INBOX always exists")
	}
	if oldName == newName {
		return no(string(CodeAlreadyExists), "Mailbox already exists")
	}
	if strings.HasPrefix(newName, oldName+string(Delimiter)) {
		return no(string(CodeCannot), "Cannot rename a mailbox below itself")
	}
	return c.user.RenameMailbox(c.nc.Ctx, oldName, newName)
}

func (c *conn) cmdSubscribe(cmd *command) error {
	d := cmd.d
	d.SP()
	raw := d.AString()
	if err := cmd.end(); err != nil {
		return err
	}
	name, err := c.mailboxName(raw)
	if err != nil {
		return err
	}
	return c.user.SetSubscribed(c.nc.Ctx, name, cmd.name == "SUBSCRIBE")
}

// statusItems reads "(" status-att *(SP status-att) ")".
func (c *conn) statusItems(d *imapwire.Decoder) []string {
	var items []string
	d.List(func() {
		item := d.Keyword()
		switch item {
		case "MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED", "SIZE", "RECENT", "HIGHESTMODSEQ", "APPENDLIMIT":
			items = append(items, item)
		default:
			if d.Err() == nil {
				d.Failf("unknown status item %s", item)
			}
		}
	})
	if len(items) == 0 && d.Err() == nil {
		d.Failf("empty status item list")
	}
	return items
}

func (c *conn) cmdStatus(cmd *command) error {
	d := cmd.d
	d.SP()
	raw := d.AString()
	d.SP()
	items := c.statusItems(d)
	if err := cmd.end(); err != nil {
		return err
	}
	name, err := c.mailboxName(raw)
	if err != nil {
		return err
	}
	c.enableCondstoreFor(items)
	st, err := c.user.Status(c.nc.Ctx, name)
	if err != nil {
		return err
	}
	c.writeStatus(name, &st, items)
	return nil
}

// writeStatus writes "* STATUS name (...)".
func (c *conn) writeStatus(name string, st *MailboxStatus, items []string) {
	var recent uint64
	if slices.Contains(items, "RECENT") {
		recent = c.statusRecent(name, st)
	}
	c.enc.Raw("* STATUS ")
	c.appendName(name)
	c.enc.Raw(" (")
	for i, item := range items {
		if i > 0 {
			c.enc.SP()
		}
		c.enc.Raw(item).SP()
		switch item {
		case "MESSAGES":
			c.enc.Number(uint64(st.Messages))
		case "UIDNEXT":
			c.enc.Number(uint64(st.UIDNext))
		case "UIDVALIDITY":
			c.enc.Number(uint64(st.UIDValidity))
		case "UNSEEN":
			c.enc.Number(uint64(st.Unseen))
		case "DELETED":
			c.enc.Number(uint64(st.Deleted))
		case "SIZE":
			c.enc.Number(uint64(max(st.Size, 0)))
		case "RECENT":
			c.enc.Number(recent)
		case "HIGHESTMODSEQ":
			c.enc.Number(uint64(st.HighestModSeq))
		case "APPENDLIMIT":
			if max := c.s.appendLimit(); max > 0 {
				c.enc.Raw(strconv.FormatInt(max, 10))
			} else {
				c.enc.Raw("NIL")
			}
		}
	}
	c.enc.Byte(')').CRLF()
}

// enableCondstoreFor enables CONDSTORE when a STATUS asks for
// HIGHESTMODSEQ (RFC 7162 §3.1).
func (c *conn) enableCondstoreFor(items []string) {
	for _, item := range items {
		if item == "HIGHESTMODSEQ" {
			c.enableCondstore()
		}
	}
}

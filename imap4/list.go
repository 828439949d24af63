package imap4

import (
	"errors"
	"slices"
	"strings"
)

// listOptions are the parsed options of LIST (RFC 9051 §6.3.9, RFC 5258,
// RFC 5819, RFC 6154).
type listOptions struct {
	selSubscribed, selSpecialUse, recursive   bool
	retSubscribed, retChildren, retSpecialUse bool
	status                                    []string // RETURN (STATUS (...)) items
	lsub                                      bool     // LSUB rather than LIST
	extended                                  bool     // LIST-EXTENDED syntax used (RFC 5258)
}

// listEntry is one name a listing may show.
type listEntry struct {
	MailboxInfo
	exists      bool // a real mailbox (or \Noselect level) the backend listed
	hasChildren bool
	subChildren bool // a descendant is subscribed (CHILDINFO)
}

func (c *conn) cmdList(cmd *command) error {
	d := cmd.d
	var o listOptions
	d.SP()
	if d.Peek() == '(' {
		o.extended = true
		d.List(func() {
			switch opt := d.Keyword(); opt {
			case "SUBSCRIBED":
				o.selSubscribed = true
			case "SPECIAL-USE":
				o.selSpecialUse = true
			case "RECURSIVEMATCH":
				o.recursive = true
			case "REMOTE":
			default:
				d.Failf("unknown LIST selection option %s", opt)
			}
		})
		d.SP()
	}
	ref := d.AString()
	d.SP()
	var patterns []string
	if d.Peek() == '(' {
		o.extended = true
		d.List(func() { patterns = append(patterns, d.ListMailbox()) })
	} else {
		patterns = append(patterns, d.ListMailbox())
	}
	if d.Accept(' ') {
		o.extended = true
		if kw := d.Keyword(); kw != "RETURN" && d.Err() == nil {
			d.Failf("expected RETURN")
		}
		d.SP()
		d.List(func() {
			switch opt := d.Keyword(); opt {
			case "SUBSCRIBED":
				o.retSubscribed = true
			case "CHILDREN":
				o.retChildren = true
			case "SPECIAL-USE":
				o.retSpecialUse = true
			case "STATUS":
				d.SP()
				o.status = c.statusItems(d)
			default:
				d.Failf("unknown LIST return option %s", opt)
			}
		})
	}
	if err := cmd.end(); err != nil {
		return err
	}
	if o.recursive && !o.selSubscribed {
		return bad("", "RECURSIVEMATCH needs another selection option")
	}
	if len(o.status) > 0 {
		c.enableCondstoreFor(o.status)
	}
	return c.list(ref, patterns, &o)
}

func (c *conn) cmdLsub(cmd *command) error {
	d := cmd.d
	d.SP()
	ref := d.AString()
	d.SP()
	pattern := d.ListMailbox()
	if err := cmd.end(); err != nil {
		return err
	}
	return c.list(ref, []string{pattern}, &listOptions{lsub: true, selSubscribed: true})
}

// list runs LIST or LSUB.
func (c *conn) list(ref string, patterns []string, o *listOptions) error {
	resp := "LIST"
	if o.lsub {
		resp = "LSUB"
	}
	ref, err := c.decodeName(ref)
	if err != nil {
		return err
	}
	var matchers, deep []*matcher
	for _, p := range patterns {
		p, err := c.decodeName(p)
		if err != nil {
			return err
		}
		if p == "" && !o.lsub {
			// The hierarchy delimiter and the root of the reference.
			c.enc.Raw("* LIST (\\Noselect) \"/\" \"\"").CRLF()
			continue
		}
		p = canonicalPattern(ref, p)
		if len(p) > maxPatternLen {
			return no(string(CodeLimit), "Pattern too long")
		}
		matchers = append(matchers, newMatcher(p))
		if o.lsub {
			deep = append(deep, newMatcher(strings.ReplaceAll(p, "%", "*")))
		}
	}
	if len(matchers) == 0 {
		return nil
	}
	infos, err := c.user.ListMailboxes(c.nc.Ctx)
	if err != nil {
		return err
	}
	entries := listTree(infos)
	for _, e := range entries {
		matched := false
		for _, m := range matchers {
			if m.match(e.Name) {
				matched = true
				break
			}
		}
		if !matched {
			continue
		}
		if o.lsub && !e.Subscribed {
			// RFC 3501 §6.3.9: when "foo/bar" is subscribed and "foo" is
			// not, LSUB "" % returns foo, flagged \Noselect. That is, an
			// unsubscribed name is listed when the pattern matches it
			// and would match a subscribed descendant if its % crossed
			// levels, but does not match any.
			if !e.subChildren || subscribedBelowMatches(entries, e.Name, matchers) ||
				!subscribedBelowMatches(entries, e.Name, deep) {
				continue
			}
		} else if !c.listSelected(e, o) {
			continue
		} else if o.recursive && !e.Subscribed && subscribedBelowMatches(entries, e.Name, matchers) {
			// RECURSIVEMATCH lists an unsubscribed parent for the
			// subscribed descendants the patterns do not reach; those
			// they reach are listed themselves (as Dovecot does).
			continue
		}
		c.enc.Raw("* ").Raw(resp).Raw(" (")
		c.listAttributes(e, o)
		c.enc.Raw(") \"/\" ")
		c.appendName(e.Name)
		if o.recursive && e.subChildren {
			// Also for a mailbox that is subscribed itself (RFC 5258 §5,
			// example 9: `* LIST (\Subscribed) "/" "eps2" ("CHILDINFO"
			// ("SUBSCRIBED"))`).
			c.enc.Raw(` ("CHILDINFO" ("SUBSCRIBED"))`)
		}
		c.enc.CRLF()
		if len(o.status) > 0 && e.exists && !e.NoSelect && !e.NonExistent {
			st, err := c.user.Status(c.nc.Ctx, e.Name)
			switch {
			case errors.Is(err, ErrNoSuchMailbox):
			case err != nil:
				if c.mapError(err) == nil {
					return errShutdown
				}
			default:
				c.writeStatus(e.Name, &st, o.status)
			}
		}
	}
	return nil
}

// listSelected applies the selection options to an entry.
func (c *conn) listSelected(e *listEntry, o *listOptions) bool {
	if o.selSpecialUse && e.SpecialUse == "" {
		return false
	}
	if o.selSubscribed {
		return e.Subscribed || (o.recursive && e.subChildren)
	}
	return e.exists || e.hasChildren
}

// subscribedBelowMatches reports whether a subscribed descendant of name
// matches one of the patterns.
func subscribedBelowMatches(entries []*listEntry, name string, matchers []*matcher) bool {
	prefix := name + string(Delimiter)
	for _, d := range entries {
		if !d.Subscribed || !strings.HasPrefix(d.Name, prefix) {
			continue
		}
		for _, m := range matchers {
			if m.match(d.Name) {
				return true
			}
		}
	}
	return false
}

// listAttributes writes an entry's attributes.
func (c *conn) listAttributes(e *listEntry, o *listOptions) {
	var attrs []string
	if o.lsub {
		if !e.exists || e.NoSelect || e.NonExistent || !e.Subscribed {
			attrs = append(attrs, `\Noselect`)
		}
	} else {
		switch {
		case (!e.exists || e.NonExistent) && (c.rev2 || o.extended):
			attrs = append(attrs, `\NonExistent`)
		case !e.exists || e.NonExistent:
			// A client of the base LIST knows only \Noselect.
			attrs = append(attrs, `\Noselect`)
		case e.NoSelect:
			attrs = append(attrs, `\Noselect`)
		}
		if e.hasChildren {
			attrs = append(attrs, `\HasChildren`)
		} else if e.exists && !e.NonExistent {
			attrs = append(attrs, `\HasNoChildren`)
		}
		if e.Subscribed && (o.selSubscribed || o.retSubscribed) {
			attrs = append(attrs, `\Subscribed`)
		}
		if e.SpecialUse != "" && e.exists {
			attrs = append(attrs, e.SpecialUse)
		}
	}
	for i, a := range attrs {
		if i > 0 {
			c.enc.SP()
		}
		c.enc.Raw(a)
	}
}

// listTree builds the listing from the backend's mailboxes: every name
// once, parents the backend did not list added as non-existent, children
// and subscribed children noted, sorted with INBOX first.
func listTree(infos []MailboxInfo) []*listEntry {
	byName := make(map[string]*listEntry, len(infos))
	for _, info := range infos {
		name, err := validateName(info.Name)
		if err != nil {
			continue // a name the backend has that clients cannot use
		}
		info.Name = name
		e := byName[name]
		if e == nil {
			e = &listEntry{}
			byName[name] = e
		}
		sub := e.Subscribed || info.Subscribed
		e.MailboxInfo = info
		e.Subscribed = sub
		e.exists = e.exists || !info.NonExistent
	}
	for name, e := range byName {
		for i := len(name) - 1; i > 0; i-- {
			if name[i] != Delimiter {
				continue
			}
			parent := byName[name[:i]]
			if parent == nil {
				parent = &listEntry{MailboxInfo: MailboxInfo{Name: name[:i], NonExistent: true}}
				byName[name[:i]] = parent
			}
			if e.exists {
				parent.hasChildren = true
			}
			if e.Subscribed {
				parent.subChildren = true
			}
		}
	}
	entries := make([]*listEntry, 0, len(byName))
	for _, e := range byName {
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b *listEntry) int {
		ai, bi := a.Name == "INBOX" || strings.HasPrefix(a.Name, "INBOX/"), b.Name == "INBOX" || strings.HasPrefix(b.Name, "INBOX/")
		if ai != bi {
			if ai {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return entries
}

func (c *conn) cmdNamespace(cmd *command) error {
	if err := cmd.end(); err != nil {
		return err
	}
	c.enc.Raw(`* NAMESPACE (("" "/")) NIL NIL`).CRLF()
	return nil
}

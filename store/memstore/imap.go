package memstore

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/imap4"
)

// OpenUser implements [imap4.Backend]. It creates the user on first use
// (see [Store.AddUser]).
func (s *Store) OpenUser(ctx context.Context, id auth.Identity) (imap4.User, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	u, err := s.user(id.Username)
	if err != nil {
		return nil, err
	}
	return &userHandle{u: u}, nil
}

// A userHandle is one session's imap4.User.
type userHandle struct {
	u *user
}

var _ imap4.User = (*userHandle)(nil)

// allowedSpecialUse lists the special uses CREATE may ask for. \All and
// \Flagged name virtual mailboxes, which this store does not have.
var allowedSpecialUse = map[string]string{
	`\drafts`:  `\Drafts`,
	`\sent`:    `\Sent`,
	`\trash`:   `\Trash`,
	`\junk`:    `\Junk`,
	`\archive`: `\Archive`,
}

func (h *userHandle) ListMailboxes(ctx context.Context) ([]imap4.MailboxInfo, error) {
	u := h.u
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.gone {
		return nil, errUserGone
	}
	out := make([]imap4.MailboxInfo, 0, len(u.boxes)+len(u.subs))
	for name, mb := range u.boxes {
		out = append(out, imap4.MailboxInfo{
			Name:       name,
			SpecialUse: mb.specialUse,
			Subscribed: u.subs[name],
			NoSelect:   mb.noSelect,
		})
	}
	for name := range u.subs {
		if u.boxes[name] == nil {
			out = append(out, imap4.MailboxInfo{Name: name, Subscribed: true, NonExistent: true})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (h *userHandle) Status(ctx context.Context, name string) (imap4.MailboxStatus, error) {
	u := h.u
	u.mu.Lock()
	defer u.mu.Unlock()
	mb, err := u.selectable(name)
	if err != nil {
		return imap4.MailboxStatus{}, err
	}
	return mb.status(), nil
}

// CreateMailbox creates name and, as \Noselect levels, the missing names
// above it. Creating a name that exists only as a \Noselect level makes it
// a mailbox. A special use other than \Drafts, \Sent, \Trash, \Junk and
// \Archive is refused with [imap4.ErrCannot].
func (h *userHandle) CreateMailbox(ctx context.Context, name string, opts *imap4.CreateOptions) error {
	clean, err := cleanName(name)
	if err != nil {
		return fmt.Errorf("%w: %w", err, imap4.ErrCannot)
	}
	var use string
	if opts != nil && opts.SpecialUse != "" {
		use = allowedSpecialUse[strings.ToLower(opts.SpecialUse)]
		if use == "" {
			return fmt.Errorf("memstore: special use %s: %w", quote(opts.SpecialUse), imap4.ErrCannot)
		}
	}
	u := h.u
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.gone {
		return errUserGone
	}
	if mb := u.boxes[clean]; mb != nil && !mb.noSelect {
		return fmt.Errorf("memstore: mailbox %s: %w", quote(clean), imap4.ErrMailboxExists)
	}
	u.makeParents(clean)
	u.boxes[clean] = u.newMailbox(clean, use)
	return nil
}

// DeleteMailbox deletes name. Its messages go at once, and its open
// handles fail from then on. Subscriptions are kept (RFC 9051 §6.3.9).
func (h *userHandle) DeleteMailbox(ctx context.Context, name string) error {
	u := h.u
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.gone {
		return errUserGone
	}
	clean, err := cleanName(name)
	if err != nil {
		return fmt.Errorf("%w: %w", err, imap4.ErrNoSuchMailbox)
	}
	if clean == inbox {
		return fmt.Errorf("memstore: INBOX cannot be deleted: %w", imap4.ErrCannot)
	}
	mb := u.boxes[clean]
	if mb == nil {
		return fmt.Errorf("memstore: mailbox %s: %w", quote(clean), imap4.ErrNoSuchMailbox)
	}
	children := u.hasChildren(clean)
	if mb.noSelect && children {
		return fmt.Errorf("memstore: mailbox %s: %w", quote(clean), imap4.ErrHasChildren)
	}
	mb.detach()
	if children {
		u.boxes[clean] = &mailbox{u: u, name: clean, noSelect: true}
	} else {
		delete(u.boxes, clean)
	}
	return nil
}

// RenameMailbox renames a mailbox and the names below it, keeping their
// UIDVALIDITY and UIDs; open handles follow the mailbox to its new name.
// Renaming INBOX moves its messages to a new mailbox (new UIDs) and leaves
// INBOX empty, with the names below INBOX unaffected. Subscriptions move
// with the names. Renaming a mailbox below itself is [imap4.ErrCannot].
func (h *userHandle) RenameMailbox(ctx context.Context, oldName, newName string) error {
	u := h.u
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.gone {
		return errUserGone
	}
	from, err := cleanName(oldName)
	if err != nil {
		return fmt.Errorf("%w: %w", err, imap4.ErrNoSuchMailbox)
	}
	to, err := cleanName(newName)
	if err != nil {
		return fmt.Errorf("%w: %w", err, imap4.ErrCannot)
	}
	src := u.boxes[from]
	if src == nil {
		return fmt.Errorf("memstore: mailbox %s: %w", quote(from), imap4.ErrNoSuchMailbox)
	}
	if u.boxes[to] != nil {
		return fmt.Errorf("memstore: mailbox %s: %w", quote(to), imap4.ErrMailboxExists)
	}
	if from == inbox {
		u.makeParents(to)
		dst := u.newMailbox(to, "")
		u.boxes[to] = dst
		moveMessages(src, dst, nil, nil)
		return nil
	}
	if isUnder(to, from) {
		return fmt.Errorf("memstore: cannot rename %s below itself: %w", quote(from), imap4.ErrCannot)
	}
	moving := []string{from}
	for n := range u.boxes {
		if isUnder(n, from) {
			moving = append(moving, n)
		}
	}
	for _, n := range moving {
		if target := to + n[len(from):]; u.boxes[target] != nil {
			return fmt.Errorf("memstore: mailbox %s: %w", quote(target), imap4.ErrMailboxExists)
		}
	}
	for _, n := range moving {
		target := to + n[len(from):]
		mb := u.boxes[n]
		delete(u.boxes, n)
		mb.name = target
		u.boxes[target] = mb
		if u.subs[n] {
			delete(u.subs, n)
			u.subs[target] = true
		}
	}
	u.makeParents(to)
	return nil
}

func (h *userHandle) SetSubscribed(ctx context.Context, name string, subscribed bool) error {
	clean, err := cleanName(name)
	if err != nil {
		return fmt.Errorf("%w: %w", err, imap4.ErrCannot)
	}
	u := h.u
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.gone {
		return errUserGone
	}
	if subscribed {
		u.subs[clean] = true
	} else {
		delete(u.subs, clean)
	}
	return nil
}

// OpenMailbox opens a mailbox. A \Noselect name is [imap4.ErrNoSuchMailbox].
func (h *userHandle) OpenMailbox(ctx context.Context, name string) (imap4.Mailbox, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	u := h.u
	u.mu.Lock()
	defer u.mu.Unlock()
	mb, err := u.selectable(name)
	if err != nil {
		return nil, err
	}
	mh := &mailboxHandle{u: u, mb: mb, ch: make(chan struct{}, 1)}
	if mb.watchers == nil {
		mb.watchers = make(map[*mailboxHandle]struct{})
	}
	mb.watchers[mh] = struct{}{}
	return mh, nil
}

// Close does nothing: mailboxes opened through the handle stay usable until
// they are closed.
func (h *userHandle) Close() error { return nil }

// moveMessages moves the messages of src with the given UIDs (all if uids
// is nil) to dst, keeping flags, dates and cached structure, and returns
// the mapping. Both mailboxes belong to one user, whose lock is held.
// Watchers of both are notified, except the handle except.
func moveMessages(src, dst *mailbox, uids []imap4.UID, except *mailboxHandle) *imap4.CopyResult {
	if uids == nil {
		for _, m := range src.msgs {
			uids = append(uids, m.uid)
		}
	}
	res := copyMessages(src, dst, uids)
	src.expunge(res.Source, nil)
	if len(res.Source) > 0 {
		src.notify(except)
		dst.notify(except)
	}
	return res
}

// copyMessages copies the messages of src with the given UIDs to dst. The
// caller notifies.
func copyMessages(src, dst *mailbox, uids []imap4.UID) *imap4.CopyResult {
	res := &imap4.CopyResult{UIDValidity: dst.uidValidity}
	var found []message
	for _, uid := range uniqueSorted(uids) {
		if i, ok := src.find(uid); ok {
			found = append(found, src.msgs[i])
		}
	}
	if len(found) == 0 {
		return res
	}
	modseq := dst.nextModSeq()
	for _, m := range found {
		res.Source = append(res.Source, m.uid)
		res.Dest = append(res.Dest, dst.add(m, modseq))
	}
	return res
}

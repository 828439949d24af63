package memstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/mailfront/mailfront/imap4"
)

// A mailboxHandle is one session's opened mailbox. It follows its mailbox
// through renames; once the mailbox is deleted (or the user removed by
// Reset) its methods fail with an error wrapping imap4.ErrNoSuchMailbox.
type mailboxHandle struct {
	u      *user
	mb     *mailbox
	ch     chan struct{} // Watch; buffered, closed by Close
	closed bool
}

var (
	_ imap4.Mailbox        = (*mailboxHandle)(nil)
	_ imap4.Mover          = (*mailboxHandle)(nil)
	_ imap4.StructureCache = (*mailboxHandle)(nil)
)

var errClosed = errors.New("memstore: mailbox closed")

// lock locks the user and checks that the handle is usable.
func (h *mailboxHandle) lock() error {
	h.u.mu.Lock()
	switch {
	case h.closed:
		h.u.mu.Unlock()
		return errClosed
	case h.mb.deleted:
		h.u.mu.Unlock()
		return fmt.Errorf("memstore: mailbox %s was deleted: %w", quote(h.mb.name), imap4.ErrNoSuchMailbox)
	}
	return nil
}

func (h *mailboxHandle) unlock() { h.u.mu.Unlock() }

func (h *mailboxHandle) Sync(ctx context.Context, since imap4.ModSeq) (*imap4.SyncData, error) {
	if err := h.lock(); err != nil {
		return nil, err
	}
	defer h.unlock()
	mb := h.mb
	d := &imap4.SyncData{MailboxStatus: mb.status()}
	if since == 0 {
		d.Messages = make([]imap4.MessageMeta, len(mb.msgs))
		for i := range mb.msgs {
			d.Messages[i] = mb.msgs[i].meta()
		}
		return d, nil
	}
	if since >= mb.modseq {
		return d, nil
	}
	if idx, ok := mb.changes.since(since, mb.msgs); ok {
		d.Messages = make([]imap4.MessageMeta, len(idx))
		for j, i := range idx {
			d.Messages[j] = mb.msgs[i].meta()
		}
	} else {
		for i := range mb.msgs {
			if mb.msgs[i].modseq > since {
				d.Messages = append(d.Messages, mb.msgs[i].meta())
			}
		}
	}
	d.Expunged = mb.tombs.since(since, mb.msgs)
	return d, nil
}

func (h *mailboxHandle) Watch() <-chan struct{} { return h.ch }

// content is an opened message: the stored bytes, which are never
// modified, so reading needs no lock.
type content struct{ *bytes.Reader }

func (content) Close() error { return nil }

func (h *mailboxHandle) Open(ctx context.Context, uid imap4.UID) (imap4.Message, error) {
	if err := h.lock(); err != nil {
		return nil, err
	}
	defer h.unlock()
	i, ok := h.mb.find(uid)
	if !ok {
		return nil, fmt.Errorf("memstore: UID %d: %w", uid, imap4.ErrNoSuchMessage)
	}
	return content{bytes.NewReader(h.mb.msgs[i].data)}, nil
}

// Append stores the message as read from r, byte for byte.
func (h *mailboxHandle) Append(ctx context.Context, r io.Reader, opts *imap4.AppendOptions) (imap4.AppendResult, error) {
	if opts == nil {
		opts = &imap4.AppendOptions{}
	}
	if err := checkFlags(opts.Flags); err != nil {
		return imap4.AppendResult{}, err
	}
	data, err := readMessage(r)
	if err != nil {
		return imap4.AppendResult{}, fmt.Errorf("memstore: reading the message: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return imap4.AppendResult{}, err
	}
	if err := h.lock(); err != nil {
		return imap4.AppendResult{}, err
	}
	defer h.unlock()
	uid := h.mb.append(data, opts.Flags, opts.InternalDate)
	h.mb.notify(h)
	return imap4.AppendResult{UIDValidity: h.mb.uidValidity, UID: uid}, nil
}

// append stores one new message. The user's lock is held; the caller
// notifies.
func (mb *mailbox) append(data []byte, flags []string, date time.Time) imap4.UID {
	if date.IsZero() {
		date = time.Now()
	}
	m := message{flags: mb.u.flags.make(flags), date: date, data: data}
	return mb.add(m, mb.nextModSeq())
}

// SetFlags changes flags. One ModSeq is assigned to all the messages the
// call changes; messages whose flags stay the same keep theirs.
func (h *mailboxHandle) SetFlags(ctx context.Context, uids []imap4.UID, op imap4.StoreOp, flags []string, opts *imap4.StoreOptions) (*imap4.StoreResult, error) {
	if err := checkFlags(flags); err != nil {
		return nil, err
	}
	if op != imap4.StoreReplace && op != imap4.StoreAdd && op != imap4.StoreRemove {
		return nil, fmt.Errorf("memstore: unknown store operation %d: %w", op, imap4.ErrCannot)
	}
	var unchangedSince imap4.ModSeq
	if opts != nil {
		unchangedSince = opts.UnchangedSince
	}
	if err := h.lock(); err != nil {
		return nil, err
	}
	defer h.unlock()
	mb := h.mb
	change := h.u.flags.change(op, flags)
	uids = uniqueSorted(uids)
	res := &imap4.StoreResult{Updated: make([]imap4.MessageMeta, 0, min(len(uids), len(mb.msgs)))}
	var modseq imap4.ModSeq
	lo := 0 // uids ascend, so each search starts after the last match
	for _, uid := range uids {
		var i int
		var ok bool
		if lo < len(mb.msgs) && mb.msgs[lo].uid == uid { // the next message: 1:* and ranges
			i, ok = lo, true
		} else {
			i, ok = slices.BinarySearchFunc(mb.msgs[lo:], uid, cmpMessageUID)
			i += lo
		}
		lo = i
		if !ok {
			continue
		}
		lo = i + 1
		m := &mb.msgs[i]
		if unchangedSince != 0 && m.modseq > unchangedSince {
			res.Modified = append(res.Modified, uid)
			continue
		}
		fs := change.apply(m.flags)
		if fs == m.flags {
			continue
		}
		if modseq == 0 {
			modseq = mb.nextModSeq()
		}
		mb.count(m, -1)
		m.flags = fs
		m.modseq = modseq
		mb.count(m, 1)
		mb.changes.record(uid, modseq, mb.msgs)
		res.Updated = append(res.Updated, m.meta())
	}
	if modseq != 0 {
		mb.notify(h)
	}
	return res, nil
}

// Expunge removes those of the given messages that are still flagged
// \Deleted: a message whose \Deleted flag another session has removed
// since the frontend looked stays.
func (h *mailboxHandle) Expunge(ctx context.Context, uids []imap4.UID) ([]imap4.UID, error) {
	if err := h.lock(); err != nil {
		return nil, err
	}
	defer h.unlock()
	gone := h.mb.expunge(uids, func(m *message) bool { return m.flags.deleted })
	if len(gone) > 0 {
		h.mb.notify(h)
	}
	return gone, nil
}

func (h *mailboxHandle) CopyTo(ctx context.Context, uids []imap4.UID, dest string) (*imap4.CopyResult, error) {
	if err := h.lock(); err != nil {
		return nil, err
	}
	defer h.unlock()
	dst, err := h.u.selectable(dest)
	if err != nil {
		return nil, err
	}
	res := copyMessages(h.mb, dst, uids)
	if len(res.Dest) > 0 {
		dst.notify(h)
	}
	return res, nil
}

// MoveTo implements [imap4.Mover]: the messages leave the source and arrive
// in dest in one step, under one lock.
func (h *mailboxHandle) MoveTo(ctx context.Context, uids []imap4.UID, dest string) (*imap4.CopyResult, error) {
	if err := h.lock(); err != nil {
		return nil, err
	}
	defer h.unlock()
	dst, err := h.u.selectable(dest)
	if err != nil {
		return nil, err
	}
	return moveMessages(h.mb, dst, uids, h), nil
}

// CachedStructure implements [imap4.StructureCache]. The returned bytes
// must not be modified.
func (h *mailboxHandle) CachedStructure(ctx context.Context, uid imap4.UID) ([]byte, bool) {
	if err := h.lock(); err != nil {
		return nil, false
	}
	defer h.unlock()
	i, ok := h.mb.find(uid)
	if !ok || h.mb.msgs[i].structure == nil {
		return nil, false
	}
	return h.mb.msgs[i].structure, true
}

// CacheStructure implements [imap4.StructureCache]. The structure is kept
// with the message (and its copies) until it is expunged.
func (h *mailboxHandle) CacheStructure(ctx context.Context, uid imap4.UID, data []byte) {
	if err := h.lock(); err != nil {
		return
	}
	defer h.unlock()
	if i, ok := h.mb.find(uid); ok {
		h.mb.msgs[i].structure = bytes.Clone(data)
	}
}

// Close stops the handle's Watch channel (closing it) and releases the
// handle. Closing twice returns an error.
func (h *mailboxHandle) Close() error {
	h.u.mu.Lock()
	defer h.u.mu.Unlock()
	if h.closed {
		return errClosed
	}
	h.closed = true
	delete(h.mb.watchers, h)
	close(h.ch)
	return nil
}

// uniqueSorted returns uids sorted and without duplicates, leaving uids
// alone.
func uniqueSorted(uids []imap4.UID) []imap4.UID {
	if slices.IsSorted(uids) {
		// The common case; check for duplicates without copying.
		dup := false
		for i := 1; i < len(uids); i++ {
			if uids[i] == uids[i-1] {
				dup = true
				break
			}
		}
		if !dup {
			return uids
		}
	}
	out := slices.Clone(uids)
	slices.Sort(out)
	return slices.Compact(out)
}

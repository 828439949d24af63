package maildir

import (
	"context"
	"io"

	"github.com/mailfront/mailfront/imap4"
)

// mailbox is the imap4.Mailbox of one session. Its state lives in the
// shared folder; the mailbox holds only its watch channel.
type mailbox struct {
	u      *userState
	f      *folder
	watch  chan struct{}
	closed bool
}

var (
	_ imap4.Mailbox        = (*mailbox)(nil)
	_ imap4.Mover          = (*mailbox)(nil)
	_ imap4.StructureCache = (*mailbox)(nil)
)

// Sync implements imap4.Mailbox.
func (m *mailbox) Sync(ctx context.Context, since imap4.ModSeq) (*imap4.SyncData, error) {
	return m.f.sync(since)
}

// Watch implements imap4.Mailbox. The channel is signalled by every change
// made through another handle of this store (IMAP, POP3, deliveries) and by
// changes other programs make in the directories, which a poller finds
// within Store.PollInterval.
func (m *mailbox) Watch() <-chan struct{} { return m.watch }

// Open implements imap4.Mailbox.
func (m *mailbox) Open(ctx context.Context, uid imap4.UID) (imap4.Message, error) {
	msg, err := m.f.open(uid)
	if err != nil {
		return nil, err
	}
	return msg, nil
}

// Append implements imap4.Mailbox. The message is durable when Append
// returns nil: its file is fsynced, renamed into cur/ under a name holding
// its UID, cur/ is fsynced, and the index journal record is fsynced.
func (m *mailbox) Append(ctx context.Context, r io.Reader, opts *imap4.AppendOptions) (imap4.AppendResult, error) {
	return m.f.append(ctx, r, opts, m)
}

// SetFlags implements imap4.Mailbox.
func (m *mailbox) SetFlags(ctx context.Context, uids []imap4.UID, op imap4.StoreOp, flags []string, opts *imap4.StoreOptions) (*imap4.StoreResult, error) {
	return m.f.setFlags(uids, op, flags, opts, m)
}

// Expunge implements imap4.Mailbox. Only messages that still have
// \Deleted are removed: another session may have cleared the flag since
// this one saw it.
func (m *mailbox) Expunge(ctx context.Context, uids []imap4.UID) ([]imap4.UID, error) {
	return m.f.expunge(uids, true, m)
}

// CopyTo implements imap4.Mailbox.
func (m *mailbox) CopyTo(ctx context.Context, uids []imap4.UID, dest string) (*imap4.CopyResult, error) {
	dst, err := m.u.folder(dest)
	if err != nil {
		return nil, err
	}
	return copyTo(m.f, dst, uids, false, m)
}

// MoveTo implements imap4.Mover: each message file is renamed into the
// destination, so it is never in both mailboxes or in neither.
func (m *mailbox) MoveTo(ctx context.Context, uids []imap4.UID, dest string) (*imap4.CopyResult, error) {
	dst, err := m.u.folder(dest)
	if err != nil {
		return nil, err
	}
	return copyTo(m.f, dst, uids, true, m)
}

// CachedStructure implements imap4.StructureCache.
func (m *mailbox) CachedStructure(ctx context.Context, uid imap4.UID) ([]byte, bool) {
	f := m.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.readyLocked(false) != nil || f.findLocked(uid) < 0 || f.cache == nil {
		return nil, false
	}
	return f.cache.get(uid)
}

// CacheStructure implements imap4.StructureCache. Entries are kept in the
// folder's cache file, without fsync.
func (m *mailbox) CacheStructure(ctx context.Context, uid imap4.UID, data []byte) {
	f := m.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.readyLocked(false) != nil || f.findLocked(uid) < 0 || f.cache == nil {
		return
	}
	f.cache.put(uid, data)
}

// Close implements imap4.Mailbox.
func (m *mailbox) Close() error {
	if m.closed {
		return nil
	}
	m.closed = true
	m.f.mu.Lock()
	m.f.removeWatcherLocked(m)
	m.f.mu.Unlock()
	close(m.watch)
	m.u.s.release(m.u)
	return nil
}

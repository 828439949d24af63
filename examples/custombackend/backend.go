package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/pop3"
)

// Backend serves the mail of a [HostStore] over IMAP and POP3: it
// implements [imap4.Backend] and [pop3.Backend]. The host's notions map to
// mailfront's like this:
//
//   - a user's folders are IMAP mailboxes, "/" in their names making the
//     hierarchy; a level that is not a folder itself is listed \Noselect;
//   - a folder's ID is its UIDVALIDITY, and a record's ID its UID;
//   - revisions are modification sequences (CONDSTORE): Folder.Rev is the
//     HIGHESTMODSEQ and Record.Rev a message's MODSEQ;
//   - expunges are the gaps in the record IDs (see mailbox.Sync);
//   - [HostStore.Listen] drives the change feed ([imap4.Mailbox.Watch]);
//   - POP3 serves the INBOX folder, locked in memory for one session per
//     user.
//
// A host could add optional interfaces later, on mailbox and maildrop:
//
//   - [imap4.Mover], if its database can move a record to another folder in
//     one transaction: MOVE is otherwise COPY, STORE \Deleted and EXPUNGE,
//     which another session may see half done;
//   - [imap4.StructureCache], with a column for the parsed MIME structure,
//     so that FETCH ENVELOPE or BODYSTRUCTURE does not parse a message again
//     in every session;
//   - [imap4.Searcher], if it has a full-text index for SEARCH BODY and TEXT;
//   - [pop3.TopOpener], if it keeps headers apart from bodies.
type Backend struct {
	store    *HostStore
	watchers broadcaster
	pop3Lock sync.Map // user name → true while a POP3 session has the maildrop
}

var (
	_ imap4.Backend = (*Backend)(nil)
	_ pop3.Backend  = (*Backend)(nil)
	_ imap4.User    = (*user)(nil)
	_ imap4.Mailbox = (*mailbox)(nil)
	_ pop3.Maildrop = (*maildrop)(nil)
)

// NewBackend returns a Backend serving store.
func NewBackend(store *HostStore) *Backend {
	b := &Backend{store: store}
	// Every change to the store, whoever makes it (an IMAP session, a POP3
	// deletion, the host's own delivery agent), wakes the sessions watching
	// that folder. A host whose database runs in another process gets the
	// same from its notifications (PostgreSQL LISTEN/NOTIFY, a message bus).
	store.Listen(b.watchers.signal)
	return b
}

// OpenUser implements [imap4.Backend]. id.Username, as the Authenticator
// returned it, is the key of the user's data; the INBOX is created on first
// login.
func (b *Backend) OpenUser(ctx context.Context, id auth.Identity) (imap4.User, error) {
	if _, err := b.inbox(ctx, id.Username); err != nil {
		return nil, err
	}
	return &user{b: b, name: id.Username}, nil
}

// inbox returns a user's INBOX folder, creating it if need be.
func (b *Backend) inbox(ctx context.Context, name string) (Folder, error) {
	f, err := b.store.CreateFolder(ctx, name, "INBOX", "")
	if errors.Is(err, ErrExists) {
		return b.store.Folder(ctx, name, "INBOX")
	}
	return f, err
}

// mapErr gives the store's errors the meaning imap4 knows them by; the
// frontend turns those into response codes.
func mapErr(err error) error {
	switch {
	case errors.Is(err, ErrNoFolder):
		return fmt.Errorf("%w (%w)", imap4.ErrNoSuchMailbox, err)
	case errors.Is(err, ErrNoRecord):
		return fmt.Errorf("%w (%w)", imap4.ErrNoSuchMessage, err)
	case errors.Is(err, ErrExists):
		return fmt.Errorf("%w (%w)", imap4.ErrMailboxExists, err)
	}
	return err
}

// roles maps the special uses the store has a role for (RFC 6154). \All
// and \Flagged are virtual mailboxes, which this store cannot offer.
var roles = map[string]string{`\Archive`: "archive", `\Drafts`: "drafts", `\Junk`: "junk", `\Sent`: "sent", `\Trash`: "trash"}

func specialUse(role string) string {
	for use, r := range roles {
		if r == role {
			return use
		}
	}
	return ""
}

// user is one IMAP session's view of a user's folders.
type user struct {
	b    *Backend
	name string
}

func (u *user) ListMailboxes(ctx context.Context) ([]imap4.MailboxInfo, error) {
	folders, err := u.b.store.Folders(ctx, u.name)
	if err != nil {
		return nil, err
	}
	subs, err := u.b.store.Subscriptions(ctx, u.name)
	if err != nil {
		return nil, err
	}
	var list []imap4.MailboxInfo
	listed := make(map[string]bool)
	add := func(mi imap4.MailboxInfo) {
		if !listed[mi.Name] {
			listed[mi.Name], mi.Subscribed = true, subs[mi.Name]
			list = append(list, mi)
		}
	}
	for _, f := range folders {
		add(imap4.MailboxInfo{Name: f.Name, SpecialUse: specialUse(f.Role)})
	}
	for _, f := range folders { // levels above folders, after the folders
		for i := range len(f.Name) {
			if f.Name[i] == imap4.Delimiter {
				add(imap4.MailboxInfo{Name: f.Name[:i], NoSelect: true})
			}
		}
	}
	for name := range subs {
		add(imap4.MailboxInfo{Name: name, NonExistent: true})
	}
	return list, nil
}

func (u *user) Status(ctx context.Context, name string) (imap4.MailboxStatus, error) {
	f, err := u.b.store.Folder(ctx, u.name, name)
	if err != nil {
		return imap4.MailboxStatus{}, mapErr(err)
	}
	d, err := (&mailbox{b: u.b, id: f.ID}).Sync(ctx, 0)
	if err != nil {
		return imap4.MailboxStatus{}, err
	}
	return d.MailboxStatus, nil
}

// CreateMailbox creates a folder. The levels above it need nothing: they
// are listed as \Noselect until created themselves.
func (u *user) CreateMailbox(ctx context.Context, name string, opts *imap4.CreateOptions) error {
	var role string
	if opts != nil && opts.SpecialUse != "" {
		if role = roles[opts.SpecialUse]; role == "" {
			return fmt.Errorf("%w: no folder role for %s", imap4.ErrCannot, opts.SpecialUse)
		}
	}
	_, err := u.b.store.CreateFolder(ctx, u.name, name, role)
	return mapErr(err)
}

// DeleteMailbox deletes a folder. Its children stay, so its name stays
// listed, as \Noselect.
func (u *user) DeleteMailbox(ctx context.Context, name string) error {
	err := u.b.store.DeleteFolder(ctx, u.name, name)
	if errors.Is(err, ErrNoFolder) {
		folders, _ := u.b.store.Folders(ctx, u.name)
		if slices.ContainsFunc(folders, func(f Folder) bool { return strings.HasPrefix(f.Name, name+"/") }) {
			return imap4.ErrHasChildren
		}
	}
	return mapErr(err)
}

// RenameMailbox renames a folder and the folders below it, which keep
// their IDs: UIDVALIDITY and UIDs stay. A real host does it in one
// transaction.
func (u *user) RenameMailbox(ctx context.Context, oldName, newName string) error {
	if oldName == "INBOX" {
		return u.renameINBOX(ctx, newName)
	}
	folders, err := u.b.store.Folders(ctx, u.name)
	if err != nil {
		return err
	}
	exists := make(map[string]bool)
	for _, f := range folders {
		exists[f.Name] = true
	}
	renames := make(map[string]string)
	for _, f := range folders {
		if f.Name == oldName || strings.HasPrefix(f.Name, oldName+"/") {
			to := newName + f.Name[len(oldName):]
			if exists[to] {
				return fmt.Errorf("%w: %q", imap4.ErrMailboxExists, to)
			}
			renames[f.Name] = to
		}
	}
	if len(renames) == 0 {
		return imap4.ErrNoSuchMailbox
	}
	for from, to := range renames {
		if err := u.b.store.RenameFolder(ctx, u.name, from, to); err != nil {
			return mapErr(err)
		}
	}
	return nil
}

// renameINBOX moves the INBOX's messages to a new folder, leaving the
// INBOX empty (RFC 9051 §6.3.10). The folders below INBOX stay.
func (u *user) renameINBOX(ctx context.Context, newName string) error {
	in, err := u.b.inbox(ctx, u.name)
	if err != nil {
		return err
	}
	if _, err := u.b.store.CreateFolder(ctx, u.name, newName, ""); err != nil {
		return mapErr(err)
	}
	_, recs, err := u.b.store.Load(ctx, in.ID)
	if err != nil {
		return err
	}
	uids := make([]imap4.UID, len(recs))
	for i, r := range recs {
		uids[i] = imap4.UID(r.ID)
	}
	res, err := (&mailbox{b: u.b, user: u.name, id: in.ID}).CopyTo(ctx, uids, newName)
	if err != nil {
		return err
	}
	_, err = u.b.store.Delete(ctx, in.ID, ids(res.Source))
	return err
}

func (u *user) SetSubscribed(ctx context.Context, name string, subscribed bool) error {
	return u.b.store.SetSubscribed(ctx, u.name, name, subscribed)
}

func (u *user) OpenMailbox(ctx context.Context, name string) (imap4.Mailbox, error) {
	f, err := u.b.store.Folder(ctx, u.name, name)
	if err != nil {
		return nil, mapErr(err)
	}
	return &mailbox{b: u.b, user: u.name, id: f.ID, watch: u.b.watchers.subscribe(f.ID)}, nil
}

func (u *user) Close() error { return nil }

// mailbox is a folder opened by one IMAP session. It holds the folder's
// ID, not its name, so it follows the folder through a rename.
type mailbox struct {
	b     *Backend
	user  string
	id    int64
	watch chan struct{}
}

// Sync reads the whole folder and reports what changed after since.
//
// The store keeps no record of what it deleted, only when it last did
// (DeletedRev). So after a deletion Sync reports every ID below NextID that
// is missing: a superset of the expunges, which SyncData allows since IDs
// are never reused. A host with large, long-lived folders would keep a
// tombstone table (folder, id, rev) instead, and report its rows with
// rev > since.
func (m *mailbox) Sync(ctx context.Context, since imap4.ModSeq) (*imap4.SyncData, error) {
	f, recs, err := m.b.store.Load(ctx, m.id)
	if err != nil {
		return nil, mapErr(err)
	}
	d := &imap4.SyncData{MailboxStatus: imap4.MailboxStatus{
		UIDValidity:   uint32(f.ID),
		UIDNext:       imap4.UID(f.NextID),
		HighestModSeq: imap4.ModSeq(f.Rev),
		Messages:      uint32(len(recs)),
	}}
	for _, r := range recs {
		d.Size += int64(len(r.Data))
		if !slices.Contains(r.Flags, imap4.FlagSeen) {
			d.Unseen++
		}
		if slices.Contains(r.Flags, imap4.FlagDeleted) {
			d.Deleted++
		}
		if imap4.ModSeq(r.Rev) > since {
			d.Messages = append(d.Messages, meta(r))
		}
	}
	if since > 0 && imap4.ModSeq(f.DeletedRev) > since {
		next := 0
		for id := int64(1); id < f.NextID; id++ {
			if next < len(recs) && recs[next].ID == id {
				next++
			} else {
				d.Expunged = append(d.Expunged, imap4.UID(id))
			}
		}
	}
	return d, nil
}

// meta describes a record. The store never modifies a record's Flags
// slice in place, so the frontend may keep it.
func meta(r Record) imap4.MessageMeta {
	return imap4.MessageMeta{UID: imap4.UID(r.ID), Flags: r.Flags, ModSeq: imap4.ModSeq(r.Rev), Size: int64(len(r.Data)), InternalDate: r.Date}
}

func (m *mailbox) Watch() <-chan struct{} { return m.watch }

func (m *mailbox) Open(ctx context.Context, uid imap4.UID) (imap4.Message, error) {
	r, err := m.b.store.Record(ctx, m.id, int64(uid))
	if err != nil {
		return nil, mapErr(err)
	}
	// A record's bytes never change, so this stays readable after an
	// expunge. A host keeping messages in files or an object store returns
	// its blob here: an *os.File is an io.ReaderAt too.
	return message{bytes.NewReader(r.Data)}, nil
}

type message struct{ *bytes.Reader }

func (message) Close() error { return nil }

func (m *mailbox) Append(ctx context.Context, r io.Reader, opts *imap4.AppendOptions) (imap4.AppendResult, error) {
	if opts == nil {
		opts = new(imap4.AppendOptions)
	}
	// Read everything before storing anything, so that a failed read leaves
	// nothing behind (the frontend bounds the size: Server.AppendLimit). A
	// host with blob storage streams r into a new blob instead and inserts
	// the record once the blob is complete.
	data, err := io.ReadAll(r)
	if err != nil {
		return imap4.AppendResult{}, err
	}
	date := opts.InternalDate
	if date.IsZero() {
		date = time.Now()
	}
	rec, err := m.b.store.Insert(ctx, m.id, data, applyFlags(imap4.StoreReplace, nil, opts.Flags), date)
	if err != nil {
		return imap4.AppendResult{}, mapErr(err)
	}
	return imap4.AppendResult{UIDValidity: uint32(m.id), UID: imap4.UID(rec.ID)}, nil
}

func (m *mailbox) SetFlags(ctx context.Context, uids []imap4.UID, op imap4.StoreOp, flags []string, opts *imap4.StoreOptions) (*imap4.StoreResult, error) {
	var unchangedSince imap4.ModSeq
	if opts != nil {
		unchangedSince = opts.UnchangedSince
	}
	res := new(imap4.StoreResult)
	for _, uid := range slices.Compact(slices.Sorted(slices.Values(uids))) {
		for { // read, change, write if unchanged meanwhile; else again
			r, err := m.b.store.Record(ctx, m.id, int64(uid))
			if errors.Is(err, ErrNoRecord) {
				break // expunged: ignored
			} else if err != nil {
				return nil, mapErr(err)
			}
			if unchangedSince != 0 && imap4.ModSeq(r.Rev) > unchangedSince {
				res.Modified = append(res.Modified, uid)
				break
			}
			newFlags := applyFlags(op, r.Flags, flags)
			if sameFlags(newFlags, r.Flags) {
				break // no change, so no new MODSEQ
			}
			r, err = m.b.store.SetFlags(ctx, m.id, r.ID, newFlags, r.Rev)
			if errors.Is(err, ErrConflict) {
				continue // another session changed it first
			}
			if err == nil {
				res.Updated = append(res.Updated, meta(r))
			} else if !errors.Is(err, ErrNoRecord) {
				return nil, mapErr(err)
			}
			break
		}
	}
	return res, nil
}

// applyFlags returns old changed by a STORE. IMAP flags are
// case-insensitive: system flags are spelled as imap4's constants, and
// adding a flag already there keeps its spelling.
func applyFlags(op imap4.StoreOp, old, change []string) []string {
	var out []string
	for _, f := range old {
		if op == imap4.StoreAdd || (op == imap4.StoreRemove && !hasFlag(change, f)) {
			out = append(out, f)
		}
	}
	for _, f := range change {
		if op != imap4.StoreRemove && !hasFlag(out, f) {
			out = append(out, canonical(f))
		}
	}
	return out
}

func canonical(flag string) string {
	for _, f := range []string{imap4.FlagSeen, imap4.FlagAnswered, imap4.FlagFlagged, imap4.FlagDeleted, imap4.FlagDraft} {
		if strings.EqualFold(flag, f) {
			return f
		}
	}
	return flag
}

func hasFlag(flags []string, flag string) bool {
	return slices.ContainsFunc(flags, func(f string) bool { return strings.EqualFold(f, flag) })
}

func sameFlags(a, b []string) bool {
	return len(a) == len(b) && !slices.ContainsFunc(a, func(f string) bool { return !hasFlag(b, f) })
}

// Expunge deletes the messages. It does not check that they are still
// flagged \Deleted, which RFC 9051 asks for but the imap4 contract leaves
// optional.
func (m *mailbox) Expunge(ctx context.Context, uids []imap4.UID) ([]imap4.UID, error) {
	gone, err := m.b.store.Delete(ctx, m.id, ids(uids))
	if err != nil {
		return nil, mapErr(err)
	}
	out := make([]imap4.UID, len(gone))
	for i, id := range gone {
		out[i] = imap4.UID(id)
	}
	return out, nil
}

func ids(uids []imap4.UID) []int64 {
	out := make([]int64, len(uids))
	for i, u := range uids {
		out[i] = int64(u)
	}
	return out
}

// CopyTo copies records one by one; a real host does it in one
// transaction.
func (m *mailbox) CopyTo(ctx context.Context, uids []imap4.UID, dest string) (*imap4.CopyResult, error) {
	to, err := m.b.store.Folder(ctx, m.user, dest)
	if err != nil {
		return nil, mapErr(err)
	}
	res := &imap4.CopyResult{UIDValidity: uint32(to.ID)}
	for _, uid := range slices.Compact(slices.Sorted(slices.Values(uids))) {
		r, err := m.b.store.Record(ctx, m.id, int64(uid))
		if errors.Is(err, ErrNoRecord) {
			continue
		} else if err != nil {
			return nil, mapErr(err)
		}
		// The copy shares the original's bytes, which never change: a host
		// with blob storage copies the reference, not the blob.
		c, err := m.b.store.Insert(ctx, to.ID, r.Data, r.Flags, r.Date)
		if err != nil {
			return nil, mapErr(err)
		}
		res.Source, res.Dest = append(res.Source, uid), append(res.Dest, imap4.UID(c.ID))
	}
	return res, nil
}

func (m *mailbox) Close() error {
	m.b.watchers.unsubscribe(m.watch)
	return nil
}

// A broadcaster keeps the Watch channels of the open mailboxes and
// signals those of a folder when it changes. It looks at every channel for
// each change: simple, and cheap enough for thousands of sessions.
type broadcaster struct {
	mu   sync.Mutex
	subs map[chan struct{}]int64 // Watch channel → folder ID
}

func (b *broadcaster) subscribe(folderID int64) chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.subs == nil {
		b.subs = make(map[chan struct{}]int64)
	}
	ch := make(chan struct{}, 1)
	b.subs[ch] = folderID
	return ch
}

func (b *broadcaster) unsubscribe(ch chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.subs, ch)
	close(ch)
}

// signal never blocks: a value already pending stands for this change too.
func (b *broadcaster) signal(folderID int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch, id := range b.subs {
		if id == folderID {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}

// OpenMaildrop implements [pop3.Backend]: a POP3 session sees the user's
// INBOX. The lock (RFC 1939 §8) lives in this process's memory; a host
// running several frontend processes keeps it in its database instead (a
// row with an expiry time).
func (b *Backend) OpenMaildrop(ctx context.Context, id auth.Identity) (pop3.Maildrop, error) {
	if _, locked := b.pop3Lock.LoadOrStore(id.Username, true); locked {
		return nil, pop3.ErrMaildropLocked
	}
	in, err := b.inbox(ctx, id.Username)
	if err != nil {
		b.pop3Lock.Delete(id.Username)
		return nil, err
	}
	return &maildrop{b: b, user: id.Username, inbox: in.ID}, nil
}

// maildrop is a POP3 session's INBOX. Its unique ids (UIDL) are
// "folderID.recordID", never reused even if INBOX is deleted and created
// again.
type maildrop struct {
	b     *Backend
	user  string
	inbox int64
}

func (md *maildrop) Messages(ctx context.Context) ([]pop3.MessageInfo, error) {
	_, recs, err := md.b.store.Load(ctx, md.inbox)
	if err != nil {
		return nil, err
	}
	list := make([]pop3.MessageInfo, len(recs))
	for i, r := range recs {
		list[i] = pop3.MessageInfo{UID: fmt.Sprintf("%d.%d", md.inbox, r.ID), Size: int64(len(r.Data))}
	}
	return list, nil
}

// recordID returns the record a unique id names, or false.
func (md *maildrop) recordID(uid string) (int64, bool) {
	rest, ok := strings.CutPrefix(uid, strconv.FormatInt(md.inbox, 10)+".")
	id, err := strconv.ParseInt(rest, 10, 64)
	return id, ok && err == nil
}

func (md *maildrop) Open(ctx context.Context, uid string) (io.ReadCloser, error) {
	id, ok := md.recordID(uid)
	if !ok {
		return nil, pop3.ErrNoSuchMessage
	}
	r, err := md.b.store.Record(ctx, md.inbox, id)
	if errors.Is(err, ErrNoRecord) || errors.Is(err, ErrNoFolder) {
		return nil, fmt.Errorf("%w (%w)", pop3.ErrNoSuchMessage, err)
	} else if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(r.Data)), nil
}

// Delete deletes the messages; those an IMAP session expunged meanwhile
// are not found, which is no error.
func (md *maildrop) Delete(ctx context.Context, uids []string) error {
	var recs []int64
	for _, uid := range uids {
		if id, ok := md.recordID(uid); ok {
			recs = append(recs, id)
		}
	}
	_, err := md.b.store.Delete(ctx, md.inbox, recs)
	return err
}

func (md *maildrop) Close() error {
	md.b.pop3Lock.Delete(md.user)
	return nil
}

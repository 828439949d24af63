package imap4_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/imap4"
)

// fakeBackend is an in-memory imap4.Backend for tests, with knobs: errors
// per method, panics, slow calls that wait for their context, and the
// optional interfaces switched on or off.
type fakeBackend struct {
	mu    sync.Mutex
	users map[string]*fakeUserData
	// knobs, guarded by mu
	errs     map[string]error // method name -> error to return
	panics   map[string]bool  // method name -> panic
	slow     map[string]chan struct{}
	started  chan string // receives the method name when a slow call starts waiting
	optional bool        // mailboxes implement Mover, StructureCache, Searcher
	shared   bool        // Sync(0) hands every caller the same SyncData until the box changes
	nextVal  uint32
	opened   int // open Mailbox handles
	users0   int // open User handles
	cacheHit int
	searches int
}

type fakeUserData struct {
	boxes map[string]*fakeBox
	subs  map[string]bool
}

type fakeMsg struct {
	uid    imap4.UID
	flags  []string
	modseq imap4.ModSeq
	date   time.Time
	body   []byte
	cache  []byte
}

type fakeExpunge struct {
	uid    imap4.UID
	modseq imap4.ModSeq
}

type fakeBox struct {
	name        string
	specialUse  string
	noSelect    bool
	uidValidity uint32
	uidNext     imap4.UID
	modseq      imap4.ModSeq
	msgs        []*fakeMsg
	expunged    []fakeExpunge
	watchers    map[*fakeMailbox]bool
	snap        *imap4.SyncData // the shared Sync(0) result, see fakeBackend.shared
	snapKey     [3]uint64       // modseq, uidNext and message count snap was made at
}

func newFakeBackend() *fakeBackend {
	return &fakeBackend{users: map[string]*fakeUserData{}, errs: map[string]error{}, panics: map[string]bool{},
		slow: map[string]chan struct{}{}, started: make(chan string, 16), nextVal: 1000}
}

// setSlow makes method wait until release is closed (or its context is
// cancelled); b.started receives the method's name when a call waits.
func (b *fakeBackend) setSlow(method string, release chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.slow[method] = release
}

// box returns (creating) a user's mailbox; callers hold no lock.
func (b *fakeBackend) box(user, name string) *fakeBox {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.boxLocked(user, name)
}

func (b *fakeBackend) boxLocked(user, name string) *fakeBox {
	u := b.users[user]
	if u == nil {
		u = &fakeUserData{boxes: map[string]*fakeBox{}, subs: map[string]bool{}}
		b.users[user] = u
		u.boxes["INBOX"] = b.newBox("INBOX")
	}
	bx := u.boxes[name]
	if bx == nil {
		bx = b.newBox(name)
		u.boxes[name] = bx
	}
	return bx
}

func (b *fakeBackend) newBox(name string) *fakeBox {
	b.nextVal++
	return &fakeBox{name: name, uidValidity: b.nextVal, uidNext: 1, modseq: 1, watchers: map[*fakeMailbox]bool{}}
}

// deliver adds a message as a delivery would, notifying sessions.
func (b *fakeBackend) deliver(user, box, msg string, flags ...string) imap4.UID {
	b.mu.Lock()
	defer b.mu.Unlock()
	bx := b.boxLocked(user, box)
	return bx.add([]byte(toCRLF(msg)), flags, time.Date(2024, 3, 1, 12, 0, 0, 0, time.FixedZone("", 3600)))
}

func toCRLF(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\n", "\r\n")
}

func (bx *fakeBox) add(body []byte, flags []string, date time.Time) imap4.UID {
	bx.modseq++
	m := &fakeMsg{uid: bx.uidNext, flags: slices.Clone(flags), modseq: bx.modseq, date: date, body: body}
	bx.uidNext++
	bx.msgs = append(bx.msgs, m)
	bx.notify()
	return m.uid
}

func (bx *fakeBox) notify() {
	for w := range bx.watchers {
		select {
		case w.watch <- struct{}{}:
		default:
		}
	}
}

func (bx *fakeBox) meta(m *fakeMsg) imap4.MessageMeta {
	return imap4.MessageMeta{UID: m.uid, Flags: m.flags, ModSeq: m.modseq, Size: int64(len(m.body)), InternalDate: m.date}
}

func (bx *fakeBox) status() imap4.MailboxStatus {
	st := imap4.MailboxStatus{UIDValidity: bx.uidValidity, UIDNext: bx.uidNext, HighestModSeq: bx.modseq, Messages: uint32(len(bx.msgs))}
	for _, m := range bx.msgs {
		if !slices.Contains(m.flags, imap4.FlagSeen) {
			st.Unseen++
		}
		if slices.Contains(m.flags, imap4.FlagDeleted) {
			st.Deleted++
		}
		st.Size += int64(len(m.body))
	}
	return st
}

// call applies the knobs for a method.
func (b *fakeBackend) call(ctx context.Context, method string) error {
	b.mu.Lock()
	err, p, slow := b.errs[method], b.panics[method], b.slow[method]
	b.mu.Unlock()
	if p {
		panic("fake backend: panic in " + method)
	}
	if slow != nil {
		b.started <- method
		select {
		case <-slow:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}

func (b *fakeBackend) setErr(method string, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errs[method] = err
}

func (b *fakeBackend) OpenUser(ctx context.Context, id auth.Identity) (imap4.User, error) {
	if err := b.call(ctx, "OpenUser"); err != nil {
		return nil, err
	}
	b.box(id.Username, "INBOX")
	b.mu.Lock()
	b.users0++
	b.mu.Unlock()
	return &fakeUser{b: b, name: id.Username}, nil
}

type fakeUser struct {
	b    *fakeBackend
	name string
}

func (u *fakeUser) data() *fakeUserData { return u.b.users[u.name] }

func (u *fakeUser) ListMailboxes(ctx context.Context) ([]imap4.MailboxInfo, error) {
	if err := u.b.call(ctx, "ListMailboxes"); err != nil {
		return nil, err
	}
	u.b.mu.Lock()
	defer u.b.mu.Unlock()
	d := u.data()
	var out []imap4.MailboxInfo
	for name, bx := range d.boxes {
		out = append(out, imap4.MailboxInfo{Name: name, SpecialUse: bx.specialUse, Subscribed: d.subs[name], NoSelect: bx.noSelect})
	}
	for name := range d.subs {
		if d.boxes[name] == nil {
			out = append(out, imap4.MailboxInfo{Name: name, Subscribed: true, NonExistent: true})
		}
	}
	return out, nil
}

func (u *fakeUser) Status(ctx context.Context, name string) (imap4.MailboxStatus, error) {
	if err := u.b.call(ctx, "Status"); err != nil {
		return imap4.MailboxStatus{}, err
	}
	u.b.mu.Lock()
	defer u.b.mu.Unlock()
	bx := u.data().boxes[name]
	if bx == nil || bx.noSelect {
		return imap4.MailboxStatus{}, imap4.ErrNoSuchMailbox
	}
	return bx.status(), nil
}

func (u *fakeUser) CreateMailbox(ctx context.Context, name string, opts *imap4.CreateOptions) error {
	if err := u.b.call(ctx, "CreateMailbox"); err != nil {
		return err
	}
	u.b.mu.Lock()
	defer u.b.mu.Unlock()
	d := u.data()
	if bx := d.boxes[name]; bx != nil && !bx.noSelect {
		return imap4.ErrMailboxExists
	}
	for i := range name {
		if name[i] == '/' && d.boxes[name[:i]] == nil {
			d.boxes[name[:i]] = u.b.newBox(name[:i])
		}
	}
	bx := u.b.newBox(name)
	if opts != nil {
		bx.specialUse = opts.SpecialUse
	}
	d.boxes[name] = bx
	return nil
}

func (u *fakeUser) DeleteMailbox(ctx context.Context, name string) error {
	if err := u.b.call(ctx, "DeleteMailbox"); err != nil {
		return err
	}
	u.b.mu.Lock()
	defer u.b.mu.Unlock()
	d := u.data()
	bx := d.boxes[name]
	if bx == nil {
		return imap4.ErrNoSuchMailbox
	}
	for other := range d.boxes {
		if strings.HasPrefix(other, name+"/") {
			if bx.noSelect {
				return imap4.ErrHasChildren
			}
			bx.noSelect = true
			bx.msgs = nil
			return nil
		}
	}
	delete(d.boxes, name)
	return nil
}

func (u *fakeUser) RenameMailbox(ctx context.Context, oldName, newName string) error {
	if err := u.b.call(ctx, "RenameMailbox"); err != nil {
		return err
	}
	u.b.mu.Lock()
	defer u.b.mu.Unlock()
	d := u.data()
	bx := d.boxes[oldName]
	if bx == nil {
		return imap4.ErrNoSuchMailbox
	}
	if d.boxes[newName] != nil {
		return imap4.ErrMailboxExists
	}
	if oldName == "INBOX" {
		nb := u.b.newBox(newName)
		nb.msgs, bx.msgs = bx.msgs, nil
		nb.uidNext = bx.uidNext
		d.boxes[newName] = nb
		return nil
	}
	for name, b := range d.boxes {
		if name == oldName || strings.HasPrefix(name, oldName+"/") {
			delete(d.boxes, name)
			b.name = newName + name[len(oldName):]
			d.boxes[b.name] = b
		}
	}
	return nil
}

func (u *fakeUser) SetSubscribed(ctx context.Context, name string, subscribed bool) error {
	if err := u.b.call(ctx, "SetSubscribed"); err != nil {
		return err
	}
	u.b.mu.Lock()
	defer u.b.mu.Unlock()
	if subscribed {
		u.data().subs[name] = true
	} else {
		delete(u.data().subs, name)
	}
	return nil
}

func (u *fakeUser) OpenMailbox(ctx context.Context, name string) (imap4.Mailbox, error) {
	if err := u.b.call(ctx, "OpenMailbox"); err != nil {
		return nil, err
	}
	u.b.mu.Lock()
	defer u.b.mu.Unlock()
	bx := u.data().boxes[name]
	if bx == nil || bx.noSelect {
		return nil, imap4.ErrNoSuchMailbox
	}
	mb := &fakeMailbox{b: u.b, user: u.name, box: bx, watch: make(chan struct{}, 1)}
	bx.watchers[mb] = true
	u.b.opened++
	if u.b.optional {
		return &fullMailbox{mb}, nil
	}
	return mb, nil
}

func (u *fakeUser) Close() error {
	u.b.mu.Lock()
	defer u.b.mu.Unlock()
	u.b.users0--
	return nil
}

type fakeMailbox struct {
	b      *fakeBackend
	user   string
	box    *fakeBox
	watch  chan struct{}
	closed bool
}

func (m *fakeMailbox) Sync(ctx context.Context, since imap4.ModSeq) (*imap4.SyncData, error) {
	if err := m.b.call(ctx, "Sync"); err != nil {
		return nil, err
	}
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	bx := m.box
	key := [3]uint64{uint64(bx.modseq), uint64(bx.uidNext), uint64(len(bx.msgs))}
	if since == 0 && m.b.shared && bx.snap != nil && bx.snapKey == key {
		return bx.snap, nil
	}
	sd := &imap4.SyncData{MailboxStatus: bx.status()}
	defer func() {
		if since == 0 && m.b.shared {
			bx.snap, bx.snapKey = sd, key
		}
	}()
	for _, msg := range bx.msgs {
		if msg.modseq > since {
			sd.Messages = append(sd.Messages, bx.meta(msg))
		}
	}
	if since > 0 {
		for _, e := range bx.expunged {
			if e.modseq > since {
				sd.Expunged = append(sd.Expunged, e.uid)
			}
		}
		slices.Sort(sd.Expunged)
	}
	return sd, nil
}

func (m *fakeMailbox) Watch() <-chan struct{} { return m.watch }

func (m *fakeMailbox) find(uid imap4.UID) *fakeMsg {
	i, ok := slices.BinarySearchFunc(m.box.msgs, uid, func(msg *fakeMsg, uid imap4.UID) int { return int(msg.uid) - int(uid) })
	if !ok {
		return nil
	}
	return m.box.msgs[i]
}

type fakeMessage struct{ *bytes.Reader }

func (fakeMessage) Close() error { return nil }

func (m *fakeMailbox) Open(ctx context.Context, uid imap4.UID) (imap4.Message, error) {
	if err := m.b.call(ctx, "Open"); err != nil {
		return nil, err
	}
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	msg := m.find(uid)
	if msg == nil {
		return nil, imap4.ErrNoSuchMessage
	}
	return fakeMessage{bytes.NewReader(msg.body)}, nil
}

func (m *fakeMailbox) Append(ctx context.Context, r io.Reader, opts *imap4.AppendOptions) (imap4.AppendResult, error) {
	body, err := io.ReadAll(r)
	if err != nil {
		return imap4.AppendResult{}, err
	}
	if err := m.b.call(ctx, "Append"); err != nil {
		return imap4.AppendResult{}, err
	}
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	date := opts.InternalDate
	if date.IsZero() {
		date = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	}
	uid := m.box.add(body, opts.Flags, date)
	return imap4.AppendResult{UIDValidity: m.box.uidValidity, UID: uid}, nil
}

func applyFlags(cur []string, op imap4.StoreOp, flags []string) []string {
	switch op {
	case imap4.StoreReplace:
		return slices.Clone(flags)
	case imap4.StoreAdd:
		out := slices.Clone(cur)
		for _, f := range flags {
			if !slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, f) }) {
				out = append(out, f)
			}
		}
		return out
	}
	return slices.DeleteFunc(slices.Clone(cur), func(o string) bool {
		return slices.ContainsFunc(flags, func(f string) bool { return strings.EqualFold(o, f) })
	})
}

func sameFlags(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, f := range a {
		if !slices.Contains(b, f) {
			return false
		}
	}
	return true
}

func (m *fakeMailbox) SetFlags(ctx context.Context, uids []imap4.UID, op imap4.StoreOp, flags []string, opts *imap4.StoreOptions) (*imap4.StoreResult, error) {
	if err := m.b.call(ctx, "SetFlags"); err != nil {
		return nil, err
	}
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	res := &imap4.StoreResult{}
	changed := false
	for _, uid := range uids {
		msg := m.find(uid)
		if msg == nil {
			continue
		}
		if opts != nil && opts.UnchangedSince > 0 && msg.modseq > opts.UnchangedSince {
			res.Modified = append(res.Modified, uid)
			continue
		}
		nf := applyFlags(msg.flags, op, flags)
		if sameFlags(nf, msg.flags) {
			continue
		}
		m.box.modseq++
		msg.flags, msg.modseq = nf, m.box.modseq
		res.Updated = append(res.Updated, m.box.meta(msg))
		changed = true
	}
	if changed {
		m.box.notify()
	}
	return res, nil
}

func (m *fakeMailbox) Expunge(ctx context.Context, uids []imap4.UID) ([]imap4.UID, error) {
	if err := m.b.call(ctx, "Expunge"); err != nil {
		return nil, err
	}
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	return m.box.expunge(uids), nil
}

func (bx *fakeBox) expunge(uids []imap4.UID) []imap4.UID {
	var removed []imap4.UID
	bx.msgs = slices.DeleteFunc(bx.msgs, func(msg *fakeMsg) bool {
		if slices.Contains(uids, msg.uid) {
			removed = append(removed, msg.uid)
			return true
		}
		return false
	})
	if len(removed) > 0 {
		bx.modseq++
		for _, u := range removed {
			bx.expunged = append(bx.expunged, fakeExpunge{u, bx.modseq})
		}
		bx.notify()
	}
	return removed
}

func (m *fakeMailbox) CopyTo(ctx context.Context, uids []imap4.UID, dest string) (*imap4.CopyResult, error) {
	if err := m.b.call(ctx, "CopyTo"); err != nil {
		return nil, err
	}
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	return m.copyLocked(uids, dest)
}

func (m *fakeMailbox) copyLocked(uids []imap4.UID, dest string) (*imap4.CopyResult, error) {
	d := m.b.users[m.user].boxes[dest]
	if d == nil || d.noSelect {
		return nil, imap4.ErrNoSuchMailbox
	}
	res := &imap4.CopyResult{UIDValidity: d.uidValidity}
	for _, uid := range uids {
		msg := m.find(uid)
		if msg == nil {
			continue
		}
		nu := d.add(msg.body, msg.flags, msg.date)
		res.Source = append(res.Source, uid)
		res.Dest = append(res.Dest, nu)
	}
	return res, nil
}

func (m *fakeMailbox) Close() error {
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	if m.closed {
		panic("fake backend: mailbox closed twice")
	}
	m.closed = true
	delete(m.box.watchers, m)
	m.b.opened--
	close(m.watch)
	return nil
}

// fullMailbox adds the optional interfaces.
type fullMailbox struct{ *fakeMailbox }

func (m *fullMailbox) MoveTo(ctx context.Context, uids []imap4.UID, dest string) (*imap4.CopyResult, error) {
	if err := m.b.call(ctx, "MoveTo"); err != nil {
		return nil, err
	}
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	res, err := m.copyLocked(uids, dest)
	if err != nil {
		return nil, err
	}
	m.box.expunge(res.Source)
	return res, nil
}

func (m *fullMailbox) CachedStructure(ctx context.Context, uid imap4.UID) ([]byte, bool) {
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	if msg := m.find(uid); msg != nil && msg.cache != nil {
		m.b.cacheHit++
		return msg.cache, true
	}
	return nil, false
}

func (m *fullMailbox) CacheStructure(ctx context.Context, uid imap4.UID, data []byte) {
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	if msg := m.find(uid); msg != nil {
		msg.cache = data
	}
}

// Search answers only SUBJECT queries, with a plain substring match, so
// tests can tell the indexed path from the fallback.
func (m *fullMailbox) Search(ctx context.Context, q imap4.SearchQuery, uids []imap4.UID) ([]imap4.UID, error) {
	if q.Kind != imap4.SearchHeader || !strings.EqualFold(q.Field, "Subject") {
		return nil, fmt.Errorf("only subjects: %w", imap4.ErrCannot)
	}
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	m.b.searches++
	var out []imap4.UID
	for _, msg := range m.box.msgs {
		if !slices.Contains(uids, msg.uid) {
			continue
		}
		for line := range strings.SplitSeq(string(msg.body), "\r\n") {
			if line == "" {
				break
			}
			if strings.HasPrefix(strings.ToLower(line), "subject:") && strings.Contains(strings.ToLower(line), strings.ToLower(q.Value)) {
				out = append(out, msg.uid)
				break
			}
		}
	}
	return out, nil
}

// wrapped is a logging-style wrapper that hides the optional interfaces
// but unwraps to them.
type wrapped struct{ imap4.Mailbox }

func (w wrapped) Unwrap() imap4.Mailbox { return w.Mailbox }

var errBoom = errors.New("boom: disk on fire at /var/secret/path")

package memstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/pop3"
	"github.com/mailfront/mailfront/submission"
)

// A Store is an in-memory mail store. It implements [pop3.Backend],
// [imap4.Backend] and [submission.Backend] (with
// [submission.RecipientChecker]) over the same users and mailboxes.
//
// The zero value is an empty store ready to use. A Store is safe for
// concurrent use; it must not be copied after first use. Its fields must
// not be changed once it is in use.
type Store struct {
	// LocalRecipient maps a recipient address of a submitted message to
	// the local user who receives it, reporting ok false for an address
	// that is not local. The user need not exist yet: it is created on
	// delivery. If nil, an address is local when a user of that name
	// (compared case-insensitively) exists, created by AddUser or by a
	// login.
	LocalRecipient func(ctx context.Context, addr string) (user string, ok bool)

	// Relay receives submitted messages for recipients that are not local,
	// with an envelope that holds only those recipients; its
	// RecipientChecker, if it has one, checks them at RCPT time. If nil,
	// recipients that are not local are refused at RCPT time with an error
	// wrapping [submission.ErrRecipientRejected].
	Relay submission.Backend

	// ExpungeHistory is how many expunged UIDs each mailbox remembers one
	// by one for [imap4.Mailbox.Sync]. Older ones are folded into a UID
	// range, and a Sync from before the fold reports every absent UID in
	// that range (a superset that [imap4.SyncData] allows). Zero means
	// 4096.
	ExpungeHistory int

	mu    sync.Mutex
	users map[string]*user // by lower-case name

	validity atomic.Uint32 // the last UIDVALIDITY handed out

	waiters atomic.Int32 // WaitForMessages calls in progress
	waitMu  sync.Mutex
	wait    chan struct{} // closed at the next change; nil if nobody waits
}

// New returns an empty Store. It is the same as new(Store).
func New() *Store { return new(Store) }

// Compile-time checks of the interfaces the Store implements.
var (
	_ pop3.Backend                = (*Store)(nil)
	_ imap4.Backend               = (*Store)(nil)
	_ submission.Backend          = (*Store)(nil)
	_ submission.RecipientChecker = (*Store)(nil)
)

// ErrNoSuchUser is returned by the test helpers for a user that does not
// exist.
var ErrNoSuchUser = errors.New("memstore: no such user")

// specialUses are the mailboxes a new user gets besides INBOX.
var specialUses = []struct{ name, use string }{
	{"Drafts", `\Drafts`},
	{"Sent", `\Sent`},
	{"Trash", `\Trash`},
	{"Junk", `\Junk`},
	{"Archive", `\Archive`},
}

// A user is one user's mail. Everything below it is guarded by mu.
type user struct {
	s     *Store
	name  string
	mu    sync.Mutex
	boxes map[string]*mailbox // by name; INBOX always present
	subs  map[string]bool
	flags flagTable
	pop3  bool // a POP3 session holds the maildrop
	gone  bool // removed by Reset
}

// errUserGone is returned by handles of a user that Reset removed.
var errUserGone = errors.New("memstore: user removed by Reset")

// A mailbox is one mailbox, or a \Noselect level of the hierarchy.
type mailbox struct {
	u           *user
	name        string
	specialUse  string
	noSelect    bool
	deleted     bool // removed from the user: open handles fail
	uidValidity uint32
	uidNext     imap4.UID
	modseq      imap4.ModSeq // the highest
	msgs        []message    // ascending UID
	unseen      uint32
	nDeleted    uint32
	size        int64
	tombs       tombstones
	changes     changeLog
	watchers    map[*mailboxHandle]struct{}
}

// A message is one stored message. Its data and structure are never
// modified once stored, so copies share them.
type message struct {
	uid       imap4.UID
	modseq    imap4.ModSeq
	flags     *flagSet
	date      time.Time
	data      []byte
	structure []byte
}

func cmpMessageUID(m message, uid imap4.UID) int {
	switch {
	case m.uid < uid:
		return -1
	case m.uid > uid:
		return 1
	}
	return 0
}

// userKey is the key of a user name in Store.users.
func userKey(name string) string { return strings.ToLower(name) }

// lookupUser returns the user, or nil.
func (s *Store) lookupUser(name string) *user {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.users[userKey(name)]
}

// user returns the user of that name, creating it if needed.
func (s *Store) user(name string) (*user, error) {
	if name == "" {
		return nil, errors.New("memstore: empty user name")
	}
	key := userKey(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.users[key]; u != nil {
		return u, nil
	}
	u := &user{s: s, name: name, boxes: make(map[string]*mailbox), subs: make(map[string]bool)}
	u.boxes[inbox] = u.newMailbox(inbox, "")
	u.subs[inbox] = true
	for _, su := range specialUses {
		u.boxes[su.name] = u.newMailbox(su.name, su.use)
		u.subs[su.name] = true
	}
	if s.users == nil {
		s.users = make(map[string]*user)
	}
	s.users[key] = u
	return u, nil
}

// AddUser creates a user with an INBOX and the special-use mailboxes
// Drafts, Sent, Trash, Junk and Archive, all subscribed. Adding a user who
// exists does nothing. User names compare case-insensitively.
//
// Users need not be added before they log in: [Store.OpenUser] and
// [Store.OpenMaildrop] create the user of an authenticated identity on
// first use (the frontend has already authenticated it). Adding users
// matters for submission: only existing users are local recipients, unless
// LocalRecipient says otherwise.
func (s *Store) AddUser(name string) error {
	_, err := s.user(name)
	return err
}

// Users returns the names of the users, sorted.
func (s *Store) Users() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.users))
	for _, u := range s.users {
		names = append(names, u.name)
	}
	sort.Strings(names)
	return names
}

// newUIDValidity returns a UIDVALIDITY never handed out before by this
// store: the clock in seconds at first use, then one more each time, never
// zero.
func (s *Store) newUIDValidity() uint32 {
	for {
		cur := s.validity.Load()
		next := cur + 1
		if cur == 0 {
			next = uint32(time.Now().Unix())
		}
		if next == 0 {
			next = 1
		}
		if s.validity.CompareAndSwap(cur, next) {
			return next
		}
	}
}

func (s *Store) expungeHistory() int {
	if s.ExpungeHistory > 0 {
		return s.ExpungeHistory
	}
	return defaultExpungeHistory
}

// changed wakes every WaitForMessages. It may be called with a user's lock
// held.
func (s *Store) changed() {
	if s.waiters.Load() == 0 {
		return // the common case: no lock shared by every writer
	}
	s.waitMu.Lock()
	if s.wait != nil {
		close(s.wait)
		s.wait = nil
	}
	s.waitMu.Unlock()
}

// waitChan returns a channel closed at the next change.
func (s *Store) waitChan() <-chan struct{} {
	s.waitMu.Lock()
	defer s.waitMu.Unlock()
	if s.wait == nil {
		s.wait = make(chan struct{})
	}
	return s.wait
}

// newMailbox returns a new selectable mailbox (not yet in u.boxes).
func (u *user) newMailbox(name, specialUse string) *mailbox {
	return &mailbox{
		u:           u,
		name:        name,
		specialUse:  specialUse,
		uidValidity: u.s.newUIDValidity(),
		uidNext:     1,
		modseq:      1,
	}
}

// selectable returns the selectable mailbox of that name, or an error
// wrapping imap4.ErrNoSuchMailbox.
func (u *user) selectable(name string) (*mailbox, error) {
	if u.gone {
		return nil, errUserGone
	}
	clean, err := cleanName(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", err, imap4.ErrNoSuchMailbox)
	}
	mb := u.boxes[clean]
	if mb == nil {
		return nil, fmt.Errorf("memstore: mailbox %s: %w", quote(clean), imap4.ErrNoSuchMailbox)
	}
	if mb.noSelect {
		return nil, fmt.Errorf(`memstore: mailbox %s is \Noselect: %w`, quote(clean), imap4.ErrNoSuchMailbox)
	}
	return mb, nil
}

// hasChildren reports whether any mailbox lies below name.
func (u *user) hasChildren(name string) bool {
	for n := range u.boxes {
		if isUnder(n, name) {
			return true
		}
	}
	return false
}

// makeParents creates the missing levels above name as \Noselect.
func (u *user) makeParents(name string) {
	for _, p := range parents(name) {
		if u.boxes[p] == nil {
			u.boxes[p] = &mailbox{u: u, name: p, noSelect: true}
		}
	}
}

// detach removes mb from use: its handles fail from now on.
func (mb *mailbox) detach() {
	mb.deleted = true
	mb.msgs = nil
	mb.changes = changeLog{}
	mb.notify(nil)
}

// notify signals the watchers of mb other than except, and wakes
// WaitForMessages.
func (mb *mailbox) notify(except *mailboxHandle) {
	for h := range mb.watchers {
		if h != except {
			select {
			case h.ch <- struct{}{}:
			default:
			}
		}
	}
	mb.u.s.changed()
}

// find returns the index of uid in mb.msgs.
func (mb *mailbox) find(uid imap4.UID) (int, bool) {
	return slices.BinarySearchFunc(mb.msgs, uid, cmpMessageUID)
}

// nextModSeq returns a ModSeq above every one before in mb.
func (mb *mailbox) nextModSeq() imap4.ModSeq {
	mb.modseq++
	return mb.modseq
}

// count adds (or, with sign -1, removes) a message to the counters.
func (mb *mailbox) count(m *message, sign int) {
	if !m.flags.seen {
		mb.unseen = uint32(int(mb.unseen) + sign)
	}
	if m.flags.deleted {
		mb.nDeleted = uint32(int(mb.nDeleted) + sign)
	}
	mb.size += int64(sign) * int64(len(m.data))
}

// add appends a message with the next UID. The caller notifies.
func (mb *mailbox) add(m message, modseq imap4.ModSeq) imap4.UID {
	m.uid = mb.uidNext
	mb.uidNext++
	m.modseq = modseq
	mb.msgs = append(mb.msgs, m)
	mb.count(&m, 1)
	mb.changes.record(m.uid, modseq, mb.msgs)
	return m.uid
}

// expunge removes the messages of uids that are in mb and for which ok (if
// not nil) returns true, records their tombstones, and returns their UIDs in
// ascending order. The caller notifies.
func (mb *mailbox) expunge(uids []imap4.UID, ok func(*message) bool) []imap4.UID {
	want := make(map[imap4.UID]bool, len(uids))
	for _, u := range uids {
		want[u] = true
	}
	var gone []imap4.UID
	kept := mb.msgs[:0]
	for i := range mb.msgs {
		m := &mb.msgs[i]
		if want[m.uid] && (ok == nil || ok(m)) {
			gone = append(gone, m.uid)
			mb.count(m, -1)
			continue
		}
		kept = append(kept, *m)
	}
	clear(mb.msgs[len(kept):]) // drop references to the data
	mb.msgs = kept
	if len(gone) > 0 {
		mb.tombs.add(gone, mb.nextModSeq(), mb.u.s.expungeHistory())
	}
	return gone
}

// status returns mb's counters.
func (mb *mailbox) status() imap4.MailboxStatus {
	return imap4.MailboxStatus{
		UIDValidity:   mb.uidValidity,
		UIDNext:       mb.uidNext,
		HighestModSeq: mb.modseq,
		Messages:      uint32(len(mb.msgs)),
		Unseen:        mb.unseen,
		Deleted:       mb.nDeleted,
		Size:          mb.size,
	}
}

// meta returns the metadata of m.
func (m *message) meta() imap4.MessageMeta {
	return imap4.MessageMeta{
		UID:          m.uid,
		Flags:        m.flags.list,
		ModSeq:       m.modseq,
		Size:         int64(len(m.data)),
		InternalDate: m.date,
	}
}

// readMessage reads a message to its end into a slice with little spare
// capacity (the store keeps it for the message's life): exactly sized when
// r knows its length, trimmed after the fact otherwise.
func readMessage(r io.Reader) ([]byte, error) {
	var hint int64 = -1
	switch r := r.(type) {
	case interface{ Len() int }: // bytes.Reader, strings.Reader, bytes.Buffer
		hint = int64(r.Len())
	case interface{ Size() int64 }:
		hint = r.Size()
	}
	if hint >= 0 && hint < 1<<30 {
		data := make([]byte, hint)
		n, err := io.ReadFull(r, data)
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF: // shorter than it said
			return trim(data[:n]), nil
		case err != nil:
			return nil, err
		}
		rest, err := io.ReadAll(r) // longer than it said?
		if err != nil {
			return nil, err
		}
		if len(rest) == 0 {
			return data, nil
		}
		return append(data, rest...), nil
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return trim(data), nil
}

// trim returns data without spare capacity beyond an eighth of its length.
func trim(data []byte) []byte {
	if cap(data)-len(data) > len(data)/8+64 {
		return bytes.Clone(data)
	}
	return data
}

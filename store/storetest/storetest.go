package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/pop3"
	"github.com/mailfront/mailfront/submission"
)

// The users the suite logs in as. Most clauses use the first two; the
// isolation clauses use "adm" and "admin", whose names are prefixes of each
// other.
const (
	Alice = "alice@example.org"
	Bob   = "bob@example.org"
	Adm   = "adm"
	Admin = "admin"
)

// Users returns the names of the users the suite logs in as ([Alice],
// [Bob], [Adm] and [Admin]). A backend that does not create a user's store
// on first login must make them exist in every backend the factory
// returns. For submission, the suite sends to these names as addresses and
// expects the message in that user's INBOX.
func Users() []string { return []string{Alice, Bob, Adm, Admin} }

// WatchTimeout is how long the suite waits for a Watch channel to be
// signalled before it fails the clause. The contract asks for "a second or
// so"; the wait is long so a loaded machine does not fail the suite: a
// correct backend never makes the suite wait this long.
const WatchTimeout = 10 * time.Second

// Run runs every clause that applies to the backends newBackend returns:
// [RunIMAP4] if they implement [imap4.Backend], [RunPOP3] for
// [pop3.Backend], [RunSubmission] for [submission.Backend]. Clauses that
// need two of the interfaces (a POP3 deletion seen by an IMAP session, say)
// run when the backend implements both. It fails the test if the backend
// implements none of them.
//
// newBackend must return a new, empty backend on each call, with the
// [Users] existing or created on first login; it may register cleanups with
// t.
func Run(t *testing.T, newBackend func(t *testing.T) any) {
	t.Helper()
	probe := newBackend(t)
	_, isIMAP := probe.(imap4.Backend)
	_, isPOP3 := probe.(pop3.Backend)
	_, isSubmission := probe.(submission.Backend)
	if !isIMAP && !isPOP3 && !isSubmission {
		t.Fatalf("storetest: %T implements none of imap4.Backend, pop3.Backend and submission.Backend", probe)
	}
	if isIMAP {
		t.Run("IMAP4", func(t *testing.T) {
			RunIMAP4(t, func(t *testing.T) imap4.Backend { return newBackend(t).(imap4.Backend) })
		})
	}
	if isPOP3 {
		t.Run("POP3", func(t *testing.T) {
			RunPOP3(t, func(t *testing.T) pop3.Backend { return newBackend(t).(pop3.Backend) })
		})
	}
	if isSubmission {
		t.Run("Submission", func(t *testing.T) {
			RunSubmission(t, func(t *testing.T) submission.Backend { return newBackend(t).(submission.Backend) })
		})
	}
}

// A clause is one contract clause: a named subtest on a fresh backend.
type clause[B any] struct {
	name string
	run  func(e *env, b B)
}

func runClauses[B any](t *testing.T, newBackend func(t *testing.T) B, clauses []clause[B]) {
	t.Helper()
	for _, c := range clauses {
		t.Run(c.name, func(t *testing.T) {
			b := newBackend(t)
			c.run(newEnv(t, b), b)
		})
	}
}

// env holds the state of one clause: the test, its context and its
// backend.
type env struct {
	t       *testing.T
	ctx     context.Context
	backend any
}

func newEnv(t *testing.T, b any) *env {
	return &env{t: t, ctx: t.Context(), backend: b}
}

// imap returns the backend as an imap4.Backend, or skips the clause.
func (e *env) imap() imap4.Backend {
	e.t.Helper()
	b, ok := e.backend.(imap4.Backend)
	if !ok {
		e.t.Skipf("%T does not implement imap4.Backend", e.backend)
	}
	return b
}

// user opens a user through IMAP; the user is closed at the end.
func (e *env) user(name string) imap4.User {
	e.t.Helper()
	u, err := e.imap().OpenUser(e.ctx, auth.Identity{Username: name})
	require.NoError(e.t, err, "OpenUser(%q)", name)
	require.NotNil(e.t, u, "OpenUser(%q)", name)
	e.t.Cleanup(func() { assert.NoError(e.t, u.Close(), "User.Close") })
	return u
}

// open opens a mailbox, to be closed at the end of the clause.
func (e *env) open(u imap4.User, name string) imap4.Mailbox {
	e.t.Helper()
	mb := e.openManual(u, name)
	e.t.Cleanup(func() { assert.NoError(e.t, mb.Close(), "Mailbox.Close") })
	return mb
}

// openManual opens a mailbox that the clause closes itself.
func (e *env) openManual(u imap4.User, name string) imap4.Mailbox {
	e.t.Helper()
	mb, err := u.OpenMailbox(e.ctx, name)
	require.NoError(e.t, err, "OpenMailbox(%q)", name)
	require.NotNil(e.t, mb, "OpenMailbox(%q)", name)
	return mb
}

// create creates a mailbox.
func (e *env) create(u imap4.User, name string) {
	e.t.Helper()
	require.NoError(e.t, u.CreateMailbox(e.ctx, name, nil), "CreateMailbox(%q)", name)
}

// append appends a message and checks the result against the status.
func (e *env) append(mb imap4.Mailbox, content string, opts *imap4.AppendOptions) imap4.AppendResult {
	e.t.Helper()
	before := e.sync(mb, 0).MailboxStatus
	res, err := mb.Append(e.ctx, strings.NewReader(content), opts)
	require.NoError(e.t, err, "Append")
	assert.Equal(e.t, before.UIDValidity, res.UIDValidity, "AppendResult.UIDValidity: got %d, want the mailbox's %d", res.UIDValidity, before.UIDValidity)
	assert.GreaterOrEqual(e.t, res.UID, before.UIDNext, "appended UID %d below UIDNEXT %d", res.UID, before.UIDNext)
	after := e.status(mb)
	assert.Greater(e.t, after.UIDNext, res.UID, "UIDNEXT %d not above the appended UID %d", after.UIDNext, res.UID)
	return res
}

// appendN appends n distinct messages and returns their UIDs.
func (e *env) appendN(mb imap4.Mailbox, n int) []imap4.UID {
	e.t.Helper()
	uids := make([]imap4.UID, n)
	for i := range uids {
		uids[i] = e.append(mb, message(fmt.Sprintf("message %d", i+1)), nil).UID
	}
	return uids
}

// sync calls Sync and checks the ordering rules.
func (e *env) sync(mb imap4.Mailbox, since imap4.ModSeq) *imap4.SyncData {
	e.t.Helper()
	d, err := mb.Sync(e.ctx, since)
	require.NoError(e.t, err, "Sync(%d)", since)
	require.NotNil(e.t, d, "Sync(%d)", since)
	checkSyncData(e.t, d, since)
	return d
}

// assertExpunged checks got, the Expunged of a Sync on mb, against the UIDs
// known to have been expunged: every one of them must be there, and no UID
// still in the mailbox. More is allowed: SyncData lets a backend that does
// not remember every expunge return a superset.
func (e *env) assertExpunged(mb imap4.Mailbox, got, want []imap4.UID, what string) {
	e.t.Helper()
	for _, u := range want {
		assert.Contains(e.t, got, u, "%s misses expunged UID %d (got %v)", what, u, got)
	}
	live := metaUIDs(e.sync(mb, 0).Messages)
	for _, u := range got {
		assert.NotContains(e.t, live, u, "%s holds UID %d, which is still in the mailbox", what, u)
	}
}

// checkSyncData checks what must hold of any SyncData. It uses only
// assert, so it may run on any goroutine.
func checkSyncData(t *testing.T, d *imap4.SyncData, since imap4.ModSeq) bool {
	ok := assert.NotZero(t, d.UIDValidity, "UIDVALIDITY is 0")
	ok = assert.True(t, isStrictlyAscending(metaUIDs(d.Messages)), "Sync(%d).Messages not in strictly ascending UID order: %v", since, metaUIDs(d.Messages)) && ok
	ok = assert.True(t, isStrictlyAscending(d.Expunged), "Sync(%d).Expunged not in strictly ascending order: %v", since, d.Expunged) && ok
	if since == 0 {
		ok = assert.Empty(t, d.Expunged, "Sync(0).Expunged") && ok
		ok = assert.Equal(t, int(d.MailboxStatus.Messages), len(d.Messages), "Sync(0): status counts %d messages, list has %d", d.MailboxStatus.Messages, len(d.Messages)) && ok
	}
	for _, m := range d.Messages {
		ok = assert.NotZero(t, m.UID, "message with UID 0") && ok
		ok = assert.Less(t, m.UID, d.UIDNext, "UID %d not below UIDNEXT %d", m.UID, d.UIDNext) && ok
		ok = assert.NotZero(t, m.ModSeq, "UID %d has ModSeq 0", m.UID) && ok
		ok = assert.LessOrEqual(t, m.ModSeq, d.HighestModSeq, "UID %d has ModSeq %d above HIGHESTMODSEQ %d", m.UID, m.ModSeq, d.HighestModSeq) && ok
		if since > 0 {
			ok = assert.Greater(t, m.ModSeq, since, "Sync(%d) returned UID %d with ModSeq %d", since, m.UID, m.ModSeq) && ok
		}
	}
	return ok
}

// status returns the mailbox's counters through Sync.
func (e *env) status(mb imap4.Mailbox) imap4.MailboxStatus {
	e.t.Helper()
	return e.sync(mb, 0).MailboxStatus
}

// meta returns the metadata of one message, failing if it is absent.
func (e *env) meta(mb imap4.Mailbox, uid imap4.UID) imap4.MessageMeta {
	e.t.Helper()
	for _, m := range e.sync(mb, 0).Messages {
		if m.UID == uid {
			return m
		}
	}
	e.t.Fatalf("UID %d is not in the mailbox", uid)
	return imap4.MessageMeta{}
}

// read returns the content of a message, checking Size and ReadAt.
func (e *env) read(mb imap4.Mailbox, uid imap4.UID) string {
	e.t.Helper()
	m, err := mb.Open(e.ctx, uid)
	require.NoError(e.t, err, "Open(%d)", uid)
	defer func() { assert.NoError(e.t, m.Close(), "Message.Close") }()
	data, err := readAll(m)
	require.NoError(e.t, err, "reading UID %d", uid)
	return string(data)
}

// readAll reads a Message through ReadAt, checking that it holds Size()
// bytes.
func readAll(m imap4.Message) ([]byte, error) {
	size := m.Size()
	if size < 0 {
		return nil, fmt.Errorf("Size() = %d", size)
	}
	buf := make([]byte, size)
	n, err := m.ReadAt(buf, 0)
	if n < len(buf) {
		return nil, fmt.Errorf("ReadAt(buf[%d], 0) read %d bytes: %v", size, n, err)
	}
	if err != nil && err != io.EOF {
		return nil, err
	}
	var one [1]byte
	if n, err := m.ReadAt(one[:], size); n != 0 || err == nil {
		return nil, fmt.Errorf("ReadAt at Size() = %d returned %d bytes, error %v; want 0, io.EOF", size, n, err)
	}
	return buf, nil
}

// message returns a small message with CRLF line endings whose subject
// and body contain id.
func message(id string) string {
	return "From: Alice <alice@example.org>\r\n" +
		"To: Bob <bob@example.org>\r\n" +
		"Subject: " + id + "\r\n" +
		"Message-ID: <" + strings.ReplaceAll(id, " ", ".") + "@storetest.example>\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"Content-Transfer-Encoding: 8bit\r\n" +
		"\r\n" +
		"Body of " + id + ".\r\n" +
		".A line starting with a dot, and 8-bit text: grüße\r\n"
}

func metaUIDs(ms []imap4.MessageMeta) []imap4.UID {
	uids := make([]imap4.UID, len(ms))
	for i, m := range ms {
		uids[i] = m.UID
	}
	return uids
}

func isStrictlyAscending(uids []imap4.UID) bool {
	for i := 1; i < len(uids); i++ {
		if uids[i] <= uids[i-1] {
			return false
		}
	}
	return true
}

// drain empties a Watch channel, so that the next value stands for a
// change made after this call.
func drain(ch <-chan struct{}) {
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		default:
			return
		}
	}
}

// waitWatch waits for a value on a Watch channel.
func (e *env) waitWatch(ch <-chan struct{}, after string) {
	e.t.Helper()
	timer := time.NewTimer(WatchTimeout)
	defer timer.Stop()
	select {
	case _, ok := <-ch:
		require.True(e.t, ok, "Watch channel closed while the mailbox is open (after %s)", after)
	case <-timer.C:
		e.t.Fatalf("Watch not signalled within %v after %s", WatchTimeout, after)
	}
}

// mailboxInfo returns the listing entry of name, or ok false.
func (e *env) mailboxInfo(u imap4.User, name string) (imap4.MailboxInfo, bool) {
	e.t.Helper()
	list, err := u.ListMailboxes(e.ctx)
	require.NoError(e.t, err, "ListMailboxes")
	for _, mi := range list {
		if mi.Name == name {
			return mi, true
		}
	}
	return imap4.MailboxInfo{}, false
}

// exists reports whether name is listed as a mailbox or a \Noselect level
// (not as a subscription to a mailbox that does not exist).
func (e *env) exists(u imap4.User, name string) bool {
	e.t.Helper()
	mi, ok := e.mailboxInfo(u, name)
	return ok && !mi.NonExistent
}

// selectable reports whether name is listed as a mailbox that holds
// messages.
func (e *env) selectable(u imap4.User, name string) bool {
	e.t.Helper()
	mi, ok := e.mailboxInfo(u, name)
	return ok && !mi.NonExistent && !mi.NoSelect
}

// errorIs asserts that err wraps target.
func errorIs(t *testing.T, err, target error, format string, args ...any) bool {
	t.Helper()
	if errors.Is(err, target) {
		return true
	}
	return assert.Fail(t, fmt.Sprintf("%s: got error %v, want one wrapping %q", fmt.Sprintf(format, args...), err, target))
}

// failingReader returns some bytes, then an error.
type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

var errInjected = errors.New("storetest: injected read error")

// equalBytes reports byte equality with a short diff description.
func equalBytes(t *testing.T, want, got []byte, format string, args ...any) bool {
	t.Helper()
	if bytes.Equal(want, got) {
		return true
	}
	return assert.Fail(t, fmt.Sprintf("%s: content differs: got %d bytes %q, want %d bytes %q",
		fmt.Sprintf(format, args...), len(got), truncate(got), len(want), truncate(want)))
}

func truncate(b []byte) []byte {
	if len(b) > 120 {
		return b[:120]
	}
	return b
}

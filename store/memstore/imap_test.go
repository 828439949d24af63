package memstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/store/memstore"
)

func openUser(t *testing.T, s *memstore.Store, name string) imap4.User {
	t.Helper()
	u, err := s.OpenUser(t.Context(), auth.Identity{Username: name})
	require.NoError(t, err)
	t.Cleanup(func() { u.Close() })
	return u
}

func openMailbox(t *testing.T, u imap4.User, name string) imap4.Mailbox {
	t.Helper()
	mb, err := u.OpenMailbox(t.Context(), name)
	require.NoError(t, err)
	t.Cleanup(func() { mb.Close() })
	return mb
}

func appendN(t *testing.T, mb imap4.Mailbox, n int) []imap4.UID {
	t.Helper()
	uids := make([]imap4.UID, n)
	for i := range uids {
		res, err := mb.Append(t.Context(), strings.NewReader(fmt.Sprintf("Subject: %d\r\n\r\nbody\r\n", i)), nil)
		require.NoError(t, err)
		uids[i] = res.UID
	}
	return uids
}

func expunge(t *testing.T, mb imap4.Mailbox, uids ...imap4.UID) {
	t.Helper()
	_, err := mb.SetFlags(t.Context(), uids, imap4.StoreAdd, []string{imap4.FlagDeleted}, nil)
	require.NoError(t, err)
	gone, err := mb.Expunge(t.Context(), uids)
	require.NoError(t, err)
	require.Len(t, gone, len(uids))
}

func TestNewUserMailboxes(t *testing.T) {
	s := memstore.New()
	list, err := openUser(t, s, "alice").ListMailboxes(t.Context())
	require.NoError(t, err)
	want := []imap4.MailboxInfo{
		{Name: "Archive", SpecialUse: `\Archive`, Subscribed: true},
		{Name: "Drafts", SpecialUse: `\Drafts`, Subscribed: true},
		{Name: "INBOX", Subscribed: true},
		{Name: "Junk", SpecialUse: `\Junk`, Subscribed: true},
		{Name: "Sent", SpecialUse: `\Sent`, Subscribed: true},
		{Name: "Trash", SpecialUse: `\Trash`, Subscribed: true},
	}
	assert.Equal(t, want, list)
	assert.Equal(t, []string{"alice"}, s.Users())
}

func TestUserNamesFoldCase(t *testing.T) {
	s := memstore.New()
	require.NoError(t, s.AddUser("Alice@Example.org"))
	_, err := s.Deliver("alice@example.org", "", []byte("Subject: x\n\n"))
	require.NoError(t, err)
	msgs, err := s.Messages("ALICE@EXAMPLE.ORG", "inbox")
	require.NoError(t, err)
	assert.Len(t, msgs, 1)
	assert.Equal(t, []string{"Alice@Example.org"}, s.Users())
	assert.Error(t, s.AddUser(""), "empty user name")
}

// Mailbox names the frontend should have refused are refused again, with
// ErrCannot for CREATE and ErrNoSuchMailbox for lookups (I7).
func TestMailboxNameValidation(t *testing.T) {
	s := memstore.New()
	u := openUser(t, s, "alice")
	for _, name := range []string{
		"", "..", ".", "a/..", "../a", "a/./b", "/abs", "a/", "a//b",
		"nul\x00", "cr\r", "lf\n", "del\x7f", "c1\u0085", "star*", "pct%",
		"\xff", strings.Repeat("x", 1001), strings.Repeat("a/", 100) + "a",
	} {
		err := u.CreateMailbox(t.Context(), name, nil)
		assert.ErrorIs(t, err, imap4.ErrCannot, "CreateMailbox(%q)", name)
		_, err = u.OpenMailbox(t.Context(), name)
		assert.ErrorIs(t, err, imap4.ErrNoSuchMailbox, "OpenMailbox(%q)", name)
		assert.ErrorIs(t, u.SetSubscribed(t.Context(), name, true), imap4.ErrCannot, "SetSubscribed(%q)", name)
	}
	for _, name := range []string{"a b", "Ünïcödé/日本語", strings.Repeat("x", 1000), strings.Repeat("a/", 99) + "a", "a.b/..c", "~/x"} {
		assert.NoError(t, u.CreateMailbox(t.Context(), name, nil), "CreateMailbox(%q)", name)
	}
}

// "inbox" in any case is INBOX, as a name and as the first level.
func TestINBOXCase(t *testing.T) {
	s := memstore.New()
	u := openUser(t, s, "alice")
	assert.ErrorIs(t, u.CreateMailbox(t.Context(), "inbox", nil), imap4.ErrMailboxExists)
	require.NoError(t, u.CreateMailbox(t.Context(), "Inbox/Sub", nil))
	_, err := u.Status(t.Context(), "INBOX/Sub")
	assert.NoError(t, err)
	_, err = u.OpenMailbox(t.Context(), "iNbOx")
	assert.NoError(t, err)
}

func TestDeleteINBOXRefused(t *testing.T) {
	u := openUser(t, memstore.New(), "alice")
	assert.ErrorIs(t, u.DeleteMailbox(t.Context(), "INBOX"), imap4.ErrCannot)
}

func TestRenameBelowItself(t *testing.T) {
	u := openUser(t, memstore.New(), "alice")
	require.NoError(t, u.CreateMailbox(t.Context(), "a", nil))
	assert.ErrorIs(t, u.RenameMailbox(t.Context(), "a", "a/b"), imap4.ErrCannot)
	// INBOX may be renamed below itself: its children are not moved.
	openMailbox(t, u, "INBOX")
	assert.NoError(t, u.RenameMailbox(t.Context(), "INBOX", "INBOX/old"))
}

// An open handle follows its mailbox through a rename, and keeps its
// UIDVALIDITY; subscriptions move too.
func TestRenameKeepsHandlesAndSubscriptions(t *testing.T) {
	s := memstore.New()
	u := openUser(t, s, "alice")
	require.NoError(t, u.CreateMailbox(t.Context(), "a/b", nil))
	require.NoError(t, u.SetSubscribed(t.Context(), "a/b", true))
	mb := openMailbox(t, u, "a/b")
	before, err := mb.Sync(t.Context(), 0)
	require.NoError(t, err)
	require.NoError(t, u.RenameMailbox(t.Context(), "a", "z"))
	appendN(t, mb, 1)
	after, err := mb.Sync(t.Context(), 0)
	require.NoError(t, err)
	assert.Equal(t, before.UIDValidity, after.UIDValidity)
	msgs, err := s.Messages("alice", "z/b")
	require.NoError(t, err)
	assert.Len(t, msgs, 1)
	list, err := u.ListMailboxes(t.Context())
	require.NoError(t, err)
	assert.Contains(t, list, imap4.MailboxInfo{Name: "z/b", Subscribed: true})
}

// Renaming INBOX expunges its messages for sessions that have it open.
func TestRenameINBOXExpungesForOpenSessions(t *testing.T) {
	s := memstore.New()
	u := openUser(t, s, "alice")
	in := openMailbox(t, u, "INBOX")
	uids := appendN(t, in, 2)
	since := mustSync(t, in, 0).HighestModSeq
	require.NoError(t, u.RenameMailbox(t.Context(), "INBOX", "Old"))
	select {
	case <-in.Watch():
	default:
		t.Fatal("INBOX handle not signalled by the rename")
	}
	d := mustSync(t, in, since)
	assert.Equal(t, uids, d.Expunged)
}

// A deleted mailbox's handles fail; Close still works.
func TestDeletedMailboxHandle(t *testing.T) {
	s := memstore.New()
	u := openUser(t, s, "alice")
	require.NoError(t, u.CreateMailbox(t.Context(), "Gone", nil))
	mb, err := u.OpenMailbox(t.Context(), "Gone")
	require.NoError(t, err)
	require.NoError(t, u.DeleteMailbox(t.Context(), "Gone"))
	_, err = mb.Sync(t.Context(), 0)
	assert.ErrorIs(t, err, imap4.ErrNoSuchMailbox)
	_, err = mb.Append(t.Context(), strings.NewReader("x"), nil)
	assert.ErrorIs(t, err, imap4.ErrNoSuchMailbox)
	assert.NoError(t, mb.Close())
	assert.Error(t, mb.Close(), "second Close")
}

// Expunge leaves messages whose \Deleted flag is gone.
func TestExpungeOnlyDeleted(t *testing.T) {
	mb := openMailbox(t, openUser(t, memstore.New(), "alice"), "INBOX")
	uids := appendN(t, mb, 2)
	_, err := mb.SetFlags(t.Context(), uids[:1], imap4.StoreAdd, []string{imap4.FlagDeleted}, nil)
	require.NoError(t, err)
	gone, err := mb.Expunge(t.Context(), uids)
	require.NoError(t, err)
	assert.Equal(t, uids[:1], gone)
}

func TestInvalidFlags(t *testing.T) {
	mb := openMailbox(t, openUser(t, memstore.New(), "alice"), "INBOX")
	for _, f := range []string{"", "a b", "(x", "x)", "a\\b", "\\", "{1}", "x\x00", "ü", `"q"`, "x]"} {
		_, err := mb.Append(t.Context(), strings.NewReader("x"), &imap4.AppendOptions{Flags: []string{f}})
		assert.ErrorIs(t, err, imap4.ErrCannot, "Append with flag %q", f)
		_, err = mb.SetFlags(t.Context(), []imap4.UID{1}, imap4.StoreAdd, []string{f}, nil)
		assert.ErrorIs(t, err, imap4.ErrCannot, "SetFlags with flag %q", f)
	}
	assert.Empty(t, mustSync(t, mb, 0).Messages, "Append with a bad flag stored something")
}

// Keywords compare case-insensitively and keep their first spelling.
func TestKeywordSpelling(t *testing.T) {
	mb := openMailbox(t, openUser(t, memstore.New(), "alice"), "INBOX")
	uids := appendN(t, mb, 2)
	_, err := mb.SetFlags(t.Context(), uids[:1], imap4.StoreAdd, []string{"$Work"}, nil)
	require.NoError(t, err)
	res, err := mb.SetFlags(t.Context(), uids, imap4.StoreAdd, []string{"$WORK"}, nil)
	require.NoError(t, err)
	require.Len(t, res.Updated, 1, "the message that had $Work is unchanged")
	assert.Equal(t, []string{"$Work"}, res.Updated[0].Flags)
}

// Messages with the same flags share one flag slice.
func TestFlagsShared(t *testing.T) {
	mb := openMailbox(t, openUser(t, memstore.New(), "alice"), "INBOX")
	uids := appendN(t, mb, 100)
	_, err := mb.SetFlags(t.Context(), uids, imap4.StoreAdd, []string{imap4.FlagSeen, "$X"}, nil)
	require.NoError(t, err)
	for range 50 {
		_, err := mb.Append(t.Context(), strings.NewReader("x"), &imap4.AppendOptions{Flags: []string{"$x", `\seen`}})
		require.NoError(t, err)
	}
	msgs := mustSync(t, mb, 0).Messages
	first := unsafe.SliceData(msgs[0].Flags)
	for _, m := range msgs {
		assert.Equal(t, first, unsafe.SliceData(m.Flags), "UID %d has its own flag slice", m.UID)
	}
}

// Many distinct keywords (more than the intern tables hold) work, and a
// keyword stored before the tables were reset still compares
// case-insensitively.
func TestManyKeywords(t *testing.T) {
	mb := openMailbox(t, openUser(t, memstore.New(), "alice"), "INBOX")
	uids := appendN(t, mb, 4)
	_, err := mb.SetFlags(t.Context(), uids[3:], imap4.StoreAdd, []string{"Keep", "Drop"}, nil)
	require.NoError(t, err)
	for i := range 5000 {
		_, err := mb.SetFlags(t.Context(), uids[:3], imap4.StoreReplace, []string{fmt.Sprintf("k%d", i), imap4.FlagSeen}, nil)
		require.NoError(t, err)
	}
	res, err := mb.SetFlags(t.Context(), uids[3:], imap4.StoreAdd, []string{"KEEP"}, nil)
	require.NoError(t, err)
	assert.Empty(t, res.Updated, "KEEP added to a message with Keep")
	_, err = mb.SetFlags(t.Context(), uids[3:], imap4.StoreRemove, []string{"drop"}, nil)
	require.NoError(t, err)
	msgs := mustSync(t, mb, 0).Messages
	for _, m := range msgs[:3] {
		assert.ElementsMatch(t, []string{"k4999", imap4.FlagSeen}, m.Flags)
	}
	assert.Equal(t, []string{"Keep"}, msgs[3].Flags)
}

func mustSync(t *testing.T, mb imap4.Mailbox, since imap4.ModSeq) *imap4.SyncData {
	t.Helper()
	d, err := mb.Sync(t.Context(), since)
	require.NoError(t, err)
	return d
}

// Past ExpungeHistory, expunges fold into a range: a Sync from before the
// fold gets every absent UID of the range (a superset), a Sync from after
// it gets exactly the newer expunges.
func TestExpungeHistoryFolds(t *testing.T) {
	s := &memstore.Store{ExpungeHistory: 4}
	mb := openMailbox(t, openUser(t, s, "alice"), "INBOX")
	uids := appendN(t, mb, 20) // UIDs 1..20
	start := mustSync(t, mb, 0).HighestModSeq
	var marks []imap4.ModSeq
	for _, uid := range []imap4.UID{2, 4, 6, 8, 10, 12, 14, 16} {
		expunge(t, mb, uid)
		marks = append(marks, mustSync(t, mb, 0).HighestModSeq)
	}
	require.Equal(t, imap4.UID(20), uids[19])

	// From the start: everything expunged, maybe more, never a live UID.
	d := mustSync(t, mb, start)
	assert.Subset(t, d.Expunged, []imap4.UID{2, 4, 6, 8, 10, 12, 14, 16})
	live := map[imap4.UID]bool{}
	for _, m := range mustSync(t, mb, 0).Messages {
		live[m.UID] = true
	}
	for _, u := range d.Expunged {
		assert.False(t, live[u], "live UID %d reported expunged", u)
	}
	// From after the sixth expunge: the two newest exactly.
	d = mustSync(t, mb, marks[5])
	assert.Equal(t, []imap4.UID{14, 16}, d.Expunged)
	// From the end: nothing.
	assert.Empty(t, mustSync(t, mb, marks[7]).Expunged)
}

// Watch channels are per handle, and the writer's own handle is not
// signalled by its own changes.
func TestWatchNotSelf(t *testing.T) {
	s := memstore.New()
	a := openMailbox(t, openUser(t, s, "alice"), "INBOX")
	b := openMailbox(t, openUser(t, s, "alice"), "INBOX")
	appendN(t, a, 1)
	select {
	case <-a.Watch():
		t.Error("the writer's own handle was signalled")
	default:
	}
	select {
	case <-b.Watch():
	default:
		t.Error("the other handle was not signalled")
	}
	assert.NotEqual(t, fmt.Sprint(a.Watch()), fmt.Sprint(b.Watch()))
}

// Append honours a cancelled context: nothing is stored.
func TestAppendCancelled(t *testing.T) {
	mb := openMailbox(t, openUser(t, memstore.New(), "alice"), "INBOX")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := mb.Append(ctx, strings.NewReader("x"), nil)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, mustSync(t, mb, 0).Messages)
}

// UIDVALIDITY values are never reused within a store, even across Reset.
func TestUIDValidityUnique(t *testing.T) {
	s := memstore.New()
	seen := map[uint32]bool{}
	for range 3 {
		u := openUser(t, s, "alice")
		for _, name := range []string{"INBOX", "Drafts", "Sent"} {
			st, err := u.Status(t.Context(), name)
			require.NoError(t, err)
			assert.NotZero(t, st.UIDValidity)
			assert.False(t, seen[st.UIDValidity], "UIDVALIDITY %d reused", st.UIDValidity)
			seen[st.UIDValidity] = true
		}
		s.Reset()
	}
}

// Sync(since) agrees with filtering Sync(0) by ModSeq, for every since,
// through arrivals, flag changes, expunges and change-log compactions.
func TestSyncSinceMatchesFullSync(t *testing.T) {
	mb := openMailbox(t, openUser(t, memstore.New(), "alice"), "INBOX")
	uids := appendN(t, mb, 3000)
	rnd := rand.New(rand.NewPCG(1, 2))
	for round := range 40 {
		pick := make([]imap4.UID, 1+rnd.IntN(800))
		for i := range pick {
			pick[i] = uids[rnd.IntN(len(uids))]
		}
		_, err := mb.SetFlags(t.Context(), pick, imap4.StoreOp(rnd.IntN(3)), []string{fmt.Sprint("$r", round%5)}, nil)
		require.NoError(t, err)
		if round%7 == 0 {
			expunge(t, mb, pick[0])
			uids = slices.DeleteFunc(uids, func(u imap4.UID) bool { return u == pick[0] })
			appendN(t, mb, 1)
		}
	}
	full := mustSync(t, mb, 0)
	for since := imap4.ModSeq(0); since <= full.HighestModSeq; since++ {
		if since < full.HighestModSeq-100 && since%97 != 0 {
			continue // every change after the appends, and a sample before
		}
		var want []imap4.UID
		for _, m := range full.Messages {
			if m.ModSeq > since {
				want = append(want, m.UID)
			}
		}
		d := mustSync(t, mb, since)
		var got []imap4.UID
		for _, m := range d.Messages {
			got = append(got, m.UID)
		}
		require.Equal(t, want, got, "Sync(%d)", since)
	}
}

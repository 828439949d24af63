package maildir_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/store/maildir"
)

// TestSyncZeroShared: Sync(0) hands every caller the same result until
// the folder changes, and every kind of change (flags, append, expunge,
// a file written by another program) gives a new, correct one, with
// counts to match.
func TestSyncZeroShared(t *testing.T) {
	s := &maildir.Store{Root: t.TempDir(), PollInterval: 20 * time.Millisecond}
	t.Cleanup(func() { s.Close() })
	u := openUser(t, s, "erin@example.org")
	a, b := openMailbox(t, u, "INBOX"), openMailbox(t, u, "INBOX")
	uid1 := appendMsg(t, a, msg("one", "1"))
	uid2 := appendMsg(t, a, msg("two", "2"), imap4.FlagSeen)

	first := syncAll(t, a)
	require.Len(t, first.Messages, 2)
	assert.Same(t, first, syncAll(t, b), "an unchanged folder shares one Sync(0) result")
	assert.Equal(t, uint32(1), first.Unseen)

	// A flag change.
	_, err := b.SetFlags(ctx, []imap4.UID{uid1}, imap4.StoreAdd, []string{imap4.FlagSeen, imap4.FlagDeleted}, nil)
	require.NoError(t, err)
	second := syncAll(t, a)
	require.NotSame(t, first, second)
	assert.ElementsMatch(t, []string{imap4.FlagSeen, imap4.FlagDeleted}, second.Messages[0].Flags)
	assert.Empty(t, first.Messages[0].Flags, "an earlier result is never changed")
	assert.Equal(t, uint32(0), second.Unseen)
	assert.Equal(t, uint32(1), second.Deleted)
	st, err := u.Status(ctx, "INBOX")
	require.NoError(t, err)
	assert.Equal(t, second.MailboxStatus, st)

	// An expunge.
	gone, err := b.Expunge(ctx, []imap4.UID{uid1})
	require.NoError(t, err)
	require.Equal(t, []imap4.UID{uid1}, gone)
	third := syncAll(t, a)
	require.Len(t, third.Messages, 1)
	assert.Equal(t, uid2, third.Messages[0].UID)
	assert.Equal(t, uint32(0), third.Deleted)

	// An append, then a message another program writes into new/.
	uid3 := appendMsg(t, b, msg("three", "3"))
	fourth := syncAll(t, a)
	require.Len(t, fourth.Messages, 2)
	assert.Equal(t, uid3, fourth.Messages[1].UID)
	root, err := s.UserDir("erin@example.org")
	require.NoError(t, err)
	w := a.Watch()
	drain(w)
	deliverFile(t, root, "new", "1700000000.V1I1M1.mx", "Subject: dropped\n\nin\n")
	waitWatch(t, w, "a file written into new/")
	fifth := syncAll(t, a)
	require.Len(t, fifth.Messages, 3)
	assert.Greater(t, fifth.Messages[2].UID, uid3)
	assert.Equal(t, uint32(2), fifth.Unseen)
	assert.Same(t, fifth, syncAll(t, b))
}

// TestSyncSinceMatchesFullScan: Sync(since) answers from the list of recent
// changes when it can; after random appends, flag changes, expunges and
// copies, past the list's bound and across a reopen, it reports exactly
// the messages whose modseq is above since, as a walk of every message
// would.
func TestSyncSinceMatchesFullScan(t *testing.T) {
	s := newStore(t)
	u := openUser(t, s, "finn@example.org")
	mb := openMailbox(t, u, "INBOX")
	for i := range 40 {
		appendMsg(t, mb, msg(fmt.Sprint("m", i), "x"))
	}
	r := rand.New(rand.NewPCG(7, 9))
	check := func(mb imap4.Mailbox, what string) {
		t.Helper()
		all := syncAll(t, mb)
		for range 8 {
			since := imap4.ModSeq(1 + r.Int64N(int64(all.HighestModSeq)))
			var want []imap4.MessageMeta
			for _, m := range all.Messages {
				if m.ModSeq > since {
					want = append(want, m)
				}
			}
			got, err := mb.Sync(ctx, since)
			require.NoError(t, err)
			require.Equal(t, want, got.Messages, "%s: Sync(%d)", what, since)
		}
	}
	uids := func() []imap4.UID {
		var out []imap4.UID
		for _, m := range syncAll(t, mb).Messages {
			out = append(out, m.UID)
		}
		return out
	}
	pick := func(n int) []imap4.UID {
		all := uids()
		r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		return all[:min(n, len(all))]
	}
	for i := range 120 {
		switch r.IntN(5) {
		case 0:
			appendMsg(t, mb, msg("new", "y"))
		case 1:
			gone := pick(1 + r.IntN(3))
			_, err := mb.SetFlags(ctx, gone, imap4.StoreAdd, []string{imap4.FlagDeleted}, nil)
			require.NoError(t, err)
			removed, err := mb.Expunge(ctx, gone)
			require.NoError(t, err)
			require.Len(t, removed, len(gone))
		case 2:
			_, err := mb.CopyTo(ctx, pick(2), "INBOX")
			require.NoError(t, err)
		default:
			flag := []string{imap4.FlagSeen, imap4.FlagFlagged, "$Label" + fmt.Sprint(r.IntN(3))}[r.IntN(3)]
			op := []imap4.StoreOp{imap4.StoreAdd, imap4.StoreRemove}[r.IntN(2)]
			_, err := mb.SetFlags(ctx, pick(1+r.IntN(10)), op, []string{flag}, nil)
			require.NoError(t, err)
		}
		check(mb, fmt.Sprint("op ", i))
	}
	// Past the bound of the list (1024 changes): the older half goes.
	for i := range 30 {
		op := []imap4.StoreOp{imap4.StoreAdd, imap4.StoreRemove}[i%2]
		_, err := mb.SetFlags(ctx, uids(), op, []string{"$Bulk"}, nil)
		require.NoError(t, err)
	}
	check(mb, "after bulk changes")
	// A reopened store starts its list afresh.
	require.NoError(t, mb.Close())
	require.NoError(t, u.Close())
	require.NoError(t, s.Close())
	s2 := &maildir.Store{Root: s.Root, PollInterval: -1}
	t.Cleanup(func() { s2.Close() })
	mb2 := openMailbox(t, openUser(t, s2, "finn@example.org"), "INBOX")
	check(mb2, "reopened")
	_, err := mb2.SetFlags(ctx, []imap4.UID{syncAll(t, mb2).Messages[0].UID}, imap4.StoreAdd, []string{"$After"}, nil)
	require.NoError(t, err)
	check(mb2, "reopened and changed")
}

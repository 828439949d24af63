package maildir_test

import (
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

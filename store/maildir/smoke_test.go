package maildir_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/imap4"
)

func TestSmoke(t *testing.T) {
	s := newStore(t)
	u := openUser(t, s, "Alice@Example.org")
	mb := openMailbox(t, u, "INBOX")
	uid1 := appendMsg(t, mb, msg("one", "hello"))
	uid2 := appendMsg(t, mb, msg("two", "world"), imap4.FlagSeen, "$Label1")
	assert.Equal(t, imap4.UID(1), uid1)
	assert.Equal(t, imap4.UID(2), uid2)
	sd := syncAll(t, mb)
	require.Len(t, sd.Messages, 2)
	assert.Equal(t, []string{imap4.FlagSeen, "$Label1"}, sd.Messages[1].Flags)
	assert.Equal(t, msg("two", "world"), readMsg(t, mb, uid2))
	res, err := mb.SetFlags(ctx, []imap4.UID{uid1}, imap4.StoreAdd, []string{imap4.FlagDeleted}, nil)
	require.NoError(t, err)
	require.Len(t, res.Updated, 1)
	gone, err := mb.Expunge(ctx, []imap4.UID{uid1})
	require.NoError(t, err)
	assert.Equal(t, []imap4.UID{uid1}, gone)
	list, err := u.ListMailboxes(ctx)
	require.NoError(t, err)
	t.Log(list)
}

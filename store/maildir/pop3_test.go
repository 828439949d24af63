package maildir_test

import (
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/pop3"
)

func readAllClose(t *testing.T, rc io.ReadCloser) string {
	t.Helper()
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	return string(b)
}

// P1, P2 and the POP3/IMAP interplay: the maildrop is locked per user; a
// session that ends without Delete deletes nothing; Delete is seen by a
// watching IMAP session; messages IMAP expunged are gone for POP3 and
// skipped by Delete.
func TestPOP3(t *testing.T) {
	s := newStore(t)
	u := openUser(t, s, "frank@example.org")
	mb := openMailbox(t, u, "INBOX")
	var uids []imap4.UID
	for i := range 4 {
		uids = append(uids, appendMsg(t, mb, msg("pop", string(rune('0'+i)))))
	}

	md, err := s.OpenMaildrop(ctx, ident("Frank@Example.org"))
	require.NoError(t, err)
	_, err = s.OpenMaildrop(ctx, ident("frank@example.org"))
	assert.ErrorIs(t, err, pop3.ErrMaildropLocked, "second maildrop (P2)")
	list, err := md.Messages(ctx)
	require.NoError(t, err)
	require.Len(t, list, 4)
	for i, m := range list {
		assert.Len(t, m.UID, 16)
		assert.Equal(t, int64(len(msg("pop", string(rune('0'+i))))), m.Size)
		rc, err := md.Open(ctx, m.UID)
		require.NoError(t, err)
		assert.Equal(t, msg("pop", string(rune('0'+i))), readAllClose(t, rc))
	}
	// P1: the client drops the connection after DELE: no Delete call.
	require.NoError(t, md.Close())
	assert.Len(t, syncAll(t, mb).Messages, 4)

	md, err = s.OpenMaildrop(ctx, ident("frank@example.org"))
	require.NoError(t, err, "maildrop after the lock was released")
	again, err := md.Messages(ctx)
	require.NoError(t, err)
	assert.Equal(t, list, again, "UIDLs are stable across sessions")

	// IMAP expunges one while POP3 has its listing.
	_, err = mb.SetFlags(ctx, uids[:1], imap4.StoreAdd, []string{imap4.FlagDeleted}, nil)
	require.NoError(t, err)
	_, err = mb.Expunge(ctx, uids[:1])
	require.NoError(t, err)
	_, err = md.Open(ctx, list[0].UID)
	assert.ErrorIs(t, err, pop3.ErrNoSuchMessage)
	_, err = md.Open(ctx, "not-a-uid")
	assert.ErrorIs(t, err, pop3.ErrNoSuchMessage)

	w := mb.Watch()
	drain(w)
	require.NoError(t, md.Delete(ctx, []string{list[0].UID, list[1].UID, list[2].UID}))
	require.NoError(t, md.Close())
	waitWatch(t, w, "POP3 deletion")
	sd := syncAll(t, mb)
	assert.Equal(t, []imap4.UID{uids[3]}, metaUIDs(sd.Messages))

	// A second store instance on the same directory is refused while this
	// one serves the user (one process per user directory).
	other := newStore(t)
	other.Root = s.Root
	_, err = other.OpenMaildrop(ctx, ident("frank@example.org"))
	assert.Error(t, err, "a second Store on the same user directory")
}

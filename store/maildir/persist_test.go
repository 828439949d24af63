package maildir_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/store/maildir"
)

// snapshotState is what a restart must keep.
type snapshotState struct {
	validity uint32
	next     imap4.UID
	highest  imap4.ModSeq
	uids     []imap4.UID
	flags    map[imap4.UID][]string
	content  map[imap4.UID]string
}

func capture(t *testing.T, mb imap4.Mailbox) snapshotState {
	t.Helper()
	sd := syncAll(t, mb)
	st := snapshotState{validity: sd.UIDValidity, next: sd.UIDNext, highest: sd.HighestModSeq,
		uids: metaUIDs(sd.Messages), flags: map[imap4.UID][]string{}, content: map[imap4.UID]string{}}
	for _, m := range sd.Messages {
		st.flags[m.UID] = m.Flags
		st.content[m.UID] = readMsg(t, mb, m.UID)
	}
	return st
}

// populate fills INBOX and Work of a user with messages, flags, keywords
// and expunges, and returns the INBOX state. The store is closed after.
func populate(t *testing.T, root string) (inbox, work snapshotState) {
	s := &maildir.Store{Root: root, PollInterval: -1}
	defer s.Close()
	u, err := s.OpenUser(ctx, ident("erin@example.org"))
	require.NoError(t, err)
	defer u.Close()
	require.NoError(t, u.CreateMailbox(ctx, "Work", nil))
	for _, name := range []string{"INBOX", "Work"} {
		mb, err := u.OpenMailbox(ctx, name)
		require.NoError(t, err)
		var uids []imap4.UID
		for i := range 6 {
			uids = append(uids, appendMsg(t, mb, msg(name, string(rune('a'+i)))))
		}
		_, err = mb.SetFlags(ctx, uids[:2], imap4.StoreAdd, []string{imap4.FlagSeen, "Label"}, nil)
		require.NoError(t, err)
		_, err = mb.SetFlags(ctx, uids[4:], imap4.StoreAdd, []string{imap4.FlagDeleted}, nil)
		require.NoError(t, err)
		_, err = mb.Expunge(ctx, uids[4:]) // the highest UIDs go
		require.NoError(t, err)
		if name == "INBOX" {
			inbox = capture(t, mb)
		} else {
			work = capture(t, mb)
		}
		require.NoError(t, mb.Close())
	}
	return inbox, work
}

func reopenAndCapture(t *testing.T, root, name string) (snapshotState, *maildir.Store, imap4.Mailbox) {
	t.Helper()
	s := &maildir.Store{Root: root, PollInterval: -1}
	t.Cleanup(func() { s.Close() })
	u := openUser(t, s, "erin@example.org")
	mb := openMailbox(t, u, name)
	return capture(t, mb), s, mb
}

// I11: UIDVALIDITY, UIDs, UIDNEXT, HIGHESTMODSEQ, flags, keywords and
// contents survive a restart; a UID expunged before it is not reused.
func TestPersistRestart(t *testing.T) {
	root := t.TempDir()
	before, _ := populate(t, root)
	after, _, mb := reopenAndCapture(t, root, "INBOX")
	assert.Equal(t, before, after)
	uid := appendMsg(t, mb, msg("after", "restart"))
	assert.Equal(t, before.next, uid, "first UID after the restart")
	assert.Greater(t, uid, imap4.UID(6), "UID of an expunged message reused")
}

func userRoot(t *testing.T, root string) string {
	dir, err := (&maildir.Store{Root: root}).UserDir("erin@example.org")
	require.NoError(t, err)
	return dir
}

// A lost or damaged index is rebuilt from the Maildir without changing
// UIDVALIDITY or UIDs (they are in the file names and in mailfront-uids),
// and without reusing a UID; only keywords are lost.
func TestPersistRebuild(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, dir string)
	}{
		{"IndexDeleted", func(t *testing.T, dir string) {
			require.NoError(t, os.Remove(filepath.Join(dir, "mailfront-index")))
			require.NoError(t, os.Remove(filepath.Join(dir, "mailfront-index.log")))
		}},
		{"SnapshotCorrupt", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "mailfront-index")
			data, err := os.ReadFile(p)
			require.NoError(t, err)
			data[len(data)/2] ^= 0x55
			require.NoError(t, os.WriteFile(p, data, 0o600))
		}},
		{"SnapshotTruncated", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "mailfront-index")
			require.NoError(t, os.Truncate(p, 5))
		}},
		{"SnapshotGarbage", func(t *testing.T, dir string) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "mailfront-index"), []byte("not an index at all\n"), 0o600))
		}},
		{"UidsFileDisagrees", func(t *testing.T, dir string) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "mailfront-uids"), []byte("1 12345 99 99\n"), 0o600))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			before, _ := populate(t, root)
			tc.damage(t, userRoot(t, root))
			after, _, mb := reopenAndCapture(t, root, "INBOX")
			if tc.name == "UidsFileDisagrees" {
				// Neither file can be trusted: a new UIDVALIDITY.
				assert.NotEqual(t, before.validity, after.validity)
				assert.Len(t, after.uids, len(before.uids))
				return
			}
			assert.Equal(t, before.validity, after.validity, "UIDVALIDITY after a rebuild")
			assert.Equal(t, before.uids, after.uids, "UIDs after a rebuild")
			assert.GreaterOrEqual(t, after.next, before.next, "UIDNEXT after a rebuild")
			assert.GreaterOrEqual(t, after.highest, before.highest, "HIGHESTMODSEQ after a rebuild")
			assert.Equal(t, before.content, after.content)
			for _, uid := range after.uids {
				assert.ElementsMatch(t, before.flags[uid], after.flags[uid], "flags of %d (keywords kept as file name letters)", uid)
			}
			uid := appendMsg(t, mb, msg("after", "rebuild"))
			assert.GreaterOrEqual(t, uid, before.next, "UID reused after a rebuild")
		})
	}
}

// With mailfront-uids lost as well, nothing proves which UIDs were used:
// the folder gets a new UIDVALIDITY (never one handed out before).
func TestPersistRebuildNewValidity(t *testing.T) {
	root := t.TempDir()
	before, _ := populate(t, root)
	dir := userRoot(t, root)
	for _, f := range []string{"mailfront-index", "mailfront-index.log", "mailfront-uids"} {
		require.NoError(t, os.Remove(filepath.Join(dir, f)))
	}
	after, _, _ := reopenAndCapture(t, root, "INBOX")
	assert.NotEqual(t, before.validity, after.validity)
	assert.NotZero(t, after.validity)
	assert.Len(t, after.uids, len(before.uids))
	got := map[string]bool{}
	for _, c := range after.content {
		got[c] = true
	}
	for _, c := range before.content {
		assert.True(t, got[c], "message lost in the rebuild")
	}
}

// A journal cut in the middle of a record (a crash while appending to it)
// loads up to its last whole record; the files then fill in the rest.
func TestPersistTornJournal(t *testing.T) {
	root := t.TempDir()
	before, _ := populate(t, root)
	p := filepath.Join(userRoot(t, root), "mailfront-index.log")
	fi, err := os.Stat(p)
	require.NoError(t, err)
	for _, cut := range []int64{1, 3, 7} {
		require.NoError(t, os.Truncate(p, fi.Size()-cut))
		after, s, _ := reopenAndCapture(t, root, "INBOX")
		assert.Equal(t, before.validity, after.validity)
		assert.Equal(t, before.uids, after.uids)
		assert.Equal(t, before.content, after.content)
		require.NoError(t, s.Close())
		fi, err = os.Stat(p)
		require.NoError(t, err)
	}
}

// Deleting a mailbox and creating it again changes UIDVALIDITY, even within
// one second and across restarts.
func TestPersistValidityOnRecreate(t *testing.T) {
	root := t.TempDir()
	seen := map[uint32]bool{}
	for range 3 {
		s := &maildir.Store{Root: root, PollInterval: -1}
		u, err := s.OpenUser(ctx, ident("erin@example.org"))
		require.NoError(t, err)
		for range 3 {
			require.NoError(t, u.CreateMailbox(ctx, "Cycle", nil))
			st, err := u.Status(ctx, "Cycle")
			require.NoError(t, err)
			assert.NotZero(t, st.UIDValidity)
			assert.False(t, seen[st.UIDValidity], "UIDVALIDITY %d handed out twice", st.UIDValidity)
			seen[st.UIDValidity] = true
			require.NoError(t, u.DeleteMailbox(ctx, "Cycle"))
		}
		require.NoError(t, u.Close())
		require.NoError(t, s.Close())
	}
}

// Renaming a mailbox keeps its UIDVALIDITY and UIDs; its children move
// with it.
func TestPersistRename(t *testing.T) {
	root := t.TempDir()
	_, work := populate(t, root)
	s := &maildir.Store{Root: root, PollInterval: -1}
	t.Cleanup(func() { s.Close() })
	u := openUser(t, s, "erin@example.org")
	require.NoError(t, u.CreateMailbox(ctx, "Work/Sub", nil))
	require.NoError(t, u.RenameMailbox(ctx, "Work", "Jobs/Old"))
	_, err := u.Status(ctx, "Work")
	assert.ErrorIs(t, err, imap4.ErrNoSuchMailbox)
	_, err = u.Status(ctx, "Jobs/Old/Sub")
	assert.NoError(t, err)
	mb := openMailbox(t, u, "Jobs/Old")
	after := capture(t, mb)
	assert.Equal(t, work, after)
	require.NoError(t, mb.Close())

	// Renaming INBOX moves its messages and leaves INBOX empty, with its
	// UIDVALIDITY and UIDNEXT.
	inbox := openMailbox(t, u, "INBOX")
	before := capture(t, inbox)
	require.NoError(t, u.RenameMailbox(ctx, "INBOX", "Old INBOX"))
	emptied := syncAll(t, inbox)
	assert.Empty(t, emptied.Messages)
	assert.Equal(t, before.validity, emptied.UIDValidity)
	assert.GreaterOrEqual(t, emptied.UIDNext, before.next)
	old := openMailbox(t, u, "Old INBOX")
	moved := syncAll(t, old)
	assert.Len(t, moved.Messages, len(before.uids))
}

// A mailbox renamed while other sessions have it (and its child) open and
// watched stays usable through those sessions, under its new name.
func TestRenameWhileOpen(t *testing.T) {
	s := &maildir.Store{Root: t.TempDir(), PollInterval: 1}
	t.Cleanup(func() { s.Close() })
	u := openUser(t, s, "rita@example.org")
	require.NoError(t, u.CreateMailbox(ctx, "Old/Child", nil))
	parent := openMailbox(t, u, "Old")
	child := openMailbox(t, u, "Old/Child")
	uid := appendMsg(t, child, msg("child", "kept"))
	for i := range 20 {
		from, to := "Old", "New"
		if i%2 == 1 {
			from, to = to, from
		}
		require.NoError(t, u.RenameMailbox(ctx, from, to))
		appendMsg(t, parent, msg("parent", fmt.Sprint(i)))
		assert.Equal(t, msg("child", "kept"), readMsg(t, child, uid))
	}
	assert.Len(t, syncAll(t, parent).Messages, 20)
	_, err := u.Status(ctx, "Old/Child")
	assert.NoError(t, err)
}

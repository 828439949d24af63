package maildir_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/store/maildir"
)

// With tiny reservation steps, journal and expunge limits, a mailbox goes
// through many raises of the UID and modseq ceilings, snapshots and
// expunge-record compactions: after a restart and after a rebuild from the
// files, no UID is reused, HIGHESTMODSEQ never goes down, and Sync(since)
// still reports every expunge since (a superset for forgotten ones).
func TestLimitsCeilingsAndCompaction(t *testing.T) {
	defer maildir.SetLimits(3, 5, 4, 2048)()
	root := t.TempDir()
	s := &maildir.Store{Root: root, PollInterval: -1}
	u := openUser(t, s, "max@example.org")
	mb := openMailbox(t, u, "INBOX")
	var uids []imap4.UID
	for i := range 30 {
		uids = append(uids, appendMsg(t, mb, msg("limit", fmt.Sprint(i))))
	}
	start := syncAll(t, mb).HighestModSeq
	for round := range 4 {
		_, err := mb.SetFlags(ctx, uids, imap4.StoreAdd, []string{fmt.Sprintf("kw%d", round), imap4.FlagSeen}, nil)
		require.NoError(t, err)
		_, err = mb.SetFlags(ctx, uids, imap4.StoreRemove, []string{imap4.FlagSeen}, nil)
		require.NoError(t, err)
	}
	gone := uids[20:]
	_, err := mb.SetFlags(ctx, gone, imap4.StoreAdd, []string{imap4.FlagDeleted}, nil)
	require.NoError(t, err)
	_, err = mb.Expunge(ctx, gone)
	require.NoError(t, err)
	before := syncAll(t, mb)
	d := mustSync(t, mb, start)
	assert.Subset(t, d.Expunged, gone, "expunges since before the flag changes")
	require.NoError(t, mb.Close())
	require.NoError(t, u.Close())
	require.NoError(t, s.Close())

	dir, _ := s.UserDir("max@example.org")
	check := func(t *testing.T, what string) {
		s := &maildir.Store{Root: root, PollInterval: -1}
		defer s.Close()
		mb := openMailbox(t, openUser(t, s, "max@example.org"), "INBOX")
		after := syncAll(t, mb)
		assert.Equal(t, before.UIDValidity, after.UIDValidity, what)
		assert.Equal(t, metaUIDs(before.Messages), metaUIDs(after.Messages), what)
		assert.GreaterOrEqual(t, after.HighestModSeq, before.HighestModSeq, what)
		d := mustSync(t, mb, start)
		assert.Subset(t, d.Expunged, gone, "%s: expunges since before the flag changes", what)
		for _, m := range d.Messages {
			assert.Greater(t, m.ModSeq, start)
		}
		uid := appendMsg(t, mb, msg("after", what))
		assert.Greater(t, uid, slices.Max(uids), "%s: UID reused", what)
		uids = append(uids, uid)
		before = syncAll(t, mb)
	}
	t.Run("Restart", func(t *testing.T) { check(t, "restart") })
	t.Run("Rebuild", func(t *testing.T) {
		require.NoError(t, os.Remove(filepath.Join(dir, "mailfront-index")))
		check(t, "rebuild")
	})
	t.Run("RebuildAgain", func(t *testing.T) {
		require.NoError(t, os.Remove(filepath.Join(dir, "mailfront-index")))
		check(t, "second rebuild")
	})
}

// The structure cache survives a restart, forgets expunged messages, and
// is discarded when UIDs are reassigned.
func TestStructureCachePersists(t *testing.T) {
	root := t.TempDir()
	s := &maildir.Store{Root: root, PollInterval: -1}
	u := openUser(t, s, "sc@example.org")
	mb := openMailbox(t, u, "INBOX")
	a := appendMsg(t, mb, msg("a", "a"))
	b := appendMsg(t, mb, msg("b", "b"))
	sc := mb.(imap4.StructureCache)
	_, ok := sc.CachedStructure(ctx, a)
	assert.False(t, ok)
	sc.CacheStructure(ctx, a, []byte("structure of a"))
	sc.CacheStructure(ctx, b, []byte("structure of b, first"))
	sc.CacheStructure(ctx, b, []byte("structure of b"))
	sc.CacheStructure(ctx, 999, []byte("no such message"))
	got, ok := sc.CachedStructure(ctx, b)
	require.True(t, ok)
	assert.Equal(t, "structure of b", string(got))
	_, err := mb.SetFlags(ctx, []imap4.UID{a}, imap4.StoreAdd, []string{imap4.FlagDeleted}, nil)
	require.NoError(t, err)
	_, err = mb.Expunge(ctx, []imap4.UID{a})
	require.NoError(t, err)
	_, ok = sc.CachedStructure(ctx, a)
	assert.False(t, ok, "cache entry of an expunged message")
	require.NoError(t, mb.Close())
	require.NoError(t, u.Close())
	require.NoError(t, s.Close())

	dir, _ := s.UserDir("sc@example.org")
	// A torn last record (a crash while appending to the cache) is ignored.
	f, err := os.OpenFile(filepath.Join(dir, "mailfront-cache"), os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write([]byte{7, 0, 0, 0, 100, 0})
	require.NoError(t, err)
	require.NoError(t, f.Close())

	s2 := &maildir.Store{Root: root, PollInterval: -1}
	mb2 := openMailbox(t, openUser(t, s2, "sc@example.org"), "INBOX")
	got, ok = mb2.(imap4.StructureCache).CachedStructure(ctx, b)
	require.True(t, ok, "cache after a restart")
	assert.Equal(t, "structure of b", string(got))
	require.NoError(t, mb2.Close())
	require.NoError(t, s2.Close())

	// New UIDVALIDITY: the cache is not used for the new UIDs.
	for _, n := range []string{"mailfront-index", "mailfront-index.log", "mailfront-uids"} {
		require.NoError(t, os.Remove(filepath.Join(dir, n)))
	}
	s3 := &maildir.Store{Root: root, PollInterval: -1}
	defer s3.Close()
	mb3 := openMailbox(t, openUser(t, s3, "sc@example.org"), "INBOX")
	for _, m := range syncAll(t, mb3).Messages {
		_, ok := mb3.(imap4.StructureCache).CachedStructure(ctx, m.UID)
		assert.False(t, ok, "cache entry for UID %d after a renumbering", m.UID)
	}
}

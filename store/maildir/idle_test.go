//go:build unix

package maildir_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/store/maildir"
	"github.com/mailfront/mailfront/submission"
)

// lockedElsewhere reports whether another Store on root is refused the
// user because a Store holds the user's lock (flock conflicts between two
// open files, even in one process).
func lockedElsewhere(t *testing.T, root, name string) bool {
	t.Helper()
	other := &maildir.Store{Root: root, PollInterval: -1, MaxIdleUsers: -1}
	defer other.Close()
	u, err := other.OpenUser(ctx, ident(name))
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return true
	}
	require.NoError(t, err)
	require.NoError(t, u.Close())
	return false
}

// touch opens and closes a user, as a session that logs in and out does.
func touch(t *testing.T, s *maildir.Store, name string) {
	t.Helper()
	u, err := s.OpenUser(ctx, ident(name))
	require.NoError(t, err)
	require.NoError(t, u.Close())
}

// Users whose last session ended stay loaded (and locked) up to
// MaxIdleUsers, the least recently used unloaded first; a negative
// MaxIdleUsers unloads a user at once.
func TestIdleCount(t *testing.T) {
	root := t.TempDir()
	s := &maildir.Store{Root: root, PollInterval: -1, MaxIdleUsers: 2, IdleUnload: -1}
	t.Cleanup(func() { s.Close() })
	touch(t, s, "a")
	touch(t, s, "b")
	assert.Equal(t, []string{"a", "b"}, maildir.IdleUsers(s))
	touch(t, s, "c")
	assert.Equal(t, []string{"b", "c"}, maildir.IdleUsers(s), "a, idle longest, unloaded")
	assert.False(t, lockedElsewhere(t, root, "a"), "a's lock released")
	assert.True(t, lockedElsewhere(t, root, "b"), "b's lock kept while idle")

	touch(t, s, "b") // b is now the most recently used
	assert.Equal(t, []string{"c", "b"}, maildir.IdleUsers(s))
	u := openUser(t, s, "d")
	assert.Equal(t, []string{"c", "b"}, maildir.IdleUsers(s), "a user in use is not idle")
	require.NoError(t, u.Close())
	assert.Equal(t, []string{"b", "d"}, maildir.IdleUsers(s))
	assert.Equal(t, 2, maildir.LoadedUsers(s))

	none := &maildir.Store{Root: root, PollInterval: -1, MaxIdleUsers: -1}
	t.Cleanup(func() { none.Close() })
	touch(t, none, "e")
	assert.Empty(t, maildir.IdleUsers(none))
	assert.Zero(t, maildir.LoadedUsers(none))
	assert.False(t, lockedElsewhere(t, root, "e"))

	def := &maildir.Store{Root: root, PollInterval: -1}
	t.Cleanup(func() { def.Close() })
	for i := range maildir.DefaultMaxIdleUsers + 3 {
		touch(t, def, fmt.Sprintf("user%d", i))
	}
	assert.Len(t, maildir.IdleUsers(def), maildir.DefaultMaxIdleUsers)
	assert.Equal(t, "user3", maildir.IdleUsers(def)[0])
}

// Idle users older than IdleUnload are unloaded when the store is next
// used: a session opening or ending, or a poller's tick.
func TestIdleAge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		root := t.TempDir()
		s := &maildir.Store{Root: root, PollInterval: time.Second, IdleUnload: time.Minute}
		defer s.Close()
		touch(t, s, "a")
		time.Sleep(30 * time.Second)
		touch(t, s, "b")
		assert.Equal(t, []string{"a", "b"}, maildir.IdleUsers(s), "nothing older than a minute")

		time.Sleep(31 * time.Second) // a: 61 s, b: 31 s
		assert.Equal(t, []string{"a", "b"}, maildir.IdleUsers(s), "no timer: nothing happens while the store is unused")
		u, err := s.OpenUser(ctx, ident("c"))
		require.NoError(t, err)
		assert.Equal(t, []string{"b"}, maildir.IdleUsers(s), "a unloaded when c was acquired")
		assert.False(t, lockedElsewhere(t, root, "a"))

		// c watches its INBOX: the poller's ticks unload b in time.
		mb, err := u.OpenMailbox(ctx, "INBOX")
		require.NoError(t, err)
		time.Sleep(30*time.Second + 2*time.Second)
		assert.Empty(t, maildir.IdleUsers(s), "b unloaded by a poller's tick")
		assert.False(t, lockedElsewhere(t, root, "b"))
		require.NoError(t, mb.Close())
		require.NoError(t, u.Close())
		assert.Equal(t, []string{"c"}, maildir.IdleUsers(s))

		// Taken back before it expires, a user starts a new idle period.
		time.Sleep(50 * time.Second)
		touch(t, s, "c")
		time.Sleep(50 * time.Second)
		touch(t, s, "d")
		assert.Equal(t, []string{"c", "d"}, maildir.IdleUsers(s))

		forever := &maildir.Store{Root: t.TempDir(), PollInterval: -1, IdleUnload: -1}
		defer forever.Close()
		touch(t, forever, "x")
		time.Sleep(1000 * time.Hour)
		touch(t, forever, "y")
		assert.Equal(t, []string{"x", "y"}, maildir.IdleUsers(forever), "no age limit")
	})
}

// Close unloads every user, idle or in use, and releases their locks: a
// second Store on the same root can then open them.
func TestIdleClose(t *testing.T) {
	root := t.TempDir()
	s := &maildir.Store{Root: root, PollInterval: time.Millisecond}
	touch(t, s, "idle")
	u, err := s.OpenUser(ctx, ident("busy"))
	require.NoError(t, err)
	mb, err := u.OpenMailbox(ctx, "INBOX")
	require.NoError(t, err)
	appendMsg(t, mb, msg("kept", "over the restart"))
	require.True(t, lockedElsewhere(t, root, "idle"))
	require.True(t, lockedElsewhere(t, root, "busy"))

	require.NoError(t, s.Close())
	assert.Empty(t, maildir.IdleUsers(s))
	assert.Zero(t, maildir.LoadedUsers(s))
	assert.False(t, lockedElsewhere(t, root, "idle"))
	assert.False(t, lockedElsewhere(t, root, "busy"))
	_, err = s.OpenUser(ctx, ident("idle"))
	assert.ErrorIs(t, err, maildir.ErrClosed)
	_, err = mb.Sync(ctx, 0)
	assert.Error(t, err, "a session of a closed store")
	require.NoError(t, mb.Close())
	require.NoError(t, u.Close())
	assert.Empty(t, maildir.IdleUsers(s), "a session ending after Close leaves nothing loaded")

	s2 := newStoreAt(t, root)
	mb2 := openMailbox(t, openUser(t, s2, "busy"), "INBOX")
	assert.Len(t, syncAll(t, mb2).Messages, 1)
}

func newStoreAt(t *testing.T, root string) *maildir.Store {
	s := &maildir.Store{Root: root, PollInterval: -1}
	t.Cleanup(func() { s.Close() })
	return s
}

// What other programs do while a user is idle (loaded, no session) is seen
// by the next session at once, without waiting for a poll: deliveries
// into new/ and cur/, flag changes by renames in cur/, removals; a
// replaced index makes the folder reload; a removed user directory makes
// the user load afresh.
func TestIdleRevalidate(t *testing.T) {
	s := &maildir.Store{Root: t.TempDir(), PollInterval: time.Hour}
	t.Cleanup(func() { s.Close() })
	const user = "ivy@example.org"
	dir, err := s.UserDir(user)
	require.NoError(t, err)

	// session runs f in a fresh session on INBOX, as a client that logs
	// in, selects and logs out.
	session := func(f func(mb imap4.Mailbox)) {
		t.Helper()
		u, err := s.OpenUser(ctx, ident(user))
		require.NoError(t, err)
		mb, err := u.OpenMailbox(ctx, "INBOX")
		require.NoError(t, err)
		f(mb)
		require.NoError(t, mb.Close())
		require.NoError(t, u.Close())
		require.Equal(t, []string{user}, maildir.IdleUsers(s), "user kept idle")
	}
	var first, second imap4.UID
	session(func(mb imap4.Mailbox) {
		first = appendMsg(t, mb, msg("one", "1"))
		second = appendMsg(t, mb, msg("two", "2"))
	})
	curName := func(t *testing.T, uid imap4.UID) string {
		t.Helper()
		names, err := os.ReadDir(filepath.Join(dir, "cur"))
		require.NoError(t, err)
		for _, n := range names {
			base, _, _ := strings.Cut(n.Name(), ":")
			if v, u, ok := maildir.ParseFieldsUID(base); ok && v != 0 && imap4.UID(u) == uid {
				return n.Name()
			}
		}
		t.Fatalf("no file for UID %d", uid)
		return ""
	}

	t.Run("DeliveredIntoNew", func(t *testing.T) {
		deliverFile(t, dir, "new", "1700000000.V1I1.mx", "Subject: postfix\n\nhello\n")
		session(func(mb imap4.Mailbox) {
			assert.Len(t, syncAll(t, mb).Messages, 3)
		})
	})
	t.Run("RenamedInCur", func(t *testing.T) {
		old := curName(t, first)
		base, _, _ := strings.Cut(old, ":")
		require.NoError(t, os.Rename(filepath.Join(dir, "cur", old), filepath.Join(dir, "cur", base+":2,FS")))
		session(func(mb imap4.Mailbox) {
			sd := syncAll(t, mb)
			require.NotEmpty(t, sd.Messages)
			assert.Equal(t, first, sd.Messages[0].UID, "UID kept")
			assert.ElementsMatch(t, []string{imap4.FlagFlagged, imap4.FlagSeen}, sd.Messages[0].Flags)
		})
	})
	t.Run("RemovedFromCur", func(t *testing.T) {
		require.NoError(t, os.Remove(filepath.Join(dir, "cur", curName(t, second))))
		session(func(mb imap4.Mailbox) {
			for _, m := range syncAll(t, mb).Messages {
				assert.NotEqual(t, second, m.UID, "removed message still listed")
			}
		})
	})
	t.Run("IndexRemoved", func(t *testing.T) {
		// An operator removes the index to have it rebuilt: the folder
		// must not go on writing a journal nobody will read.
		for _, f := range []string{"mailfront-index", "mailfront-index.log"} {
			require.NoError(t, os.Remove(filepath.Join(dir, f)))
		}
		var uid imap4.UID
		session(func(mb imap4.Mailbox) {
			uid = appendMsg(t, mb, msg("keyword", "kept in the index"), "Label")
		})
		require.NoError(t, s.Close())
		s2 := newStoreAt(t, s.Root)
		mb := openMailbox(t, openUser(t, s2, user), "INBOX")
		var flags []string
		for _, m := range syncAll(t, mb).Messages {
			if m.UID == uid {
				flags = m.Flags
			}
		}
		assert.Contains(t, flags, "Label", "keyword journaled in the index files on disk")
	})
}

// A user whose directory is removed while idle is loaded afresh (created
// again) by its next session, not served from the state of the removed
// directory.
func TestIdleUserDirRemoved(t *testing.T) {
	s := &maildir.Store{Root: t.TempDir(), PollInterval: -1}
	t.Cleanup(func() { s.Close() })
	const user = "gone@example.org"
	u := openUser(t, s, user)
	mb := openMailbox(t, u, "INBOX")
	appendMsg(t, mb, msg("old", "removed with the directory"))
	require.NoError(t, mb.Close())
	require.NoError(t, u.Close())
	require.Equal(t, []string{user}, maildir.IdleUsers(s))
	dir, err := s.UserDir(user)
	require.NoError(t, err)
	require.NoError(t, os.RemoveAll(dir))

	u = openUser(t, s, user)
	mb = openMailbox(t, u, "INBOX")
	assert.Empty(t, syncAll(t, mb).Messages)
	appendMsg(t, mb, msg("new", "in the new directory"))
	names, err := os.ReadDir(filepath.Join(dir, "cur"))
	require.NoError(t, err)
	assert.Len(t, names, 1)
	_, err = u.Status(ctx, "Sent")
	assert.NoError(t, err, "special-use folders made again")
}

// Sessions and deliveries for more users than MaxIdleUsers, in parallel:
// users are evicted while others take them back (waiting for their
// unloading), under the race detector; nothing is lost.
func TestIdleConcurrent(t *testing.T) {
	s := &maildir.Store{Root: t.TempDir(), PollInterval: time.Millisecond, MaxIdleUsers: 1}
	t.Cleanup(func() { s.Close() })
	users := []string{"p@example.org", "q@example.org", "r@example.org", "s@example.org"}
	for _, u := range users {
		require.NoError(t, s.CreateUser(ctx, u))
	}
	const workers, rounds = 6, 15
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				name := users[(w+i)%len(users)]
				if i%3 == 0 {
					env := &submission.Envelope{From: "x@example.org", Recipients: []submission.Recipient{{Address: name}}}
					assert.NoError(t, s.Submit(ctx, env, strings.NewReader(msg("delivered", name))))
					continue
				}
				u, err := s.OpenUser(ctx, ident(name))
				if !assert.NoError(t, err) {
					return
				}
				mb, err := u.OpenMailbox(ctx, "INBOX")
				if assert.NoError(t, err) {
					_, err = mb.Append(ctx, strings.NewReader(msg("appended", name)), nil)
					assert.NoError(t, err)
					_, err = mb.Sync(ctx, 0)
					assert.NoError(t, err)
					mb.Close()
				}
				u.Close()
			}
		})
	}
	wg.Wait()
	total := 0
	for _, name := range users {
		st, err := openUser(t, s, name).Status(ctx, "INBOX")
		require.NoError(t, err)
		total += int(st.Messages)
	}
	assert.Equal(t, workers*rounds, total)
}

// A user directory replaced while the user is idle (a backup restored) is
// not overwritten with the stale state in memory when the user is
// unloaded, which would otherwise compact its journal into a snapshot.
func TestIdleUserDirReplaced(t *testing.T) {
	defer maildir.SetLimits(1024, 65536, 100_000, 1)()
	root := t.TempDir()
	s := &maildir.Store{Root: root, PollInterval: -1, MaxIdleUsers: 1}
	t.Cleanup(func() { s.Close() })
	const user = "restored@example.org"
	dir, err := s.UserDir(user)
	require.NoError(t, err)
	u := openUser(t, s, user)
	mb := openMailbox(t, u, "INBOX")
	appendMsg(t, mb, msg("backed up", "1"))
	backup := filepath.Join(t.TempDir(), "backup")
	require.NoError(t, os.CopyFS(backup, os.DirFS(dir)))
	appendMsg(t, mb, msg("after the backup", "2"))
	require.NoError(t, mb.Close())
	require.NoError(t, u.Close())

	require.NoError(t, os.RemoveAll(dir))
	require.NoError(t, os.CopyFS(dir, os.DirFS(backup)))
	restored, err := os.ReadFile(filepath.Join(dir, "mailfront-index"))
	require.NoError(t, err)
	touch(t, s, "other") // evicts the restored user
	require.Equal(t, []string{"other"}, maildir.IdleUsers(s))
	after, err := os.ReadFile(filepath.Join(dir, "mailfront-index"))
	require.NoError(t, err)
	assert.Equal(t, restored, after, "restored index overwritten by the unloaded user")

	mb = openMailbox(t, openUser(t, s, user), "INBOX")
	assert.Len(t, syncAll(t, mb).Messages, 1, "the restored mailbox")
}

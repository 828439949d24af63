package maildir_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/store/maildir"
	"github.com/mailfront/mailfront/submission"
)

// listDir returns the names in a directory.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// M4 and M1: a failure at any step of Append (a full disk or quota while
// writing, EIO on fsync, a failing rename, directory fsync or journal
// write) fails the Append, leaves nothing in tmp/ or cur/, and the
// message is not visible, now or after a restart. ENOSPC and EDQUOT are
// reported as quota errors.
func TestFaultAppend(t *testing.T) {
	isMsgTmp := func(p string) bool { return strings.Contains(p, "/tmp/") }
	isCur := func(p string) bool { return strings.Contains(p, "/cur") }
	isJournal := func(p string) bool { return strings.HasSuffix(p, "mailfront-index.log") }
	for _, tc := range []struct {
		name  string
		fail  func(op, path string) error
		quota bool
	}{
		{"DiskFullWritingMessage", func(op, p string) error {
			return when(op == "write" && isMsgTmp(p), syscall.ENOSPC)
		}, true},
		{"QuotaWritingMessage", func(op, p string) error {
			return when(op == "write" && isMsgTmp(p), syscall.EDQUOT)
		}, true},
		{"CreateInTmpFails", func(op, p string) error {
			return when(op == "open" && isMsgTmp(p), syscall.ENOSPC)
		}, true},
		{"FsyncMessageFails", func(op, p string) error {
			return when(op == "sync" && isMsgTmp(p), syscall.EIO)
		}, false},
		{"RenameIntoCurFails", func(op, p string) error {
			return when(op == "rename" && isMsgTmp(p), syscall.EIO)
		}, false},
		{"FsyncCurFails", func(op, p string) error {
			return when(op == "syncdir" && isCur(p), syscall.EIO)
		}, false},
		{"JournalWriteFails", func(op, p string) error {
			return when(op == "write" && isJournal(p), syscall.ENOSPC)
		}, true},
		{"JournalFsyncFails", func(op, p string) error {
			return when(op == "sync" && isJournal(p), syscall.EIO)
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			ffs := &faultFS{}
			s := &maildir.Store{Root: root, PollInterval: -1}
			maildir.SetFS(s, ffs)
			defer s.Close()
			u := openUser(t, s, "gina@example.org")
			mb := openMailbox(t, u, "INBOX")
			first := appendMsg(t, mb, msg("before", "the fault"))
			dir, _ := s.UserDir("gina@example.org")
			curBefore := listDir(t, filepath.Join(dir, "cur"))

			ffs.setFail(tc.fail)
			_, err := mb.Append(ctx, strings.NewReader(msg("during", "the fault")), nil)
			require.Error(t, err)
			if tc.quota {
				assert.ErrorIs(t, err, imap4.ErrQuotaExceeded)
			} else {
				assert.NotErrorIs(t, err, imap4.ErrQuotaExceeded)
			}
			ffs.setFail(nil)

			assert.Empty(t, listDir(t, filepath.Join(dir, "tmp")), "tmp/ after the failure")
			assert.Equal(t, curBefore, listDir(t, filepath.Join(dir, "cur")), "cur/ after the failure")
			sd := syncAll(t, mb)
			assert.Equal(t, []imap4.UID{first}, metaUIDs(sd.Messages), "messages after the failure")
			second := appendMsg(t, mb, msg("after", "the fault"))
			assert.Greater(t, second, first)
			require.NoError(t, mb.Close())
			require.NoError(t, u.Close())
			require.NoError(t, s.Close())

			// And after a restart.
			s2 := &maildir.Store{Root: root, PollInterval: -1}
			defer s2.Close()
			mb2 := openMailbox(t, openUser(t, s2, "gina@example.org"), "INBOX")
			sd = syncAll(t, mb2)
			assert.Equal(t, []imap4.UID{first, second}, metaUIDs(sd.Messages), "messages after a restart")
			assert.Equal(t, msg("after", "the fault"), readMsg(t, mb2, second))
		})
	}
}

func when(cond bool, err error) error {
	if cond {
		return err
	}
	return nil
}

// M4 for submission: a full disk is a quota error (452 4.2.2), nothing is
// delivered and tmp/ is clean.
func TestFaultSubmit(t *testing.T) {
	root := t.TempDir()
	ffs := &faultFS{}
	s := &maildir.Store{Root: root, PollInterval: -1}
	maildir.SetFS(s, ffs)
	defer s.Close()
	require.NoError(t, s.CreateUser(ctx, "hal@example.org"))
	mb := openMailbox(t, openUser(t, s, "hal@example.org"), "INBOX")
	ffs.setFail(func(op, p string) error {
		return when(op == "write" && strings.Contains(p, "/tmp/"), syscall.ENOSPC)
	})
	err := s.Submit(ctx, envelope("hal@example.org"), strings.NewReader(msg("x", "y")))
	assert.ErrorIs(t, err, submission.ErrQuotaExceeded)
	ffs.setFail(nil)
	dir, _ := s.UserDir("hal@example.org")
	assert.Empty(t, listDir(t, filepath.Join(dir, "tmp")))
	assert.Empty(t, syncAll(t, mb).Messages)
}

// indexOf returns the position of the first trace entry with prefix op
// whose path satisfies match, after position from; -1 if none.
func indexOf(trace []string, from int, op string, match func(string) bool) int {
	for i := max(from, 0); i < len(trace); i++ {
		f := strings.Fields(trace[i])
		if f[0] == op && match(strings.Join(f[1:], " ")) {
			return i
		}
	}
	return -1
}

// M1: every operation makes its change durable before it returns, in the
// order that makes a crash at any point safe: message data fsynced before
// the rename into cur/, cur/ fsynced after it, the journal fsynced after
// that.
func TestDurabilityOrder(t *testing.T) {
	ffs := &faultFS{}
	s := &maildir.Store{Root: t.TempDir(), PollInterval: -1}
	maildir.SetFS(s, ffs)
	defer s.Close()
	require.NoError(t, s.CreateUser(ctx, "ivan@example.org"))
	u := openUser(t, s, "ivan@example.org")
	mb := openMailbox(t, u, "INBOX")
	appendMsg(t, mb, msg("warm", "up"))
	openMailbox(t, u, "Trash") // load it
	ffs.takeTrace()

	has := func(s string) func(string) bool { return func(p string) bool { return strings.Contains(p, s) } }
	journal := has("mailfront-index.log")
	steps := func(t *testing.T, trace []string, want ...struct {
		op    string
		match func(string) bool
	}) {
		t.Helper()
		pos := -1
		for i, w := range want {
			next := indexOf(trace, pos+1, w.op, w.match)
			if !assert.GreaterOrEqual(t, next, 0, "step %d (%s) missing or out of order in\n%s", i, w.op, strings.Join(trace, "\n")) {
				return
			}
			pos = next
		}
	}
	type step = struct {
		op    string
		match func(string) bool
	}

	t.Run("Append", func(t *testing.T) {
		uid := appendMsg(t, mb, msg("a", "b"))
		trace := ffs.takeTrace()
		steps(t, trace,
			step{"write", has("/tmp/")}, step{"sync", has("/tmp/")},
			step{"rename", has(fmt.Sprintf(".%d:2,", uid))}, step{"syncdir", has("/cur")},
			step{"write", journal}, step{"sync", journal})
	})
	t.Run("Submit", func(t *testing.T) {
		require.NoError(t, s.Submit(ctx, envelope("ivan@example.org"), strings.NewReader(msg("s", "t"))))
		trace := ffs.takeTrace()
		steps(t, trace,
			step{"write", has("/tmp/")}, step{"sync", has("/tmp/")},
			step{"link", has("/cur/")}, step{"syncdir", has("/cur")},
			step{"write", journal}, step{"sync", journal})
	})
	uids := metaUIDs(syncAll(t, mb).Messages)
	t.Run("SetFlags", func(t *testing.T) {
		_, err := mb.SetFlags(ctx, uids[:1], imap4.StoreAdd, []string{imap4.FlagSeen}, nil)
		require.NoError(t, err)
		steps(t, ffs.takeTrace(), step{"rename", has(":2,S")}, step{"syncdir", has("/cur")}, step{"write", journal}, step{"sync", journal})
	})
	t.Run("CopyTo", func(t *testing.T) {
		_, err := mb.CopyTo(ctx, uids[:1], "Trash")
		require.NoError(t, err)
		steps(t, ffs.takeTrace(), step{"link", has("/.Trash/cur/")}, step{"syncdir", has("/.Trash/cur")}, step{"write", journal}, step{"sync", journal})
	})
	t.Run("MoveTo", func(t *testing.T) {
		_, err := mb.(imap4.Mover).MoveTo(ctx, uids[1:2], "Trash")
		require.NoError(t, err)
		trace := ffs.takeTrace()
		steps(t, trace, step{"rename", has("/.Trash/cur/")}, step{"syncdir", has("/.Trash/cur")},
			step{"syncdir", func(p string) bool { return strings.HasSuffix(p, "ivan@example.org/cur") }},
			step{"sync", has(".Trash/mailfront-index.log")}, step{"sync", journal})
	})
	t.Run("Expunge", func(t *testing.T) {
		_, err := mb.SetFlags(ctx, uids[2:3], imap4.StoreAdd, []string{imap4.FlagDeleted}, nil)
		require.NoError(t, err)
		ffs.takeTrace()
		_, err = mb.Expunge(ctx, uids[2:3])
		require.NoError(t, err)
		steps(t, ffs.takeTrace(), step{"remove", has("/cur/")}, step{"syncdir", has("/cur")}, step{"write", journal}, step{"sync", journal})
	})
}

// The state of one message in the power-loss workload.
type plState struct {
	folder string // "INBOX", "Work", or "" when expunged or not yet there
	seen   bool
}

// M1, power loss: a workload of appends, deliveries, flag changes, moves
// and expunges runs on a file system that remembers only what was fsynced.
// Before every file operation, an image of the disk as a power failure
// would leave it is taken. Each image is then opened as a store: every
// acknowledged change is there (the operation in flight may or may not
// be), nothing else is (no partial or unknown message), UIDVALIDITY is
// the same and UIDs are unique.
func TestPowerLoss(t *testing.T) {
	root := t.TempDir()
	const user = "judy@example.org"
	setup := &maildir.Store{Root: root, PollInterval: -1}
	require.NoError(t, setup.CreateUser(ctx, user))
	u0 := openUser(t, setup, user)
	require.NoError(t, u0.CreateMailbox(ctx, "Work", nil))
	for _, n := range []string{"INBOX", "Work"} {
		mb, err := u0.OpenMailbox(ctx, n)
		require.NoError(t, err)
		require.NoError(t, mb.Close())
	}
	require.NoError(t, u0.Close())
	require.NoError(t, setup.Close())

	model := newLossyModel(t, root)
	ffs := &faultFS{}
	lfs := &lossyFS{faultFS: ffs, m: model, t: t}
	s := &maildir.Store{Root: root, PollInterval: -1}
	maildir.SetFS(s, lfs)
	u, err := s.OpenUser(ctx, ident(user))
	require.NoError(t, err)
	inbox, err := u.OpenMailbox(ctx, "INBOX")
	require.NoError(t, err)
	work, err := u.OpenMailbox(ctx, "Work")
	require.NoError(t, err)
	validity := map[string]uint32{"INBOX": syncAll(t, inbox).UIDValidity, "Work": syncAll(t, work).UIDValidity}

	type image struct {
		dir      string
		acked    map[int]plState
		inFlight int // message id the operation in flight concerns, or -1
		target   plState
		move     bool // the operation in flight is a move
	}
	var images []*image
	acked := map[int]plState{}
	inFlight, target, moving := -1, plState{}, false
	imageDir := t.TempDir()
	every := 2
	count := 0
	ffs.before = func(op, path string) {
		if count++; count%every != 0 || len(images) >= 300 {
			return
		}
		im := &image{dir: filepath.Join(imageDir, fmt.Sprint(len(images))), acked: map[int]plState{}, inFlight: inFlight, target: target, move: moving}
		for k, v := range acked {
			im.acked[k] = v
		}
		model.image(t, im.dir)
		images = append(images, im)
	}

	body := func(id int) string {
		return msg(fmt.Sprintf("message %d", id), strings.Repeat(fmt.Sprintf("body of %d ", id), id%7+1))
	}
	mailbox := func(name string) imap4.Mailbox {
		if name == "Work" {
			return work
		}
		return inbox
	}
	uidOf := func(mb imap4.Mailbox, id int) imap4.UID {
		for _, m := range syncAll(t, mb).Messages {
			if readMsg(t, mb, m.UID) == body(id) {
				return m.UID
			}
		}
		t.Fatalf("message %d not found", id)
		return 0
	}
	rng := rand.New(rand.NewPCG(1, 2))
	next := 0
	for step := 0; step < 40; step++ {
		var live []int
		for id, st := range acked {
			if st.folder != "" {
				live = append(live, id)
			}
		}
		slices.Sort(live)
		op := rng.IntN(6)
		if len(live) == 0 {
			op = 0
		}
		switch op {
		case 0, 1: // append or deliver a new message
			id := next
			next++
			inFlight, target = id, plState{folder: "INBOX"}
			if op == 0 {
				_, err = inbox.Append(ctx, strings.NewReader(body(id)), nil)
			} else {
				err = s.Submit(ctx, envelope(user), strings.NewReader(body(id)))
			}
			require.NoError(t, err)
		case 2: // flag \Seen
			id := live[rng.IntN(len(live))]
			st := acked[id]
			inFlight, target = id, plState{folder: st.folder, seen: true}
			mb := mailbox(st.folder)
			_, err = mb.SetFlags(ctx, []imap4.UID{uidOf(mb, id)}, imap4.StoreAdd, []string{imap4.FlagSeen}, nil)
			require.NoError(t, err)
		case 3, 4: // move to the other folder
			id := live[rng.IntN(len(live))]
			st := acked[id]
			to := "Work"
			if st.folder == "Work" {
				to = "INBOX"
			}
			inFlight, target, moving = id, plState{folder: to, seen: st.seen}, true
			mb := mailbox(st.folder)
			_, err = mb.(imap4.Mover).MoveTo(ctx, []imap4.UID{uidOf(mb, id)}, to)
			require.NoError(t, err)
		case 5: // expunge
			id := live[rng.IntN(len(live))]
			st := acked[id]
			inFlight, target = id, plState{}
			mb := mailbox(st.folder)
			uid := uidOf(mb, id)
			_, err = mb.SetFlags(ctx, []imap4.UID{uid}, imap4.StoreAdd, []string{imap4.FlagDeleted}, nil)
			require.NoError(t, err)
			_, err = mb.Expunge(ctx, []imap4.UID{uid})
			require.NoError(t, err)
		}
		acked[inFlight] = target
		inFlight, moving = -1, false
	}
	require.NotEmpty(t, images)
	t.Logf("%d power-loss images over %d operations", len(images), next)

	duplicates := 0
	for i, im := range images {
		rs := &maildir.Store{Root: im.dir, PollInterval: -1}
		ru, err := rs.OpenUser(ctx, ident(user))
		require.NoError(t, err, "image %d", i)
		found := map[int]plState{}
		for _, name := range []string{"INBOX", "Work"} {
			mb, err := ru.OpenMailbox(ctx, name)
			require.NoError(t, err, "image %d: %s", i, name)
			sd := syncAll(t, mb)
			assert.Equal(t, validity[name], sd.UIDValidity, "image %d: UIDVALIDITY of %s", i, name)
			seenUID := map[imap4.UID]bool{}
			for _, m := range sd.Messages {
				assert.False(t, seenUID[m.UID], "image %d: UID %d twice", i, m.UID)
				seenUID[m.UID] = true
				content := readMsg(t, mb, m.UID)
				id := -1
				for k := 0; k < next; k++ {
					if content == body(k) {
						id = k
					}
				}
				if !assert.GreaterOrEqual(t, id, 0, "image %d: %s holds an unknown or partial message %q", i, name, content) {
					continue
				}
				st := plState{folder: name, seen: slices.Contains(m.Flags, imap4.FlagSeen)}
				if prev, dup := found[id]; dup {
					// Only a move in flight may leave a message in both
					// folders, and only on file systems that do not
					// commit a rename in one step: see the package doc.
					assert.True(t, id == im.inFlight && im.move && (prev == im.acked[id] || prev == im.target) && (st == im.acked[id] || st == im.target),
						"image %d: message %d in two places (%+v and %+v)", i, id, prev, st)
					duplicates++
					continue
				}
				found[id] = st
			}
			require.NoError(t, mb.Close())
		}
		for id := 0; id < next; id++ {
			want, ok := im.acked[id]
			got := found[id]
			if id == im.inFlight {
				assert.True(t, got == want || got == im.target, "image %d: message %d is %+v, want %+v or (in flight) %+v", i, id, got, want, im.target)
				continue
			}
			if !ok {
				want = plState{}
			}
			assert.Equal(t, want, got, "image %d: message %d", i, id)
		}
		require.NoError(t, ru.Close())
		require.NoError(t, rs.Close())
	}
	require.NoError(t, inbox.Close())
	require.NoError(t, work.Close())
	require.NoError(t, u.Close())
	require.NoError(t, s.Close())
	t.Logf("%d images with a message moved in flight in both folders", duplicates)
}

// M1, power loss for a user and a mailbox created from nothing: the user's
// directory, a new mailbox's directory and their cur/ must be durable
// before a message in them is acknowledged.
func TestPowerLossNewUserAndMailbox(t *testing.T) {
	root := filepath.Join(t.TempDir(), "mail")
	require.NoError(t, os.Mkdir(root, 0o700))
	model := newLossyModel(t, root)
	ffs := &faultFS{}
	s := &maildir.Store{Root: root, PollInterval: -1,
		IsLocal: func(context.Context, string) (bool, error) { return true, nil }}
	maildir.SetFS(s, &lossyFS{faultFS: ffs, m: model, t: t})
	defer s.Close()
	delivered := msg("delivered", "to a new user")
	require.NoError(t, s.Submit(ctx, envelope("new@example.org"), strings.NewReader(delivered)))
	u := openUser(t, s, "new@example.org")
	require.NoError(t, u.CreateMailbox(ctx, "Projects/Fresh", nil))
	mb := openMailbox(t, u, "Projects/Fresh")
	appended := msg("appended", "to a new mailbox")
	appendMsg(t, mb, appended)

	img := filepath.Join(t.TempDir(), "image")
	model.image(t, img)
	rs := &maildir.Store{Root: img, PollInterval: -1}
	defer rs.Close()
	ru := openUser(t, rs, "new@example.org")
	inbox := openMailbox(t, ru, "INBOX")
	sd := syncAll(t, inbox)
	if assert.Len(t, sd.Messages, 1, "delivered message after power loss") {
		assert.Equal(t, delivered, readMsg(t, inbox, sd.Messages[0].UID))
	}
	fresh, err := ru.OpenMailbox(ctx, "Projects/Fresh")
	require.NoError(t, err, "new mailbox after power loss")
	defer fresh.Close()
	sd = syncAll(t, fresh)
	if assert.Len(t, sd.Messages, 1, "appended message after power loss") {
		assert.Equal(t, appended, readMsg(t, fresh, sd.Messages[0].UID))
	}
}

// failingRelay refuses every message, temporarily.
type failingRelay struct{}

func (failingRelay) Submit(ctx context.Context, env *submission.Envelope, msg io.Reader) error {
	io.Copy(io.Discard, msg)
	return fmt.Errorf("%w: relay host unreachable", submission.ErrTemporary)
}

// A submission is all or nothing: when the delivery to one local user, or
// the relay, fails, the copies already delivered are expunged again, so
// that the client's retry does not give anyone the message twice.
func TestSubmitAllOrNothing(t *testing.T) {
	root := t.TempDir()
	ffs := &faultFS{}
	s := &maildir.Store{Root: root, PollInterval: -1}
	maildir.SetFS(s, ffs)
	defer s.Close()
	for _, u := range []string{"hal@example.org", "ivy@example.org"} {
		require.NoError(t, s.CreateUser(ctx, u))
	}
	hal := openMailbox(t, openUser(t, s, "hal@example.org"), "INBOX")
	ivy := openMailbox(t, openUser(t, s, "ivy@example.org"), "INBOX")
	ivyDir, _ := s.UserDir("ivy@example.org")

	// The second user's delivery fails: the first user's copy goes again.
	ffs.setFail(func(op, p string) error {
		return when(op == "syncdir" && strings.HasPrefix(p, ivyDir), syscall.EIO)
	})
	err := s.Submit(ctx, envelope("hal@example.org", "ivy@example.org"), strings.NewReader(msg("x", "y")))
	require.Error(t, err)
	ffs.setFail(nil)
	assert.Empty(t, syncAll(t, hal).Messages, "hal's copy was removed")
	require.NoError(t, s.Submit(ctx, envelope("hal@example.org", "ivy@example.org"), strings.NewReader(msg("retry", "y"))))
	assert.Len(t, syncAll(t, hal).Messages, 1, "the retry: one copy")
	assert.Len(t, syncAll(t, ivy).Messages, 1)

	// The relay fails after both local deliveries: both are removed.
	s.Relay = failingRelay{}
	err = s.Submit(ctx, envelope("hal@example.org", "ivy@example.org", "zed@example.net"), strings.NewReader(msg("relayed", "z")))
	require.ErrorIs(t, err, submission.ErrTemporary)
	assert.Len(t, syncAll(t, hal).Messages, 1, "only the earlier message")
	assert.Len(t, syncAll(t, ivy).Messages, 1)
	halDir, _ := s.UserDir("hal@example.org")
	assert.Empty(t, listDir(t, filepath.Join(halDir, "tmp")))
}

package maildir_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/store/maildir"
	"github.com/mailfront/mailfront/submission"
)

const benchUser = "bench@example.org"

// benchSize is the number of messages of the large-mailbox benchmarks:
// 100,000, or 10,000 with -short.
func benchSize() int {
	if testing.Short() {
		return 10_000
	}
	return 100_000
}

var benchBody = msg("benchmark", strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit.\r\n", 8))

// benchMaildir makes a user whose INBOX holds n messages, written directly
// as the store names its files (the setup would otherwise take minutes of
// fsyncs), with the UID ceiling the store would have reserved, and no
// index. It returns the store root and the user's directory.
func benchMaildir(b *testing.B, n int) (string, string) {
	b.Helper()
	root := b.TempDir()
	s := &maildir.Store{Root: root, PollInterval: -1}
	u, err := s.OpenUser(ctx, ident(benchUser))
	require.NoError(b, err)
	st, err := u.Status(ctx, "INBOX")
	require.NoError(b, err)
	require.NoError(b, u.Close())
	require.NoError(b, s.Close())
	dir, _ := s.UserDir(benchUser)
	size := len(benchBody)
	for i := 1; i <= n; i++ {
		flags := ""
		if i%3 == 0 {
			flags = "S"
		}
		name := fmt.Sprintf("%d.M%dP1Q%d.bench,S=%d,W=%d,MF=%d.%d:2,%s", 1700000000+i/100, i, i, size, size, st.UIDValidity, i, flags)
		require.NoError(b, os.WriteFile(filepath.Join(dir, "cur", name), []byte(benchBody), 0o600))
	}
	require.NoError(b, os.WriteFile(filepath.Join(dir, "mailfront-uids"),
		fmt.Appendf(nil, "1 %d %d %d\n", st.UIDValidity, n+1024, 1<<20), 0o600))
	removeIndex(b, dir)
	// Directory mtimes are trusted (and a scan skips the readdir) only
	// once they are a few seconds old: age them, so that the first warm
	// iterations measure the same work as the later ones.
	old := time.Now().Add(-time.Hour)
	for _, d := range []string{"cur", "new"} {
		require.NoError(b, os.Chtimes(filepath.Join(dir, d), old, old))
	}
	return root, dir
}

func removeIndex(b *testing.B, dir string) { removeIndexFiles(b, dir) }

// openBenchUser opens the store at root (without polling) and the
// benchmark user; both are closed when b ends.
func openBenchUser(b *testing.B, root string) imap4.User {
	s := &maildir.Store{Root: root, PollInterval: -1}
	b.Cleanup(func() { s.Close() })
	u, err := s.OpenUser(ctx, ident(benchUser))
	require.NoError(b, err)
	b.Cleanup(func() { u.Close() })
	return u
}

// removeIndexFiles removes a folder's index, journal and cache, as a lost
// or wiped index would leave it.
func removeIndexFiles(t testing.TB, dir string) {
	for _, f := range []string{"mailfront-index", "mailfront-index.log", "mailfront-cache"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
}

// openINBOX opens the store, the user and INBOX, syncs everything (what
// SELECT does) and closes it all, checking the count.
func openINBOX(b *testing.B, root string, n int) {
	s := &maildir.Store{Root: root, PollInterval: -1}
	u, err := s.OpenUser(ctx, ident(benchUser))
	require.NoError(b, err)
	mb, err := u.OpenMailbox(ctx, "INBOX")
	require.NoError(b, err)
	sd, err := mb.Sync(ctx, 0)
	require.NoError(b, err)
	if len(sd.Messages) != n {
		b.Fatalf("%d messages, want %d", len(sd.Messages), n)
	}
	mb.Close()
	u.Close()
	s.Close()
}

// BenchmarkOpenINBOX opens a large INBOX and lists it (SELECT): cold, with
// no index (the index is rebuilt from the file names: one readdir and one
// lstat per message, no message read), and warm (snapshot read, two
// stats, no readdir). The operating system's caches are warm in both.
func BenchmarkOpenINBOX(b *testing.B) {
	n := benchSize()
	root, dir := benchMaildir(b, n)
	b.Run(fmt.Sprintf("cold/%d", n), func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			removeIndex(b, dir)
			b.StartTimer()
			openINBOX(b, root, n)
		}
	})
	openINBOX(b, root, n) // build the index
	b.Run(fmt.Sprintf("warm/%d", n), func(b *testing.B) {
		for b.Loop() {
			openINBOX(b, root, n)
		}
	})
}

// BenchmarkReopen measures what a client that connects, selects a large
// INBOX, lists it and logs out pays again and again, at the backend level
// with one Store for the whole loop (as a server has): IMAP (OpenUser,
// OpenMailbox, Sync(0), Close), POP3 (OpenMaildrop, Messages, Close) and a
// submission delivery to the user. "cached" keeps the user loaded between
// iterations (the default); "uncached" (MaxIdleUsers < 0) unloads it when
// its last session ends, so every iteration loads the index again.
func BenchmarkReopen(b *testing.B) {
	n := benchSize()
	root, _ := benchMaildir(b, n)
	openINBOX(b, root, n) // build the index
	modes := []struct {
		name   string
		cached bool
	}{{"cached", true}, {"uncached", false}}
	for _, mode := range modes {
		b.Run(fmt.Sprintf("imap/%s/%d", mode.name, n), func(b *testing.B) {
			s := benchStore(root, mode.cached)
			defer s.Close()
			for b.Loop() {
				u, err := s.OpenUser(ctx, ident(benchUser))
				require.NoError(b, err)
				mb, err := u.OpenMailbox(ctx, "INBOX")
				require.NoError(b, err)
				sd, err := mb.Sync(ctx, 0)
				require.NoError(b, err)
				if len(sd.Messages) != n {
					b.Fatalf("%d messages, want %d", len(sd.Messages), n)
				}
				mb.Close()
				u.Close()
			}
		})
		b.Run(fmt.Sprintf("pop3/%s/%d", mode.name, n), func(b *testing.B) {
			s := benchStore(root, mode.cached)
			defer s.Close()
			for b.Loop() {
				md, err := s.OpenMaildrop(ctx, ident(benchUser))
				require.NoError(b, err)
				msgs, err := md.Messages(ctx)
				require.NoError(b, err)
				if len(msgs) != n {
					b.Fatalf("%d messages, want %d", len(msgs), n)
				}
				md.Close()
			}
		})
	}
	// Deliveries last: they add messages, and change cur/ (so the next
	// scan after each reads it: the store cannot tell its own changes
	// from another program's).
	for _, mode := range modes {
		b.Run(fmt.Sprintf("deliver/%s/%d", mode.name, n), func(b *testing.B) {
			s := benchStore(root, mode.cached)
			defer s.Close()
			env := &submission.Envelope{From: "a@example.org", Recipients: []submission.Recipient{{Address: benchUser}}}
			for b.Loop() {
				if err := s.Submit(ctx, env, strings.NewReader(benchBody)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAdoptForeign opens an INBOX of 10,000 messages delivered by
// another program (bare LF, no sizes or UIDs in the names): each is read
// once for its CRLF size and renamed into cur/ with its UID.
func BenchmarkAdoptForeign(b *testing.B) {
	const n = 10_000
	root := b.TempDir()
	dir := filepath.Join(root, benchUser)
	lf := strings.ReplaceAll(benchBody, "\r\n", "\n")
	for b.Loop() {
		b.StopTimer()
		os.RemoveAll(dir)
		for _, d := range []string{"cur", "new", "tmp"} {
			require.NoError(b, os.MkdirAll(filepath.Join(dir, d), 0o700))
		}
		for i := range n {
			require.NoError(b, os.WriteFile(filepath.Join(dir, "new", fmt.Sprintf("%d.V1I%d.mx", 1700000000+i, i)), []byte(lf), 0o600))
		}
		b.StartTimer()
		openINBOX(b, root, n)
	}
}

// BenchmarkAppend appends 1 KiB messages: each is fsynced, renamed,
// its directory and the journal fsynced before Append returns.
func BenchmarkAppend(b *testing.B) {
	s := &maildir.Store{Root: b.TempDir(), PollInterval: -1}
	defer s.Close()
	u, err := s.OpenUser(ctx, ident(benchUser))
	require.NoError(b, err)
	defer u.Close()
	mb, err := u.OpenMailbox(ctx, "INBOX")
	require.NoError(b, err)
	defer mb.Close()
	b.SetBytes(int64(len(benchBody)))
	for b.Loop() {
		if _, err := mb.Append(ctx, strings.NewReader(benchBody), nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}

// BenchmarkSetFlags toggles \Seen (a rename of the file, a fsync of cur/
// and of the journal) on one message, and on 100 messages per call, in a
// mailbox of 10,000.
func BenchmarkSetFlags(b *testing.B) {
	const n = 10_000
	root, _ := benchMaildir(b, n)
	u := openBenchUser(b, root)
	mb, err := u.OpenMailbox(ctx, "INBOX")
	require.NoError(b, err)
	defer mb.Close()
	for _, batch := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch%d", batch), func(b *testing.B) {
			i := 0
			for b.Loop() {
				uids := make([]imap4.UID, batch)
				for k := range uids {
					uids[k] = imap4.UID(1 + (i*batch+k)%n)
				}
				op := imap4.StoreAdd
				if (i*batch/n)%2 == 1 {
					op = imap4.StoreRemove
				}
				if _, err := mb.SetFlags(ctx, uids, op, []string{imap4.FlagFlagged}, nil); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkSyncIncremental measures Sync(since) on a large mailbox after
// one change: what a session pays before each command's response.
func BenchmarkSyncIncremental(b *testing.B) {
	n := benchSize()
	root, _ := benchMaildir(b, n)
	u := openBenchUser(b, root)
	mb, err := u.OpenMailbox(ctx, "INBOX")
	require.NoError(b, err)
	defer mb.Close()
	sd, err := mb.Sync(ctx, 0)
	require.NoError(b, err)
	_, err = mb.SetFlags(ctx, []imap4.UID{1}, imap4.StoreAdd, []string{imap4.FlagFlagged}, nil)
	require.NoError(b, err)
	for b.Loop() {
		d, err := mb.Sync(ctx, sd.HighestModSeq)
		if err != nil || len(d.Messages) != 1 {
			b.Fatal(err, len(d.Messages))
		}
	}
}

// benchStore returns the store of BenchmarkReopen.
func benchStore(root string, cached bool) *maildir.Store {
	s := &maildir.Store{Root: root, PollInterval: -1}
	if !cached {
		s.MaxIdleUsers = -1
	}
	return s
}

package memstore_test

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/store/memstore"
)

// benchMessage is a typical small message (about 2 KiB).
var benchMessage = []byte("From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\nSubject: benchmark\r\n" +
	"Message-ID: <bench@example.org>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\n" +
	string(bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_.,;:!?\r\n"), 27)))

// bigMailbox returns an INBOX holding n messages, a third of them \Seen,
// and the heap it costs per message beyond the content.
func bigMailbox(b *testing.B, n int) (imap4.Mailbox, float64) {
	b.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s := memstore.New()
	u, err := s.OpenUser(b.Context(), auth.Identity{Username: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	mb, err := u.OpenMailbox(b.Context(), "INBOX")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { mb.Close() })
	seen := []string{imap4.FlagSeen}
	for i := range n {
		opts := &imap4.AppendOptions{}
		if i%3 == 0 {
			opts.Flags = seen
		}
		if _, err := mb.Append(b.Context(), bytes.NewReader(benchMessage), opts); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	overhead := (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / float64(n)
	return mb, overhead - float64(len(benchMessage))
}

// Sync(0) of a 100,000-message mailbox: what SELECT costs the store.
func BenchmarkSync0_100k(b *testing.B) {
	mb, overhead := bigMailbox(b, 100_000)
	b.ReportAllocs()
	for b.Loop() {
		d, err := mb.Sync(b.Context(), 0)
		if err != nil || len(d.Messages) != 100_000 {
			b.Fatal(err, len(d.Messages))
		}
	}
	b.ReportMetric(overhead, "heap-B/msg-beyond-content")
}

// Sync(since) after one flag change in a 100,000-message mailbox: what each
// Watch wake-up costs a session.
func BenchmarkSyncSince_100k(b *testing.B) {
	mb, _ := bigMailbox(b, 100_000)
	b.ReportAllocs()
	uid := imap4.UID(50_000)
	i := 0
	for b.Loop() {
		b.StopTimer()
		res, err := mb.SetFlags(b.Context(), []imap4.UID{uid}, imap4.StoreReplace, []string{fmt.Sprint("$k", i%2)}, nil)
		if err != nil || len(res.Updated) != 1 {
			b.Fatal(err)
		}
		i++
		b.StartTimer()
		d, err := mb.Sync(b.Context(), res.Updated[0].ModSeq-1)
		if err != nil || len(d.Messages) != 1 {
			b.Fatal(err)
		}
	}
}

// purgeEvery bounds the memory the append benchmarks hold: the store is
// emptied (with the timer stopped where possible) every so many appends.
const purgeEvery = 10_000

// Append of a 2 KiB message.
func BenchmarkAppend(b *testing.B) {
	s := memstore.New()
	u, _ := s.OpenUser(b.Context(), auth.Identity{Username: "bench"})
	mb, _ := u.OpenMailbox(b.Context(), "INBOX")
	defer mb.Close()
	b.SetBytes(int64(len(benchMessage)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := mb.Append(b.Context(), bytes.NewReader(benchMessage), nil); err != nil {
			b.Fatal(err)
		}
		if i++; i%purgeEvery == 0 {
			b.StopTimer()
			s.Purge()
			b.StartTimer()
		}
	}
}

// Appends from parallel sessions, each with a store of its own (so the
// figure is the store's own cost, not lock contention, which
// BenchmarkAppendParallelShared shows).
func BenchmarkAppendParallel(b *testing.B) {
	b.SetBytes(int64(len(benchMessage)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		s := memstore.New()
		u, _ := s.OpenUser(b.Context(), auth.Identity{Username: "bench"})
		mb, _ := u.OpenMailbox(b.Context(), "INBOX")
		defer mb.Close()
		for i := 1; pb.Next(); i++ {
			if _, err := mb.Append(b.Context(), bytes.NewReader(benchMessage), nil); err != nil {
				b.Error(err)
				return
			}
			if i%purgeEvery == 0 {
				s.Purge()
			}
		}
	})
}

// Appends from parallel sessions into one mailbox.
func BenchmarkAppendParallelShared(b *testing.B) {
	s := memstore.New()
	b.SetBytes(int64(len(benchMessage)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		u, _ := s.OpenUser(b.Context(), auth.Identity{Username: "bench"})
		mb, _ := u.OpenMailbox(b.Context(), "INBOX")
		defer mb.Close()
		for i := 1; pb.Next(); i++ {
			if _, err := mb.Append(b.Context(), bytes.NewReader(benchMessage), nil); err != nil {
				b.Error(err)
				return
			}
			if i%purgeEvery == 0 {
				s.Purge()
			}
		}
	})
}

// A STORE on one message of a 100,000-message mailbox.
func BenchmarkSetFlagsOne_100k(b *testing.B) {
	mb, _ := bigMailbox(b, 100_000)
	ops := []imap4.StoreOp{imap4.StoreAdd, imap4.StoreRemove}
	flags := []string{imap4.FlagFlagged}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		uid := imap4.UID(1 + i%100_000)
		if _, err := mb.SetFlags(b.Context(), []imap4.UID{uid}, ops[(i/100_000)%2], flags, nil); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// A STORE on every message of a 100,000-message mailbox (1:* +FLAGS then
// -FLAGS); the reported figure is per message.
func BenchmarkSetFlagsAll_100k(b *testing.B) {
	const n = 100_000
	mb, _ := bigMailbox(b, n)
	uids := make([]imap4.UID, n)
	for i := range uids {
		uids[i] = imap4.UID(i + 1)
	}
	ops := []imap4.StoreOp{imap4.StoreAdd, imap4.StoreRemove}
	flags := []string{"$Bench"}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		res, err := mb.SetFlags(b.Context(), uids, ops[i%2], flags, nil)
		if err != nil || len(res.Updated) != n {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/msg")
}

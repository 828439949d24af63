package maildir_test

import (
	"bufio"
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/store/maildir"
)

// parallel runs body on clients goroutines at once (b.RunParallel with the
// parallelism that gives that many on this machine), handing each one of
// the values in vals, and reports latency-ns/op: the mean time of one call
// as each caller sees it.
func parallel[T any](b *testing.B, vals []T, body func(T)) {
	ch := make(chan T, len(vals))
	for _, v := range vals {
		ch <- v
	}
	b.ResetTimer()
	if len(vals) == 1 {
		for b.Loop() {
			body(vals[0])
		}
	} else {
		procs := runtime.GOMAXPROCS(0)
		b.SetParallelism((len(vals) + procs - 1) / procs)
		b.RunParallel(func(pb *testing.PB) {
			v := <-ch
			defer func() { ch <- v }()
			for pb.Next() {
				body(v)
			}
		})
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())*float64(len(vals))/float64(b.N), "latency-ns/op")
}

// BenchmarkSync0 is Sync(0) of a large INBOX whose folder is loaded (what
// SELECT asks the store), by one caller and by 4 at once, each with its
// own Mailbox. "unchanged" syncs again and again; "after-change" changes
// one message's flags (not timed) before each Sync(0).
func BenchmarkSync0(b *testing.B) {
	n := benchSize()
	root, _ := benchMaildir(b, n)
	u := openBenchUser(b, root)
	mbs := make([]imap4.Mailbox, 4)
	var err error
	for i := range mbs {
		mbs[i], err = u.OpenMailbox(ctx, "INBOX")
		require.NoError(b, err)
		defer mbs[i].Close()
	}
	sync0 := func(mb imap4.Mailbox) {
		sd, err := mb.Sync(ctx, 0)
		if err != nil || len(sd.Messages) != n {
			b.Error(err)
		}
	}
	sync0(mbs[0])
	for _, callers := range []int{1, 4} {
		b.Run(fmt.Sprintf("unchanged/%d/callers=%d", n, callers), func(b *testing.B) {
			b.ReportAllocs()
			parallel(b, mbs[:callers], sync0)
		})
	}
	b.Run(fmt.Sprintf("after-change/%d", n), func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			b.StopTimer()
			op := imap4.StoreAdd
			if i/n%2 == 1 {
				op = imap4.StoreRemove
			}
			_, err := mbs[0].SetFlags(ctx, []imap4.UID{imap4.UID(1 + i%n)}, op, []string{imap4.FlagFlagged}, nil)
			require.NoError(b, err)
			i++
			b.StartTimer()
			sync0(mbs[0])
		}
	})
}

// benchClient is a minimal IMAP client that reads responses without
// keeping them.
type benchClient struct {
	b  *testing.B
	nc net.Conn
	r  *bufio.Reader
}

func dialBench(b *testing.B, addr string) *benchClient {
	nc, err := net.Dial("tcp", addr)
	require.NoError(b, err)
	b.Cleanup(func() { nc.Close() })
	c := &benchClient{b: b, nc: nc, r: bufio.NewReaderSize(nc, 64<<10)}
	_, err = c.r.ReadSlice('\n') // greeting
	require.NoError(b, err)
	return c
}

// run sends a command tagged "a" and reads up to its tagged response
// (there are no literals in the responses it is used for).
func (c *benchClient) run(cmd string) {
	if _, err := c.nc.Write([]byte("a " + cmd + "\r\n")); err != nil {
		c.b.Error(err)
		return
	}
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil && err != bufio.ErrBufferFull {
			c.b.Error(err)
			return
		}
		if bytes.HasPrefix(line, []byte("a ")) {
			if !bytes.HasPrefix(line, []byte("a OK")) {
				c.b.Errorf("%s: %s", cmd, line)
			}
			return
		}
	}
}

// BenchmarkSelect is SELECT of a large INBOX through imap4.Server over
// loopback, with one client and with 4 selecting at once (each on its own
// connection): the store's Sync(0) and the session's view together.
func BenchmarkSelect(b *testing.B) {
	n := benchSize()
	root, _ := benchMaildir(b, n)
	s := &maildir.Store{Root: root, PollInterval: -1}
	defer s.Close()
	srv := &imap4.Server{Backend: s, Authenticator: anyPassword, LoginPolicy: auth.PlainTextLogin,
		Logger: slog.New(slog.DiscardHandler), MaxConns: -1, MaxConnsPerAddr: -1, MaxConnsPerUserAddr: -1}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	done := make(chan struct{})
	go func() { srv.Serve(ln); close(done) }()
	defer func() { srv.Close(); <-done }()
	clients := make([]*benchClient, 4)
	for i := range clients {
		clients[i] = dialBench(b, ln.Addr().String())
		clients[i].run("LOGIN " + benchUser + " secret")
		clients[i].run("SELECT INBOX")
	}
	for _, k := range []int{1, 4} {
		b.Run(fmt.Sprintf("%d/clients=%d", n, k), func(b *testing.B) {
			b.ReportAllocs()
			parallel(b, clients[:k], func(c *benchClient) { c.run("SELECT INBOX") })
		})
	}
}

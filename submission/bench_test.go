package submission_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/submission"
)

// countBackend reads and counts messages.
type countBackend struct{ n atomic.Int64 }

func (b *countBackend) Submit(ctx context.Context, env *submission.Envelope, msg io.Reader) error {
	if _, err := io.Copy(io.Discard, msg); err != nil {
		return err
	}
	b.n.Add(1)
	return nil
}

// benchBody is a 2 KiB message, typical of submitted mail without
// attachments.
var benchBody = func() string {
	var b strings.Builder
	b.WriteString("From: alice@example.org\r\nTo: bob@example.net\r\nSubject: benchmark\r\n" +
		"Date: Mon, 01 Jan 2024 10:00:00 +0000\r\nMessage-ID: <bench@example.org>\r\n\r\n")
	for b.Len() < 2048 {
		b.WriteString("The quick brown fox jumps over the lazy dog, again and again.\r\n")
	}
	return b.String()
}()

func benchServer(b *testing.B) string {
	b.Helper()
	srv := &submission.Server{
		Backend:         &countBackend{},
		Authenticator:   users,
		TrustedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Throttle:        &auth.Throttle{FailureDelay: -1},
		Logger:          slog.New(slog.DiscardHandler),
		MaxConnsPerAddr: -1,
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	b.Cleanup(func() {
		srv.Close()
		<-done
	})
	return l.Addr().String()
}

type benchConn struct {
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
}

func (c *benchConn) expect(b *testing.B, prefix string) {
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			b.Fatal(err)
		}
		if len(line) > 3 && line[3] == '-' {
			continue
		}
		if !strings.HasPrefix(line, prefix) {
			b.Fatalf("got %q, want %q", line, prefix)
		}
		return
	}
}

func benchLogin(b *testing.B, addr string) *benchConn {
	b.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	c := &benchConn{conn: conn, r: bufio.NewReader(conn), w: bufio.NewWriter(conn)}
	c.expect(b, "220")
	for _, step := range []struct{ cmd, want string }{
		{"EHLO bench.example\r\n", "250"},
		{"AUTH PLAIN " + plainIR("alice@example.org", "secret") + "\r\n", "235"},
	} {
		c.w.WriteString(step.cmd)
		c.w.Flush()
		c.expect(b, step.want)
	}
	return c
}

// sendData sends one message the way most clients do: MAIL, RCPT and DATA
// pipelined, then the body after the 354.
func (c *benchConn) sendData(b *testing.B) {
	c.w.WriteString("MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n")
	c.w.Flush()
	c.expect(b, "250")
	c.expect(b, "250")
	c.expect(b, "354")
	c.w.WriteString(benchBody)
	c.w.WriteString(".\r\n")
	c.w.Flush()
	c.expect(b, "250 2.0.0")
}

func reportRate(b *testing.B, start time.Time) {
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	b.SetBytes(int64(len(benchBody)))
}

// BenchmarkSubmitDATA: messages per second over one connection, with
// MAIL/RCPT/DATA pipelined and the body sent after the 354 (two round
// trips a message).
func BenchmarkSubmitDATA(b *testing.B) {
	c := benchLogin(b, benchServer(b))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		c.sendData(b)
	}
	reportRate(b, start)
}

// BenchmarkSubmitPipelined: messages per second over one connection fully
// pipelined with CHUNKING (RFC 3030): MAIL, RCPT and BDAT LAST with the
// data, message after message, while replies are read concurrently.
func BenchmarkSubmitPipelined(b *testing.B) {
	c := benchLogin(b, benchServer(b))
	msg := fmt.Sprintf("MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\nBDAT %d LAST\r\n%s", len(benchBody), benchBody)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	go func() {
		for range b.N {
			c.w.WriteString(msg)
		}
		c.w.Flush()
	}()
	for range b.N {
		c.expect(b, "250 2.1.0")
		c.expect(b, "250 2.1.5")
		c.expect(b, "250 2.0.0 OK")
	}
	reportRate(b, start)
}

// BenchmarkSubmitParallel16: messages per second over 16 connections at
// once, each sending as BenchmarkSubmitDATA does.
func BenchmarkSubmitParallel16(b *testing.B) {
	addr := benchServer(b)
	const conns = 16
	cs := make([]*benchConn, conns)
	for i := range cs {
		cs[i] = benchLogin(b, addr)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				c.sendData(b)
			}
		}()
	}
	wg.Wait()
	reportRate(b, start)
}

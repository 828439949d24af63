package imap4_test

import (
	"bufio"
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mailfront/mailfront/imap4"
)

var discardLogger = slog.New(slog.DiscardHandler)

// benchServer serves the fake backend on 127.0.0.1 (TCP loopback).
func benchServer(b *testing.B, opts ...func(*imap4.Server)) (*env, string) {
	opts = append(opts, func(s *imap4.Server) {
		s.Logger = discardLogger
		s.MaxConnsPerUserAddr = -1
		s.MaxConnsPerAddr = -1
		s.MaxConns = -1
	})
	e := newEnv(b, opts...)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(l) }()
	b.Cleanup(func() { e.srv.Close(); <-done })
	return e, l.Addr().String()
}

// rawClient is a minimal client that reads responses without keeping them.
type rawClient struct {
	b  testing.TB
	nc net.Conn
	r  *bufio.Reader
}

func dialRaw(b testing.TB, addr string) *rawClient { return dialRawSize(b, addr, 64<<10) }

func dialRawSize(b testing.TB, addr string, bufSize int) *rawClient {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { nc.Close() })
	c := &rawClient{b: b, nc: nc, r: bufio.NewReaderSize(nc, bufSize)}
	c.r.ReadSlice('\n') // greeting
	return c
}

// run sends a command tagged "a" and reads up to its tagged response,
// following literals; it returns the bytes read.
func (c *rawClient) run(cmd string) int {
	if _, err := c.nc.Write([]byte("a " + cmd + "\r\n")); err != nil {
		c.b.Fatal(err)
	}
	n := 0
	var long []byte // a line longer than the buffer, reassembled
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil && err != bufio.ErrBufferFull {
			c.b.Fatal(err)
		}
		n += len(line)
		if err == bufio.ErrBufferFull {
			long = append(long, line...)
			continue
		}
		if long != nil {
			line = append(long, line...)
			long = nil
		}
		if bytes.HasPrefix(line, []byte("a ")) {
			if !bytes.HasPrefix(line, []byte("a OK")) {
				c.b.Fatalf("%s: %s", cmd, line)
			}
			return n
		}
		if l := len(line); l > 3 && line[l-3] == '}' {
			if m := literalRE.FindSubmatch(bytes.TrimRight(line, "\r\n")); m != nil {
				size := 0
				fmt.Sscan(string(m[1]), &size)
				if _, err := c.r.Discard(size); err != nil {
					c.b.Fatal(err)
				}
				n += size
			}
		}
	}
}

// fill puts n messages into alice's INBOX, built by body(i).
func fill(e *env, n int, body func(i int) []byte) {
	e.b.mu.Lock()
	defer e.b.mu.Unlock()
	bx := e.b.boxLocked("alice", "INBOX")
	flagSets := [][]string{nil, {imap4.FlagSeen}, {imap4.FlagSeen, imap4.FlagFlagged}, {imap4.FlagSeen, "$Junk"}, {imap4.FlagAnswered, imap4.FlagSeen}}
	date := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		bx.modseq++
		bx.msgs = append(bx.msgs, &fakeMsg{uid: bx.uidNext, flags: flagSets[i%len(flagSets)], modseq: bx.modseq, date: date.Add(time.Duration(i) * time.Minute), body: body(i)})
		bx.uidNext++
	}
}

var tinyBody = []byte("Subject: x\r\n\r\nx\r\n")

// BenchmarkUIDFetchFlags100k is a client's flag resynchronisation: UID
// FETCH 1:* (UID FLAGS) on a 100,000-message mailbox, over loopback.
func BenchmarkUIDFetchFlags100k(b *testing.B) {
	e, addr := benchServer(b)
	fill(e, 100000, func(int) []byte { return tinyBody })
	c := dialRaw(b, addr)
	c.run("LOGIN alice secret")
	c.run("SELECT INBOX")
	b.ReportAllocs()
	b.ResetTimer()
	var n int
	for b.Loop() {
		n = c.run("UID FETCH 1:* (UID FLAGS)")
	}
	b.ReportMetric(float64(n), "bytes/op")
}

// realisticMessage is a multipart message of about 3 KB with encoded
// headers, as first synchronisations see them.
func realisticMessage(i int) []byte {
	return []byte(toCRLF(fmt.Sprintf(`Return-Path: <sender%d@example.org>
Received: from mx.example.org (mx.example.org [192.0.2.1]) by mail.example.net with ESMTPS id %d; Mon, 1 Jan 2024 10:00:00 +0000
From: =?UTF-8?Q?Sender_N=C2=B0%d?= <sender%d@example.org>
To: Alice <alice@example.net>, bob@example.net
Cc: "Team, The" <team@example.net>
Subject: =?UTF-8?B?UXVhcnRlcmx5IHJlcG9ydCDinIU=?= #%d
Date: Mon, 1 Jan 2024 10:%02d:00 +0000
Message-ID: <msg%d@example.org>
In-Reply-To: <msg%d@example.org>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b%d"

--b%d
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

%s
--b%d
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: quoted-printable

<html><body><p>%s</p></body></html>
--b%d--
`, i, i, i, i, i, i%60, i, i-1, i, i, strings.Repeat("Numbers for the quarter look good, see the attached figures. ", 15), i,
		strings.Repeat("Numbers for the quarter look good. ", 15), i)))
}

// BenchmarkFirstSyncFetch10k is a client's first synchronisation of a
// 10,000-message mailbox: FETCH 1:* (ENVELOPE BODYSTRUCTURE RFC822.SIZE
// INTERNALDATE). Without a StructureCache every iteration parses every
// message; with one ("cached") structures are parsed once.
func BenchmarkFirstSyncFetch10k(b *testing.B) {
	for _, cached := range []bool{false, true} {
		name := "parse"
		if cached {
			name = "cached"
		}
		b.Run(name, func(b *testing.B) {
			e, addr := benchServer(b)
			e.b.optional = cached
			fill(e, 10000, realisticMessage)
			c := dialRaw(b, addr)
			c.run("LOGIN alice secret")
			c.run("SELECT INBOX")
			if cached {
				c.run("FETCH 1:* (ENVELOPE BODYSTRUCTURE RFC822.SIZE INTERNALDATE)")
			}
			b.ReportAllocs()
			b.ResetTimer()
			var n int
			for b.Loop() {
				n = c.run("FETCH 1:* (ENVELOPE BODYSTRUCTURE RFC822.SIZE INTERNALDATE)")
			}
			b.ReportMetric(float64(n), "bytes/op")
		})
	}
}

// BenchmarkSearchText10k is SEARCH TEXT over 10,000 messages, read and
// matched by the server (no Searcher).
func BenchmarkSearchText10k(b *testing.B) {
	e, addr := benchServer(b)
	fill(e, 10000, realisticMessage)
	c := dialRaw(b, addr)
	c.run("LOGIN alice secret")
	c.run("SELECT INBOX")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		c.run(`SEARCH TEXT "attached figures"`)
	}
}

// BenchmarkIdleConnBytes measures the memory of an idle, authenticated
// session with a 10-message INBOX selected: heap and goroutine stacks, of
// the server and of the client's socket (a few hundred bytes) together,
// over loopback.
func BenchmarkIdleConnBytes(b *testing.B) {
	e, addr := benchServer(b)
	fill(e, 10, func(int) []byte { return tinyBody })
	const n = 500
	var perConn float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		conns := make([]*rawClient, n)
		for i := range conns {
			conns[i] = dialRawSize(b, addr, 16) // keep the client's share small
			conns[i].run("LOGIN alice secret")
			conns[i].run("SELECT INBOX")
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perConn = float64((after.HeapAlloc+after.StackInuse)-(before.HeapAlloc+before.StackInuse)) / n
		for _, c := range conns {
			c.run("LOGOUT")
			c.nc.Close()
		}
	}
	b.ReportMetric(perConn, "bytes/conn")
}

// BenchmarkSelect100k is SELECT of a 100,000-message INBOX, over loopback:
// the view built from Sync(0) and the responses. "fresh" is a backend that
// builds a new SyncData for every Sync(0); "shared" one that hands every
// caller the same immutable SyncData until the mailbox changes, as
// store/maildir does. With 4 clients, each on its own connection, selects
// at once; latency/op is the mean time of one SELECT as a client sees it.
func BenchmarkSelect100k(b *testing.B) {
	for _, shared := range []bool{false, true} {
		for _, clients := range []int{1, 4} {
			name := "fresh"
			if shared {
				name = "shared"
			}
			b.Run(fmt.Sprintf("%s/clients=%d", name, clients), func(b *testing.B) {
				e, addr := benchServer(b)
				e.b.shared = shared
				fill(e, 100000, func(int) []byte { return tinyBody })
				conns := make(chan *rawClient, clients)
				for range clients {
					c := dialRaw(b, addr)
					c.run("LOGIN alice secret")
					c.run("SELECT INBOX") // warm: the first builds the shared SyncData
					conns <- c
				}
				b.ReportAllocs()
				b.ResetTimer()
				if clients == 1 {
					c := <-conns
					for b.Loop() {
						c.run("SELECT INBOX")
					}
				} else {
					b.SetParallelism((clients + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
					b.RunParallel(func(pb *testing.PB) {
						c := <-conns
						defer func() { conns <- c }()
						for pb.Next() {
							c.run("SELECT INBOX")
						}
					})
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())*float64(clients)/float64(b.N), "latency-ns/op")
			})
		}
	}
}

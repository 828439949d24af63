package pop3_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
)

// benchMessage is a 10 KB message of 78-octet lines, one in ten beginning
// with a dot (so stuffing is exercised).
func benchMessage(i int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "Subject: message %d\r\nFrom: a@example.org\r\n\r\n", i)
	for n := 0; b.Len() < 10<<10-80; n++ {
		if n%10 == 0 {
			b.WriteString(".")
		}
		b.WriteString(strings.Repeat("x", 75) + "\r\n")
	}
	return []byte(b.String())
}

// BenchmarkRETR measures RETR throughput over loopback TCP: each iteration
// logs in and retrieves 1,000 messages of 10 KB, one RETR at a time
// (sequential), all RETRs sent at once (pipelined), and pipelined over TLS.
func BenchmarkRETR(b *testing.B) {
	h := newHarness(b)
	h.backend.snapshot = true
	var msgs []fakeMsg
	var total int64
	for i := range 1000 {
		m := fakeMsg{uid: fmt.Sprintf("m%d", i), body: benchMessage(i)}
		m.size = crlfSize(m.body) // so that listing costs the fake backend nothing
		msgs = append(msgs, m)
		total += m.size
	}
	h.backend.boxes["alice"] = msgs
	h.srv.Logger = slog.New(slog.DiscardHandler)
	h.srv.TrustedNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	h.srv.MaxConnsPerUserAddr = -1
	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	implicit, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 2)
	go func() { done <- h.srv.Serve(plain) }()
	go func() { done <- h.srv.ServeTLS(implicit) }()
	b.Cleanup(func() { h.srv.Close(); <-done; <-done })

	for _, mode := range []struct {
		name      string
		addr      string
		tls       bool
		pipelined bool
	}{
		{"sequential", plain.Addr().String(), false, false},
		{"pipelined", plain.Addr().String(), false, true},
		{"pipelined-TLS", implicit.Addr().String(), true, true},
	} {
		b.Run(mode.name, func(b *testing.B) {
			b.SetBytes(total)
			b.ReportAllocs()
			for b.Loop() {
				retrAll(b, mode.addr, mode.tls, mode.pipelined, len(msgs))
			}
			b.ReportMetric(float64(len(msgs)*b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// retrAll logs in, retrieves n messages and quits.
func retrAll(b *testing.B, addr string, useTLS, pipelined bool, n int) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	if useTLS {
		tc := tls.Client(conn, clientTLS(b))
		tc.HandshakeContext(b.Context())
		conn = tc
	}
	r := bufio.NewReaderSize(conn, 64<<10)
	w := bufio.NewWriter(conn)
	expectOK := func() {
		line, err := r.ReadSlice('\n')
		if err != nil || !strings.HasPrefix(string(line), "+OK") {
			b.Fatalf("got %q, %v", line, err)
		}
	}
	expectOK()
	fmt.Fprintf(w, "USER alice\r\nPASS secret\r\n")
	w.Flush()
	expectOK()
	expectOK()
	readBody := func() {
		expectOK()
		for {
			line, err := r.ReadSlice('\n')
			if err != nil {
				b.Fatal(err)
			}
			if len(line) == 3 && line[0] == '.' {
				return
			}
		}
	}
	if pipelined {
		go func() {
			bw := bufio.NewWriter(conn)
			for i := 1; i <= n; i++ {
				fmt.Fprintf(bw, "RETR %d\r\n", i)
			}
			bw.Flush()
		}()
		for range n {
			readBody()
		}
	} else {
		for i := 1; i <= n; i++ {
			fmt.Fprintf(w, "RETR %d\r\n", i)
			w.Flush()
			readBody()
		}
	}
	io.WriteString(conn, "QUIT\r\n")
	expectOK()
}

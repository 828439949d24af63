package wire_test

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/mailfront/mailfront/internal/wire"
)

// normalizeAll turns every bare CR and bare LF into CRLF.
func normalizeAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\r' && i+1 < len(s) && s[i+1] == '\n':
			b.WriteString("\r\n")
			i++
		case c == '\r' || c == '\n':
			b.WriteString("\r\n")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func FuzzReadLine(f *testing.F) {
	for _, s := range []string{"USER a\r\nPASS b\r\n", "a\nb\n", "\r\r\n", strings.Repeat("x", 300) + "\n"} {
		f.Add(s, 100)
	}
	f.Fuzz(func(t *testing.T, in string, max int) {
		if max < 0 || max > 1<<16 {
			return
		}
		lr := wire.LineReader{R: bufio.NewReaderSize(iotest.HalfReader(strings.NewReader(in)), 16)}
		for {
			line, err := lr.ReadLine(max)
			if err != nil {
				return
			}
			if len(line) > max {
				t.Fatalf("line of %d bytes over max %d", len(line), max)
			}
			if bytes.IndexByte(line, '\n') >= 0 {
				t.Fatalf("line %q contains LF", line)
			}
		}
	})
}

// FuzzDotReader feeds arbitrary DATA streams and checks that the reader never
// panics, never returns more than the limit, never ends the data anywhere but
// at a real <CRLF>.<CRLF>, and round-trips content written by DotWriter.
func FuzzDotReader(f *testing.F) {
	for _, s := range []string{
		"Subject: x\r\n\r\nbody\r\n.\r\n",
		"a\n.\nMAIL FROM:<x>\r\n.\r\n",
		"..x\r\n.\r\n",
		"\r.\r\n\r\n.\r\n",
		"x\r\n.\r",
	} {
		f.Add(s, int64(0), false)
		f.Add(s, int64(5), true)
	}
	f.Fuzz(func(t *testing.T, in string, max int64, normalize bool) {
		policy := wire.RejectBareLineEndings
		if normalize {
			policy = wire.NormalizeBareLineEndings
		}
		// 1. Arbitrary input.
		br := bufio.NewReaderSize(iotest.OneByteReader(strings.NewReader(in)), 16)
		dr := wire.NewDotReader(br, max, policy)
		got, err := io.ReadAll(dr)
		if max > 0 && int64(len(got)) > max {
			t.Fatalf("read %d bytes over the limit %d", len(got), max)
		}
		if err != nil {
			dr.Drain(0)
		}
		if dr.Done() {
			// The consumed prefix must end with a real terminator
			// preceded by a real CRLF (or be the very start).
			rest, _ := io.ReadAll(br)
			consumed := in[:len(in)-len(rest)]
			if consumed != ".\r\n" && !strings.HasSuffix(consumed, "\r\n.\r\n") {
				t.Fatalf("data ended without a real terminator: %q", consumed)
			}
			if i := strings.Index("\r\n"+consumed, "\r\n.\r\n"); i+5 != len(consumed)+2 {
				t.Fatalf("data ended after the first terminator at %d in %q", i, consumed)
			}
		}

		// 2. Round trip of DotWriter output, in normalize mode.
		var buf bytes.Buffer
		bw := bufio.NewWriter(&buf)
		dw := wire.NewDotWriter(bw)
		dw.Write([]byte(in))
		dw.Close()
		bw.Flush()
		dr = wire.NewDotReader(bufio.NewReader(&buf), 0, wire.NormalizeBareLineEndings)
		back, err := io.ReadAll(dr)
		if err != nil {
			t.Fatalf("round trip: %v", err)
		}
		want := normalizeAll(in)
		if want != "" && !strings.HasSuffix(want, "\r\n") {
			want += "\r\n"
		}
		if string(back) != want {
			t.Fatalf("round trip of %q: got %q want %q", in, back, want)
		}
		if buf.Len() != 0 {
			t.Fatalf("%d bytes left after the terminator", buf.Len())
		}
	})
}

func FuzzCRLFReader(f *testing.F) {
	for _, s := range []string{"a\nb\r\n", "\r\r\n\n", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := io.ReadAll(wire.NewCRLFReader(iotest.HalfReader(strings.NewReader(in))))
		if err != nil {
			t.Fatal(err)
		}
		size, _ := wire.CRLFSize(strings.NewReader(in))
		if size != int64(len(got)) {
			t.Fatalf("CRLFSize %d, reader produced %d", size, len(got))
		}
		for i := 0; i < len(got); i++ {
			if got[i] == '\n' && (i == 0 || got[i-1] != '\r') {
				t.Fatalf("bare LF left at %d in %q", i, got)
			}
		}
	})
}

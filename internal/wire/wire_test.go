package wire_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/internal/wire"
)

// awkward wraps a reader in each of the read patterns that split input at
// unhelpful places.
var awkward = map[string]func(io.Reader) io.Reader{
	"whole":    func(r io.Reader) io.Reader { return r },
	"onebyte":  iotest.OneByteReader,
	"half":     iotest.HalfReader,
	"dataerr":  iotest.DataErrReader,
	"truncate": func(r io.Reader) io.Reader { return io.MultiReader(iotest.OneByteReader(io.LimitReader(r, 7)), r) },
}

func TestReadLine(t *testing.T) {
	for name, wrap := range awkward {
		t.Run(name, func(t *testing.T) {
			in := "USER alice\r\nPASS x\nNOOP\r\n\r\nlast"
			lr := wire.LineReader{R: bufio.NewReaderSize(wrap(strings.NewReader(in)), 16)}
			var got []string
			for {
				line, err := lr.ReadLine(64)
				if err != nil {
					assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "partial last line")
					break
				}
				got = append(got, string(line))
			}
			assert.Equal(t, []string{"USER alice", "PASS x", "NOOP", ""}, got)
		})
	}
}

func TestReadLineLimit(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want string
		err  error
	}{
		{"exact", "abcd\r\n", 4, "abcd", nil},
		{"exact LF", "abcd\n", 4, "abcd", nil},
		{"one over", "abcde\r\n", 4, "", wire.ErrLineTooLong},
		{"long with small buffer", strings.Repeat("x", 100) + "\r\n", 40, "", wire.ErrLineTooLong},
		{"long fits", strings.Repeat("x", 100) + "\r\n", 100, strings.Repeat("x", 100), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lr := wire.LineReader{R: bufio.NewReaderSize(strings.NewReader(tt.in), 16)}
			line, err := lr.ReadLine(tt.max)
			if tt.err != nil {
				assert.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(line))
		})
	}
}

// endless yields the same byte forever, counting what was read.
type endless struct {
	b    byte
	read int64
}

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = e.b
	}
	e.read += int64(len(p))
	return len(p), nil
}

// X9: a stream with no LF is refused at the limit with bounded reading.
func TestReadLineEndless(t *testing.T) {
	src := &endless{b: 0}
	lr := wire.LineReader{R: bufio.NewReader(src)}
	_, err := lr.ReadLine(512)
	assert.ErrorIs(t, err, wire.ErrLineTooLong)
	assert.LessOrEqual(t, src.read, int64(512+2*4096), "reads stop near the limit")
}

func readData(t *testing.T, in string, max int64, policy wire.LineEndingPolicy, wrap func(io.Reader) io.Reader) (string, error, string) {
	t.Helper()
	br := bufio.NewReaderSize(wrap(strings.NewReader(in)), 16)
	dr := wire.NewDotReader(br, max, policy)
	got, err := io.ReadAll(dr)
	if err != nil {
		if derr := dr.Drain(0); derr != nil {
			return string(got), err, "drain: " + derr.Error()
		}
	}
	rest, _ := io.ReadAll(br)
	return string(got), err, string(rest)
}

func TestDotReader(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		policy wire.LineEndingPolicy
		max    int64
		want   string
		err    error
		rest   string
	}{
		{name: "simple", in: "Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n", want: "Subject: x\r\n\r\nbody\r\n", rest: "QUIT\r\n"},
		{name: "empty", in: ".\r\nQUIT\r\n", want: "", rest: "QUIT\r\n"},
		{name: "stuffed", in: "..hidden\r\n...\r\n.\r\n", want: ".hidden\r\n..\r\n"},
		{name: "dot mid line", in: "a.b\r\n.\r\n", want: "a.b\r\n"},
		{name: "bare LF rejected", in: "a\nb\r\n.\r\nNEXT\r\n", err: wire.ErrBareLineEnding, rest: "NEXT\r\n"},
		{name: "bare CR rejected", in: "a\rb\r\n.\r\nNEXT\r\n", err: wire.ErrBareLineEnding, rest: "NEXT\r\n"},
		{name: "bare LF normalized", in: "a\nb\r\n.\r\n", policy: wire.NormalizeBareLineEndings, want: "a\r\nb\r\n"},
		{name: "bare CR normalized", in: "a\rb\r\n.\r\n", policy: wire.NormalizeBareLineEndings, want: "a\r\nb\r\n"},
		{name: "too large", in: "0123456789\r\n0123456789\r\n.\r\nRSET\r\n", max: 15, err: wire.ErrMessageTooLarge, rest: "RSET\r\n"},
		{name: "at limit", in: "0123456789\r\n.\r\n", max: 12, want: "0123456789\r\n"},
	}
	for _, tt := range tests {
		for wname, wrap := range awkward {
			t.Run(tt.name+"/"+wname, func(t *testing.T) {
				got, err, rest := readData(t, tt.in, tt.max, tt.policy, wrap)
				if tt.err != nil {
					assert.ErrorIs(t, err, tt.err)
				} else {
					require.NoError(t, err)
					assert.Equal(t, tt.want, got)
				}
				assert.Equal(t, tt.rest, rest, "what follows the data is left for the next command")
			})
		}
	}
}

// S1: none of the smuggling variants ends the data, under either policy.
func TestDotReaderSmuggling(t *testing.T) {
	smuggled := "MAIL FROM:<spoof@example.org>\r\nRCPT TO:<v@example.org>\r\nDATA\r\nevil\r\n"
	for _, variant := range []string{"\n.\n", "\n.\r\n", "\r\n.\n", "\r.\r\n", "\r\n.\r", "\r.\n"} {
		for _, policy := range []wire.LineEndingPolicy{wire.RejectBareLineEndings, wire.NormalizeBareLineEndings} {
			in := "Subject: hi\r\n\r\nbody" + variant + smuggled + ".\r\nQUIT\r\n"
			got, err, rest := readData(t, in, 0, policy, func(r io.Reader) io.Reader { return r })
			assert.Equal(t, "QUIT\r\n", rest, "variant %q: the data ends only at the real terminator", variant)
			if policy == wire.RejectBareLineEndings {
				assert.ErrorIs(t, err, wire.ErrBareLineEnding, "variant %q", variant)
			} else {
				require.NoError(t, err, "variant %q", variant)
				assert.Contains(t, got, "MAIL FROM:<spoof@example.org>", "variant %q: smuggled text stays inside one message", variant)
			}
		}
	}
}

func TestDotReaderDrainLimit(t *testing.T) {
	in := strings.Repeat("x", 100) + "\r\n" + strings.Repeat("y", 5000) + "\r\n.\r\n"
	br := bufio.NewReader(strings.NewReader(in))
	dr := wire.NewDotReader(br, 50, wire.RejectBareLineEndings)
	_, err := io.ReadAll(dr)
	require.ErrorIs(t, err, wire.ErrMessageTooLarge)
	assert.ErrorIs(t, dr.Drain(1000), wire.ErrDrainLimit)
}

func TestDotReaderEOF(t *testing.T) {
	br := bufio.NewReader(strings.NewReader("unterminated\r\n"))
	dr := wire.NewDotReader(br, 0, wire.RejectBareLineEndings)
	_, err := io.ReadAll(dr)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
}

// A bounded memory check: a huge over-limit body is drained without being
// kept.
func TestDotReaderHugeBody(t *testing.T) {
	src := io.MultiReader(io.LimitReader(&endless{b: 'x'}, 50<<20), strings.NewReader("\r\n.\r\n"))
	br := bufio.NewReader(src)
	dr := wire.NewDotReader(br, 1<<20, wire.RejectBareLineEndings)
	n, err := io.Copy(io.Discard, dr)
	require.ErrorIs(t, err, wire.ErrMessageTooLarge)
	assert.LessOrEqual(t, n, int64(1<<20))
	require.NoError(t, dr.Drain(0))
	assert.True(t, dr.Done())
}

// Err reports the sticky policy error whether Read met it or Drain passed
// over it; a size overrun found only by Drain shows in Size, not Err.
func TestDotReaderErr(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		max      int64
		policy   wire.LineEndingPolicy
		read     bool // read before draining
		want     error
		wantSize int64
	}{
		{name: "clean, read", in: "abc\r\n.\r\n", read: true, wantSize: 5},
		{name: "clean, drained", in: "abc\r\n.\r\n", wantSize: 5},
		{name: "bare LF, read", in: "a\nb\r\n.\r\n", read: true, want: wire.ErrBareLineEnding, wantSize: 4},
		{name: "bare LF, drained", in: "a\nb\r\n.\r\n", want: wire.ErrBareLineEnding, wantSize: 4},
		{name: "bare LF normalized", in: "a\nb\r\n.\r\n", policy: wire.NormalizeBareLineEndings, read: true, wantSize: 6},
		{name: "too large, read", in: "0123456789\r\n.\r\n", max: 5, read: true, want: wire.ErrMessageTooLarge, wantSize: 12},
		{name: "too large, drained", in: "0123456789\r\n.\r\n", max: 5, wantSize: 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dr := wire.NewDotReader(bufio.NewReader(strings.NewReader(tt.in)), tt.max, tt.policy)
			require.NoError(t, dr.Err(), "no error before reading")
			if tt.read {
				_, err := io.ReadAll(dr)
				if tt.want != nil {
					require.ErrorIs(t, err, tt.want)
				} else {
					require.NoError(t, err)
				}
			}
			require.NoError(t, dr.Drain(0))
			require.True(t, dr.Done())
			if tt.want != nil {
				assert.ErrorIs(t, dr.Err(), tt.want)
			} else {
				assert.NoError(t, dr.Err())
			}
			assert.Equal(t, tt.wantSize, dr.Size())
			_, err := dr.Read(make([]byte, 1))
			if tt.want != nil {
				assert.ErrorIs(t, err, tt.want, "Read fails with the same error")
			} else {
				assert.ErrorIs(t, err, io.EOF)
			}
		})
	}
}

func writeDot(t testing.TB, content string, chunk int) string {
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	dw := wire.NewDotWriter(bw)
	for s := content; len(s) > 0; {
		n := min(chunk, len(s))
		_, err := dw.Write([]byte(s[:n]))
		require.NoError(t, err)
		s = s[n:]
	}
	require.NoError(t, dw.Close())
	require.NoError(t, bw.Flush())
	return out.String()
}

func TestDotWriter(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ".\r\n"},
		{"a\r\nb\r\n", "a\r\nb\r\n.\r\n"},
		{"a\nb", "a\r\nb\r\n.\r\n"},
		{".start\r\n.\r\nmid.dot\r\n", "..start\r\n..\r\nmid.dot\r\n.\r\n"},
		{"\n.\n", "\r\n..\r\n.\r\n"},
		{"ends with CR\r", "ends with CR\r\n.\r\n"},
		{"bare\rCR\r\n", "bare\rCR\r\n.\r\n"},
	}
	for _, tt := range tests {
		for _, chunk := range []int{1, 2, 3, 1 << 20} {
			assert.Equal(t, tt.want, writeDot(t, tt.in, chunk), "in %q chunk %d", tt.in, chunk)
		}
	}
}

func TestCRLFReader(t *testing.T) {
	in := "a\nb\r\nc\rd\n\n"
	want := "a\r\nb\r\nc\rd\r\n\r\n"
	for name, wrap := range awkward {
		got, err := io.ReadAll(wire.NewCRLFReader(wrap(strings.NewReader(in))))
		if !errors.Is(err, nil) {
			require.NoError(t, err, name)
		}
		assert.Equal(t, want, string(got), name)
	}
	// A caller with a one-byte buffer.
	var got []byte
	r := wire.NewCRLFReader(strings.NewReader(in))
	one := make([]byte, 1)
	for {
		n, err := r.Read(one)
		got = append(got, one[:n]...)
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
	}
	assert.Equal(t, want, string(got))
	size, err := wire.CRLFSize(strings.NewReader(in))
	require.NoError(t, err)
	assert.Equal(t, int64(len(want)), size)
}

func benchMessage() []byte {
	var b bytes.Buffer
	b.WriteString("Subject: benchmark\r\nFrom: a@example.org\r\n\r\n")
	for b.Len() < 1<<20 {
		b.WriteString("The quick brown fox jumps over the lazy dog. .dots. and more text here\r\n")
	}
	return b.Bytes()
}

func BenchmarkDotReader(b *testing.B) {
	msg := benchMessage()
	var stuffed bytes.Buffer
	bw := bufio.NewWriter(&stuffed)
	dw := wire.NewDotWriter(bw)
	dw.Write(msg)
	dw.Close()
	bw.Flush()
	data := stuffed.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	br := bufio.NewReader(nil)
	for b.Loop() {
		br.Reset(bytes.NewReader(data))
		dr := wire.NewDotReader(br, 0, wire.RejectBareLineEndings)
		if _, err := io.Copy(io.Discard, dr); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDotWriter(b *testing.B) {
	msg := benchMessage()
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	bw := bufio.NewWriter(io.Discard)
	for b.Loop() {
		dw := wire.NewDotWriter(bw)
		if _, err := dw.Write(msg); err != nil {
			b.Fatal(err)
		}
		dw.Close()
	}
}

func TestReadLineRequireCRLF(t *testing.T) {
	lr := wire.LineReader{R: bufio.NewReaderSize(strings.NewReader("ok\r\nbare\nnext\r\n"), 16), RequireCRLF: true}
	line, err := lr.ReadLine(64)
	require.NoError(t, err)
	assert.Equal(t, "ok", string(line))
	_, err = lr.ReadLine(64)
	assert.ErrorIs(t, err, wire.ErrBareLF)
	line, err = lr.ReadLine(64)
	require.NoError(t, err, "the bare-LF line was consumed; the next one reads")
	assert.Equal(t, "next", string(line))
}

package imapmsg_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/imap4/internal/imapmsg"
)

func crlf(s string) []byte {
	return []byte(strings.ReplaceAll(s, "\n", "\r\n"))
}

func bodyStructure(t testing.TB, msg []byte) string {
	t.Helper()
	s := parseBytes(t, msg)
	require.NoError(t, imapmsg.CheckInvariants(s, msg))
	return string(s.AppendBodyStructure(nil, false, imapmsg.RenderOptions{}))
}

func section(t testing.TB, msg []byte, part []int, spec string, fields ...string) string {
	t.Helper()
	s := parseBytes(t, msg)
	return string(readSection(t, s, msg, imapmsg.Section{Part: part, Specifier: spec, Fields: fields}))
}

// TestStructureEdgeCases covers the malformed and unusual shapes Parse
// must handle the way Dovecot does (BODY rendering, so without extension
// data).
func TestStructureEdgeCases(t *testing.T) {
	tests := []struct {
		name string
		msg  []byte
		want string
	}{{
		name: "empty message",
		msg:  nil,
		want: `("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0)`,
	}, {
		name: "body without final newline",
		msg:  crlf("Subject: x\n\nline 1\nline 2"),
		want: `("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 14 1)`,
	}, {
		name: "bare LF multipart",
		msg:  []byte("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nhello\nworld\n--b\n\nsecond\n--b--\n"),
		want: `(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 11 1)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 6 0) "mixed")`,
	}, {
		name: "boundary cuts a part's header short",
		msg:  crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/html\n--b\n\ntwo\n--b--\n"),
		want: `(("text" "html" ("charset" "us-ascii") NIL NIL "7bit" 0 0)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 0) "mixed")`,
	}, {
		name: "unterminated inner multipart ends at the outer boundary",
		msg:  crlf("Content-Type: multipart/mixed; boundary=out\n\n--out\nContent-Type: multipart/alternative; boundary=in\n\n--in\n\na\n--out\n\nb\n--out--\n"),
		want: `((("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 1 0) "alternative")("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 1 0) "mixed")`,
	}, {
		name: "unterminated multipart ends at the end of the message",
		msg:  crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\n\nrest of\nthe message\n"),
		want: `(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 22 2) "mixed")`,
	}, {
		name: "multipart without boundary is text/plain",
		msg:  crlf("Content-Type: multipart/mixed\n\n--x\n\ny\n"),
		want: `("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 10 3)`,
	}, {
		name: "multipart whose boundary never occurs",
		msg:  crlf("Content-Type: multipart/mixed; boundary=zz\n\nno parts here\n"),
		want: `(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0) "mixed")`,
	}, {
		name: "boundary on the first body line, empty preamble",
		msg:  crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b--"),
		want: `(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 1 0) "mixed")`,
	}, {
		name: "boundary line with transport padding",
		msg:  crlf("Content-Type: multipart/mixed; boundary=b\n\n--b  \t\n\nx\n--b--  \n"),
		want: `(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 1 0) "mixed")`,
	}, {
		name: "text after the close delimiter is epilogue",
		msg:  crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b--\n--b\n\ny\n"),
		want: `(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 1 0) "mixed")`,
	}, {
		name: "same boundary nested: the inner one wins",
		msg:  crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b--\n--b\n\ny\n--b--\n"),
		want: `((("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 1 0) "mixed")("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 1 0) "mixed")`,
	}, {
		name: "empty message/rfc822",
		msg:  crlf("Content-Type: message/rfc822\n\n"),
		want: `("message" "rfc822" NIL NIL NIL "7bit" 0 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0) 0)`,
	}, {
		name: "invalid and duplicate Content-Type: the first one counts",
		msg:  crlf("Content-Type: text\nContent-Type: image/png\n\nx"),
		want: `("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 1 0)`,
	}, {
		name: "comments and odd spacing in Content-Type",
		msg:  crlf("Content-Type: (c) Text (x) / Plain (y) ; (z) charset = \"iso-8859-1\" (w);format=flowed\n\nx"),
		want: `("Text" "Plain" ("charset" "iso-8859-1" "format" "flowed") NIL NIL "7bit" 1 0)`,
	}, {
		name: "header continuation folded into Content-Type",
		msg:  crlf("Content-Type: multipart/mixed;\n boundary=\n\t\"folded\"\n\n--folded\n\nx\n--folded--\n"),
		want: `(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 1 0) "mixed")`,
	}, {
		name: "RFC 2231 plain continuations merge",
		msg:  crlf("Content-Type: application/octet-stream; name*0=\"long \"; name*1=name.bin\n\nx"),
		want: `("application" "octet-stream" ("name" "long name.bin") NIL NIL "7bit" 1)`,
	}, {
		name: "RFC 2231 mixed pieces merge to an extended value",
		msg:  crlf("Content-Type: application/octet-stream; name*1=\"b c\"; name*0*=utf-8'en'%C3%A9\n\nx"),
		want: `("application" "octet-stream" ("name*" "utf-8'en'%C3%A9b c") NIL NIL "7bit" 1)`,
	}, {
		name: "RFC 2231: plain first piece of an extended value, % escaped",
		msg:  crlf("Content-Type: application/octet-stream; name*0=\"100%\"; name*1*=%20sure; a=b\n\nx"),
		want: `("application" "octet-stream" ("a" "b" "name*" "''100%25%20sure") NIL NIL "7bit" 1)`,
	}, {
		name: "RFC 2231: a gap keeps the pieces as they are",
		msg:  crlf("Content-Type: application/octet-stream; name*0=a; name*2=c\n\nx"),
		want: `("application" "octet-stream" ("name*0" "a" "name*2" "c") NIL NIL "7bit" 1)`,
	}, {
		name: "RFC 2231: single extended value, plain parameters first",
		msg:  crlf("Content-Type: text/plain; title*=us-ascii'en'This%20is; charset=utf-8\n\nx"),
		want: `("text" "plain" ("charset" "utf-8" "title*" "us-ascii'en'This%20is") NIL NIL "7bit" 1 0)`,
	}, {
		name: "header lines without colon are skipped",
		msg:  crlf("garbage line\nContent-Type: text/html\n\nx"),
		want: `("text" "html" ("charset" "us-ascii") NIL NIL "7bit" 1 0)`,
	}, {
		name: "8-bit parameter value goes as a literal",
		msg:  []byte("Content-Type: text/plain; name=\"f\xc3\xa9.txt\"\r\n\r\nx"),
		want: "(\"text\" \"plain\" (\"name\" {7}\r\nf\xc3\xa9.txt \"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0)",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, bodyStructure(t, tt.msg))
		})
	}
}

// TestSections checks BODY[section] for every specifier kind, including
// nested parts and MIME headers.
func TestSections(t *testing.T) {
	msg := loadMessage(t, "nested-rfc822.eml")
	tests := []struct {
		part   []int
		spec   string
		fields []string
		want   string
	}{
		{nil, "HEADER.FIELDS", []string{"subject", "FROM"}, "From: forwarder@example.com\r\nSubject: Fwd: the RFC 9051 section example\r\n\r\n"},
		{nil, "HEADER.FIELDS", []string{"X-None"}, "\r\n"},
		{nil, "HEADER.FIELDS.NOT", []string{"From", "To", "Subject", "Date", "Mime-Version"}, "Content-Type: MULTIPART/MIXED; boundary=outer\r\n\r\n"},
		{[]int{1}, "", nil, "part 1"},
		{[]int{1}, "MIME", nil, "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\r\n"},
		{[]int{1}, "HEADER", nil, ""}, // not a message/rfc822 part
		{[]int{1}, "TEXT", nil, ""},
		{[]int{3}, "HEADER.FIELDS", []string{"Subject"}, "Subject: part 3\r\n\r\n"},
		{[]int{3, 1}, "", nil, "part 3.1"},
		{[]int{3, 2}, "MIME", nil, "Content-Type: APPLICATION/OCTET-STREAM\r\n\r\n"},
		{[]int{4, 1, 1}, "", nil, ""}, // below a leaf
		{[]int{4, 2, 2, 2}, "", nil, "part 4.2.2.2"},
		{[]int{4, 2, 2, 2}, "MIME", nil, "Content-Type: TEXT/RICHTEXT\r\n\r\n"},
		{[]int{4, 2, 3}, "", nil, ""}, // nonexistent
		{[]int{5}, "", nil, ""},
		{[]int{0}, "", nil, ""},
		{nil, "MIME", nil, ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v.%s%v", tt.part, tt.spec, tt.fields), func(t *testing.T) {
			assert.Equal(t, tt.want, section(t, msg, tt.part, tt.spec, tt.fields...))
		})
	}

	t.Run("folded fields are kept whole", func(t *testing.T) {
		m := crlf("Received: from a\n\tby b\nSubject: one\n two\nX: y\n\nbody")
		assert.Equal(t, "Subject: one\r\n two\r\n\r\n", section(t, m, nil, "HEADER.FIELDS", "subject"))
		assert.Equal(t, "Received: from a\r\n\tby b\r\nX: y\r\n\r\n", section(t, m, nil, "HEADER.FIELDS.NOT", "Subject"))
	})
	t.Run("header without a blank line", func(t *testing.T) {
		// A message with no body and no blank line: HEADER and
		// HEADER.FIELDS.NOT end without one (RFC 9051 §6.4.5), as in
		// Dovecot, which still ends HEADER.FIELDS with one.
		m := crlf("Date: d\nFrom: f\nSubject: s\n")
		assert.Equal(t, "Date: d\r\nFrom: f\r\nSubject: s\r\n", section(t, m, nil, "HEADER"))
		assert.Equal(t, "From: f\r\n", section(t, m, nil, "HEADER.FIELDS.NOT", "Date", "Subject"))
		assert.Equal(t, "Date: d\r\nFrom: f\r\nSubject: s\r\n", section(t, m, nil, "HEADER.FIELDS.NOT", "X-None"))
		assert.Equal(t, "Subject: s\r\n\r\n", section(t, m, nil, "HEADER.FIELDS", "Subject"))
		assert.Equal(t, "", section(t, m, nil, "TEXT"))
		n := crlf("Content-Type: message/rfc822\n\nSubject: inner\nX: y\n")
		assert.Equal(t, "X: y\r\n", section(t, n, []int{1}, "HEADER.FIELDS.NOT", "Subject"))
	})
	t.Run("single-part message: part 1 is the body", func(t *testing.T) {
		m := crlf("Subject: s\n\nbody\n")
		assert.Equal(t, "body\r\n", section(t, m, []int{1}, ""))
		assert.Equal(t, "", section(t, m, []int{2}, ""))
		assert.Equal(t, "Subject: s\r\n\r\n", section(t, m, nil, "HEADER"))
	})
	t.Run("message/rfc822 at the top", func(t *testing.T) {
		m := crlf("Content-Type: message/rfc822\n\nSubject: inner\n\ninner body")
		assert.Equal(t, "Subject: inner\r\n\r\ninner body", section(t, m, []int{1}, ""))
		assert.Equal(t, "Subject: inner\r\n\r\n", section(t, m, []int{1}, "HEADER"))
		assert.Equal(t, "inner body", section(t, m, []int{1, 1}, ""))
	})
}

// errReaderAt fails every read at or after off.
type errReaderAt struct {
	data []byte
	off  int64
	err  error
}

func (e errReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > e.off {
		return 0, e.err
	}
	return copy(p, e.data[off:]), nil
}

func TestParseReadError(t *testing.T) {
	msg := loadMessage(t, "alternative.eml")
	boom := errors.New("disk on fire")
	_, err := imapmsg.Parse(errReaderAt{data: msg, off: 100, err: boom}, int64(len(msg)))
	assert.ErrorIs(t, err, boom)

	// A reader shorter than the size given is an error too.
	_, err = imapmsg.Parse(bytes.NewReader(msg[:50]), int64(len(msg)))
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
}

// genReaderAt produces a large message on the fly: a header, a text part,
// and a base64 attachment of n lines, without holding it in memory.
type genReaderAt struct {
	head, line, tail string
	n                int64
}

func (g genReaderAt) Size() int64 {
	return int64(len(g.head)) + g.n*int64(len(g.line)) + int64(len(g.tail))
}

func (g genReaderAt) ReadAt(p []byte, off int64) (int, error) {
	size := g.Size()
	if off >= size {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && off < size {
		var c byte
		switch h, body := int64(len(g.head)), g.n*int64(len(g.line)); {
		case off < h:
			c = g.head[off]
		case off < h+body:
			c = g.line[(off-h)%int64(len(g.line))]
		default:
			c = g.tail[off-h-body]
		}
		p[n] = c
		n++
		off++
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func bigMessage(lines int64) genReaderAt {
	return genReaderAt{
		head: string(crlf("From: a@example.com\nSubject: big\nContent-Type: multipart/mixed; boundary=\"=_big\"\n\n--=_big\nContent-Type: text/plain\n\nsee attachment\n--=_big\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n")),
		line: "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n",
		tail: string(crlf("\n--=_big--\n")),
		n:    lines,
	}
}

// TestParseMemoryBounded parses a 50 MB message and checks that parsing
// allocates far less than the message size (the body is never held).
func TestParseMemoryBounded(t *testing.T) {
	g := bigMessage(50 << 20 / 78)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s, err := imapmsg.Parse(g, g.Size())
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "bytes allocated to parse %d bytes", g.Size())
	bs := string(s.AppendBodyStructure(nil, false, imapmsg.RenderOptions{}))
	assert.Contains(t, bs, fmt.Sprintf(`"base64" %d)`, (50<<20/78)*78))

	n, err := s.BinarySize(g, []int{2})
	require.NoError(t, err)
	assert.Equal(t, int64(50<<20/78)*57, n)
}

// TestHostileShapes checks that the bounds hold: deep nesting, many parts,
// huge header lines.
func TestHostileShapes(t *testing.T) {
	t.Run("deep multipart nesting", func(t *testing.T) {
		var b strings.Builder
		for i := 0; i < 300; i++ {
			// Boundaries that are not prefixes of each other.
			fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=b%dx\r\n\r\n--b%dx\r\n", i, i)
		}
		b.WriteString("\r\nleaf\r\n")
		msg := []byte(b.String())
		s := parseBytes(t, msg)
		require.NoError(t, imapmsg.CheckInvariants(s, msg))
		bs := string(s.AppendBodyStructure(nil, true, imapmsg.RenderOptions{}))
		assert.Contains(t, bs, `"application" "octet-stream"`)
		assert.Equal(t, 100, strings.Count(bs, `"mixed"`))
	})
	t.Run("deep message/rfc822 nesting", func(t *testing.T) {
		msg := []byte(strings.Repeat("Content-Type: message/rfc822\r\n\r\n", 500) + "x")
		s := parseBytes(t, msg)
		require.NoError(t, imapmsg.CheckInvariants(s, msg))
		bs := string(s.AppendBodyStructure(nil, true, imapmsg.RenderOptions{}))
		assert.Equal(t, 100, strings.Count(bs, `"message" "rfc822"`))
	})
	t.Run("many parts", func(t *testing.T) {
		msg := []byte("Content-Type: multipart/mixed; boundary=b\r\n\r\n" + strings.Repeat("--b\r\n\r\nx\r\n", 30000) + "--b--\r\n")
		s := parseBytes(t, msg)
		require.NoError(t, imapmsg.CheckInvariants(s, msg))
		assert.Len(t, imapmsg.PartPaths(s), 9999)
	})
	t.Run("huge header line", func(t *testing.T) {
		msg := []byte("Subject: " + strings.Repeat("a", 3<<20) + "\r\nTo: " + strings.Repeat("b@c, ", 100000) + "\r\n\r\nbody")
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s := parseBytes(t, msg)
		runtime.ReadMemStats(&after)
		require.NoError(t, imapmsg.CheckInvariants(s, msg))
		assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(16<<20))
		v, ok := s.HeaderValue("subject")
		require.True(t, ok)
		assert.Equal(t, 256<<10-1, len(v)) // the leading space counts, then is trimmed
	})
	t.Run("many short header lines without colon", func(t *testing.T) {
		msg := []byte(strings.Repeat("x\r\n", 1<<20) + "\r\nbody")
		s := parseBytes(t, msg)
		require.NoError(t, imapmsg.CheckInvariants(s, msg))
		assert.Equal(t, `("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 4 0)`,
			string(s.AppendBodyStructure(nil, false, imapmsg.RenderOptions{})))
	})
	t.Run("many dash lines inside deep nesting", func(t *testing.T) {
		var b strings.Builder
		for i := 0; i < 99; i++ {
			fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=%dx\r\n\r\n--%dx\r\n", i, i)
		}
		b.WriteString("\r\n" + strings.Repeat("--\r\n", 200000))
		msg := []byte(b.String())
		s := parseBytes(t, msg)
		require.NoError(t, imapmsg.CheckInvariants(s, msg))
	})
	t.Run("header with no LF at all", func(t *testing.T) {
		msg := bytes.Repeat([]byte("x"), 200<<10)
		s := parseBytes(t, msg)
		require.NoError(t, imapmsg.CheckInvariants(s, msg))
	})
}

func TestHeaderValue(t *testing.T) {
	msg := crlf("Subject:  folded\n  subject \nreferences: <a@b>\n <c@d>\nX-Other: 1\nSubject: second\n\n")
	s := parseBytes(t, msg)
	v, ok := s.HeaderValue("SUBJECT")
	assert.True(t, ok)
	assert.Equal(t, "folded  subject", v)
	v, ok = s.HeaderValue("References")
	assert.True(t, ok)
	assert.Equal(t, "<a@b> <c@d>", v)
	_, ok = s.HeaderValue("X-Other")
	assert.False(t, ok, "not a kept field")
	assert.False(t, imapmsg.HeaderKept("X-Other"))
	assert.True(t, imapmsg.HeaderKept("in-reply-to"))
	_, ok = s.HeaderValue("Date")
	assert.False(t, ok)
}

// TestParseFromFile parses through an *os.File, the ReaderAt a Maildir
// backend hands over, and gets what a bytes.Reader gives.
func TestParseFromFile(t *testing.T) {
	msg := loadMessage(t, "nested-rfc822.eml")
	name := filepath.Join(t.TempDir(), "msg")
	require.NoError(t, os.WriteFile(name, msg, 0o600))
	f, err := os.Open(name)
	require.NoError(t, err)
	defer f.Close()
	s, err := imapmsg.Parse(f, int64(len(msg)))
	require.NoError(t, err)
	assert.Equal(t, render(t, msg), renderStructure(t, s, msg))
}

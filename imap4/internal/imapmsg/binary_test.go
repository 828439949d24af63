package imapmsg_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/imap4/internal/imapmsg"
)

func binary(t *testing.T, cte, body string) (string, error) {
	t.Helper()
	msg := []byte("Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: " + cte + "\r\n\r\n" + body)
	s := parseBytes(t, msg)
	size, err := s.BinarySize(bytes.NewReader(msg), []int{1})
	if err != nil {
		return "", err
	}
	r, n, err := s.BinaryReader(bytes.NewReader(msg), []int{1})
	require.NoError(t, err)
	require.Equal(t, size, n)
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	require.Equal(t, n, int64(len(b)))
	return string(b), nil
}

func TestBinaryDecoding(t *testing.T) {
	tests := []struct {
		name, cte, body, want string
	}{
		{"base64", "base64", "SGVsbG8sIHdvcmxkIQ==\r\n", "Hello, world!"},
		{"base64 lines", "BASE64", "SGVsbG8s\r\nIHdvcmxk\r\nIQ==\r\n", "Hello, world!"},
		{"base64 no padding", "base64", "SGVsbG8sIHdvcmxkIQ", "Hello, world!"},
		{"base64 garbage skipped", "base64", "SGV*sbG8s\r\n  IHdv!cmxkIQ==", "Hello, world!"},
		{"base64 concatenated", "base64", "SGk=SGk=", "HiHi"},
		{"base64 lone char", "base64", "SGkhS", "Hi!"},
		{"base64 empty", "base64", "", ""},
		{"qp", "quoted-printable", "caf=C3=A9 =3D ok", "café = ok"},
		{"qp lower-case hex", "quoted-printable", "caf=c3=a9", "café"},
		{"qp soft break", "quoted-printable", "long=\r\nline=  \r\nend\r\n", "longlineend\r\n"},
		{"qp bare LF soft break", "quoted-printable", "a=\nb", "ab"},
		{"qp trailing whitespace dropped", "quoted-printable", "a  \r\nb\t\r\nc ", "a\r\nb\r\nc"},
		{"qp encoded trailing space kept", "quoted-printable", "a=20\r\n", "a \r\n"},
		{"qp inner whitespace kept", "quoted-printable", "a  b =41", "a  b A"},
		{"qp invalid escapes kept", "quoted-printable", "100% =ZZ =4 =", "100% =ZZ =4 ="},
		{"qp equals then space then text", "quoted-printable", "a= b", "a= b"},
		{"qp 8-bit passes", "quoted-printable", "Gr\xfc\xdfe", "Gr\xfc\xdfe"},
		{"qp bare CR", "quoted-printable", "a\rb", "a\rb"},
		{"7bit", "7bit", "as is =41\r\n", "as is =41\r\n"},
		{"8bit", "8bit", "é\r\n", "é\r\n"},
		{"binary", "Binary", "\x00\x01", "\x00\x01"},
		{"none", "", "plain", "plain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := binary(t, tt.cte, tt.body)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	t.Run("unknown encoding", func(t *testing.T) {
		_, err := binary(t, "x-uuencode", "begin")
		assert.ErrorIs(t, err, imapmsg.ErrUnknownEncoding)
	})
}

// countingReaderAt counts the bytes read, to show that the second
// BinarySize is free.
type countingReaderAt struct {
	r io.ReaderAt
	n int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n += int64(n)
	return n, err
}

func TestBinarySizeRemembered(t *testing.T) {
	msg := loadMessage(t, "mixed-attachment.eml")
	s := parseBytes(t, msg)
	cr := &countingReaderAt{r: bytes.NewReader(msg)}
	n, err := s.BinarySize(cr, []int{2})
	require.NoError(t, err)
	assert.Equal(t, int64(50), n)
	assert.NotZero(t, cr.n)

	cr.n = 0
	n, err = s.BinarySize(cr, []int{2})
	require.NoError(t, err)
	assert.Equal(t, int64(50), n)
	assert.Zero(t, cr.n, "second BinarySize reads nothing")

	data, err := s.MarshalBinary()
	require.NoError(t, err)
	u, err := imapmsg.Unmarshal(data)
	require.NoError(t, err)
	n, err = u.BinarySize(cr, []int{2})
	require.NoError(t, err)
	assert.Equal(t, int64(50), n)
	assert.Zero(t, cr.n, "the size survives MarshalBinary")

	// Whole message (its base64 part decoded, see
	// TestBinaryOfSeveralParts) and nonexistent parts.
	n, err = s.BinarySize(cr, nil)
	require.NoError(t, err)
	rd, size, err := s.BinaryReader(cr, nil)
	require.NoError(t, err)
	whole, err := io.ReadAll(rd)
	require.NoError(t, err)
	assert.Equal(t, size, n)
	assert.Equal(t, int64(len(whole)), n)
	assert.Less(t, n, int64(len(msg)))
	n, err = s.BinarySize(cr, []int{9})
	require.NoError(t, err)
	assert.Zero(t, n)
}

func TestBinaryReadError(t *testing.T) {
	msg := loadMessage(t, "mixed-attachment.eml")
	s := parseBytes(t, msg)
	boom := errors.New("gone")
	_, err := s.BinarySize(errReaderAt{data: msg, off: 0, err: boom}, []int{2})
	assert.ErrorIs(t, err, boom)
	_, err = s.MatchBody(errReaderAt{data: msg, off: 0, err: boom}, "x")
	assert.ErrorIs(t, err, boom)
	_, err = s.MatchHeader(errReaderAt{data: msg, off: 0, err: boom}, "", "x")
	assert.ErrorIs(t, err, boom)
	_, _, err = s.SectionReader(errReaderAt{data: msg, off: 0, err: boom}, imapmsg.Section{Specifier: "HEADER.FIELDS", Fields: []string{"From"}})
	assert.ErrorIs(t, err, boom)
}

// FuzzDecode checks that the transfer decoders give the same result
// whatever the read sizes (the quoted-printable decoder has a bulk path
// and a byte-at-a-time path), and never panic.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{"SGVsbG8=", "a =41 b  \r\nc=\r\nd", "x= \t\r\ny", "==", "=\r", "a \t=20 \r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		for _, cte := range []string{"base64", "quoted-printable"} {
			whole, err := io.ReadAll(imapmsg.Decoder(cte, strings.NewReader(in)))
			require.NoError(t, err)
			bytewise, err := io.ReadAll(imapmsg.Decoder(cte, iotest.OneByteReader(strings.NewReader(in))))
			require.NoError(t, err)
			require.Equal(t, string(whole), string(bytewise), "%s of %q", cte, in)
			require.LessOrEqual(t, len(whole), len(in))
		}
	})
}

// binarySection returns BINARY[path] and checks that BINARY.SIZE agrees.
func binarySection(t *testing.T, msg string, path ...int) (string, error) {
	t.Helper()
	s := parseBytes(t, []byte(msg))
	r := strings.NewReader(msg)
	size, err := s.BinarySize(r, path)
	if err != nil {
		return "", err
	}
	rd, n, err := s.BinaryReader(r, path)
	require.NoError(t, err)
	require.Equal(t, size, n, "BINARY.SIZE and the size of BINARY")
	b, err := io.ReadAll(rd)
	require.NoError(t, err)
	require.Equal(t, n, int64(len(b)))
	return string(b), nil
}

// TestBinaryOfSeveralParts checks BINARY[] of a whole message, a
// multipart part and a message/rfc822 part: every base64 and
// quoted-printable part inside is decoded and says so at the end of its
// header, as Dovecot answers.
func TestBinaryOfSeveralParts(t *testing.T) {
	mixed := crlf("Subject: s\n" +
		"Content-Type: multipart/mixed; boundary=b\n" +
		"\n" +
		"preamble\n" +
		"--b\n" +
		"Content-Type: text/plain; charset=utf-8\n" +
		"Content-Transfer-Encoding: quoted-printable\n" +
		"\n" +
		"caf=C3=A9\n" +
		"--b\n" +
		"Content-Type: application/octet-stream\n" +
		"Content-Transfer-Encoding:\n" +
		" base64\n" +
		"Content-Disposition: attachment\n" +
		"\n" +
		"AAEC\n" +
		"--b\n" +
		"Content-Type: text/plain\n" +
		"Content-Transfer-Encoding: 8bit\n" +
		"\n" +
		"as is =41\n" +
		"--b--\n" +
		"epilogue\n")
	got, err := binarySection(t, string(mixed))
	require.NoError(t, err)
	assert.Equal(t, string(crlf("Subject: s\n"+
		"Content-Type: multipart/mixed; boundary=b\n"+
		"\n"+
		"preamble\n"+
		"--b\n"+
		"Content-Type: text/plain; charset=utf-8\n"+
		"Content-Transfer-Encoding: binary\n"+
		"\n"+
		"café\n"+
		"--b\n"+
		"Content-Type: application/octet-stream\n"+
		"Content-Disposition: attachment\n"+
		"Content-Transfer-Encoding: binary\n"+
		"\n"))+"\x00\x01\x02"+string(crlf("\n"+
		"--b\n"+
		"Content-Type: text/plain\n"+
		"Content-Transfer-Encoding: 8bit\n"+
		"\n"+
		"as is =41\n"+
		"--b--\n"+
		"epilogue\n")), got)
	leaf, err := binarySection(t, string(mixed), 1)
	require.NoError(t, err)
	assert.Equal(t, "café", leaf, "a leaf is its decoded body alone")

	t.Run("single part", func(t *testing.T) {
		got, err := binarySection(t, string(crlf("Subject: s\nContent-Transfer-Encoding: base64\nX: y\n\nSGk=\n")))
		require.NoError(t, err)
		assert.Equal(t, string(crlf("Subject: s\nX: y\nContent-Transfer-Encoding: binary\n\n"))+"Hi", got)
	})
	t.Run("nothing to decode", func(t *testing.T) {
		msg := string(crlf("Subject: s\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b--\n"))
		got, err := binarySection(t, msg)
		require.NoError(t, err)
		assert.Equal(t, msg, got)
	})
	t.Run("message and multipart parts", func(t *testing.T) {
		msg := string(crlf("Content-Type: multipart/mixed; boundary=o\n\n" +
			"--o\nContent-Type: message/rfc822\n\n" +
			"Subject: inner\nContent-Transfer-Encoding: quoted-printable\n\n=41=42\n" +
			"--o\nContent-Type: multipart/alternative; boundary=i\n\n" +
			"--i\nContent-Transfer-Encoding: base64\n\nSGk=\n--i--\n" +
			"--o--\n"))
		got, err := binarySection(t, msg, 1)
		require.NoError(t, err)
		assert.Equal(t, string(crlf("Subject: inner\nContent-Transfer-Encoding: binary\n\n"))+"AB", got)
		got, err = binarySection(t, msg, 2)
		require.NoError(t, err)
		assert.Equal(t, string(crlf("--i\nContent-Transfer-Encoding: binary\n\n"))+"Hi"+string(crlf("\n--i--\n")), got)
	})
	t.Run("unknown encoding inside", func(t *testing.T) {
		msg := string(crlf("Content-Type: multipart/mixed; boundary=b\n\n" +
			"--b\nContent-Transfer-Encoding: x-uuencode\n\nbegin\n--b\nContent-Transfer-Encoding: base64\n\nSGk=\n--b--\n"))
		_, err := binarySection(t, msg)
		assert.ErrorIs(t, err, imapmsg.ErrUnknownEncoding)
		got, err := binarySection(t, msg, 2)
		require.NoError(t, err)
		assert.Equal(t, "Hi", got, "the other parts stay readable")
	})
}

// TestBinaryLiteral8 checks which BINARY data is sent as a literal8: what
// was base64, quoted-printable or binary, not 7bit or 8bit data.
func TestBinaryLiteral8(t *testing.T) {
	msg := crlf("Content-Type: multipart/mixed; boundary=o\n\n" +
		"--o\nContent-Transfer-Encoding: 8bit\n\ncaf\xc3\xa9\n" +
		"--o\nContent-Type: message/rfc822\n\nSubject: inner\n\nplain\n" +
		"--o\nContent-Type: multipart/mixed; boundary=i\n\n" +
		"--i\nContent-Transfer-Encoding: base64\n\nSGk=\n--i\nContent-Transfer-Encoding: BINARY\n\nx\n--i--\n" +
		"--o--\n")
	s := parseBytes(t, msg)
	tests := []struct {
		path []int
		want bool
	}{
		{nil, true}, {[]int{1}, false}, {[]int{2}, false}, {[]int{2, 1}, false},
		{[]int{3}, true}, {[]int{3, 1}, true}, {[]int{3, 2}, true}, {[]int{9}, false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, s.BinaryLiteral8(tt.path), "BINARY%v", tt.path)
	}
	plain := parseBytes(t, crlf("Subject: s\n\nbody\n"))
	assert.False(t, plain.BinaryLiteral8(nil))
	assert.False(t, plain.BinaryLiteral8([]int{1}))
}

package imapmsg

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
)

// decodeValue decodes a field value for matching: raw octets that are
// not UTF-8 are taken as ISO-8859-1, then RFC 2047 encoded words are
// decoded as mime.WordDecoder.DecodeHeader decodes them, with the
// charsets go-message knows; if a charset is unknown, the value stays as
// it is. The result may alias v or m's buffers.
func (m *headerMatcher) decodeValue(v []byte) []byte {
	if !utf8.Valid(v) {
		m.latin = m.latin[:0]
		for _, c := range v {
			m.latin = utf8.AppendRune(m.latin, rune(c))
		}
		v = m.latin
	}
	if !bytes.Contains(v, encodedWordStart) {
		return v
	}
	if d, ok := m.decodeWords(m.dec[:0], v); ok {
		m.dec = d
		return d
	}
	return v
}

var (
	encodedWordStart = []byte("=?")
	encodedWordEnd   = []byte("?=")
	csUTF8           = []byte("utf-8")
	csLatin1         = []byte("iso-8859-1")
	csASCII          = []byte("us-ascii")
)

// decodeWords appends v to dst with its RFC 2047 encoded words decoded,
// exactly as mime.WordDecoder.DecodeHeader with go-message's
// charset.Reader decodes a string (the differential test in
// encword_test.go holds the two together): a word is "=?" charset "?"
// encoding "?" text "?=", the charset running to the next '?' and the
// encoding being one letter; a word whose text does not decode stays as
// it is; white space between two decoded words is dropped. ok is false if
// a charset is unknown (DecodeHeader's error).
func (m *headerMatcher) decodeWords(dst, v []byte) (_ []byte, ok bool) {
	i := bytes.Index(v, encodedWordStart)
	dst = append(dst, v[:i]...)
	v = v[i:]
	between := false // just after a decoded word
	for {
		start := bytes.Index(v, encodedWordStart)
		if start < 0 {
			break
		}
		cur := start + 2
		i := bytes.IndexByte(v[cur:], '?')
		if i < 0 {
			break
		}
		cs := v[cur : cur+i]
		cur += i + 1
		if len(v) < cur+len("Q??=") {
			break
		}
		enc := v[cur]
		cur++
		if v[cur] != '?' {
			break
		}
		cur++
		j := bytes.Index(v[cur:], encodedWordEnd)
		if j < 0 {
			break
		}
		text := v[cur : cur+j]
		end := cur + j + 2
		content, decoded := m.decodeWordText(enc, text)
		if !decoded {
			between = false
			dst = append(dst, v[:end]...)
			v = v[end:]
			continue
		}
		if start > 0 && (!between || !allLWSP(v[:start])) {
			dst = append(dst, v[:start]...)
		}
		if dst, ok = appendCharset(dst, cs, content); !ok {
			return dst, false
		}
		v = v[end:]
		between = true
	}
	return append(dst, v...), true
}

// allLWSP reports whether b holds only the white space that may separate
// encoded words.
func allLWSP(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
		default:
			return false
		}
	}
	return true
}

// decodeWordText decodes the text of an encoded word into m.word: "B"
// is standard base64 with padding (line breaks ignored), "Q" is RFC 2047
// §4.2 ('_' is a space, "=XX" an octet in hex of either case, other
// printable ASCII, tab, CR and LF stand for themselves).
func (m *headerMatcher) decodeWordText(enc byte, text []byte) ([]byte, bool) {
	switch enc {
	case 'B', 'b':
		n := base64.StdEncoding.DecodedLen(len(text))
		m.word = slices.Grow(m.word[:0], n)[:n]
		n, err := base64.StdEncoding.Decode(m.word, text)
		if err != nil {
			return nil, false
		}
		m.word = m.word[:n]
		return m.word, true
	case 'Q', 'q':
		m.word = m.word[:0]
		for i := 0; i < len(text); i++ {
			switch c := text[i]; {
			case c == '_':
				m.word = append(m.word, ' ')
			case c == '=':
				if i+2 >= len(text) {
					return nil, false
				}
				hi, ok1 := unhex(text[i+1])
				lo, ok2 := unhex(text[i+2])
				if !ok1 || !ok2 {
					return nil, false
				}
				m.word = append(m.word, hi<<4|lo)
				i += 2
			case ' ' <= c && c <= '~', c == '\t', c == '\r', c == '\n':
				m.word = append(m.word, c)
			default:
				return nil, false
			}
		}
		return m.word, true
	}
	return nil, false
}

// appendCharset appends the text of an encoded word in charset cs to dst,
// converted to UTF-8; ok is false for a charset go-message does not know
// or text it cannot convert.
func appendCharset(dst, cs, content []byte) (_ []byte, ok bool) {
	// Unicode folding, as DecodeHeader compares: "iſo-8859-1" is ISO-8859-1.
	switch {
	case bytes.EqualFold(cs, csUTF8):
		return append(dst, content...), true
	case bytes.EqualFold(cs, csLatin1):
		for _, c := range content {
			dst = utf8.AppendRune(dst, rune(c))
		}
		return dst, true
	case bytes.EqualFold(cs, csASCII):
		for _, c := range content {
			if c >= utf8.RuneSelf {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			} else {
				dst = append(dst, c)
			}
		}
		return dst, true
	}
	r, err := charset.Reader(strings.ToLower(string(cs)), bytes.NewReader(content))
	if err != nil {
		return dst, false
	}
	for {
		dst = slices.Grow(dst, 512)
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if errors.Is(err, io.EOF) {
			return dst, true
		}
		if err != nil {
			return dst, false
		}
	}
}

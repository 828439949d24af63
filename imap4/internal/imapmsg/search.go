package imapmsg

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
)

// MatchHeader reports whether a top-level header field contains key
// (SEARCH HEADER, and FROM, TO, CC, BCC, SUBJECT; RFC 9051 §6.4.4): a
// case-insensitive substring match under Unicode simple case folding,
// the key being UTF-8. field "" means any field, matched as
// "Name: value"; otherwise the fields with that name (case-insensitive).
// Values are unfolded and decoded first: RFC 2047 encoded words in any
// charset go-message knows, raw UTF-8 as it is, and other raw 8-bit
// octets as ISO-8859-1. An empty key matches any message that has the
// field.
func (s *Structure) MatchHeader(r io.ReaderAt, field, key string) (bool, error) {
	if s == nil || s.root == nil {
		return false, nil
	}
	fkey := foldString(key)
	found := false
	var cur []byte // the current field: name, ':' and value, unfolded
	curMatch := false
	check := func() {
		if cur == nil || found {
			return
		}
		if curMatch {
			found = matchField(cur, field == "", fkey)
		}
		cur = cur[:0]
	}
	err := eachHeaderLine(r, s.root.hdrOff, s.root.bodyOff, func(name, line []byte, cont bool, _ *bool) {
		if found {
			return
		}
		if !cont {
			check()
			curMatch = name != nil && (field == "" || asciiEqualFold(name, field))
			if cur == nil {
				cur = make([]byte, 0, 256)
			}
		}
		if curMatch {
			for _, c := range line {
				if c != '\r' && c != '\n' {
					cur = append(cur, c)
				}
			}
		}
	})
	if err != nil {
		return false, err
	}
	check()
	return found, nil
}

// matchField decodes a field ("Name: value") and matches it against the
// folded key; whole is false when only the value is searched.
func matchField(f []byte, whole bool, fkey []byte) bool {
	if len(fkey) == 0 {
		return true
	}
	i := bytes.IndexByte(f, ':')
	if i < 0 {
		return false
	}
	v := decodeHeaderValue(strings.TrimSpace(string(f[i+1:])))
	text := v
	if whole {
		text = string(bytes.TrimRight(f[:i], " \t")) + ": " + v
	}
	return bytes.Contains(foldString(text), fkey)
}

// decodeHeaderValue decodes RFC 2047 encoded words; raw octets that are
// not UTF-8 are taken as ISO-8859-1.
func decodeHeaderValue(v string) string {
	if !utf8.ValidString(v) {
		var b strings.Builder
		for i := 0; i < len(v); i++ {
			b.WriteRune(rune(v[i]))
		}
		v = b.String()
	}
	if !strings.Contains(v, "=?") {
		return v
	}
	dec := mime.WordDecoder{CharsetReader: charset.Reader}
	if d, err := dec.DecodeHeader(v); err == nil {
		return d
	}
	return v
}

// MatchBody reports whether the decoded text of the message's text/*
// parts contains key (SEARCH BODY; RFC 9051 §6.4.4), with the matching
// rules of [Structure.MatchHeader]. The transfer encoding and the charset
// of each part are decoded (an unknown charset is searched as it is);
// the parts of embedded messages (message/rfc822) are searched too, but
// no headers. SEARCH TEXT is MatchHeader(r, "", key) || MatchBody(r, key).
func (s *Structure) MatchBody(r io.ReaderAt, key string) (bool, error) {
	if s == nil || s.root == nil {
		return false, nil
	}
	fkey := foldString(key)
	if len(fkey) == 0 {
		return true, nil
	}
	m := matcherPool.Get().(*matcher)
	defer matcherPool.Put(m)
	m.key = fkey
	return m.part(r, s.root)
}

// matcherPool keeps matchers and their buffers between searches.
var matcherPool = sync.Pool{New: func() any { return new(matcher) }}

// matcher searches decoded text for a folded key, streaming.
type matcher struct {
	key    []byte
	buf    []byte // read buffer
	folded []byte // tail of the previous chunk + folded current chunk
	// The reader chain of the current part, kept for reuse.
	src errReader
	qp  qpReader
	b64 base64Reader
}

func (m *matcher) part(r io.ReaderAt, p *part) (bool, error) {
	switch p.kind {
	case kindMultipart, kindMessage:
		for _, c := range p.children {
			if ok, err := m.part(r, c); ok || err != nil {
				return ok, err
			}
		}
		return false, nil
	}
	if !p.isText() {
		return false, nil
	}
	m.src = errReader{r: io.NewSectionReader(r, p.bodyOff, p.end-p.bodyOff)}
	src := &m.src
	var rd io.Reader = src
	switch encodingOf(p.enc) {
	case encQP:
		m.qp.reset(src)
		rd = &m.qp
	case encBase64:
		m.b64.reset(src)
		rd = &m.b64
	}
	if cs := p.param("charset"); cs != "" && !strings.EqualFold(cs, "utf-8") &&
		!strings.EqualFold(cs, "us-ascii") && !strings.EqualFold(cs, "utf8") {
		if cr, err := charset.Reader(cs, rd); err == nil {
			rd = cr
		}
	}
	ok, err := m.search(rd)
	if src.err != nil {
		return false, src.err
	}
	_ = err // decoding errors end the part's text; they are not failures
	return ok, nil
}

// errReader remembers the error of the underlying reader, so that read
// failures can be told from decoding failures.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		e.err = err
	}
	return n, err
}

// search reports whether the text read from rd contains the key.
func (m *matcher) search(rd io.Reader) (bool, error) {
	if m.buf == nil {
		m.buf = make([]byte, 16<<10)
	}
	m.folded = m.folded[:0]
	carry := 0 // bytes of an incomplete rune at the start of buf
	for {
		n, err := rd.Read(m.buf[carry:])
		n += carry
		chunk := m.buf[:n]
		carry = 0
		if err == nil {
			// Keep an incomplete rune for the next read.
			for k := 1; k <= 3 && k <= len(chunk); k++ {
				c := chunk[len(chunk)-k]
				if c < 0x80 {
					break
				}
				if c >= 0xc0 {
					if !utf8.FullRune(chunk[len(chunk)-k:]) {
						carry = k
					}
					break
				}
			}
		}
		m.folded = appendFold(m.folded, chunk[:len(chunk)-carry])
		if bytes.Contains(m.folded, m.key) {
			return true, nil
		}
		// Keep the last len(key)-1 bytes for matches across reads.
		if keep := len(m.key) - 1; len(m.folded) > keep {
			m.folded = append(m.folded[:0], m.folded[len(m.folded)-keep:]...)
		}
		copy(m.buf, chunk[len(chunk)-carry:])
		if err != nil {
			if errors.Is(err, io.EOF) {
				return false, nil
			}
			return false, err
		}
	}
}

// foldString folds s for caseless matching.
func foldString(s string) []byte {
	return appendFold(nil, []byte(s))
}

// appendFold appends b, folded, to dst: every rune is replaced by a
// canonical member of its Unicode simple case folding orbit (lower case
// for ASCII letters), and invalid UTF-8 by U+FFFD.
func appendFold(dst, b []byte) []byte {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		i += n
		if r < rune(len(foldTable)) {
			r = rune(foldTable[r])
		} else {
			r = foldRune(r)
		}
		dst = utf8.AppendRune(dst, r)
	}
	return dst
}

// foldTable caches foldRune for the Latin, Greek and Cyrillic blocks.
var foldTable = func() (t [0x530]uint16) {
	for r := range t {
		t[r] = uint16(foldRune(rune(r)))
	}
	return t
}()

// foldRune returns the canonical member of r's simple case folding
// orbit: the smallest rune in it, or its lower-case ASCII letter when
// the orbit has one (so that, for example, the Kelvin sign folds to 'k').
func foldRune(r rune) rune {
	min := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < min {
			min = f
		}
	}
	if 'A' <= min && min <= 'Z' {
		min += 'a' - 'A'
	}
	return min
}

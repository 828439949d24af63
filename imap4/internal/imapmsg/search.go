package imapmsg

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
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
	m := headerMatcherPool.Get().(*headerMatcher)
	defer m.release()
	m.key = appendFoldString(m.key[:0], key)
	h := headerLines{w: newWindow(r, s.root.hdrOff, s.root.bodyOff-s.root.hdrOff), line: m.line}
	defer func() { m.line = h.line; h.release() }()
	whole := field == ""
	cur := m.cur[:0] // the current field: name, ':' and value, unfolded
	started, curMatch := false, false
	for {
		line, ok := h.next()
		if !ok {
			break
		}
		if !isContinuation(line) {
			if started && curMatch && m.matchField(cur, whole) {
				m.cur = cur
				return true, nil
			}
			started = true
			cur = cur[:0]
			name := fieldName(line)
			curMatch = name != nil && (whole || asciiEqualFold(name, field))
		}
		if curMatch {
			cur = appendUnbroken(cur, line)
		}
	}
	m.cur = cur
	if h.w.err != nil {
		return false, h.w.err
	}
	return started && curMatch && m.matchField(cur, whole), nil
}

// appendUnbroken appends line to dst without its CR and LF octets.
func appendUnbroken(dst, line []byte) []byte {
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
	}
	if bytes.IndexByte(line, '\r') < 0 {
		return append(dst, line...)
	}
	for _, c := range line {
		if c != '\r' {
			dst = append(dst, c)
		}
	}
	return dst
}

// headerMatcher holds the buffers of MatchHeader, reused through
// headerMatcherPool.
type headerMatcher struct {
	key    []byte // the folded key
	line   []byte // headerLines' buffer for long lines
	cur    []byte // the current field, unfolded
	latin  []byte // a value that is not UTF-8, converted from ISO-8859-1
	dec    []byte // a value with its encoded words decoded
	word   []byte // the octets of one encoded word
	folded []byte // the text searched, folded
}

var headerMatcherPool = sync.Pool{New: func() any { return new(headerMatcher) }}

// maxPooledBuf is the largest buffer kept in a pool; larger ones (from
// huge header fields) are left to the garbage collector.
const maxPooledBuf = 64 << 10

func (m *headerMatcher) release() {
	for _, b := range []*[]byte{&m.key, &m.line, &m.cur, &m.latin, &m.dec, &m.word, &m.folded} {
		if cap(*b) > maxPooledBuf {
			*b = nil
		}
	}
	headerMatcherPool.Put(m)
}

// matchField decodes a field ("Name: value") and matches it against the
// folded key m.key; whole is false when only the value is searched.
func (m *headerMatcher) matchField(f []byte, whole bool) bool {
	if len(m.key) == 0 {
		return true
	}
	i := bytes.IndexByte(f, ':')
	if i < 0 {
		return false
	}
	v := m.decodeValue(bytes.TrimSpace(f[i+1:]))
	m.folded = m.folded[:0]
	if whole {
		m.folded = appendFold(m.folded, bytes.TrimRight(f[:i], " \t"))
		m.folded = append(m.folded, ':', ' ')
	}
	m.folded = appendFold(m.folded, v)
	return bytes.Contains(m.folded, m.key)
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
	m := matcherPool.Get().(*matcher)
	defer m.release()
	m.key = appendFoldString(m.key[:0], key)
	if len(m.key) == 0 {
		return true, nil
	}
	return m.part(r, s.root)
}

// matcherPool keeps matchers and their buffers between searches.
var matcherPool = sync.Pool{New: func() any { return new(matcher) }}

// release drops m's references to the message and puts it back in
// matcherPool.
func (m *matcher) release() {
	m.src = errReader{}
	m.qp.r, m.b64.r = nil, nil
	if cap(m.folded) > maxPooledBuf {
		m.folded = nil
	}
	matcherPool.Put(m)
}

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
	m.src = errReader{r: r, off: p.bodyOff, end: p.end}
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

// errReader reads content[off:end] from r, as an io.SectionReader
// would, and remembers the error of r, so that read failures can be told
// from decoding failures.
type errReader struct {
	r        io.ReaderAt
	off, end int64
	err      error
}

func (e *errReader) Read(p []byte) (int, error) {
	if e.off >= e.end {
		return 0, io.EOF
	}
	if rem := e.end - e.off; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := e.r.ReadAt(p, e.off)
	e.off += int64(n)
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

// appendFold appends b, folded, to dst: every rune is replaced by a
// canonical member of its Unicode simple case folding orbit (lower case
// for ASCII letters), and invalid UTF-8 by U+FFFD.
func appendFold(dst, b []byte) []byte {
	i := 0
	for i < len(b) {
		// Eight octets at a time while they are ASCII: each upper-case
		// letter gets 0x20. c+0x3f has its high bit set when c >= 'A',
		// c+0x25 when c > 'Z' (no carry: c < 0x80).
		for i+8 <= len(b) {
			w := binary.LittleEndian.Uint64(b[i:])
			if w&hiBits != 0 {
				break
			}
			upper := (w + 0x3f*loBits) &^ (w + 0x25*loBits) & hiBits
			dst = binary.LittleEndian.AppendUint64(dst, w|upper>>2)
			i += 8
		}
		if i == len(b) {
			break
		}
		if c := b[i]; c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		i += n
		dst = utf8.AppendRune(dst, foldCached(r))
	}
	return dst
}

// appendFoldString is appendFold for a string (a key), without
// converting it to a byte slice.
func appendFoldString(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		dst = utf8.AppendRune(dst, foldCached(r))
	}
	return dst
}

// foldCached is foldRune, through foldTable for the first blocks.
func foldCached(r rune) rune {
	if r < rune(len(foldTable)) {
		return rune(foldTable[r])
	}
	return foldRune(r)
}

const (
	loBits = 0x0101010101010101 // the low bit of each octet of a word
	hiBits = 0x8080808080808080 // the high bit of each octet of a word
)

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
	if 0x2d2e <= r && r <= 0xa63f || 0xabc0 <= r && r <= 0xff20 ||
		0x0587 <= r && r <= 0x109f || 0x1ffd <= r && r <= 0x2125 {
		// The largest blocks without case (CJK, Hangul, punctuation,
		// Hebrew to Myanmar...): TestFoldAllRunes checks them against
		// the unicode package's tables.
		return r
	}
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

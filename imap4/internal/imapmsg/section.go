package imapmsg

import (
	"bytes"
	"io"
	"strings"
)

// Section specifiers (RFC 9051 §6.4.5).
const (
	SpecHeader          = "HEADER"
	SpecHeaderFields    = "HEADER.FIELDS"
	SpecHeaderFieldsNot = "HEADER.FIELDS.NOT"
	SpecText            = "TEXT"
	SpecMIME            = "MIME"
)

// Section addresses BODY[section] (RFC 9051 §6.4.5).
type Section struct {
	// Part is the part path, each number from 1; nil means the whole
	// message.
	Part []int
	// Specifier is "", "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT",
	// "TEXT" or "MIME" (case-insensitive).
	Specifier string
	// Fields are the field names of HEADER.FIELDS and HEADER.FIELDS.NOT,
	// compared case-insensitively.
	Fields []string
}

// find returns the part a part path designates, or nil if there is none.
//
// The numbering is RFC 9051's: the parts of a multipart are numbered from
// 1; a message (the top-level one, or one embedded in a message/rfc822
// part) that is not multipart has a single part 1, its body; and the
// numbers after a message/rfc822 part address the parts of the message
// it embeds.
func (s *Structure) find(path []int) *part {
	if s == nil || s.root == nil {
		return nil
	}
	cur, msg := s.root, true
	for _, n := range path {
		if n < 1 {
			return nil
		}
		if !msg && cur.kind == kindMessage {
			cur, msg = cur.children[0], true
		}
		switch {
		case cur.kind == kindMultipart:
			if n > len(cur.children) {
				return nil
			}
			cur = cur.children[n-1]
		case msg && n == 1:
			// The single part of a non-multipart message is its body.
		default:
			return nil
		}
		msg = false
	}
	return cur
}

// sectionRange returns where a section lies in the content, or ok false
// for the filtered-header specifiers and for sections that do not exist.
func (s *Structure) sectionRange(sec Section) (start, end int64, ok bool) {
	p := s.find(sec.Part)
	if p == nil {
		return 0, 0, false
	}
	spec := strings.ToUpper(sec.Specifier)
	if len(sec.Part) == 0 {
		switch spec {
		case "":
			return 0, s.size, true
		case SpecMIME:
			return 0, 0, false
		}
	} else {
		switch spec {
		case "":
			return p.bodyOff, p.end, true
		case SpecMIME:
			return p.hdrOff, p.bodyOff, true
		}
		// HEADER and TEXT apply to the message a message/rfc822 part
		// embeds.
		if p.kind != kindMessage {
			return 0, 0, false
		}
		p = p.children[0]
	}
	switch spec {
	case SpecHeader, SpecHeaderFields, SpecHeaderFieldsNot:
		return p.hdrOff, p.bodyOff, true
	case SpecText:
		return p.bodyOff, p.end, true
	}
	return 0, 0, false
}

// SectionReader returns the octets of a section, read from r (the same
// message the Structure was parsed from), and their exact size. Large
// sections stream from r (an io.SectionReader); HEADER.FIELDS and
// HEADER.FIELDS.NOT are filtered into memory: the matching fields as they
// are in the message (folding included) and then the blank line, CRLF,
// even if no field matches (but for HEADER.FIELDS.NOT only if the header
// has one: a message with no body may end without it). A part that does not exist, or a specifier
// that does not apply to the part (HEADER or TEXT of a part that is not
// message/rfc822, MIME without a part), yields an empty section, as
// Dovecot does. Partial fetches (<offset.count>) are the caller's job.
//
// If r does not hold the message the Structure describes (a stale cache),
// reading the result may fail with io.ErrUnexpectedEOF or return
// different bytes, but never more than the size given.
func (s *Structure) SectionReader(r io.ReaderAt, sec Section) (io.Reader, int64, error) {
	start, end, ok := s.sectionRange(sec)
	if !ok {
		return strings.NewReader(""), 0, nil
	}
	spec := strings.ToUpper(sec.Specifier)
	if spec == SpecHeaderFields || spec == SpecHeaderFieldsNot {
		b, err := filterHeader(r, start, end, sec.Fields, spec == SpecHeaderFieldsNot)
		if err != nil {
			return nil, 0, err
		}
		return bytes.NewReader(b), int64(len(b)), nil
	}
	return io.NewSectionReader(r, start, end-start), end - start, nil
}

// filterHeader returns the fields of the header content[start:end] whose
// names are (not, if exclude) among names, followed by CRLF (for exclude,
// only if the header ends with a blank line).
func filterHeader(r io.ReaderAt, start, end int64, names []string, exclude bool) ([]byte, error) {
	out, blank, err := headerFields(r, start, end, func(name []byte) bool {
		return nameIn(name, names) != exclude
	})
	if err != nil {
		return nil, err
	}
	if exclude && !blank {
		// The header ended with the content, without a blank line (a
		// message with no body): HEADER.FIELDS.NOT adds none, as
		// RFC 9051 §6.4.5 says for "a message which has no body and no
		// blank line", and as Dovecot does. HEADER.FIELDS keeps it, as
		// Dovecot does.
		return out, nil
	}
	return append(out, '\r', '\n'), nil
}

// headerFields returns the fields (with their continuation lines, each
// ending in CRLF) of the header content[start:end] whose names keep
// accepts, and whether the header ends with a blank line.
func headerFields(r io.ReaderAt, start, end int64, keep func(name []byte) bool) (out []byte, blank bool, err error) {
	h := headerLines{w: newWindow(r, start, end-start)}
	defer h.release()
	kept := false
	for {
		line, ok := h.next()
		if !ok {
			break
		}
		if !isContinuation(line) {
			kept = keep(fieldName(line))
		}
		if kept {
			out = append(out, line...)
			if line[len(line)-1] != '\n' {
				out = append(out, '\r', '\n')
			}
		}
	}
	if h.w.err != nil {
		return nil, false, h.w.err
	}
	return out, h.done, nil
}

func nameIn(name []byte, names []string) bool {
	for _, n := range names {
		if asciiEqualFold(name, n) {
			return true
		}
	}
	return false
}

// headerLines iterates over the lines of a header up to the blank line
// that ends it.
type headerLines struct {
	w    *window
	pos  int64
	line []byte // a line that is not in the window in one piece
	done bool
}

// release returns the window to its pool.
func (h *headerLines) release() { h.w.release() }

// next returns the next line, its line break included, and ok false after
// the last one: at the blank line, at the end of the content, or on a
// read error (then h.w.err is set). The line is valid until the next call.
func (h *headerLines) next() (line []byte, ok bool) {
	w := h.w
	if h.done || h.pos >= w.size {
		return nil, false
	}
	pos := h.pos
	b := w.peek(pos, 1)
	if w.err != nil {
		h.done = true
		return nil, false
	}
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		line = b[:i+1] // the whole line is in the window
		h.pos = pos + int64(i) + 1
	} else {
		// The line goes past the window. The window only slides forward,
		// so gather the line while looking for its end.
		h.line = append(h.line[:0], b...)
		q := pos + int64(len(b))
		for q < w.size {
			b = w.peek(q, 1)
			if len(b) == 0 {
				break
			}
			if i := bytes.IndexByte(b, '\n'); i >= 0 {
				h.line = append(h.line, b[:i+1]...)
				q += int64(i) + 1
				break
			}
			h.line = append(h.line, b...)
			q += int64(len(b))
		}
		if w.err != nil {
			h.done = true
			return nil, false
		}
		line = h.line
		h.pos = q
	}
	if len(line) == 0 || line[0] == '\n' || (line[0] == '\r' && len(line) > 1 && line[1] == '\n') {
		h.done = true // the blank line
		return nil, false
	}
	return line, true
}

// isContinuation reports whether a header line continues the previous
// field.
func isContinuation(line []byte) bool {
	return line[0] == ' ' || line[0] == '\t'
}

// fieldName returns the name of the field a header line starts, or nil
// if the line has no colon.
func fieldName(line []byte) []byte {
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		return bytes.TrimRight(line[:i], " \t")
	}
	return nil
}

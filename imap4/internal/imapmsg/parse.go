package imapmsg

import (
	"bytes"
	"io"
	"strings"
	"sync"
)

// Parse reads a message (content with CRLF line endings, size octets) once
// and returns its structure.
//
// Parse streams: its memory is proportional to the size of the headers it
// keeps and to the number of parts, never to the size of bodies. It never
// fails on malformed MIME, which it handles the way Dovecot does:
//
//   - A missing or unparseable Content-Type means text/plain; charset
//     us-ascii (message/rfc822 for a part of a multipart/digest that has
//     no Content-Type at all).
//   - A multipart without a usable boundary parameter is a leaf with the
//     default type, text/plain.
//   - A boundary matches a line that starts with "--" and the boundary
//     (RFC 2046 requires only the prefix to match); the innermost and
//     then the longest matching boundary wins. The CRLF before a
//     boundary line belongs to the delimiter.
//   - An unterminated multipart ends where its parent ends (at the next
//     boundary of an enclosing multipart, or at the end of the message);
//     a boundary of an enclosing multipart also ends every part inside.
//   - A multipart whose boundary never occurs has no parts; BODYSTRUCTURE
//     shows one empty text/plain part, as Dovecot does.
//   - Multiparts and embedded messages nested deeper than 100 levels are
//     leaves of type application/octet-stream; after 10,000 parts no more
//     boundaries are recognised.
//   - Header lines without a colon are skipped; a header without the blank
//     line ends at the end of the content (or at a boundary line).
//   - Bare LF line endings are accepted wherever CRLF is expected; sizes
//     are the actual octet counts.
//   - Parameters are parsed leniently (comments, odd spacing, unquoted
//     values with specials) and kept as written, except that RFC 2231
//     continuations are merged as Dovecot merges them: name*0, name*1...
//     become "name"; if a piece is extended (name*0*=utf-8'en'...), the
//     result is "name*" with the charset'language' prefix and the
//     percent-encoding kept (a plain first piece gets an empty prefix,
//     two apostrophes); a
//     single name* passes through. Pieces with gaps stay as they are.
//     Values are never decoded (IMAP sends them as given; a client that
//     wants the file name decodes the "*" form).
//
// Parse fails only if reading r fails.
func Parse(r io.ReaderAt, size int64) (*Structure, error) {
	if size < 0 {
		size = 0
	}
	w := newWindow(r, 0, size)
	defer w.release()
	return parse(w, size)
}

// parse is Parse reading through w.
func parse(w *window, size int64) (*Structure, error) {
	p := parserPool.Get().(*parser)
	defer p.release()
	p.w, p.size = w, size
	// The Structure, its root part and the root's envelope come in one
	// allocation.
	a := &struct {
		s    Structure
		root part
		env  envelope
	}{}
	root := &a.root
	root.env = &a.env
	p.nparts = 1
	p.parsePart(root, 0, 0, true, false)
	if p.w.err != nil {
		return nil, p.w.err
	}
	s := &a.s
	s.size, s.root, s.fields = size, root, p.topFields
	if v, ok := s.HeaderValue("Date"); ok {
		if t, ok := parseDate(v); ok {
			_, off := t.Zone()
			s.dateOK, s.dateUnix, s.dateOff = true, t.Unix(), int32(off)
		}
	}
	return s, nil
}

// parser holds the state of one Parse. Parsers are reused through
// parserPool: nothing that a Structure keeps may point into their
// buffers.
type parser struct {
	w        *window
	size     int64
	stack    []boundary // active boundaries, innermost last
	lastID   int        // the id of the last boundary pushed
	nparts   int
	overflow bool   // maxParts reached: boundaries are no longer recognised
	kept     int    // header bytes kept so far
	arena    []byte // names and values of the fields of the header being read

	topFields []field

	// Scratch space, reused from header to header and from Parse to Parse.
	raw   []rawField // the fields of the header being read
	fs    []field    // the same, interpreted
	ids   []fieldID  // which kept field each of fs is
	prm   []param    // the parameters being read
	kids  []*part    // the children of the multiparts being parsed, innermost last
	addrs addrScratch
}

var parserPool = sync.Pool{New: func() any { return new(parser) }}

// release clears p, keeping its buffers unless they grew large, and puts
// it back in parserPool.
func (p *parser) release() {
	*p = parser{
		stack: reuse(p.stack, 64),
		arena: reuse(p.arena, maxPooledBuf),
		raw:   reuse(p.raw, 256),
		fs:    reuse(p.fs, 256),
		ids:   reuse(p.ids, 256),
		prm:   reuse(p.prm, maxParams),
		kids:  reuse(p.kids, 256),
		addrs: p.addrs.reset(),
	}
	parserPool.Put(p)
}

// reuse returns b emptied for reuse from a pool, its elements zeroed so
// that it keeps nothing alive, or nil if it has room for more than max
// elements (a hostile message's buffers are not kept).
func reuse[T any](b []T, max int) []T {
	if cap(b) > max {
		return nil
	}
	clear(b[:cap(b)])
	return b[:0]
}

// boundary is an active multipart boundary; id tells apart boundaries
// that are written the same.
type boundary struct {
	b  string
	id int
}

// hit is a boundary line found while scanning; the zero hit (b.id 0) is
// none.
type hit struct {
	b       boundary
	close   bool  // "--boundary--"
	end     int64 // where the part(s) being scanned end: before the CRLF that precedes the line
	lfEnd   int64 // LF octets in content[:end]
	lineEnd int64 // just after the boundary line
}

// found reports whether h is a boundary line.
func (h hit) found() bool { return h.b.id != 0 }

// parsePart parses the part whose header starts at start, and its
// descendants. msgLevel marks a message (the root or an embedded message)
// whose header also feeds ENVELOPE; inDigest marks a part of a
// multipart/digest. It returns the boundary line that ended the part, or
// nil at the end of the content.
func (p *parser) parsePart(pt *part, start int64, depth int, msgLevel, inDigest bool) hit {
	pt.hdrOff = start
	bodyOff, h := p.readHeader(start, msgLevel)
	if h.found() {
		// A boundary line cut the header short: the part has no body.
		pt.bodyOff, pt.end = h.end, h.end
		p.interpret(pt, depth, msgLevel, inDigest)
		if pt.kind == kindMessage {
			// An embedded message with neither header nor body.
			child := newMessageChild(pt)
			child.hdrOff, child.bodyOff, child.end = pt.end, pt.end, pt.end
			p.nparts++
		}
		return h
	}
	pt.bodyOff = bodyOff
	lfBody := p.w.lfAt(bodyOff)
	bnd := p.interpret(pt, depth, msgLevel, inDigest)

	switch pt.kind {
	case kindMultipart:
		h = p.parseMultipart(pt, bnd, depth)
	case kindMessage:
		child := newMessageChild(pt)
		p.nparts++
		h = p.parsePart(child, bodyOff, depth+1, true, false)
	default:
		h = p.scan(bodyOff)
	}
	if h.found() {
		pt.end = h.end
		pt.lines = h.lfEnd - lfBody
	} else {
		pt.end = p.size
		pt.lines = p.w.lfAt(p.size) - lfBody
	}
	return h
}

// newMessageChild gives the message/rfc822 part pt its embedded message,
// allocated with its envelope and pt's children list.
func newMessageChild(pt *part) *part {
	a := &struct {
		child part
		env   envelope
		list  [1]*part
	}{}
	a.child.env = &a.env
	a.list[0] = &a.child
	pt.children = a.list[:]
	return &a.child
}

// parseMultipart parses the body of a multipart with boundary b: the
// preamble, the parts, and the epilogue.
func (p *parser) parseMultipart(pt *part, b string, depth int) hit {
	p.lastID++
	own := boundary{b: b, id: p.lastID}
	p.stack = append(p.stack, own)
	// The children are gathered on p.kids (above those of the enclosing
	// multiparts) and get a slice of their own at the end.
	first := len(p.kids)
	defer func() {
		p.pop(own)
		if n := len(p.kids) - first; n > 0 {
			pt.children = make([]*part, n)
			copy(pt.children, p.kids[first:])
			clear(p.kids[first:])
			p.kids = p.kids[:first]
		}
	}()

	inDigest := strings.EqualFold(pt.sub, "digest")
	h := p.scan(pt.bodyOff) // preamble
	for h.found() && h.b.id == own.id {
		if h.close {
			p.pop(own)
			return p.scan(h.lineEnd) // epilogue
		}
		if p.nparts >= maxParts {
			p.overflow = true
			return hit{}
		}
		child := &part{}
		p.kids = append(p.kids, child)
		p.nparts++
		h = p.parsePart(child, h.lineEnd, depth+1, false, inDigest)
	}
	return h
}

// pop removes b and any boundary pushed after it from the stack.
func (p *parser) pop(b boundary) {
	for i := len(p.stack) - 1; i >= 0; i-- {
		if p.stack[i].id == b.id {
			p.stack = p.stack[:i]
			return
		}
	}
}

// demote turns a part that cannot be split into a leaf of the given type
// (typ "" and sub "" for the default text/plain).
func (p *parser) demote(pt *part, typ, sub string) {
	pt.kind = kindLeaf
	pt.children = nil
	if typ == "text" {
		pt.typ, pt.sub, pt.params = "", "", nil
		return
	}
	pt.typ, pt.sub, pt.params = typ, sub, nil
}

// scan looks for the next boundary line from from (a line start) on. It
// returns nil at the end of the content.
func (p *parser) scan(from int64) hit {
	if len(p.stack) == 0 || p.overflow {
		return hit{}
	}
	if h := p.match(from, from); h.found() {
		return h
	}
	pos := from
	for {
		b := p.w.peek(pos, 3)
		if len(b) < 3 {
			return hit{}
		}
		i := bytes.Index(b, delimStart)
		if i < 0 {
			pos += int64(len(b) - 2)
			continue
		}
		ls := pos + int64(i) + 1
		if h := p.match(ls, from); h.found() {
			return h
		}
		pos = ls
	}
}

var delimStart = []byte("\n--")

// match checks whether the line at ls is a boundary line of an active
// multipart; from is where the scan for the current part started.
func (p *parser) match(ls, from int64) hit {
	if len(p.stack) == 0 || p.overflow {
		return hit{}
	}
	line := p.w.peek(ls, 2+maxBoundary+2)
	if len(line) < 2 || line[0] != '-' || line[1] != '-' {
		return hit{}
	}
	rest := line[2:]
	best := -1
	for i := len(p.stack) - 1; i >= 0; i-- {
		b := p.stack[i].b
		if len(rest) >= len(b) && string(rest[:len(b)]) == b && (best < 0 || len(b) > len(p.stack[best].b)) {
			best = i
		}
	}
	if best < 0 {
		return hit{}
	}
	rest = rest[len(p.stack[best].b):]
	h := hit{b: p.stack[best], close: len(rest) >= 2 && rest[0] == '-' && rest[1] == '-'}
	h.end, h.lfEnd = ls, p.w.lfAt(ls)
	if ls > from {
		// The newline before the line belongs to the delimiter.
		h.end--
		h.lfEnd--
		if h.end > from && p.w.byteAt(h.end-1) == '\r' {
			h.end--
		}
	}
	h.lineEnd = p.w.lineEnd(ls + 2 + int64(len(h.b.b)))
	return h
}

// maxFieldName is the longest field name recognised; a line whose colon
// comes later is skipped as it would be if it had none.
const maxFieldName = 100

// rawField is a header field read by readHeader: where its name and its
// value (CR and LF removed, folding whitespace kept, not yet trimmed) lie
// in parser.arena.
type rawField struct {
	nameStart, nameEnd, valStart, valEnd int
}

// readHeader reads the header starting at start into p.raw and p.arena
// (the fields of interest). It returns the offset of the body (just after
// the blank line), or a hit if a boundary line interrupts the header.
func (p *parser) readHeader(start int64, msgLevel bool) (int64, hit) {
	p.arena = p.arena[:0]
	p.raw = p.raw[:0]
	cont := false // whether a continuation line extends the last field
	pos := start
	for pos < p.size {
		if h := p.match(pos, start); h.found() {
			return 0, h
		}
		b := p.w.peek(pos, maxFieldName+1)
		if len(b) == 0 {
			return p.size, hit{}
		}
		// Blank line: end of header.
		if b[0] == '\n' {
			return pos + 1, hit{}
		}
		if b[0] == '\r' && len(b) > 1 && b[1] == '\n' {
			return pos + 2, hit{}
		}
		if b[0] == ' ' || b[0] == '\t' {
			// Continuation of the previous field.
			if cont {
				f := &p.raw[len(p.raw)-1]
				pos = p.appendLine(f.valStart, pos)
				f.valEnd = len(p.arena)
			} else {
				pos = p.w.lineEnd(pos)
			}
			continue
		}
		cont = false
		head := b[:min(len(b), maxFieldName+1)] // look no further than a name can reach
		i := bytes.IndexByte(head, ':')
		nl := bytes.IndexByte(head, '\n')
		if i < 0 || (nl >= 0 && nl < i) || i > maxFieldName {
			// Not a field (no colon on the line): skip it.
			pos = p.w.lineEnd(pos)
			continue
		}
		name := bytes.TrimRight(b[:i], " \t")
		if keepField(name, msgLevel) && p.kept < maxKeptTotal {
			f := rawField{nameStart: len(p.arena)}
			p.arena = append(p.arena, name...)
			f.nameEnd = len(p.arena)
			f.valStart = f.nameEnd
			pos = p.appendLine(f.valStart, pos+int64(i)+1)
			f.valEnd = len(p.arena)
			p.raw = append(p.raw, f)
			cont = true
			continue
		}
		pos = p.w.lineEnd(pos)
	}
	return p.size, hit{}
}

// appendLine appends the line from pos to its end to the arena, without
// CR and LF and within the bounds on kept bytes (for the field value that
// starts at valStart), and returns the offset of the next line.
func (p *parser) appendLine(valStart int, pos int64) int64 {
	for pos < p.size {
		b := p.w.peek(pos, 1)
		if len(b) == 0 {
			return p.size
		}
		seg, done := b, false
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			seg, done = b[:i+1], true
		}
		pos += int64(len(seg))
		room := min(maxFieldValue-(len(p.arena)-valStart), maxKeptTotal-p.kept)
		keep := seg
		if len(keep) > room {
			keep = keep[:max(room, 0)]
		}
		if n := len(keep); n > 0 && keep[n-1] == '\n' {
			keep = keep[:n-1]
		}
		if n := len(keep); n > 0 && keep[n-1] == '\r' {
			keep = keep[:n-1]
		}
		if bytes.IndexByte(keep, '\r') < 0 {
			p.arena = append(p.arena, keep...)
			p.kept += len(keep)
		} else {
			for _, c := range keep {
				if c != '\r' {
					p.arena = append(p.arena, c)
					p.kept++
				}
			}
		}
		if done {
			return pos
		}
	}
	return p.size
}

// keepField reports whether a header field is interpreted: the Content-*
// fields of every part, plus the ENVELOPE and other kept fields of
// messages.
func keepField(name []byte, msgLevel bool) bool {
	if len(name) > 8 && asciiHasPrefixFold(name, "content-") {
		return true
	}
	if !msgLevel {
		return false
	}
	for _, k := range keptNames {
		if len(k) == len(name) && asciiEqualFold(name, k) {
			return true
		}
	}
	return false
}

func asciiHasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && asciiEqualFold(b[:len(prefix)], prefix)
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c, d := b[i], s[i]
		if c == d {
			continue
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}

// interpret fills in the part's type and Content-* data (and envelope for
// messages) from its header fields (p.raw), and decides its kind. For a
// multipart it returns the boundary.
func (p *parser) interpret(pt *part, depth int, msgLevel, inDigest bool) string {
	var ctSeen bool
	var bnd string
	seen := 0 // bit per Content-* field already taken (first wins)
	fs, ids := p.fs[:0], p.ids[:0]
	arena := string(p.arena) // one allocation for all names and values
	for _, f := range p.raw {
		name := arena[f.nameStart:f.nameEnd]
		fs = append(fs, field{name: name, value: strings.TrimSpace(arena[f.valStart:f.valEnd])})
		ids = append(ids, fieldIDOf(name))
	}
	p.fs, p.ids = fs, ids
	for i, f := range fs {
		v := f.value
		switch ids[i] {
		case idContentType:
			if ctSeen {
				continue
			}
			ctSeen = true
			typ, sub, params, ok := parseContentType(v, &p.prm)
			if ok {
				pt.typ, pt.sub, pt.params = typ, sub, params
			}
		case idContentTransferEncoding:
			if once(&seen, 0) {
				pt.enc = firstToken(v)
			}
		case idContentID:
			if once(&seen, 1) {
				pt.id = v
			}
		case idContentDescription:
			if once(&seen, 2) {
				pt.desc = v
			}
		case idContentMD5:
			if once(&seen, 3) {
				pt.md5 = v
			}
		case idContentLocation:
			if once(&seen, 4) {
				pt.loc = v
			}
		case idContentDisposition:
			if once(&seen, 5) {
				pt.disp, pt.dispParams = parseDisposition(v, &p.prm)
			}
		case idContentLanguage:
			if once(&seen, 6) {
				pt.lang = parseLanguage(v)
			}
		}
	}
	if msgLevel {
		p.buildEnvelope(pt.env, fs, ids)
		if depth == 0 {
			p.topFields = topFields(fs, ids)
		}
	}

	switch {
	case pt.typ == "":
		// The default type: message/rfc822 in a digest when there is no
		// Content-Type at all, text/plain otherwise.
		if inDigest && !ctSeen {
			pt.kind = kindMessage
		}
	case strings.EqualFold(pt.typ, "multipart"):
		for _, pr := range pt.params {
			if strings.EqualFold(pr.name, "boundary") && pr.value != "" {
				bnd = pr.value
				if len(bnd) > maxBoundary {
					bnd = bnd[:maxBoundary]
				}
				break
			}
		}
		if bnd == "" {
			p.demote(pt, "text", "plain")
			return ""
		}
		pt.kind = kindMultipart
	case strings.EqualFold(pt.typ, "message") &&
		(strings.EqualFold(pt.sub, "rfc822") || strings.EqualFold(pt.sub, "global")):
		pt.kind = kindMessage
	}
	if pt.kind != kindLeaf && (depth >= maxDepth || p.nparts >= maxParts) {
		p.demote(pt, "application", "octet-stream")
		return ""
	}
	return bnd
}

// once reports whether bit i of *seen was clear, and sets it.
func once(seen *int, i uint) bool {
	if *seen&(1<<i) != 0 {
		return false
	}
	*seen |= 1 << i
	return true
}

// topFields returns the kept top-level fields (ids tells which fields
// are), first occurrence of each, in a slice of their own.
func topFields(fields []field, ids []fieldID) []field {
	var buf [len(keptNames)]field // one per kept name at most
	out := buf[:0]
	var seen uint32 // bit per fieldID
	for i, f := range fields {
		if id := ids[i]; id != idOther && seen&(1<<id) == 0 {
			seen |= 1 << id
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return append([]field(nil), out...)
}

package imapmsg

import (
	"strings"
)

// maxAddresses bounds the addresses kept per address field.
const maxAddresses = 10000

// buildEnvelope fills in env, the ENVELOPE data of a message, from its
// header fields (ids tells which kept field each one is); the first
// occurrence of each field wins. The address lists share one allocation.
func (p *parser) buildEnvelope(env *envelope, fields []field, ids []fieldID) {
	sc := &p.addrs
	sc.out = sc.out[:0]
	var lists [6]struct{ start, end int } // from, sender, reply-to, to, cc, bcc
	parse := func(i int, v string) {
		lists[i].start = len(sc.out)
		sc.parseAddressList(v)
		lists[i].end = len(sc.out)
	}
	var seen uint16
	for i, f := range fields {
		var bit uint16
		switch ids[i] {
		case idDate:
			bit = 1 << 0
			if seen&bit == 0 {
				env.date = f.value
				env.has |= envDate
			}
		case idSubject:
			bit = 1 << 1
			if seen&bit == 0 {
				env.subject = f.value
				env.has |= envSubject
			}
		case idInReplyTo:
			bit = 1 << 2
			if seen&bit == 0 {
				env.inReplyTo = f.value
				env.has |= envInReplyTo
			}
		case idMessageID:
			bit = 1 << 3
			if seen&bit == 0 {
				env.messageID = f.value
				env.has |= envMessageID
			}
		case idFrom:
			bit = 1 << 4
			if seen&bit == 0 {
				parse(0, f.value)
			}
		case idSender:
			bit = 1 << 5
			if seen&bit == 0 {
				parse(1, f.value)
			}
		case idReplyTo:
			bit = 1 << 6
			if seen&bit == 0 {
				parse(2, f.value)
			}
		case idTo:
			bit = 1 << 7
			if seen&bit == 0 {
				parse(3, f.value)
			}
		case idCc:
			bit = 1 << 8
			if seen&bit == 0 {
				parse(4, f.value)
			}
		case idBcc:
			bit = 1 << 9
			if seen&bit == 0 {
				parse(5, f.value)
			}
		}
		seen |= bit
	}
	if len(sc.out) == 0 {
		return
	}
	all := make([]address, len(sc.out))
	copy(all, sc.out)
	for i, l := range [...]*[]address{&env.from, &env.sender, &env.replyTo, &env.to, &env.cc, &env.bcc} {
		if r := lists[i]; r.end > r.start {
			*l = all[r.start:r.end:r.end]
		}
	}
}

// addrScratch holds the buffers of address parsing, reused from message
// to message.
type addrScratch struct {
	out   []address // the addresses of the envelope being built
	words []string  // the words of the phrase being read
}

// reset returns sc emptied for reuse: nothing it holds stays reachable.
func (sc addrScratch) reset() addrScratch {
	return addrScratch{out: reuse(sc.out, 256), words: reuse(sc.words, 64)}
}

// isAtext reports whether c may appear in an atom (RFC 5322 atext);
// octets above 127 are accepted (RFC 6532).
func isAtext(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', ':', ';', '@', '\\', ',', '.', '"', ' ', '\t', '\r', '\n':
		return false
	}
	return c > 0x20 && c != 0x7f
}

// addrParser parses an address list leniently into ENVELOPE addresses,
// appended to sc.out.
type addrParser struct {
	lexer
	sc    *addrScratch
	first int // the index in sc.out of the list's first address
}

func (p *addrParser) add(a address) { p.sc.out = append(p.sc.out, a) }

// parseAddressList parses an RFC 5322 address-list (with the obsolete
// forms and common mistakes) into ENVELOPE address structures: groups
// become a start and an end marker, a mailbox without a domain gets an
// empty host, and a trailing comment names an address that has no
// display name (as Dovecot does). Strings are kept raw: encoded words
// are not decoded, but quoting is removed.
//
// The addresses are appended to sc.out.
func (sc *addrScratch) parseAddressList(v string) {
	p := addrParser{lexer: lexer{s: v}, sc: sc, first: len(sc.out)}
	inGroup := false
	for !p.eof() && len(sc.out)-p.first < maxAddresses {
		p.skipCFWS()
		if p.eof() {
			break
		}
		switch p.peek() {
		case ',':
			p.i++
		case ';':
			p.i++
			if inGroup {
				p.add(address{kind: addrGroupEnd})
				inGroup = false
			}
		default:
			start := p.i
			if p.mailbox(&inGroup) {
				continue
			}
			if p.i == start {
				p.i++ // a stray special: skip it
			}
		}
	}
	if inGroup {
		p.add(address{kind: addrGroupEnd})
	}
}

// mailbox parses one mailbox (or the start of a group) and reports
// whether it produced something.
func (p *addrParser) mailbox(inGroup *bool) bool {
	start := p.i
	words := p.sc.words[:0]
	defer func() { p.sc.words = words }()
	comment := ""
	for !p.eof() {
		if c := p.skipCFWS(); c != "" {
			comment = c
		}
		c := p.peek()
		switch {
		case c == '"':
			words = append(words, p.quoted())
		case c == '.':
			// Obsolete phrase: dots between words.
			p.i++
			if len(words) > 0 {
				words[len(words)-1] += "."
			} else {
				words = append(words, ".")
			}
		case isAtext(c):
			s := p.i
			for p.i < len(p.s) && isAtext(p.s[p.i]) {
				p.i++
			}
			words = append(words, p.s[s:p.i])
		case c == '<':
			p.i++
			a := p.angleAddr()
			a.name = joinPhrase(words)
			p.add(a)
			p.skipTrailing()
			return true
		case c == ':' && !*inGroup:
			p.i++
			p.add(address{kind: addrGroupStart, mailbox: joinPhrase(words)})
			*inGroup = true
			return true
		case c == '@':
			// An addr-spec: the words so far were the local part.
			p.i = start
			a := p.addrSpec()
			a.name = comment
			if c := p.skipCFWS(); c != "" {
				a.name = c
			}
			p.add(a)
			p.skipTrailing()
			return true
		default:
			// ',' ';' end, or a stray special: a mailbox without domain.
			if len(words) == 0 {
				return false
			}
			p.add(address{mailbox: joinPhrase(words), name: comment})
			return true
		}
	}
	if len(words) == 0 {
		return false
	}
	p.add(address{mailbox: joinPhrase(words), name: comment})
	return true
}

// skipTrailing skips junk after a complete address up to the next ',' or
// ';'.
func (p *addrParser) skipTrailing() {
	for !p.eof() {
		p.skipCFWS()
		if p.eof() {
			return
		}
		switch p.peek() {
		case ',', ';':
			return
		case '"':
			p.quoted()
		default:
			p.i++
		}
	}
}

// angleAddr parses the inside of <...> (after '<'): an optional obsolete
// route, local part and domain.
func (p *addrParser) angleAddr() address {
	var a address
	p.skipCFWS()
	if p.peek() == '@' {
		// obs-route: "@a,@b:"
		s := p.i
		for p.i < len(p.s) && p.s[p.i] != ':' && p.s[p.i] != '>' {
			p.i++
		}
		if p.peek() == ':' {
			a.adl = strings.Map(dropSpace, p.s[s:p.i])
			p.i++
		} else {
			p.i = s
		}
	}
	spec := p.addrSpec()
	a.mailbox, a.host = spec.mailbox, spec.host
	// Skip to and past '>'.
	for !p.eof() && p.peek() != '>' {
		if p.peek() == '"' {
			p.quoted()
			continue
		}
		if p.peek() == ',' && !strings.Contains(p.s[p.i:], ">") {
			return a // unterminated <: stop at the next address
		}
		p.i++
	}
	if p.peek() == '>' {
		p.i++
	}
	return a
}

// addrSpec parses local-part ["@" domain], leniently.
func (p *addrParser) addrSpec() address {
	var a address
	local := span{src: p.s}
	for !p.eof() {
		p.skipCFWS()
		c := p.peek()
		if c == '"' {
			local.add(p.quoted())
			continue
		}
		if c == '.' {
			local.addSrc(p.i, p.i+1)
			p.i++
			continue
		}
		if isAtext(c) {
			s := p.i
			for p.i < len(p.s) && isAtext(p.s[p.i]) {
				p.i++
			}
			local.addSrc(s, p.i)
			continue
		}
		break
	}
	a.mailbox = local.String()
	p.skipCFWS()
	if p.peek() != '@' {
		return a
	}
	p.i++
	p.skipCFWS()
	host := span{src: p.s}
	for !p.eof() {
		c := p.peek()
		if c == '[' {
			s := p.i
			for p.i < len(p.s) && p.s[p.i] != ']' {
				p.i++
			}
			if p.i < len(p.s) {
				p.i++
			}
			host.addSrc(s, p.i)
			continue
		}
		if c == '.' || isAtext(c) {
			host.addSrc(p.i, p.i+1)
			p.i++
			continue
		}
		if c == ' ' || c == '\t' || c == '(' {
			// Whitespace or comments inside a domain (obs-domain) only
			// continue it if a dot follows.
			save := p.i
			p.skipCFWS()
			if p.peek() == '.' || (host.endsWithDot() && isAtext(p.peek())) {
				continue
			}
			p.i = save
		}
		break
	}
	a.host = host.String()
	return a
}

// span builds a string from pieces, without copying while the pieces are
// consecutive substrings of src (the usual case: an address without
// comments or quoting inside).
type span struct {
	src        string
	start, end int             // the value is src[start:end], unless copied
	copied     bool            // the value is in b
	b          strings.Builder // the value, once pieces were not consecutive
}

// addSrc appends src[i:j].
func (s *span) addSrc(i, j int) {
	switch {
	case i == j:
	case s.copied:
		s.b.WriteString(s.src[i:j])
	case s.start == s.end:
		s.start, s.end = i, j
	case i == s.end:
		s.end = j
	default:
		s.add(s.src[i:j])
	}
}

// add appends v.
func (s *span) add(v string) {
	if !s.copied {
		s.copied = true
		s.b.WriteString(s.src[s.start:s.end])
	}
	s.b.WriteString(v)
}

// endsWithDot reports whether the value ends with '.'.
func (s *span) endsWithDot() bool {
	if s.copied {
		return s.b.Len() > 0 && strings.HasSuffix(s.b.String(), ".")
	}
	return s.end > s.start && s.src[s.end-1] == '.'
}

func (s *span) String() string {
	if s.copied {
		return s.b.String()
	}
	return s.src[s.start:s.end]
}

// joinPhrase joins the words of a display name with single spaces.
func joinPhrase(words []string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	return strings.Join(words, " ")
}

func dropSpace(r rune) rune {
	if r == ' ' || r == '\t' {
		return -1
	}
	return r
}

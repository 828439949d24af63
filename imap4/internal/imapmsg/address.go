package imapmsg

import (
	"strings"
)

// maxAddresses bounds the addresses kept per address field.
const maxAddresses = 10000

// buildEnvelope builds the ENVELOPE data of a message from its header
// fields; the first occurrence of each field wins.
func buildEnvelope(fields []field) *envelope {
	env := &envelope{}
	var seen uint16
	for _, f := range fields {
		var bit uint16
		switch {
		case strings.EqualFold(f.name, "Date"):
			bit = 1 << 0
			if seen&bit == 0 {
				env.date = f.value
				env.has |= envDate
			}
		case strings.EqualFold(f.name, "Subject"):
			bit = 1 << 1
			if seen&bit == 0 {
				env.subject = f.value
				env.has |= envSubject
			}
		case strings.EqualFold(f.name, "In-Reply-To"):
			bit = 1 << 2
			if seen&bit == 0 {
				env.inReplyTo = f.value
				env.has |= envInReplyTo
			}
		case strings.EqualFold(f.name, "Message-ID"):
			bit = 1 << 3
			if seen&bit == 0 {
				env.messageID = f.value
				env.has |= envMessageID
			}
		case strings.EqualFold(f.name, "From"):
			bit = 1 << 4
			if seen&bit == 0 {
				env.from = parseAddressList(f.value)
			}
		case strings.EqualFold(f.name, "Sender"):
			bit = 1 << 5
			if seen&bit == 0 {
				env.sender = parseAddressList(f.value)
			}
		case strings.EqualFold(f.name, "Reply-To"):
			bit = 1 << 6
			if seen&bit == 0 {
				env.replyTo = parseAddressList(f.value)
			}
		case strings.EqualFold(f.name, "To"):
			bit = 1 << 7
			if seen&bit == 0 {
				env.to = parseAddressList(f.value)
			}
		case strings.EqualFold(f.name, "Cc"):
			bit = 1 << 8
			if seen&bit == 0 {
				env.cc = parseAddressList(f.value)
			}
		case strings.EqualFold(f.name, "Bcc"):
			bit = 1 << 9
			if seen&bit == 0 {
				env.bcc = parseAddressList(f.value)
			}
		}
		seen |= bit
	}
	return env
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

// addrParser parses an address list leniently into ENVELOPE addresses.
type addrParser struct {
	lexer
	out []address
}

// parseAddressList parses an RFC 5322 address-list (with the obsolete
// forms and common mistakes) into ENVELOPE address structures: groups
// become a start and an end marker, a mailbox without a domain gets an
// empty host, and a trailing comment names an address that has no
// display name (as Dovecot does). Strings are kept raw: encoded words
// are not decoded, but quoting is removed.
func parseAddressList(v string) []address {
	p := addrParser{lexer: lexer{s: v}}
	inGroup := false
	for !p.eof() && len(p.out) < maxAddresses {
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
				p.out = append(p.out, address{kind: addrGroupEnd})
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
		p.out = append(p.out, address{kind: addrGroupEnd})
	}
	return p.out
}

// mailbox parses one mailbox (or the start of a group) and reports
// whether it produced something.
func (p *addrParser) mailbox(inGroup *bool) bool {
	start := p.i
	var words []string
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
			p.out = append(p.out, a)
			p.skipTrailing()
			return true
		case c == ':' && !*inGroup:
			p.i++
			p.out = append(p.out, address{kind: addrGroupStart, mailbox: joinPhrase(words)})
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
			p.out = append(p.out, a)
			p.skipTrailing()
			return true
		default:
			// ',' ';' end, or a stray special: a mailbox without domain.
			if len(words) == 0 {
				return false
			}
			p.out = append(p.out, address{mailbox: joinPhrase(words), name: comment})
			return true
		}
	}
	if len(words) == 0 {
		return false
	}
	p.out = append(p.out, address{mailbox: joinPhrase(words), name: comment})
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
	var local strings.Builder
	for !p.eof() {
		p.skipCFWS()
		c := p.peek()
		if c == '"' {
			local.WriteString(p.quoted())
			continue
		}
		if c == '.' {
			local.WriteByte('.')
			p.i++
			continue
		}
		if isAtext(c) {
			s := p.i
			for p.i < len(p.s) && isAtext(p.s[p.i]) {
				p.i++
			}
			local.WriteString(p.s[s:p.i])
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
	var host strings.Builder
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
			host.WriteString(p.s[s:p.i])
			continue
		}
		if c == '.' || isAtext(c) {
			host.WriteByte(c)
			p.i++
			continue
		}
		if c == ' ' || c == '\t' || c == '(' {
			// Whitespace or comments inside a domain (obs-domain) only
			// continue it if a dot follows.
			save := p.i
			p.skipCFWS()
			if p.peek() == '.' || (host.Len() > 0 && strings.HasSuffix(host.String(), ".") && isAtext(p.peek())) {
				continue
			}
			p.i = save
		}
		break
	}
	a.host = host.String()
	return a
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

package smtpwire

import (
	"net/netip"
	"strings"
	"unicode/utf8"
)

// Limits of RFC 5321 §4.5.3.1, in octets.
const (
	maxLocalPart = 64
	maxDomain    = 255
	maxPath      = 256 // including the angle brackets
	maxLabel     = 63
)

// A Path is a parsed reverse-path (MAIL FROM) or forward-path (RCPT TO).
type Path struct {
	// Addr is the mailbox, local-part "@" domain, as the client wrote it
	// (a quoted local part keeps its quotes); empty for the null path.
	Addr string
	// Domain is the part after the last "@" outside quotes, empty for
	// the null path and for the bare "postmaster" recipient.
	Domain string
	// UTF8 reports that the address holds non-ASCII characters, which
	// need the SMTPUTF8 parameter (RFC 6531 §3.4).
	UTF8 bool
}

// Null reports whether p is the null reverse-path "<>".
func (p Path) Null() bool { return p.Addr == "" }

// ParseMailArg parses the argument of MAIL (keyword "FROM") or RCPT
// (keyword "TO"): the keyword, a colon, the path in angle brackets and the
// ESMTP parameters. One or more spaces after the colon are tolerated, as
// most servers do. The bare recipient "<postmaster>" (RFC 5321 §4.1.1.3) is
// accepted, with an empty Domain.
func ParseMailArg(arg, keyword string) (Path, []Param, error) {
	if len(arg) < len(keyword)+1 || !equalFoldASCII([]byte(arg[:len(keyword)]), keyword) || arg[len(keyword)] != ':' {
		return Path{}, nil, ErrSyntax
	}
	s := strings.TrimLeft(arg[len(keyword)+1:], " ")
	p, rest, err := ParsePath(s)
	if err != nil {
		return Path{}, nil, err
	}
	if rest == "" {
		return p, nil, nil
	}
	if rest[0] != ' ' {
		return Path{}, nil, ErrSyntax
	}
	params, err := ParseParams(rest)
	if err != nil {
		return Path{}, nil, err
	}
	return p, params, nil
}

// ParsePath parses a path in angle brackets at the start of s, with an
// optional source route (which is checked and dropped, RFC 5321 §4.1.2 and
// Appendix C), and returns the rest of s after the closing bracket.
func ParsePath(s string) (p Path, rest string, err error) {
	if s == "" || s[0] != '<' {
		return Path{}, "", ErrAddress
	}
	end := closingBracket(s)
	if end < 0 {
		return Path{}, "", ErrAddress
	}
	if end+1 > maxPath {
		return Path{}, "", ErrAddressTooLong
	}
	inner, rest := s[1:end], s[end+1:]
	if inner == "" {
		return Path{}, rest, nil
	}
	if inner[0] == '@' {
		colon := strings.IndexByte(inner, ':')
		if colon < 0 {
			return Path{}, "", ErrAddress
		}
		for _, hop := range strings.Split(inner[:colon], ",") {
			if len(hop) < 2 || hop[0] != '@' || !validDomain(hop[1:], false) {
				return Path{}, "", ErrAddress
			}
		}
		inner = inner[colon+1:]
	}
	p, err = ParseMailbox(inner)
	if err != nil {
		return Path{}, "", err
	}
	return p, rest, nil
}

// closingBracket returns the index of the '>' that closes the path starting
// at s[0], skipping quoted strings, or -1.
func closingBracket(s string) int {
	quoted := false
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == '>':
			return i
		case !quoted && (c == '<' || c == ' '):
			return -1
		}
	}
	return -1
}

// ParseMailbox parses local-part "@" domain (RFC 5321 §4.1.2, with RFC 6531's
// UTF-8), or the bare "postmaster".
func ParseMailbox(s string) (Path, error) {
	if !utf8.ValidString(s) {
		return Path{}, ErrAddress
	}
	if strings.EqualFold(s, "postmaster") {
		return Path{Addr: s}, nil
	}
	at := lastAtOutsideQuotes(s)
	if at <= 0 || at == len(s)-1 {
		return Path{}, ErrAddress
	}
	local, domain := s[:at], s[at+1:]
	if len(local) > maxLocalPart || len(domain) > maxDomain {
		return Path{}, ErrAddressTooLong
	}
	if !validLocalPart(local) {
		return Path{}, ErrAddress
	}
	if domain[0] == '[' {
		if !validAddressLiteral(domain) {
			return Path{}, ErrAddress
		}
	} else if !validDomain(domain, true) {
		return Path{}, ErrAddress
	}
	return Path{Addr: s, Domain: domain, UTF8: hasNonASCII(s)}, nil
}

func lastAtOutsideQuotes(s string) int {
	quoted := false
	at := -1
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == '@':
			at = i
		}
	}
	if quoted {
		return -1
	}
	return at
}

func hasNonASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return true
		}
	}
	return false
}

// validLocalPart checks Dot-string / Quoted-string, with UTF-8 allowed.
func validLocalPart(s string) bool {
	if s[0] == '"' {
		if len(s) < 2 || s[len(s)-1] != '"' {
			return false
		}
		for i := 1; i < len(s)-1; i++ {
			c := s[i]
			switch {
			case c == '\\':
				i++
				if i >= len(s)-1 || s[i] < 32 || s[i] > 126 {
					return false
				}
			case c == '"':
				return false
			case c < 32 || c == 127:
				return false
			}
		}
		return true
	}
	prevDot := true // no leading dot
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			if prevDot {
				return false
			}
			prevDot = true
			continue
		}
		if !isAtext(c) {
			return false
		}
		prevDot = false
	}
	return !prevDot
}

func isAtext(c byte) bool {
	if isAlpha(c) || isDigit(c) || c >= 0x80 {
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// validDomain checks a dot-separated list of labels made of letters, digits
// and inner hyphens (RFC 5321 sub-domain), or of UTF-8 (U-labels, RFC 6531)
// when utf8OK.
func validDomain(s string, utf8OK bool) bool {
	if s == "" || len(s) > maxDomain {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > maxLabel {
			return false
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if isAlpha(c) || isDigit(c) || c == '-' || (utf8OK && c >= 0x80) {
				continue
			}
			return false
		}
	}
	return true
}

// validAddressLiteral checks "[" IPv4 / "IPv6:" IPv6 / tag ":" content "]".
func validAddressLiteral(s string) bool {
	if len(s) < 3 || s[0] != '[' || s[len(s)-1] != ']' {
		return false
	}
	inner := s[1 : len(s)-1]
	if tag, rest, ok := strings.Cut(inner, ":"); ok {
		if strings.EqualFold(tag, "IPv6") {
			a, err := netip.ParseAddr(rest)
			return err == nil && a.Is6() && a.Zone() == ""
		}
		// General-address-literal: Standardized-tag ":" 1*dcontent.
		if tag == "" || rest == "" || !validDomain(tag, false) {
			return false
		}
		for i := 0; i < len(rest); i++ {
			if c := rest[i]; c < 33 || c > 126 || c == '[' || c == '\\' || c == ']' {
				return false
			}
		}
		return true
	}
	a, err := netip.ParseAddr(inner)
	return err == nil && a.Is4()
}

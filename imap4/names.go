package imap4

import (
	"strings"
	"unicode/utf8"

	"github.com/mailfront/mailfront/imap4/internal/imapwire"
)

// Bounds on mailbox names (ADVERSARIAL I7), applied before the backend
// sees a name.
const (
	maxNameLength  = 1024 // octets of the UTF-8 name
	maxLevelLength = 255  // octets of one level (a file name on most systems)
	maxNameDepth   = 32   // levels
	maxPatternLen  = 1024 // octets of a LIST pattern
)

// utf8Names reports whether mailbox names travel as UTF-8 (IMAP4rev2 or
// UTF8=ACCEPT enabled) rather than modified UTF-7.
func (c *conn) utf8Names() bool { return c.rev2 || c.utf8 }

// decodeName converts a mailbox name as the client sent it to UTF-8:
// modified UTF-7 for IMAP4rev1 clients (raw UTF-8 is tolerated, as some
// clients send it), UTF-8 otherwise.
func (c *conn) decodeName(raw string) (string, error) {
	if c.utf8Names() {
		if !utf8.ValidString(raw) {
			return "", no(string(CodeCannot), "Invalid mailbox name: not UTF-8")
		}
		return raw, nil
	}
	name, err := imapwire.DecodeUTF7(raw)
	if err != nil {
		if hasHighBit(raw) && utf8.ValidString(raw) {
			return raw, nil
		}
		return "", no(string(CodeCannot), "Invalid mailbox name: not modified UTF-7")
	}
	return name, nil
}

func hasHighBit(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return true
		}
	}
	return false
}

// mailboxName decodes and validates a mailbox name argument.
func (c *conn) mailboxName(raw string) (string, error) {
	name, err := c.decodeName(raw)
	if err != nil {
		return "", err
	}
	return validateName(name)
}

// validateName checks a UTF-8 mailbox name and returns it with INBOX
// spelled in upper case: no empty levels (so no leading, trailing or double
// "/"), no "." or ".." levels, no control characters, no "*" or "%", and
// bounded length and depth.
func validateName(name string) (string, error) {
	invalid := func(why string) (string, error) {
		return "", no(string(CodeCannot), "Invalid mailbox name: "+why)
	}
	if name == "" {
		return invalid("empty")
	}
	if len(name) > maxNameLength {
		return invalid("too long")
	}
	if len(name) >= 5 && strings.EqualFold(name[:5], "INBOX") && (len(name) == 5 || name[5] == Delimiter) {
		name = "INBOX" + name[5:]
	}
	depth := 0
	for level := range strings.SplitSeq(name, string(Delimiter)) {
		depth++
		switch {
		case level == "":
			return invalid("empty hierarchy level")
		case level == "." || level == "..":
			return invalid(`"." and ".." are not allowed`)
		case len(level) > maxLevelLength:
			return invalid("hierarchy level too long")
		}
	}
	if depth > maxNameDepth {
		return invalid("too many hierarchy levels")
	}
	for _, r := range name {
		switch {
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return invalid("control character")
		case r == '*' || r == '%':
			return invalid(`"*" and "%" are not allowed`)
		case r == utf8.RuneError:
			return invalid("not UTF-8")
		}
	}
	return name, nil
}

// appendName writes a mailbox name in the session's encoding.
func (c *conn) appendName(name string) {
	if c.utf8Names() {
		c.enc.AString(name, true)
		return
	}
	c.enc.AString(imapwire.EncodeUTF7(name), false)
}

// A matcher matches mailbox names against a LIST pattern, where "*"
// matches anything and "%" anything but the hierarchy delimiter. It
// simulates the pattern as an automaton: O(len(pattern) × len(name)) time,
// no backtracking, and no allocation per name.
type matcher struct {
	pattern   string
	cur, next []bool
}

func newMatcher(pattern string) *matcher {
	return &matcher{pattern: pattern, cur: make([]bool, len(pattern)+1), next: make([]bool, len(pattern)+1)}
}

func isWildcard(c byte) bool { return c == '*' || c == '%' }

// closure lets wildcards match the empty string.
func (m *matcher) closure(set []bool) {
	for i := 0; i < len(m.pattern); i++ {
		if set[i] && isWildcard(m.pattern[i]) {
			set[i+1] = true
		}
	}
}

func (m *matcher) match(name string) bool {
	cur, next := m.cur, m.next
	clear(cur)
	cur[0] = true
	m.closure(cur)
	for j := 0; j < len(name); j++ {
		c := name[j]
		clear(next)
		alive := false
		for i := 0; i < len(m.pattern); i++ {
			if !cur[i] {
				continue
			}
			switch p := m.pattern[i]; {
			case p == '*', p == '%' && c != Delimiter:
				next[i] = true
				alive = true
			case p == c:
				next[i+1] = true
				alive = true
			}
		}
		if !alive {
			return false
		}
		m.closure(next)
		cur, next = next, cur
	}
	return cur[len(m.pattern)]
}

// canonicalPattern joins a LIST reference and pattern and spells an
// INBOX prefix in upper case, as names are.
func canonicalPattern(ref, pattern string) string {
	p := ref + pattern
	if len(p) >= 5 && strings.EqualFold(p[:5], "INBOX") && (len(p) == 5 || p[5] == Delimiter) {
		p = "INBOX" + p[5:]
	}
	return p
}

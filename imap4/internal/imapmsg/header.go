package imapmsg

import (
	"slices"
	"sort"
	"strconv"
	"strings"
)

// lexer is a lenient tokenizer for structured header field values
// (RFC 5322 §3.2, RFC 2045 §5.1). It never fails: malformed input yields
// shorter or empty tokens, and callers skip what they cannot use.
type lexer struct {
	s string
	i int
}

func (l *lexer) eof() bool { return l.i >= len(l.s) }

func (l *lexer) peek() byte {
	if l.i < len(l.s) {
		return l.s[l.i]
	}
	return 0
}

// skipCFWS skips whitespace and comments (nested, with quoted pairs), and
// returns the text of the last comment skipped.
func (l *lexer) skipCFWS() (comment string) {
	for l.i < len(l.s) {
		switch c := l.s[l.i]; c {
		case ' ', '\t', '\r', '\n':
			l.i++
		case '(':
			comment = l.comment()
		default:
			return comment
		}
	}
	return comment
}

// comment reads a comment starting at '(' and returns its text with the
// outer parentheses removed and quoted pairs resolved.
func (l *lexer) comment() string {
	depth := 0
	var b strings.Builder
	for l.i < len(l.s) {
		c := l.s[l.i]
		l.i++
		switch c {
		case '(':
			if depth > 0 {
				b.WriteByte(c)
			}
			depth++
		case ')':
			depth--
			if depth == 0 {
				return strings.TrimSpace(b.String())
			}
			b.WriteByte(c)
		case '\\':
			if l.i < len(l.s) {
				b.WriteByte(l.s[l.i])
				l.i++
			}
		default:
			b.WriteByte(c)
		}
	}
	return strings.TrimSpace(b.String())
}

// isTSpecial reports whether c ends a MIME token (RFC 2045 tspecials,
// space and controls). Octets above 127 are accepted in tokens.
func isTSpecial(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '@', ',', ';', ':', '\\', '"', '/', '[', ']', '?', '=', ' ', '\t', '\r', '\n':
		return true
	}
	return c < 0x20 || c == 0x7f
}

// token reads a MIME token.
func (l *lexer) token() string {
	start := l.i
	for l.i < len(l.s) && !isTSpecial(l.s[l.i]) {
		l.i++
	}
	return l.s[start:l.i]
}

// quoted reads a quoted string starting at '"' and returns its content
// with quoted pairs resolved. An unterminated string runs to the end.
func (l *lexer) quoted() string {
	l.i++ // opening quote
	start := l.i
	// Fast path: no escapes.
	for l.i < len(l.s) {
		switch l.s[l.i] {
		case '"':
			v := l.s[start:l.i]
			l.i++
			return v
		case '\\':
			goto slow
		}
		l.i++
	}
	return l.s[start:]
slow:
	var b strings.Builder
	b.WriteString(l.s[start:l.i])
	for l.i < len(l.s) {
		c := l.s[l.i]
		l.i++
		switch c {
		case '"':
			return b.String()
		case '\\':
			if l.i < len(l.s) {
				b.WriteByte(l.s[l.i])
				l.i++
			}
		case '\r', '\n':
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// skipTo advances to the next occurrence of c (not inside a quoted string
// or comment), or to the end.
func (l *lexer) skipTo(c byte) {
	for l.i < len(l.s) {
		switch l.s[l.i] {
		case c:
			return
		case '"':
			l.quoted()
		case '(':
			l.comment()
		default:
			l.i++
		}
	}
}

// parseContentType parses a Content-Type value: type "/" subtype and
// parameters (see parseParams for scratch). ok is false if type or
// subtype is missing.
func parseContentType(v string, scratch *[]param) (typ, sub string, params []param, ok bool) {
	l := lexer{s: v}
	l.skipCFWS()
	typ = l.token()
	l.skipCFWS()
	if l.peek() != '/' {
		return "", "", nil, false
	}
	l.i++
	l.skipCFWS()
	sub = l.token()
	if typ == "" || sub == "" {
		return "", "", nil, false
	}
	return typ, sub, parseParams(&l, scratch), true
}

// parseDisposition parses a Content-Disposition value (see parseParams
// for scratch).
func parseDisposition(v string, scratch *[]param) (string, []param) {
	l := lexer{s: v}
	l.skipCFWS()
	d := l.token()
	if d == "" {
		return "", nil
	}
	return d, parseParams(&l, scratch)
}

// parseLanguage parses a Content-Language value: a comma-separated list
// of language tags.
func parseLanguage(v string) []string {
	var out []string
	l := lexer{s: v}
	for !l.eof() && len(out) < 100 {
		l.skipCFWS()
		start := l.i
		for l.i < len(l.s) && l.s[l.i] != ',' && l.s[l.i] != '(' && l.s[l.i] != ' ' && l.s[l.i] != '\t' {
			l.i++
		}
		if t := l.s[start:l.i]; t != "" {
			out = append(out, t)
		}
		l.skipCFWS()
		if l.peek() == ',' {
			l.i++
		} else if !l.eof() && l.i == start {
			l.i++
		}
	}
	return out
}

// firstToken returns the first token of a value, without comments
// (Content-Transfer-Encoding).
func firstToken(v string) string {
	l := lexer{s: v}
	l.skipCFWS()
	return l.token()
}

// maxParams bounds the parameters kept per field.
const maxParams = 100

// parseParams parses the ";"-separated parameters that follow a media
// type or disposition, leniently, and merges RFC 2231 continuations the
// way Dovecot does: name*0, name*1... become one parameter "name"; if any
// piece is extended (name*0*=charset'lang'value), the result is "name*"
// with the charset'language' prefix and percent-encoding kept, the plain
// pieces percent-encoded as needed. A single extended parameter name* is
// passed through as it is. Parameter values are never decoded further.
//
// The parameters are gathered in *scratch (which keeps its capacity for
// the next call) and returned in a slice of their own.
func parseParams(l *lexer, scratch *[]param) []param {
	raw := (*scratch)[:0]
	defer func() { *scratch = raw }()
	for !l.eof() && len(raw) < maxParams {
		l.skipTo(';')
		if l.eof() {
			break
		}
		l.i++ // ';'
		l.skipCFWS()
		name := l.token()
		if name == "" {
			continue
		}
		l.skipCFWS()
		if l.peek() != '=' {
			continue
		}
		l.i++
		l.skipCFWS()
		var value string
		if l.peek() == '"' {
			value = l.quoted()
		} else {
			start := l.i
			// Lenient: a value runs to ';' or whitespace, so that values
			// with tspecials (unquoted file names) survive.
			for l.i < len(l.s) && l.s[l.i] != ';' && l.s[l.i] != ' ' && l.s[l.i] != '\t' && l.s[l.i] != '(' {
				l.i++
			}
			value = l.s[start:l.i]
		}
		raw = append(raw, param{name: name, value: value})
	}
	if len(raw) == 0 {
		return nil
	}
	if out := merge2231(raw); &out[0] != &raw[0] {
		return out // merged: a slice of its own
	}
	return append([]param(nil), raw...)
}

// contPiece is one piece of an RFC 2231 parameter.
type contPiece struct {
	base     string // the name without "*N" and "*"
	name     string // the name as written
	n        int
	extended bool
	value    string
}

// merge2231 merges RFC 2231 parameters (see parseParams), as Dovecot
// does: the plain parameters first, in order, then one parameter per
// name (in name order) merged from its pieces. Pieces that do not
// number 0, 1, 2... without gaps stay as they are.
func merge2231(raw []param) []param {
	if !slices.ContainsFunc(raw, func(p param) bool { return strings.IndexByte(p.name, '*') > 0 }) {
		return raw // no continuations (splitContinuation needs a '*' after the name)
	}
	var pieces []contPiece
	var out []param
	for _, p := range raw {
		if pc, ok := splitContinuation(p.name); ok {
			pc.name, pc.value = p.name, p.value
			pieces = append(pieces, pc)
			continue
		}
		out = append(out, p)
	}
	if len(pieces) == 0 {
		return raw
	}
	sort.SliceStable(pieces, func(i, j int) bool {
		a, b := strings.ToLower(pieces[i].base), strings.ToLower(pieces[j].base)
		if a != b {
			return a < b
		}
		return pieces[i].n < pieces[j].n
	})
	for i := 0; i < len(pieces); {
		j, ok, extended := i, true, false
		for ; j < len(pieces) && strings.EqualFold(pieces[j].base, pieces[i].base); j++ {
			if pieces[j].n != j-i {
				ok = false
			}
			extended = extended || pieces[j].extended
		}
		group := pieces[i:j]
		i = j
		if !ok {
			for _, pc := range group {
				out = append(out, param{name: pc.name, value: pc.value})
			}
			continue
		}
		var b strings.Builder
		if extended && !group[0].extended {
			b.WriteString("''") // no charset, no language
		}
		for _, pc := range group {
			if extended && !pc.extended {
				b.WriteString(strings.ReplaceAll(pc.value, "%", "%25"))
			} else {
				b.WriteString(pc.value)
			}
		}
		name := group[0].base
		if extended {
			name += "*"
		}
		out = append(out, param{name: name, value: b.String()})
	}
	return out
}

// splitContinuation splits a parameter name of the form base*, base*N or
// base*N* (N a decimal number below 1000).
func splitContinuation(name string) (contPiece, bool) {
	var pc contPiece
	star := strings.IndexByte(name, '*')
	if star <= 0 {
		return pc, false
	}
	pc.base = name[:star]
	rest := name[star+1:]
	if strings.HasSuffix(rest, "*") {
		pc.extended = true
		rest = rest[:len(rest)-1]
	} else if rest == "" {
		pc.extended = true // "name*": a single extended value
	}
	if rest != "" {
		if len(rest) > 3 || !allDigits(rest) {
			return pc, false
		}
		pc.n, _ = strconv.Atoi(rest)
	}
	return pc, true
}

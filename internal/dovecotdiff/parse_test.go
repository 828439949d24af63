package dovecotdiff_test

import (
	"fmt"
	"strconv"
	"strings"
)

// A node is one element of a parsed IMAP response.
type node struct {
	kind nodeKind
	text string  // atom, string (decoded) or text
	list []*node // list elements, or a response code's parts
	lit8 bool    // a string sent as a literal8 (~{n})
}

type nodeKind int

const (
	atomNode   nodeKind = iota
	stringNode          // quoted string or literal: the same value
	nilNode
	listNode
	codeNode // [response code] of a status response
	textNode // the human-readable text of a status response
)

func (n *node) isAtom(s string) bool { return n.kind == atomNode && strings.EqualFold(n.text, s) }

// String renders the node canonically: strings quoted the same way
// whichever form they came in.
func (n *node) String() string {
	switch n.kind {
	case atomNode:
		return n.text
	case stringNode:
		if n.lit8 {
			// Whether BINARY data goes as a literal8 is compared
			// (RFC 3516 §4.3); whether a string is quoted or a
			// literal is the server's choice and is not.
			return "~" + strconv.Quote(n.text)
		}
		return strconv.Quote(n.text)
	case nilNode:
		return "NIL"
	case listNode:
		return "(" + joinNodes(n.list) + ")"
	case codeNode:
		return "[" + joinNodes(n.list) + "]"
	default:
		return "{text " + strconv.Quote(n.text) + "}"
	}
}

func joinNodes(ns []*node) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = n.String()
	}
	return strings.Join(parts, " ")
}

// parser reads the nodes of one response (with its literals inline, as
// imapClient.readResponse returns it).
type parser struct {
	s   string
	pos int
	err error
}

func (p *parser) fail(format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf("at %d: %s", p.pos, fmt.Sprintf(format, args...))
	}
	p.pos = len(p.s)
}

func (p *parser) skipSpaces() {
	for p.pos < len(p.s) && p.s[p.pos] == ' ' {
		p.pos++
	}
}

func (p *parser) atEnd() bool {
	return p.pos >= len(p.s) || p.s[p.pos] == '\r' || p.s[p.pos] == '\n'
}

// parseResponse splits a response into its nodes: the tag, and for a
// status response (OK, NO, BAD, BYE, PREAUTH) the status word, an optional
// code node and a text node; for anything else, every element.
func parseResponse(raw []byte) ([]*node, error) {
	p := &parser{s: string(raw)}
	var out []*node
	for !p.atEnd() {
		p.skipSpaces()
		if p.atEnd() {
			break
		}
		n := p.value()
		out = append(out, n)
		if p.err != nil {
			return out, p.err
		}
		// A status word at the second or third position ("* 3 OK" is
		// not a thing, but "* OK" and "tag OK" are) ends the structure.
		if len(out) == 2 && n.kind == atomNode && isStatusWord(n.text) {
			p.skipSpaces()
			if p.pos < len(p.s) && p.s[p.pos] == '[' {
				end := strings.IndexByte(p.s[p.pos:], ']')
				if end < 0 {
					return out, fmt.Errorf("unterminated response code")
				}
				inner := &parser{s: p.s[p.pos+1 : p.pos+end]}
				code := &node{kind: codeNode}
				for !inner.atEnd() {
					inner.skipSpaces()
					if inner.atEnd() {
						break
					}
					code.list = append(code.list, inner.value())
				}
				if inner.err != nil {
					return out, inner.err
				}
				out = append(out, code)
				p.pos += end + 1
			}
			text := strings.TrimRight(strings.TrimLeft(p.s[p.pos:], " "), "\r\n")
			out = append(out, &node{kind: textNode, text: text})
			return out, nil
		}
	}
	return out, p.err
}

func isStatusWord(s string) bool {
	switch strings.ToUpper(s) {
	case "OK", "NO", "BAD", "BYE", "PREAUTH":
		return true
	}
	return false
}

// value reads one value.
func (p *parser) value() *node {
	if p.atEnd() {
		p.fail("value expected")
		return &node{kind: nilNode}
	}
	switch c := p.s[p.pos]; {
	case c == '(':
		p.pos++
		l := &node{kind: listNode}
		for {
			p.skipSpaces()
			if p.pos >= len(p.s) {
				p.fail("unterminated list")
				return l
			}
			if p.s[p.pos] == ')' {
				p.pos++
				return l
			}
			l.list = append(l.list, p.value())
			if p.err != nil {
				return l
			}
		}
	case c == '"':
		p.pos++
		var b strings.Builder
		for p.pos < len(p.s) && p.s[p.pos] != '"' {
			if p.s[p.pos] == '\\' && p.pos+1 < len(p.s) {
				p.pos++
			}
			b.WriteByte(p.s[p.pos])
			p.pos++
		}
		if p.pos >= len(p.s) {
			p.fail("unterminated quoted string")
		}
		p.pos++
		return &node{kind: stringNode, text: b.String()}
	case c == '{' || (c == '~' && p.pos+1 < len(p.s) && p.s[p.pos+1] == '{'):
		lit8 := c == '~'
		if lit8 {
			p.pos++
		}
		end := strings.Index(p.s[p.pos:], "}\r\n")
		if end < 0 {
			p.fail("bad literal")
			return &node{kind: nilNode}
		}
		n, err := strconv.Atoi(strings.TrimSuffix(p.s[p.pos+1:p.pos+end], "+"))
		start := p.pos + end + 3
		if err != nil || start+n > len(p.s) {
			p.fail("bad literal size")
			return &node{kind: nilNode}
		}
		p.pos = start + n
		return &node{kind: stringNode, text: p.s[start : start+n], lit8: lit8}
	default:
		return p.atom()
	}
}

// atom reads an atom, including the bracketed section and partial of a
// FETCH item name (BODY[HEADER.FIELDS (A B)]<0>) and flags (\Seen).
func (p *parser) atom() *node {
	start := p.pos
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		if c == '[' {
			end := strings.IndexByte(p.s[p.pos:], ']')
			if end < 0 {
				p.fail("unterminated section")
				break
			}
			p.pos += end + 1
			continue
		}
		if c == ' ' || c == '(' || c == ')' || c == '\r' || c == '\n' || c == '"' || c == '{' || c < ' ' {
			break
		}
		p.pos++
	}
	if p.pos == start {
		p.fail("unexpected %q", p.s[p.pos])
		return &node{kind: nilNode}
	}
	a := p.s[start:p.pos]
	if strings.EqualFold(a, "NIL") {
		return &node{kind: nilNode}
	}
	return &node{kind: atomNode, text: a}
}

package imapmsg

import (
	"strconv"
	"unicode/utf8"
)

// RenderOptions are the options for rendering IMAP strings.
type RenderOptions struct {
	// UTF8 is set for IMAP4rev2 and UTF8=ACCEPT sessions: strings with
	// 8-bit octets that are valid UTF-8 may then go as quoted strings
	// (RFC 9051 §4.3, RFC 6855). When false, any string with an octet
	// above 127 goes as a literal.
	UTF8 bool
}

// Octet classes for quoted strings (RFC 9051 §4.3: a quoted string holds
// any CHAR except CR and LF, '"' and '\' escaped; 8-bit only as UTF-8 in
// UTF-8 sessions).
const (
	clsPlain  = iota
	clsEscape // '"' and '\'
	clsHigh   // octets above 127
	clsBad    // CR, LF, NUL: only in literals
)

var strClass = func() (t [256]uint8) {
	for i := 0x80; i < 0x100; i++ {
		t[i] = clsHigh
	}
	t['"'], t['\\'] = clsEscape, clsEscape
	t['\r'], t['\n'], t[0] = clsBad, clsBad, clsBad
	return t
}()

// AppendString appends s as an IMAP string: quoted when that is allowed
// (see [RenderOptions]), otherwise a synchronizing literal "{n}\r\n"
// followed by the octets. NUL octets, which IMAP forbids in both forms,
// are sent as spaces.
func AppendString(dst []byte, s string, o RenderOptions) []byte {
	start := len(dst)
	dst = append(dst, '"')
	high := false
	last := 0
	for i := 0; i < len(s); i++ {
		switch strClass[s[i]] {
		case clsPlain:
		case clsEscape:
			dst = append(dst, s[last:i]...)
			dst = append(dst, '\\')
			last = i
		case clsHigh:
			high = true
		default:
			return appendLiteral(dst[:start], s)
		}
	}
	if high && (!o.UTF8 || !utf8.ValidString(s)) {
		return appendLiteral(dst[:start], s)
	}
	dst = append(dst, s[last:]...)
	return append(dst, '"')
}

// appendLiteral appends s as a synchronizing literal, NULs as spaces.
func appendLiteral(dst []byte, s string) []byte {
	dst = append(dst, '{')
	dst = strconv.AppendInt(dst, int64(len(s)), 10)
	dst = append(dst, "}\r\n"...)
	n := len(dst)
	dst = append(dst, s...)
	for i := n; i < len(dst); i++ {
		if dst[i] == 0 {
			dst[i] = ' '
		}
	}
	return dst
}

// AppendNString appends s as the string form of an IMAP nstring (quoted or
// literal, as [AppendString]). Sending NIL for an absent value is the
// caller's choice: an empty s is sent as "".
func AppendNString(dst []byte, s string, o RenderOptions) []byte {
	return AppendString(dst, s, o)
}

// AppendAString appends s as an IMAP astring: an atom when s is non-empty
// and made only of ASTRING-CHARs (and is not NIL, which some clients
// would misread), otherwise a string as [AppendString] sends it.
func AppendAString(dst []byte, s string, o RenderOptions) []byte {
	if isAtom(s) {
		return append(dst, s...)
	}
	return AppendString(dst, s, o)
}

// isAtom reports whether s can be sent as an astring atom.
func isAtom(s string) bool {
	if s == "" || len(s) > 1024 {
		return false
	}
	if len(s) == 3 && (s[0]|0x20) == 'n' && (s[1]|0x20) == 'i' && (s[2]|0x20) == 'l' {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c <= ' ' || c >= 0x7f:
			return false
		case c == '(' || c == ')' || c == '{' || c == '%' || c == '*' || c == '"' || c == '\\':
			return false
		}
	}
	return true
}

// appendNStringOrNil appends NIL for an empty s, else s as a string.
func appendNStringOrNil(dst []byte, s string, o RenderOptions) []byte {
	if s == "" {
		return append(dst, "NIL"...)
	}
	return AppendString(dst, s, o)
}

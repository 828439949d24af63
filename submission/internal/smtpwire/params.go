package smtpwire

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// A Param is one ESMTP parameter of MAIL or RCPT (RFC 5321 §4.1.2:
// esmtp-keyword ["=" esmtp-value]).
type Param struct {
	// Key is the keyword in upper case.
	Key string
	// Value is the value as sent, empty when there was no "=".
	Value string
	// HasValue reports whether the parameter had "=".
	HasValue bool
}

// ParseParams parses space-separated ESMTP parameters. Keywords are
// upper-cased; a keyword given twice fails with [ErrDuplicateParam]. Values
// may hold UTF-8 (RFC 6531 §3.3) but no spaces, '=' or control characters.
func ParseParams(s string) ([]Param, error) {
	var params []Param
	for _, field := range strings.Fields(s) {
		key, value, hasValue := strings.Cut(field, "=")
		if !validKeyword(key) {
			return nil, ErrParam
		}
		if hasValue && !validValue(value) {
			return nil, ErrParam
		}
		key = strings.ToUpper(key)
		for _, p := range params {
			if p.Key == key {
				return nil, ErrDuplicateParam
			}
		}
		params = append(params, Param{Key: key, Value: value, HasValue: hasValue})
	}
	return params, nil
}

func validKeyword(k string) bool {
	if k == "" || !(isAlpha(k[0]) || isDigit(k[0])) {
		return false
	}
	for i := 1; i < len(k); i++ {
		if c := k[i]; !isAlpha(c) && !isDigit(c) && c != '-' {
			return false
		}
	}
	return true
}

func validValue(v string) bool {
	if v == "" || !utf8.ValidString(v) {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 33 || c == '=' || c == 127 {
			return false
		}
	}
	return true
}

// DecodeXtext decodes xtext (RFC 3461 §4): printable ASCII except '+' and
// '=', with "+XX" standing for the octet of hexadecimal XX. Lower-case hex
// digits are accepted too.
func DecodeXtext(s string) (string, error) {
	if !strings.ContainsRune(s, '+') {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c < 33 || c > 126 || c == '=' {
				return "", ErrParam
			}
		}
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+':
			if i+3 > len(s) {
				return "", ErrParam
			}
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return "", ErrParam
			}
			b.WriteByte(byte(v))
			i += 2
		case c < 33 || c > 126 || c == '=':
			return "", ErrParam
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// DecodeUTF8Xtext decodes utf-8-addr-xtext and utf-8-addr-unitext (RFC 6533
// §3): printable ASCII and UTF-8, with "\x{HEX}" standing for a Unicode
// code point.
func DecodeUTF8Xtext(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", ErrParam
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			if !strings.HasPrefix(s[i:], `\x{`) {
				return "", ErrParam
			}
			end := strings.IndexByte(s[i:], '}')
			if end < 0 || end < 4 || end > 9 {
				return "", ErrParam
			}
			v, err := strconv.ParseUint(s[i+3:i+end], 16, 32)
			if err != nil || !utf8.ValidRune(rune(v)) {
				return "", ErrParam
			}
			b.WriteRune(rune(v))
			i += end
		case c == '+' || c == '=' || c < 33 || c == 127:
			return "", ErrParam
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// maxORCPT bounds the ORCPT value: RFC 3461 §4.2 allows 500 characters.
const maxORCPT = 500

// DecodeORCPT decodes the ORCPT parameter (RFC 3461 §4.2): addr-type ";"
// xtext, or for the "utf-8" address type the RFC 6533 encoding. It returns
// addr-type ";" decoded-address.
func DecodeORCPT(v string) (string, error) {
	if len(v) > maxORCPT {
		return "", ErrParam
	}
	typ, addr, ok := strings.Cut(v, ";")
	if !ok || typ == "" || addr == "" || !validKeyword(typ) {
		return "", ErrParam
	}
	var dec string
	var err error
	if strings.EqualFold(typ, "utf-8") {
		dec, err = DecodeUTF8Xtext(addr)
	} else {
		dec, err = DecodeXtext(addr)
	}
	if err != nil {
		return "", err
	}
	return typ + ";" + dec, nil
}

package imapwire

import (
	"errors"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Modified UTF-7 (RFC 3501 §5.1.3) is how IMAP4rev1 clients spell
// non-ASCII mailbox names.

// ErrBadUTF7 is returned by DecodeUTF7 for a name that is not valid
// modified UTF-7.
var ErrBadUTF7 = errors.New("imapwire: invalid modified UTF-7")

const b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,"

var b64index = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(b64chars); i++ {
		t[b64chars[i]] = int8(i)
	}
	return t
}()

// EncodeUTF7 encodes a UTF-8 name in modified UTF-7. Invalid UTF-8 is
// encoded as U+FFFD.
func EncodeUTF7(s string) string {
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '&' {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	var b strings.Builder
	var units []uint16
	flush := func() {
		if len(units) == 0 {
			return
		}
		b.WriteByte('&')
		var acc uint32
		bits := 0
		for _, u := range units {
			acc = acc<<16 | uint32(u)
			bits += 16
			for bits >= 6 {
				bits -= 6
				b.WriteByte(b64chars[(acc>>bits)&0x3f])
			}
		}
		if bits > 0 {
			b.WriteByte(b64chars[(acc<<(6-bits))&0x3f])
		}
		b.WriteByte('-')
		units = units[:0]
	}
	for _, r := range s {
		switch {
		case r == '&':
			flush()
			b.WriteString("&-")
		case r >= 0x20 && r <= 0x7e:
			flush()
			b.WriteRune(r)
		default:
			units = utf16.AppendRune(units, r)
		}
	}
	flush()
	return b.String()
}

// DecodeUTF7 decodes a modified UTF-7 name to UTF-8. It is strict: 8-bit
// or control bytes, base64 runs that encode printable ASCII, adjacent or
// empty runs (other than "&-"), non-zero padding bits and unpaired
// surrogates are errors.
func DecodeUTF7(s string) (string, error) {
	if strings.IndexByte(s, '&') < 0 {
		for i := 0; i < len(s); i++ {
			if s[i] < 0x20 || s[i] > 0x7e {
				return "", ErrBadUTF7
			}
		}
		return s, nil
	}
	var b strings.Builder
	lastRunEnd := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			return "", ErrBadUTF7
		}
		if c != '&' {
			b.WriteByte(c)
			continue
		}
		j := i + 1
		for j < len(s) && s[j] != '-' {
			j++
		}
		if j == len(s) {
			return "", ErrBadUTF7
		}
		if j == i+1 {
			b.WriteByte('&')
			i = j
			continue
		}
		if lastRunEnd == i {
			return "", ErrBadUTF7 // two runs back to back
		}
		if err := decodeRun(&b, s[i+1:j]); err != nil {
			return "", err
		}
		i = j
		lastRunEnd = j + 1
	}
	return b.String(), nil
}

func decodeRun(b *strings.Builder, run string) error {
	var acc uint32
	bits := 0
	var units []uint16
	for i := 0; i < len(run); i++ {
		v := b64index[run[i]]
		if v < 0 {
			return ErrBadUTF7
		}
		acc = acc<<6 | uint32(v)
		bits += 6
		if bits >= 16 {
			bits -= 16
			units = append(units, uint16(acc>>bits))
			acc &= 1<<bits - 1
		}
	}
	if bits >= 6 || acc != 0 || len(units) == 0 {
		return ErrBadUTF7
	}
	for i := 0; i < len(units); i++ {
		u := units[i]
		var r rune
		switch {
		case utf16.IsSurrogate(rune(u)):
			if u >= 0xdc00 || i+1 == len(units) {
				return ErrBadUTF7
			}
			r = utf16.DecodeRune(rune(u), rune(units[i+1]))
			if r == utf8.RuneError {
				return ErrBadUTF7
			}
			i++
		default:
			r = rune(u)
		}
		if r >= 0x20 && r <= 0x7e {
			return ErrBadUTF7 // printable ASCII must be itself
		}
		b.WriteRune(r)
	}
	return nil
}

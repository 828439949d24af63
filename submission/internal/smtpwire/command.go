// Package smtpwire parses what an SMTP submission client sends: command
// lines split into verb and argument, reverse- and forward-paths (RFC 5321
// §4.1.2, with the UTF-8 addresses of RFC 6531), ESMTP parameters, xtext
// (RFC 3461 §4) and its UTF-8 form (RFC 6533 §3), the arguments of BDAT
// (RFC 3030) and EHLO, and the line endings of BDAT data.
//
// The package is pure: it does no I/O policy and no logging, knows nothing
// of sessions or backends, and every function is bounded by its input.
package smtpwire

import (
	"errors"
	"strconv"
)

// Errors returned by the parsers. Callers choose the reply; the errors only
// say what was wrong.
var (
	// ErrInvalidCommand means the line is not a command: no verb, a verb
	// with characters other than letters, or control characters.
	ErrInvalidCommand = errors.New("smtpwire: invalid command line")
	// ErrSyntax means the argument does not follow the command's grammar.
	ErrSyntax = errors.New("smtpwire: syntax error")
	// ErrAddress means a path or mailbox is malformed.
	ErrAddress = errors.New("smtpwire: malformed address")
	// ErrAddressTooLong means a path, local part or domain is longer than
	// RFC 5321 §4.5.3.1 allows.
	ErrAddressTooLong = errors.New("smtpwire: address too long")
	// ErrParam means an ESMTP parameter is malformed.
	ErrParam = errors.New("smtpwire: malformed parameter")
	// ErrDuplicateParam means an ESMTP parameter was given twice.
	ErrDuplicateParam = errors.New("smtpwire: duplicate parameter")
)

// maxVerb bounds the verb: the longest SMTP verb in use is 8 octets
// (STARTTLS); anything much longer is not a command.
const maxVerb = 16

// ParseCommand splits a command line (without its line ending) into the verb,
// in upper case, and the argument, with surrounding spaces removed. It fails
// with [ErrInvalidCommand] when the line holds a control character (a bare
// CR, NUL, ...) or does not begin with a verb made of letters.
func ParseCommand(line []byte) (verb, arg string, err error) {
	for _, b := range line {
		if (b < ' ' && b != '\t') || b == 0x7f {
			return "", "", ErrInvalidCommand
		}
	}
	i := 0
	for i < len(line) && line[i] != ' ' && line[i] != '\t' {
		b := line[i]
		if !isAlpha(b) {
			return "", "", ErrInvalidCommand
		}
		i++
	}
	if i == 0 || i > maxVerb {
		return "", "", ErrInvalidCommand
	}
	verb = upperASCII(line[:i])
	arg = string(trimSpace(line[i:]))
	return verb, arg, nil
}

// knownVerbs holds the verbs whose upper-case string is returned without
// allocating.
var knownVerbs = []string{
	"EHLO", "HELO", "MAIL", "RCPT", "DATA", "BDAT", "RSET", "NOOP", "QUIT",
	"VRFY", "EXPN", "HELP", "AUTH", "STARTTLS",
}

func upperASCII(b []byte) string {
	for _, v := range knownVerbs {
		if len(v) == len(b) && equalFoldASCII(b, v) {
			return v
		}
	}
	out := make([]byte, len(b))
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		out[i] = c
	}
	return string(out)
}

func equalFoldASCII(b []byte, s string) bool {
	for i := range b {
		c := b[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func isAlpha(b byte) bool { return ('a' <= b && b <= 'z') || ('A' <= b && b <= 'Z') }
func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// maxBDATDigits is the longest chunk size parsed exactly; longer ones are
// reported as the largest int64, which every limit refuses.
const maxBDATDigits = 18

// ParseBDAT parses the argument of BDAT (RFC 3030 §2): a chunk size in
// octets, optionally followed by LAST. A size too large for an int64 is
// returned as the largest int64, without error, so the caller refuses it
// as too large rather than as a syntax error. Nothing is allocated in
// proportion to the size.
func ParseBDAT(arg string) (size int64, last bool, err error) {
	num, rest := arg, ""
	for i := 0; i < len(arg); i++ {
		if arg[i] == ' ' {
			num, rest = arg[:i], string(trimSpace([]byte(arg[i:])))
			break
		}
	}
	if num == "" {
		return 0, false, ErrSyntax
	}
	for i := 0; i < len(num); i++ {
		if !isDigit(num[i]) {
			return 0, false, ErrSyntax
		}
	}
	switch {
	case rest == "":
	case len(rest) == 4 && equalFoldASCII([]byte(rest), "LAST"):
		last = true
	default:
		return 0, false, ErrSyntax
	}
	if len(num) > maxBDATDigits {
		return int64(^uint64(0) >> 1), last, nil
	}
	size, err = strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, false, ErrSyntax
	}
	return size, last, nil
}

// maxHelo bounds the EHLO/HELO argument: a domain is at most 255 octets
// (RFC 5321 §4.5.3.1.2).
const maxHelo = 255

// ValidHelo reports whether s is acceptable as the argument of EHLO or HELO:
// an address literal, or a name made of letters, digits, '-', '.' and '_'.
// The underscore is not allowed in domain names, but Windows machine names
// contain it and Outlook sends them. The name ends up in the Received
// header, so nothing else is allowed.
func ValidHelo(s string) bool {
	if s == "" || len(s) > maxHelo {
		return false
	}
	if s[0] == '[' {
		return validAddressLiteral(s)
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !isAlpha(b) && !isDigit(b) && b != '-' && b != '.' && b != '_' {
			return false
		}
	}
	return true
}

package memstore

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mailfront/mailfront/imap4"
)

// Limits on mailbox names. The frontend has its own (usually tighter)
// limits; these keep a hostile name from costing the store anything.
const (
	maxNameLen   = 1000 // octets of UTF-8
	maxNameDepth = 100  // levels
)

// errBadName is wrapped by every refusal of a mailbox name.
var errBadName = errors.New("memstore: invalid mailbox name")

// inbox is the name of every user's INBOX.
const inbox = "INBOX"

// cleanName checks a mailbox name and returns it with a first level of
// "INBOX" in any case spelled "INBOX". The store does not trust the
// frontend's validation: names with empty, "." or ".." levels, a leading or
// trailing delimiter, control characters, invalid UTF-8, the LIST wildcards
// "*" and "%", or beyond the length and depth limits are refused with an
// error wrapping errBadName. Names never reach a file system here, but
// refusing them keeps the store's behaviour the same as a disk store's.
func cleanName(name string) (string, error) {
	if name == "" || len(name) > maxNameLen || !utf8.ValidString(name) {
		return "", badName(name)
	}
	for _, r := range name {
		if r < 0x20 || (r >= 0x7f && r < 0xa0) || r == '*' || r == '%' {
			return "", badName(name)
		}
	}
	depth := 0
	for level := range strings.SplitSeq(name, string(imap4.Delimiter)) {
		depth++
		if level == "" || level == "." || level == ".." || depth > maxNameDepth {
			return "", badName(name)
		}
	}
	first, rest, hasRest := strings.Cut(name, string(imap4.Delimiter))
	if strings.EqualFold(first, inbox) && first != inbox {
		if hasRest {
			return inbox + string(imap4.Delimiter) + rest, nil
		}
		return inbox, nil
	}
	return name, nil
}

type nameError struct{ name string }

func (e *nameError) Error() string { return errBadName.Error() + " " + quote(e.name) }
func (e *nameError) Unwrap() error { return errBadName }

func badName(name string) error { return &nameError{name: name} }

// quote renders a possibly hostile name for an error message.
func quote(s string) string {
	return strconv.Quote(strings.ToValidUTF8(truncate(s), "\uFFFD"))
}

// isUnder reports whether name is a strict descendant of parent.
func isUnder(name, parent string) bool {
	return len(name) > len(parent) && name[len(parent)] == imap4.Delimiter && strings.HasPrefix(name, parent)
}

// parents returns the names above name, from the top: "a/b/c" gives "a",
// "a/b".
func parents(name string) []string {
	var out []string
	for i := 0; i < len(name); i++ {
		if name[i] == imap4.Delimiter {
			out = append(out, name[:i])
		}
	}
	return out
}

package maildir

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/mailfront/mailfront/imap4"
)

// Limits on names, chosen so that every path we build stays well inside the
// 255-byte limit of a file name on common file systems.
const (
	maxUserNameLen = 200 // bytes of the directory name of a user
	maxFolderDir   = 220 // bytes of a folder's directory name, ".a.b.c"
)

// errBadUserName is wrapped by the errors of [canonicalUser].
var errBadUserName = errors.New("maildir: invalid user name")

// canonicalUser maps a user name (normally an email address) to the name of
// its directory under the store's root. The mapping is lower-casing, so it is
// case-insensitive; names that could not be one safe path element are
// refused rather than escaped, so the directory of a user is always named
// exactly as the user (what a person or another program delivering into
// DATA/mail/ADDRESS/new/ expects):
//
//   - empty, longer than 200 bytes, or not valid UTF-8;
//   - "/" or "\" (path separators), ":" (reserved on some systems), NUL,
//     control characters or white space;
//   - a leading "." (which also excludes "." and ".."; the store keeps its
//     own temporary entries under dot names).
//
// Since a user name is a single path element, a user whose name is a prefix
// of another's ("adm", "admin") has a sibling directory and can never reach
// the other's files.
func canonicalUser(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("%w: empty", errBadUserName)
	}
	if !utf8.ValidString(name) {
		return "", fmt.Errorf("%w: not UTF-8", errBadUserName)
	}
	c := strings.ToLower(name)
	if len(c) > maxUserNameLen {
		return "", fmt.Errorf("%w: longer than %d bytes", errBadUserName, maxUserNameLen)
	}
	if c[0] == '.' {
		return "", fmt.Errorf("%w: starts with '.'", errBadUserName)
	}
	for _, r := range c {
		if r == '/' || r == '\\' || r == ':' || r == 0 || unicode.IsControl(r) || unicode.IsSpace(r) || r == utf8.RuneError {
			return "", fmt.Errorf("%w: contains %q", errBadUserName, r)
		}
	}
	return c, nil
}

// errBadMailboxName is wrapped by the errors of [folderDirName]; it also
// wraps imap4.ErrCannot so that the client sees "NO [CANNOT]".
var errBadMailboxName = fmt.Errorf("maildir: invalid mailbox name: %w", imap4.ErrCannot)

// folderDirName maps an IMAP mailbox name ("/" between levels, UTF-8) to the
// Maildir++ directory name under the user's root: "" for INBOX, otherwise
// "." followed by the levels joined with ".", each level encoded by
// [encodeLevel]. It refuses names that are empty, hold empty levels, "." or
// ".." levels, NUL or control characters, or whose encoding would be too
// long for a file name.
func folderDirName(name string) (string, error) {
	if name == "INBOX" {
		return "", nil
	}
	if name == "" || !utf8.ValidString(name) {
		return "", fmt.Errorf("%w: %q", errBadMailboxName, name)
	}
	var b strings.Builder
	for level := range strings.SplitSeq(name, "/") {
		if level == "" || level == "." || level == ".." {
			return "", fmt.Errorf("%w: bad level in %q", errBadMailboxName, name)
		}
		for _, r := range level {
			if r == 0 || unicode.IsControl(r) {
				return "", fmt.Errorf("%w: control character in %q", errBadMailboxName, name)
			}
		}
		b.WriteByte('.')
		encodeLevel(&b, level)
		if b.Len() > maxFolderDir {
			return "", fmt.Errorf("%w: name too long", errBadMailboxName)
		}
	}
	return b.String(), nil
}

// folderName is the inverse of [folderDirName] for a directory entry of the
// user's root: it returns the IMAP name and true for a valid, canonically
// encoded folder directory name, and false for anything else ("cur", ".",
// "..", names another program encoded differently). Directories refused
// here are not shown to IMAP clients, so two directories never map to one
// name.
func folderName(dir string) (string, bool) {
	if len(dir) < 2 || dir[0] != '.' || len(dir) > maxFolderDir {
		return "", false
	}
	var b strings.Builder
	for i, enc := range strings.Split(dir[1:], ".") {
		level, ok := decodeLevel(enc)
		if !ok || level == "" || level == "." || level == ".." || strings.ContainsRune(level, '/') {
			return "", false
		}
		for _, r := range level {
			if r == 0 || unicode.IsControl(r) {
				return "", false
			}
		}
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(level)
	}
	name := b.String()
	if strings.EqualFold(name, "INBOX") {
		// ".INBOX" would be a second INBOX; only its children are shown.
		return "", false
	}
	return name, true
}

// encodeLevel writes one level of a mailbox name in the directory-name
// encoding: modified UTF-7 (RFC 3501 §5.1.3), as Courier and Dovecot store
// Maildir++ folder names, with one addition: "." (the on-disk hierarchy
// separator) is also written in base64 form ("&AC4-"), so a level may hold
// a dot. Printable ASCII other than "&" and "." is written as itself, "&" as
// "&-", everything else as UTF-16 in modified base64 between "&" and "-".
// The encoding is deterministic, so [decodeLevel] can refuse any other
// spelling and the mapping stays injective.
func encodeLevel(b *strings.Builder, s string) {
	var pending []rune
	flush := func() {
		if len(pending) == 0 {
			return
		}
		b.WriteByte('&')
		u := utf16.Encode(pending)
		raw := make([]byte, 0, 2*len(u))
		for _, c := range u {
			raw = append(raw, byte(c>>8), byte(c))
		}
		b.WriteString(mutf7Encoding(raw))
		b.WriteByte('-')
		pending = pending[:0]
	}
	for _, r := range s {
		if r >= 0x20 && r <= 0x7e && r != '&' && r != '.' {
			flush()
			b.WriteRune(r)
			continue
		}
		if r == '&' {
			flush()
			b.WriteString("&-")
			continue
		}
		pending = append(pending, r)
	}
	flush()
}

const mutf7Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,"

// mutf7Encoding is base64 with "," for "/" and no padding.
func mutf7Encoding(raw []byte) string {
	var out []byte
	var acc uint32
	bits := 0
	for _, c := range raw {
		acc = acc<<8 | uint32(c)
		bits += 8
		for bits >= 6 {
			bits -= 6
			out = append(out, mutf7Alphabet[(acc>>uint(bits))&0x3f])
		}
	}
	if bits > 0 {
		out = append(out, mutf7Alphabet[(acc<<uint(6-bits))&0x3f])
	}
	return string(out)
}

// decodeLevel decodes one level written by [encodeLevel]; it reports false
// for malformed input and for any spelling encodeLevel would not produce.
func decodeLevel(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			return "", false
		}
		if c != '&' {
			b.WriteByte(c)
			i++
			continue
		}
		end := strings.IndexByte(s[i+1:], '-')
		if end < 0 {
			return "", false
		}
		enc := s[i+1 : i+1+end]
		i += end + 2
		if enc == "" {
			b.WriteByte('&')
			continue
		}
		raw, ok := mutf7Decoding(enc)
		if !ok || len(raw)%2 != 0 {
			return "", false
		}
		u := make([]uint16, len(raw)/2)
		for j := range u {
			u[j] = uint16(raw[2*j])<<8 | uint16(raw[2*j+1])
		}
		for _, r := range utf16.Decode(u) {
			if r == utf8.RuneError {
				return "", false
			}
			b.WriteRune(r)
		}
	}
	out := b.String()
	var check strings.Builder
	encodeLevel(&check, out)
	if check.String() != s {
		return "", false
	}
	return out, true
}

// mutf7Decoding decodes modified base64 without padding.
func mutf7Decoding(s string) ([]byte, bool) {
	var out []byte
	var acc uint32
	bits := 0
	for i := 0; i < len(s); i++ {
		v := strings.IndexByte(mutf7Alphabet, s[i])
		if v < 0 {
			return nil, false
		}
		acc = acc<<6 | uint32(v)
		bits += 6
		if bits >= 8 {
			bits -= 8
			out = append(out, byte(acc>>uint(bits)))
		}
	}
	if acc&(1<<uint(bits)-1) != 0 {
		return nil, false // non-zero padding bits
	}
	return out, true
}

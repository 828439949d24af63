package maildir

import (
	"slices"
	"strings"

	"github.com/mailfront/mailfront/imap4"
)

// Keyword limits: a keyword is at most this long, and a folder defines at
// most this many (the frontend already bounds what a client can send).
const (
	maxKeywordLen = 255
	maxKeywords   = 4096
)

// validKeyword reports whether s can be stored as a keyword: an IMAP atom
// without a leading backslash.
func validKeyword(s string) bool {
	if s == "" || len(s) > maxKeywordLen || s[0] == '\\' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`(){%*"\]`, c) >= 0 {
			return false
		}
	}
	return true
}

// lower is ASCII lower-casing, the case-insensitive comparison of flags.
func lower(s string) string { return strings.ToLower(s) }

// flagSet is a parsed list of IMAP flags.
type flagSet struct {
	sys sysFlags
	kw  []uint16 // ascending
}

// parseFlagsLocked turns IMAP flags into a flagSet, defining new keywords
// (and journaling them) as needed. \Recent and unknown system flags are
// ignored; so are keywords that are not valid atoms.
func (f *folder) parseFlagsLocked(flags []string) (flagSet, error) {
	var fs flagSet
	for _, fl := range flags {
		if b := sysFlagOf(fl); b != 0 {
			fs.sys |= b
			continue
		}
		if !validKeyword(fl) {
			continue
		}
		k, ok := f.kwIndex[lower(fl)]
		if !ok {
			if len(f.st.keywords) >= maxKeywords {
				return fs, imap4.ErrCannot
			}
			k = len(f.st.keywords)
			f.st.keywords = append(f.st.keywords, fl)
			f.kwIndex[lower(fl)] = k
			f.pending = encodeRecord(f.pending, keywordRecord(k, fl))
		}
		if !slices.Contains(fs.kw, uint16(k)) {
			fs.kw = append(fs.kw, uint16(k))
		}
	}
	slices.Sort(fs.kw)
	return fs, nil
}

// lookupFlagsLocked is parseFlagsLocked without defining keywords: unknown
// keywords are left out (no message can have them).
func (f *folder) lookupFlagsLocked(flags []string) flagSet {
	var fs flagSet
	for _, fl := range flags {
		if b := sysFlagOf(fl); b != 0 {
			fs.sys |= b
			continue
		}
		if k, ok := f.kwIndex[lower(fl)]; ok && !slices.Contains(fs.kw, uint16(k)) {
			fs.kw = append(fs.kw, uint16(k))
		}
	}
	slices.Sort(fs.kw)
	return fs
}

// applyOp returns the flags of e after a STORE of fs with op.
func applyOp(e *entry, op imap4.StoreOp, fs flagSet) flagSet {
	switch op {
	case imap4.StoreAdd:
		kw := slices.Clone(e.kw)
		for _, k := range fs.kw {
			if !slices.Contains(kw, k) {
				kw = append(kw, k)
			}
		}
		slices.Sort(kw)
		return flagSet{e.sys | fs.sys, kw}
	case imap4.StoreRemove:
		kw := slices.DeleteFunc(slices.Clone(e.kw), func(k uint16) bool { return slices.Contains(fs.kw, k) })
		return flagSet{e.sys &^ fs.sys, kw}
	default:
		return fs
	}
}

// sameFlags reports whether e already has the flags fs.
func sameFlags(e *entry, fs flagSet) bool {
	return e.sys == fs.sys && slices.Equal(e.kw, fs.kw)
}

// internLocked returns the IMAP flag list for sys and kw, shared between
// entries with the same flags.
func (f *folder) internLocked(sys sysFlags, kw []uint16) []string {
	var buf [32]byte // no allocation to look up up to 15 keywords
	key := append(buf[:0], byte(sys))
	for _, k := range kw {
		key = append(key, byte(k>>8), byte(k))
	}
	if fl, ok := f.interned[string(key)]; ok {
		return fl
	}
	fl := make([]string, 0, 6+len(kw))
	for _, x := range imapFlag {
		if sys&x.f != 0 {
			fl = append(fl, x.name)
		}
	}
	for _, k := range kw {
		fl = append(fl, f.st.keywords[k])
	}
	fl = slices.Clip(fl)
	f.interned[string(key)] = fl
	return fl
}

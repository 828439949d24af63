package memstore

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mailfront/mailfront/imap4"
)

// A flagSet is one interned combination of flags. Messages with the same
// flags point at the same flagSet, so their MessageMeta.Flags share one
// backing array: 100,000 messages cost one pointer each, not one slice.
// A flagSet is immutable once interned.
type flagSet struct {
	list    []string // canonical spellings, sorted
	key     string   // list joined by spaces: the intern key
	seen    bool     // list holds \Seen
	deleted bool     // list holds \Deleted
}

// emptyFlags is the flagSet of a message without flags.
var emptyFlags = &flagSet{}

// maxInterned bounds the intern tables of a user. When a table grows past
// it (a client inventing keywords), it starts afresh: existing messages keep
// their flagSets, and only sharing between old and new messages is lost.
const maxInterned = 4096

// systemFlags maps the lower-case spelling of each system flag to its
// canonical spelling.
var systemFlags = map[string]string{
	`\seen`:     imap4.FlagSeen,
	`\answered`: imap4.FlagAnswered,
	`\flagged`:  imap4.FlagFlagged,
	`\deleted`:  imap4.FlagDeleted,
	`\draft`:    imap4.FlagDraft,
}

// A flagTable interns the flags of one user's messages. It is guarded by
// the user's lock.
type flagTable struct {
	sets     map[string]*flagSet // by flagSet.key
	spelling map[string]string   // lower case -> spelling first stored
}

// validFlag reports whether f is an IMAP flag: an atom (RFC 9051 §9),
// optionally starting with a backslash.
func validFlag(f string) bool {
	if f == "" || f == `\` {
		return false
	}
	for i := 0; i < len(f); i++ {
		c := f[i]
		switch {
		case c <= ' ' || c >= 0x7f:
			return false
		case c == '(' || c == ')' || c == '{' || c == '%' || c == '*' || c == '"' || c == ']':
			return false
		case c == '\\' && i > 0:
			return false
		}
	}
	return true
}

// checkFlags returns an error wrapping [imap4.ErrCannot] if any flag is not
// a valid IMAP flag. The frontend validates flags first; the store still
// refuses loudly rather than store something it cannot hand back.
func checkFlags(flags []string) error {
	for _, f := range flags {
		if !validFlag(f) {
			return fmt.Errorf("memstore: invalid flag %q: %w", truncate(f), imap4.ErrCannot)
		}
	}
	return nil
}

// canonical returns the spelling under which f is stored: the Flag constant
// for a system flag, otherwise the spelling first stored (flags compare
// case-insensitively).
func (t *flagTable) canonical(f string) string {
	lower := strings.ToLower(f)
	if s, ok := systemFlags[lower]; ok {
		return s
	}
	if s, ok := t.spelling[lower]; ok {
		return s
	}
	if t.spelling == nil || len(t.spelling) >= maxInterned {
		t.spelling = make(map[string]string)
	}
	t.spelling[lower] = f
	return f
}

// intern returns the flagSet holding exactly the given canonical flags,
// which must be sorted and free of duplicates. It may keep list.
func (t *flagTable) intern(list []string) *flagSet {
	if len(list) == 0 {
		return emptyFlags
	}
	key := strings.Join(list, " ")
	if fs, ok := t.sets[key]; ok {
		return fs
	}
	fs := &flagSet{list: slices.Clip(list), key: key} // Clip: an append by a reader must copy
	for _, f := range list {
		switch f {
		case imap4.FlagSeen:
			fs.seen = true
		case imap4.FlagDeleted:
			fs.deleted = true
		}
	}
	if t.sets == nil || len(t.sets) >= maxInterned {
		t.sets = make(map[string]*flagSet)
	}
	t.sets[key] = fs
	return fs
}

// make returns the flagSet of the given (valid) flags in any spelling.
func (t *flagTable) make(flags []string) *flagSet {
	if len(flags) == 0 {
		return emptyFlags
	}
	list := make([]string, 0, len(flags))
	for _, f := range flags {
		list = append(list, t.canonical(f))
	}
	return t.intern(sortFold(list))
}

// sortFold sorts flags and removes those equal, case-insensitively, to
// one before them. Canonical spellings make equal flags identical, except
// after an intern table has been reset; comparing case-insensitively keeps
// the set operations right even then.
func sortFold(list []string) []string {
	slices.Sort(list)
	out := list[:0]
	for _, f := range list {
		if !containsFold(out, f) {
			out = append(out, f)
		}
	}
	return out
}

func containsFold(list []string, f string) bool {
	return slices.ContainsFunc(list, func(g string) bool { return strings.EqualFold(f, g) })
}

// A flagChange is one SetFlags operation, with its flags already in
// canonical spelling, applied to many flagSets. It remembers its results,
// so a STORE over 100,000 messages with the same flags computes the new set
// once.
type flagChange struct {
	t     *flagTable
	op    imap4.StoreOp
	flags []string   // canonical, sorted, compacted
	memo  []flagPair // few: a STORE meets few distinct flag sets
}

type flagPair struct{ old, new *flagSet }

func (t *flagTable) change(op imap4.StoreOp, flags []string) *flagChange {
	c := &flagChange{t: t, op: op}
	for _, f := range flags {
		c.flags = append(c.flags, t.canonical(f))
	}
	c.flags = sortFold(c.flags)
	return c
}

// apply returns the flagSet that old becomes.
func (c *flagChange) apply(old *flagSet) *flagSet {
	for _, p := range c.memo {
		if p.old == old {
			return p.new
		}
	}
	var list []string
	switch c.op {
	case imap4.StoreReplace:
		list = slices.Clone(c.flags)
	case imap4.StoreAdd:
		list = slices.Clone(old.list)
		for _, f := range c.flags {
			if !containsFold(old.list, f) {
				list = append(list, f)
			}
		}
		slices.Sort(list)
	case imap4.StoreRemove:
		list = make([]string, 0, len(old.list))
		for _, f := range old.list {
			if !containsFold(c.flags, f) {
				list = append(list, f)
			}
		}
	}
	fs := c.t.intern(list)
	if fs.key == old.key {
		fs = old // the table may have been reset: keep the old pointer
	}
	if len(c.memo) < 64 {
		c.memo = append(c.memo, flagPair{old, fs})
	}
	return fs
}

// truncate shortens s for an error message.
func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

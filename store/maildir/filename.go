package maildir

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailfront/mailfront/imap4"
)

// sysFlags is the set of flags kept in the info suffix of a Maildir file
// name (":2,FLAGS"), which every Maildir program understands.
type sysFlags uint8

const (
	flagDraft   sysFlags = 1 << iota // D
	flagFlagged                      // F
	flagPassed                       // P, shown to IMAP as the keyword $Forwarded
	flagReplied                      // R, \Answered
	flagSeen                         // S
	flagTrashed                      // T, \Deleted
)

// infoLetters maps the info letters, in the ASCII order Maildir requires,
// to flags.
var infoLetters = [...]struct {
	c byte
	f sysFlags
}{{'D', flagDraft}, {'F', flagFlagged}, {'P', flagPassed}, {'R', flagReplied}, {'S', flagSeen}, {'T', flagTrashed}}

// keywordForwarded is the IMAP keyword (RFC 5788) stored as the Maildir "P"
// (passed) flag.
const keywordForwarded = "$Forwarded"

// imapFlag names the IMAP flag of each bit, in the order [sysFlags.strings]
// lists them.
var imapFlag = [...]struct {
	f    sysFlags
	name string
}{
	{flagReplied, imap4.FlagAnswered},
	{flagTrashed, imap4.FlagDeleted},
	{flagDraft, imap4.FlagDraft},
	{flagFlagged, imap4.FlagFlagged},
	{flagSeen, imap4.FlagSeen},
	{flagPassed, keywordForwarded},
}

// sysFlagOf returns the bit of an IMAP flag kept in the info suffix, or 0.
// System flags and $Forwarded are matched case-insensitively.
func sysFlagOf(flag string) sysFlags {
	for _, x := range imapFlag {
		if strings.EqualFold(flag, x.name) {
			return x.f
		}
	}
	return 0
}

// parseInfo splits the info part of a file name into flags and the letters
// it does not know (other programs' flags, Dovecot's keyword letters),
// which are kept as they are on every rename.
func parseInfo(info string) (sysFlags, string) {
	if !strings.HasPrefix(info, "2,") {
		return 0, ""
	}
	var f sysFlags
	var extra []byte
outer:
	for i := 2; i < len(info); i++ {
		for _, l := range infoLetters {
			if info[i] == l.c {
				f |= l.f
				continue outer
			}
		}
		extra = append(extra, info[i])
	}
	return f, string(extra)
}

// formatInfo returns the info part, "2," followed by the flag letters and
// the extra letters in ASCII order, without duplicates.
func formatInfo(f sysFlags, extra string) string {
	letters := make([]byte, 0, 8+len(extra))
	for _, l := range infoLetters {
		if f&l.f != 0 {
			letters = append(letters, l.c)
		}
	}
	for i := 0; i < len(extra); i++ {
		c := extra[i]
		if c > 0x20 && c < 0x7f && c != '/' && c != ':' && strings.IndexByte(string(letters), c) < 0 {
			letters = append(letters, c)
		}
	}
	sort.Slice(letters, func(i, j int) bool { return letters[i] < letters[j] })
	return "2," + string(letters)
}

// splitName splits a Maildir file name into its unique part and its info
// (without the ":").
func splitName(name string) (base, info string) {
	if i := strings.IndexByte(name, ':'); i >= 0 {
		return name[:i], name[i+1:]
	}
	return name, ""
}

// nameFields are the fields of a unique part this store reads: Dovecot's
// S= (file size) and W= (size with CRLF line endings), and the store's own
// MF=UIDVALIDITY.UID tag, which lets an index be rebuilt without
// renumbering.
type nameFields struct {
	size, wsize      int64
	hasSize, hasW    bool
	validity         uint32
	uid              imap4.UID
	hasTag           bool
	tagStart, tagEnd int // the ",MF=..." bytes within the base
}

// parseFields reads the comma-separated fields of a unique part.
func parseFields(base string) nameFields {
	var nf nameFields
	i := strings.IndexByte(base, ',')
	for i >= 0 && i < len(base) {
		start := i
		j := strings.IndexByte(base[i+1:], ',')
		end := len(base)
		if j >= 0 {
			end = i + 1 + j
		}
		field := base[i+1 : end]
		switch {
		case strings.HasPrefix(field, "S="):
			if v, err := strconv.ParseInt(field[2:], 10, 64); err == nil && v >= 0 {
				nf.size, nf.hasSize = v, true
			}
		case strings.HasPrefix(field, "W="):
			if v, err := strconv.ParseInt(field[2:], 10, 64); err == nil && v >= 0 {
				nf.wsize, nf.hasW = v, true
			}
		case strings.HasPrefix(field, "MF="):
			v, u, ok := strings.Cut(field[3:], ".")
			if !ok {
				break
			}
			vv, err1 := strconv.ParseUint(v, 10, 32)
			uu, err2 := strconv.ParseUint(u, 10, 32)
			if err1 == nil && err2 == nil && vv != 0 && uu != 0 {
				nf.validity, nf.uid, nf.hasTag = uint32(vv), imap4.UID(uu), true
				nf.tagStart, nf.tagEnd = start, end
			}
		}
		if j < 0 {
			break
		}
		i = end
	}
	return nf
}

// withTag returns base with its MF tag (if any) replaced by one for
// validity and uid, and with S= and W= added if missing.
func withTag(base string, nf nameFields, phys, size int64, validity uint32, uid imap4.UID) string {
	if nf.hasTag {
		base = base[:nf.tagStart] + base[nf.tagEnd:]
	}
	var b strings.Builder
	b.WriteString(base)
	if !nf.hasSize {
		b.WriteString(",S=")
		b.WriteString(strconv.FormatInt(phys, 10))
	}
	if !nf.hasW {
		b.WriteString(",W=")
		b.WriteString(strconv.FormatInt(size, 10))
	}
	b.WriteString(",MF=")
	b.WriteString(strconv.FormatUint(uint64(validity), 10))
	b.WriteByte('.')
	b.WriteString(strconv.FormatUint(uint64(uid), 10))
	return b.String()
}

var (
	uniqueSeq  atomic.Uint64
	uniqueHost = sync.OnceValue(func() string {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "localhost"
		}
		// maildir(5): "/" and ":" are written as octal escapes; "," would
		// start a field.
		r := strings.NewReplacer("/", `\057`, ":", `\072`, ",", `\054`)
		return r.Replace(h)
	})
)

// uniqueName returns a new unique part in the usual Maildir form
// (time.MusecPpidQseqRrandom.host), unique across processes and hosts.
func uniqueName() string {
	now := time.Now()
	var b strings.Builder
	b.WriteString(strconv.FormatInt(now.Unix(), 10))
	b.WriteString(".M")
	b.WriteString(strconv.Itoa(now.Nanosecond() / 1000))
	b.WriteByte('P')
	b.WriteString(strconv.Itoa(os.Getpid()))
	b.WriteByte('Q')
	b.WriteString(strconv.FormatUint(uniqueSeq.Add(1), 10))
	b.WriteByte('R')
	b.WriteString(randomSuffix())
	b.WriteByte('.')
	b.WriteString(uniqueHost())
	return b.String()
}

// randomID returns a random non-zero 64-bit number.
func randomID() uint64 {
	var r [8]byte
	for {
		rand.Read(r[:])
		if v := binary.LittleEndian.Uint64(r[:]); v != 0 {
			return v
		}
	}
}

// randomSuffix returns 16 random hex digits.
func randomSuffix() string {
	var r [8]byte
	rand.Read(r[:])
	return hex.EncodeToString(r[:])
}

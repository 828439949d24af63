package maildir

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"slices"
	"sort"
	"strings"

	"github.com/mailfront/mailfront/imap4"
)

// The index of a folder is two files in the folder's directory:
//
//   - mailfront-index, a snapshot: magic, a payload and the payload's
//     CRC-32C. It is replaced atomically (write, fsync, rename, fsync dir).
//   - mailfront-index.log, a journal of the changes since the snapshot:
//     magic and the snapshot's log id, then records, each the payload's
//     length, the payload and its CRC-32C. A record is appended and fsynced
//     before the change it describes is acknowledged or shown to anyone. A
//     torn or corrupt record ends the journal (it is cut off there).
//
// Every number is a varint (encoding/binary). The snapshot names the log id
// it continues with; a journal with another id is older than the snapshot
// and is ignored.
const (
	indexFile = "mailfront-index"
	logFile   = "mailfront-index.log"
)

var (
	indexMagic = []byte("MFIDX\x00\x01\n")
	logMagic   = []byte("MFLOG\x00\x01\n")
	crcTable   = crc32.MakeTable(crc32.Castagnoli)
)

// errCorrupt reports an index file that failed its checks; the folder is
// then rebuilt from the Maildir.
var errCorrupt = errors.New("maildir: corrupt index")

// An entry is one message of a folder.
type entry struct {
	uid    imap4.UID
	modseq imap4.ModSeq
	date   int64 // internal date, Unix nanoseconds (also the file's mtime)
	size   int64 // size with CRLF line endings, as IMAP and POP3 report it
	phys   int64 // size of the file on disk
	sys    sysFlags
	kw     []uint16 // keyword indices, ascending
	name   string   // file name in cur/
	flags  []string // IMAP flags, shared between entries with equal flags
}

// A tomb remembers an expunge, for Sync(since).
type tomb struct {
	uid    imap4.UID
	modseq imap4.ModSeq
}

// indexState is what the index files hold.
type indexState struct {
	validity  uint32
	uidNext   imap4.UID
	highest   imap4.ModSeq
	tombFloor imap4.ModSeq // expunges up to this modseq are forgotten
	mtNew     int64        // mtime of new/ at the last full scan, 0: unknown
	mtCur     int64        // mtime of cur/ at the last full scan, 0: unknown
	logID     uint64
	keywords  []string
	tombs     []tomb   // ascending modseq
	msgs      []*entry // ascending uid
}

// Log record types.
const (
	recPut     = 1 // an entry added or changed
	recExpunge = 2 // uid, modseq
	recKeyword = 3 // index, name
	recState   = 4 // uidNext, highest, tombFloor, mtNew, mtCur
)

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendEntry(b []byte, e *entry) []byte {
	b = binary.AppendUvarint(b, uint64(e.uid))
	b = binary.AppendUvarint(b, uint64(e.modseq))
	b = binary.AppendVarint(b, e.date)
	b = binary.AppendUvarint(b, uint64(e.size))
	b = binary.AppendUvarint(b, uint64(e.phys))
	b = append(b, byte(e.sys))
	b = binary.AppendUvarint(b, uint64(len(e.kw)))
	for _, k := range e.kw {
		b = binary.AppendUvarint(b, uint64(k))
	}
	return appendString(b, e.name)
}

// decoder reads varints with a sticky error. When str is set, it holds
// the same bytes as b did at the start, and strings are cut from it rather
// than each allocated: decoding a snapshot converts it to one string once,
// instead of once per file name. (The names then keep that string, the
// size of the snapshot, alive, which is about what they take anyway.)
type decoder struct {
	b   []byte
	str string
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.err = errCorrupt
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) bytes(n uint64) []byte {
	if d.err != nil || n > uint64(len(d.b)) {
		d.err = errCorrupt
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.str == "" {
		return string(d.bytes(n))
	}
	off := len(d.str) - len(d.b)
	if d.bytes(n) == nil {
		return ""
	}
	return d.str[off : off+int(n)]
}

// count reads a count of items that each take at least min bytes, refusing
// counts the rest of the input cannot hold (no allocation from a hostile
// count).
func (d *decoder) count(min int) int {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)/min) {
		d.err = errCorrupt
		return 0
	}
	return int(n)
}

func (d *decoder) uid() imap4.UID {
	v := d.uvarint()
	if v == 0 || v > 0xffffffff {
		d.err = errCorrupt
	}
	return imap4.UID(v)
}

func (d *decoder) entry(nkeywords int) *entry {
	e := new(entry)
	if !d.entryInto(e, nkeywords) {
		return nil
	}
	return e
}

// entryInto decodes an entry into e, reporting success.
func (d *decoder) entryInto(e *entry, nkeywords int) bool {
	*e = entry{
		uid:    d.uid(),
		modseq: imap4.ModSeq(d.uvarint()),
		date:   d.varint(),
		size:   int64(d.uvarint()),
		phys:   int64(d.uvarint()),
		sys:    sysFlags(d.byte()),
	}
	if n := d.count(1); n > 0 {
		e.kw = make([]uint16, n)
		for i := range e.kw {
			k := d.uvarint()
			if k >= uint64(nkeywords) || (i > 0 && uint16(k) <= e.kw[i-1]) {
				d.err = errCorrupt
				return false
			}
			e.kw[i] = uint16(k)
		}
	}
	e.name = d.string()
	if d.err != nil {
		return false
	}
	if e.modseq == 0 || e.size < 0 || e.phys < 0 || !validFileName(e.name) {
		d.err = errCorrupt
		return false
	}
	return true
}

// validFileName reports whether a name from an index can be a file in
// cur/: one path element, no NUL.
func validFileName(name string) bool {
	if name == "" || name == "." || name == ".." || len(name) > 255 {
		return false
	}
	return strings.IndexByte(name, '/') < 0 && strings.IndexByte(name, 0) < 0
}

// encodeSnapshot encodes st as the content of mailfront-index.
func encodeSnapshot(st *indexState) []byte {
	b := make([]byte, 0, 64+len(st.msgs)*80)
	b = append(b, indexMagic...)
	start := len(b)
	b = binary.AppendUvarint(b, uint64(st.validity))
	b = binary.AppendUvarint(b, uint64(st.uidNext))
	b = binary.AppendUvarint(b, uint64(st.highest))
	b = binary.AppendUvarint(b, uint64(st.tombFloor))
	b = binary.AppendVarint(b, st.mtNew)
	b = binary.AppendVarint(b, st.mtCur)
	b = binary.LittleEndian.AppendUint64(b, st.logID)
	b = binary.AppendUvarint(b, uint64(len(st.keywords)))
	for _, k := range st.keywords {
		b = appendString(b, k)
	}
	b = binary.AppendUvarint(b, uint64(len(st.tombs)))
	for _, t := range st.tombs {
		b = binary.AppendUvarint(b, uint64(t.uid))
		b = binary.AppendUvarint(b, uint64(t.modseq))
	}
	b = binary.AppendUvarint(b, uint64(len(st.msgs)))
	for _, e := range st.msgs {
		b = appendEntry(b, e)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:], crcTable))
}

// decodeSnapshot decodes and checks the content of mailfront-index.
func decodeSnapshot(data []byte) (*indexState, error) {
	if len(data) < len(indexMagic)+4 || string(data[:len(indexMagic)]) != string(indexMagic) {
		return nil, errCorrupt
	}
	payload := data[len(indexMagic) : len(data)-4]
	if crc32.Checksum(payload, crcTable) != binary.LittleEndian.Uint32(data[len(data)-4:]) {
		return nil, errCorrupt
	}
	d := &decoder{b: payload, str: string(payload)}
	st := &indexState{}
	v := d.uvarint()
	if v == 0 || v > 0xffffffff {
		return nil, errCorrupt
	}
	st.validity = uint32(v)
	st.uidNext = d.uid()
	st.highest = imap4.ModSeq(d.uvarint())
	st.tombFloor = imap4.ModSeq(d.uvarint())
	st.mtNew = d.varint()
	st.mtCur = d.varint()
	if id := d.bytes(8); id != nil {
		st.logID = binary.LittleEndian.Uint64(id)
	}
	nk := d.count(1)
	if nk > 0xffff {
		return nil, errCorrupt
	}
	for range nk {
		st.keywords = append(st.keywords, d.string())
	}
	nt := d.count(2)
	st.tombs = make([]tomb, 0, nt)
	for range nt {
		st.tombs = append(st.tombs, tomb{d.uid(), imap4.ModSeq(d.uvarint())})
	}
	nm := d.count(9) // the shortest entry: eight one-byte fields and a one-byte name
	// One allocation for all the entries. A changed entry is a new value
	// (entries are never modified in place once shown), so this block
	// stays alive while any of its entries is in the index, which is at
	// most the memory it took at load.
	ents := make([]entry, nm)
	st.msgs = make([]*entry, nm)
	for i := range ents {
		if !d.entryInto(&ents[i], len(st.keywords)) {
			return nil, errCorrupt
		}
		st.msgs[i] = &ents[i]
	}
	if d.err != nil || len(d.b) != 0 {
		return nil, errCorrupt
	}
	if err := st.check(); err != nil {
		return nil, err
	}
	return st, nil
}

// check verifies the invariants of a decoded state, so that a damaged but
// checksum-valid file (or a bug) is caught before it is served.
func (st *indexState) check() error {
	if st.validity == 0 || st.uidNext == 0 {
		return errCorrupt
	}
	for i, e := range st.msgs {
		if e.uid >= st.uidNext || e.modseq > st.highest || (i > 0 && e.uid <= st.msgs[i-1].uid) {
			return errCorrupt
		}
	}
	for i, t := range st.tombs {
		if t.modseq > st.highest || (i > 0 && t.modseq < st.tombs[i-1].modseq) {
			return errCorrupt
		}
	}
	seen := make(map[string]bool, len(st.keywords))
	for _, k := range st.keywords {
		if !validKeyword(k) || seen[lower(k)] {
			return errCorrupt
		}
		seen[lower(k)] = true
	}
	return nil
}

// encodeRecord frames one log record.
func encodeRecord(b, payload []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(payload)))
	b = append(b, payload...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(payload, crcTable))
}

// maxRecord bounds one log record.
const maxRecord = 1 << 20

// replayLog applies the records of a journal to st. It returns the length
// of the valid prefix of data (the journal is cut there) and whether it
// matched st's log id at all.
func replayLog(st *indexState, data []byte) (valid int, ok bool) {
	hdr := len(logMagic) + 8
	if len(data) < hdr || string(data[:len(logMagic)]) != string(logMagic) ||
		binary.LittleEndian.Uint64(data[len(logMagic):hdr]) != st.logID {
		return 0, false
	}
	r := &replayer{st: st}
	off := hdr
	for off < len(data) {
		n, k := binary.Uvarint(data[off:])
		if k <= 0 || n > maxRecord || uint64(len(data)-off-k) < n+4 {
			break
		}
		payload := data[off+k : off+k+int(n)]
		sum := binary.LittleEndian.Uint32(data[off+k+int(n):])
		if crc32.Checksum(payload, crcTable) != sum || !r.apply(payload) {
			break
		}
		off += k + int(n) + 4
	}
	r.finish()
	return off, true
}

// A replayer applies log records; expunges are marked and the message list
// compacted once at the end.
type replayer struct {
	st      *indexState
	removed bool
}

func (r *replayer) find(uid imap4.UID) int {
	msgs := r.st.msgs
	i := sort.Search(len(msgs), func(i int) bool { return msgs[i].uid >= uid })
	if i < len(msgs) && msgs[i].uid == uid {
		return i
	}
	return -(i + 1)
}

func (r *replayer) apply(payload []byte) bool {
	if len(payload) == 0 {
		return false
	}
	st := r.st
	d := &decoder{b: payload[1:]}
	switch payload[0] {
	case recPut:
		e := d.entry(len(st.keywords))
		if d.err != nil || len(d.b) != 0 {
			return false
		}
		if e.uid >= st.uidNext {
			st.uidNext = e.uid + 1
		}
		st.highest = max(st.highest, e.modseq)
		if i := r.find(e.uid); i >= 0 {
			st.msgs[i] = e
		} else {
			st.msgs = slices.Insert(st.msgs, -i-1, e)
		}
	case recExpunge:
		uid, ms := d.uid(), imap4.ModSeq(d.uvarint())
		if d.err != nil || len(d.b) != 0 {
			return false
		}
		if i := r.find(uid); i >= 0 {
			st.msgs[i] = &entry{uid: uid} // marked: name ""
			r.removed = true
		}
		st.highest = max(st.highest, ms)
		st.tombs = append(st.tombs, tomb{uid, ms})
	case recKeyword:
		idx, name := d.uvarint(), d.string()
		if d.err != nil || len(d.b) != 0 || idx != uint64(len(st.keywords)) || idx > 0xffff || !validKeyword(name) {
			return false
		}
		st.keywords = append(st.keywords, name)
	case recState:
		next, hi, floor := d.uid(), imap4.ModSeq(d.uvarint()), imap4.ModSeq(d.uvarint())
		mtNew, mtCur := d.varint(), d.varint()
		if d.err != nil || len(d.b) != 0 {
			return false
		}
		st.uidNext = max(st.uidNext, next)
		st.highest = max(st.highest, hi)
		st.tombFloor = max(st.tombFloor, floor)
		st.mtNew, st.mtCur = mtNew, mtCur
	default:
		return false
	}
	return true
}

func (r *replayer) finish() {
	if r.removed {
		r.st.msgs = slices.DeleteFunc(r.st.msgs, func(e *entry) bool { return e.name == "" })
	}
	slices.SortStableFunc(r.st.tombs, func(a, b tomb) int {
		switch {
		case a.modseq < b.modseq:
			return -1
		case a.modseq > b.modseq:
			return 1
		}
		return 0
	})
}

func putRecord(e *entry) []byte {
	return appendEntry([]byte{recPut}, e)
}

func expungeRecord(uid imap4.UID, ms imap4.ModSeq) []byte {
	b := binary.AppendUvarint([]byte{recExpunge}, uint64(uid))
	return binary.AppendUvarint(b, uint64(ms))
}

func keywordRecord(idx int, name string) []byte {
	b := binary.AppendUvarint([]byte{recKeyword}, uint64(idx))
	return appendString(b, name)
}

func stateRecord(st *indexState) []byte {
	b := binary.AppendUvarint([]byte{recState}, uint64(st.uidNext))
	b = binary.AppendUvarint(b, uint64(st.highest))
	b = binary.AppendUvarint(b, uint64(st.tombFloor))
	b = binary.AppendVarint(b, st.mtNew)
	return binary.AppendVarint(b, st.mtCur)
}

func logHeader(id uint64) []byte {
	return binary.LittleEndian.AppendUint64(append([]byte(nil), logMagic...), id)
}

package maildir

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"sort"

	"github.com/mailfront/mailfront/imap4"
)

// The structure cache of a folder (imap4.StructureCache) is the file
// mailfront-cache: magic and the folder's UIDVALIDITY, then records of
// UID, length, CRC-32C and the frontend's opaque bytes. Records are
// appended without fsync: it is a cache, and a torn or corrupt record is
// simply not used. The in-memory table of offsets is built on first use,
// so opening a mailbox does not read the cache.
const (
	cacheFile     = "mailfront-cache"
	maxCacheEntry = 1 << 20
	cacheHeader   = 12
	recHeader     = 12
)

var cacheMagic = []byte("MFCACHE1")

type cacheLoc struct {
	off int64 // of the data
	n   uint32
	sum uint32
}

// A structCache is the structure cache of one folder. It is used with the
// folder's mutex held.
type structCache struct {
	f       *folder
	loaded  bool
	file    file
	size    int64
	table   map[imap4.UID]cacheLoc
	garbage int64
}

// newStructCache returns the cache of f; with discard, an existing cache
// file is removed (the folder's UIDs were reassigned).
func newStructCache(f *folder, discard bool) *structCache {
	if discard {
		f.fs().Remove(f.path(cacheFile))
	}
	return &structCache{f: f}
}

// load opens the cache file and reads its table, starting a new file when
// it is missing, damaged or for another UIDVALIDITY.
func (c *structCache) load() error {
	if c.loaded {
		if c.file == nil {
			return errors.New("maildir: structure cache unavailable")
		}
		return nil
	}
	c.loaded = true
	c.table = make(map[imap4.UID]cacheLoc)
	fsys := c.f.fs()
	path := c.f.path(cacheFile)
	fh, err := fsys.OpenFile(path, os.O_RDWR, 0o600)
	if err == nil {
		var hdr [cacheHeader]byte
		if _, err := fh.ReadAt(hdr[:], 0); err == nil && string(hdr[:8]) == string(cacheMagic) &&
			binary.LittleEndian.Uint32(hdr[8:]) == c.f.st.validity {
			c.file = fh
			c.readTable()
			return nil
		}
		fh.Close()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	hdr := binary.LittleEndian.AppendUint32(append([]byte(nil), cacheMagic...), c.f.st.validity)
	if err := writeFileAtomic(fsys, path, hdr); err != nil {
		return err
	}
	if fh, err = fsys.OpenFile(path, os.O_RDWR, 0o600); err != nil {
		return err
	}
	c.file, c.size = fh, cacheHeader
	return nil
}

// readTable reads the record headers; it stops at the first one that does
// not fit in the file (a torn append), and cuts the file there.
func (c *structCache) readTable() {
	fi, err := c.file.Stat()
	if err != nil {
		return
	}
	end := fi.Size()
	off := int64(cacheHeader)
	var h [recHeader]byte
	for off+recHeader <= end {
		if _, err := c.file.ReadAt(h[:], off); err != nil {
			break
		}
		uid := imap4.UID(binary.LittleEndian.Uint32(h[0:]))
		n := binary.LittleEndian.Uint32(h[4:])
		if uid == 0 || n > maxCacheEntry || off+recHeader+int64(n) > end {
			break
		}
		if old, ok := c.table[uid]; ok {
			c.garbage += recHeader + int64(old.n)
		}
		c.table[uid] = cacheLoc{off + recHeader, n, binary.LittleEndian.Uint32(h[8:])}
		off += recHeader + int64(n)
	}
	if off != end {
		c.file.Truncate(off)
	}
	c.size = off
}

// get returns the cached bytes of uid.
func (c *structCache) get(uid imap4.UID) ([]byte, bool) {
	if c.load() != nil {
		return nil, false
	}
	loc, ok := c.table[uid]
	if !ok {
		return nil, false
	}
	data := make([]byte, loc.n)
	if _, err := c.file.ReadAt(data, loc.off); err != nil && !errors.Is(err, io.EOF) {
		return nil, false
	}
	if crc32.Checksum(data, crcTable) != loc.sum {
		delete(c.table, uid)
		return nil, false
	}
	return data, true
}

// put stores the bytes of uid.
func (c *structCache) put(uid imap4.UID, data []byte) {
	if len(data) > maxCacheEntry || c.load() != nil {
		return
	}
	rec := make([]byte, recHeader, recHeader+len(data))
	sum := crc32.Checksum(data, crcTable)
	binary.LittleEndian.PutUint32(rec[0:], uint32(uid))
	binary.LittleEndian.PutUint32(rec[4:], uint32(len(data)))
	binary.LittleEndian.PutUint32(rec[8:], sum)
	rec = append(rec, data...)
	if _, err := c.file.WriteAt(rec, c.size); err != nil {
		c.file.Truncate(c.size)
		return
	}
	if old, ok := c.table[uid]; ok {
		c.garbage += recHeader + int64(old.n)
	}
	c.table[uid] = cacheLoc{c.size + recHeader, uint32(len(data)), sum}
	c.size += int64(len(rec))
}

// drop forgets the entry of an expunged message.
func (c *structCache) drop(uid imap4.UID) {
	if old, ok := c.table[uid]; ok {
		c.garbage += recHeader + int64(old.n)
		delete(c.table, uid)
	}
}

// flush compacts the file when most of it is garbage.
func (c *structCache) flush() {
	if c.file == nil || c.garbage < 1<<20 || c.garbage < c.size/2 {
		return
	}
	uids := make([]imap4.UID, 0, len(c.table))
	for uid := range c.table {
		uids = append(uids, uid)
	}
	sort.Slice(uids, func(i, j int) bool { return uids[i] < uids[j] })
	out := binary.LittleEndian.AppendUint32(append([]byte(nil), cacheMagic...), c.f.st.validity)
	for _, uid := range uids {
		data, ok := c.get(uid)
		if !ok {
			continue
		}
		out = binary.LittleEndian.AppendUint32(out, uint32(uid))
		out = binary.LittleEndian.AppendUint32(out, uint32(len(data)))
		out = binary.LittleEndian.AppendUint32(out, crc32.Checksum(data, crcTable))
		out = append(out, data...)
	}
	c.close()
	writeFileAtomic(c.f.fs(), c.f.path(cacheFile), out)
}

// close closes the file; the cache can be loaded again.
func (c *structCache) close() {
	if c.file != nil {
		c.file.Close()
		c.file = nil
	}
	c.loaded = false
	c.table = nil
	c.garbage = 0
}

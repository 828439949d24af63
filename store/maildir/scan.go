package maildir

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"sort"
	"time"

	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/internal/wire"
)

// A cand is a file found in new/ or cur/ that the index does not know: a
// message delivered by another program (or one written by this store just
// before a crash, whose journal record was lost).
type cand struct {
	dir  string // "new" or "cur"
	name string
	nf   nameFields
}

// skipName reports directory entries that are never messages: hidden files
// (temporary files of other programs) and empty names.
func skipName(n string) bool { return n == "" || n[0] == '.' }

// trusted returns a directory mtime to record, or 0 when it is too recent
// to prove that a later change will move it (timestamps are coarse).
func trusted(mt int64, now time.Time) int64 {
	if now.UnixNano()-mt < int64(trustAge) {
		return 0
	}
	return mt
}

// scanLocked reconciles the index with the directories: files that
// appeared (delivered by other programs) are adopted, files renamed by
// other programs (flag changes in the info suffix) keep their UIDs and get
// their new flags, files that vanished are expunged. A directory whose
// mtime has not moved since the last scan is not read, so a scan of an
// unchanged mailbox costs two stat calls. With force, both directories are
// read; with rebuild (an index being rebuilt), UIDs recorded in file names
// (the MF= tag) are kept when they are below the reserved ceiling.
func (f *folder) scanLocked(force, rebuild bool) (changed bool, err error) {
	fsys := f.fs()
	now := time.Now()
	f.lastScan = now
	f.forceScan = false
	stNew, err1 := fsys.Lstat(f.path("new"))
	stCur, err2 := fsys.Lstat(f.path("cur"))
	if err1 != nil || err2 != nil {
		if _, err := fsys.Lstat(f.dir); errors.Is(err, fs.ErrNotExist) {
			f.markGoneLocked()
			return true, errGone
		}
		if err := makeMaildirDirs(fsys, f.dir); err != nil {
			return false, err
		}
		if stNew, err1 = fsys.Lstat(f.path("new")); err1 != nil {
			return false, err1
		}
		if stCur, err2 = fsys.Lstat(f.path("cur")); err2 != nil {
			return false, err2
		}
		force = true
	}
	mtN, mtC := stNew.ModTime().UnixNano(), stCur.ModTime().UnixNano()
	readNew := force || f.st.mtNew == 0 || mtN != f.st.mtNew
	readCur := force || f.st.mtCur == 0 || mtC != f.st.mtCur
	if !readNew && !readCur {
		return false, nil
	}
	var cands []cand
	if readCur {
		names, err := fsys.ReadDirNames(f.path("cur"))
		if err != nil {
			return false, err
		}
		ch, c, err := f.reconcileCurLocked(names)
		if err != nil {
			f.invalidateLocked() // memory may hold changes not journaled
			return false, err
		}
		changed, cands = ch, c
	}
	if readNew {
		names, err := fsys.ReadDirNames(f.path("new"))
		if err != nil {
			return false, err
		}
		for _, n := range names {
			if !skipName(n) {
				cands = append(cands, cand{dir: "new", name: n})
			}
		}
	}
	if len(cands) > 0 {
		ch, err := f.adoptLocked(cands, rebuild)
		if err != nil {
			f.invalidateLocked()
			return false, err
		}
		changed = changed || ch
	}
	oldN, oldC := f.st.mtNew, f.st.mtCur
	if readNew {
		f.st.mtNew = trusted(mtN, now)
	}
	if readCur {
		f.st.mtCur = trusted(mtC, now)
	}
	if rebuild {
		// loadLocked writes a snapshot of everything instead.
		return changed, nil
	}
	if changed || oldN != f.st.mtNew || oldC != f.st.mtCur {
		f.pending = encodeRecord(f.pending, stateRecord(f.st))
		// Changes to messages are made durable before anyone sees them;
		// a record of directory mtimes alone is only a hint.
		if err := f.commitLocked(changed); err != nil {
			return false, err
		}
	}
	if changed {
		f.notifyLocked(nil)
	}
	return changed, nil
}

// reconcileCurLocked matches the names in cur/ with the index. It returns
// the names the index does not know.
func (f *folder) reconcileCurLocked(names []string) (changed bool, cands []cand, err error) {
	fsys := f.fs()
	msgs := f.st.msgs
	seen := make([]bool, len(msgs))
	byBase := make(map[string]int, len(msgs))
	for i, e := range msgs {
		b, _ := splitName(e.name)
		byBase[b] = i
	}
	// match finds the entry a name belongs to: same unique part, or the
	// same MF tag (another program changed the unique part).
	match := func(n string) (int, bool) {
		base, _ := splitName(n)
		if i, ok := byBase[base]; ok {
			return i, !seen[i]
		}
		if nf := parseFields(base); nf.hasTag && nf.validity == f.st.validity {
			if i := f.findLocked(nf.uid); i >= 0 {
				return i, !seen[i]
			}
		}
		return -1, false
	}
	newName := make(map[int]string)
	for _, n := range names {
		if skipName(n) {
			continue
		}
		i, free := match(n)
		switch {
		case i < 0:
			cands = append(cands, cand{dir: "cur", name: n})
		case free:
			seen[i] = true
			if msgs[i].name != n {
				newName[i] = n
			}
		default:
			// Two names for one message: a rename by another program
			// while the directory was read, or a copy.
			prev := msgs[i].name
			if nn, ok := newName[i]; ok {
				prev = nn
			}
			if _, err := fsys.Lstat(f.path("cur", prev)); errors.Is(err, fs.ErrNotExist) {
				newName[i] = n
			} else {
				cands = append(cands, cand{dir: "cur", name: n})
			}
		}
	}
	var missing []int
	for i := range msgs {
		if !seen[i] {
			missing = append(missing, i)
		}
	}
	if len(missing) > 0 {
		// readdir can miss a file renamed while the directory is read;
		// look again before calling anything expunged.
		again, err := fsys.ReadDirNames(f.path("cur"))
		if err != nil {
			return false, nil, err
		}
		isCand := make(map[string]bool, len(cands))
		for _, c := range cands {
			isCand[c.name] = true
		}
		for _, n := range again {
			if skipName(n) || isCand[n] {
				continue
			}
			if i, free := match(n); free {
				seen[i] = true
				if msgs[i].name != n {
					newName[i] = n
				}
			}
		}
		for _, i := range missing {
			if !seen[i] {
				if _, err := fsys.Lstat(f.path("cur", msgs[i].name)); err == nil {
					seen[i] = true
				}
			}
		}
	}
	idx := make([]int, 0, len(newName))
	for i := range newName {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	for _, i := range idx {
		e := msgs[i]
		ne := *e
		ne.name = newName[i]
		_, info := splitName(ne.name)
		if sys, _ := parseInfo(info); sys != e.sys {
			ms, err := f.nextModSeqLocked()
			if err != nil {
				return false, nil, err
			}
			ne.sys, ne.modseq = sys, ms
			ne.flags = f.internLocked(ne.sys, ne.kw)
			changed = true
		}
		msgs[i] = &ne
		if ne.modseq != e.modseq {
			f.changedLocked(&ne)
		}
		f.pending = encodeRecord(f.pending, putRecord(&ne))
	}
	gone := false
	for i := range msgs {
		if seen[i] {
			continue
		}
		ms, err := f.nextModSeqLocked()
		if err != nil {
			return false, nil, err
		}
		f.pending = encodeRecord(f.pending, expungeRecord(msgs[i].uid, ms))
		f.st.tombs = append(f.st.tombs, tomb{msgs[i].uid, ms})
		if f.cache != nil {
			f.cache.drop(msgs[i].uid)
		}
		msgs[i] = nil
		gone, changed = true, true
	}
	if gone {
		kept := msgs[:0]
		for _, e := range msgs {
			if e != nil {
				kept = append(kept, e)
			}
		}
		clear(msgs[len(kept):])
		f.st.msgs = kept
	}
	return changed, cands, nil
}

// adoptLocked gives UIDs to files the index does not know and moves them
// into cur/ under a name carrying the UID (the MF tag) and the sizes.
func (f *folder) adoptLocked(cands []cand, rebuild bool) (bool, error) {
	fsys := f.fs()
	v := f.st.validity
	initialNext := f.st.uidNext
	for i := range cands {
		base, _ := splitName(cands[i].name)
		cands[i].nf = parseFields(base)
	}
	tagged := func(c *cand) bool { return c.nf.hasTag && c.nf.validity == v }
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := &cands[i], &cands[j]
		if tagged(a) != tagged(b) {
			return tagged(a)
		}
		if tagged(a) {
			return a.nf.uid < b.nf.uid
		}
		return a.name < b.name
	})
	bases := make(map[string]bool, len(f.st.msgs)+len(cands))
	for _, e := range f.st.msgs {
		b, _ := splitName(e.name)
		bases[b] = true
	}
	changed, moved := false, false
	reread := false // dovecot-keywords, see below
	for i := range cands {
		c := &cands[i]
		src := f.path(c.dir, c.name)
		fi, err := fsys.Lstat(src)
		if err != nil || !fi.Mode().IsRegular() {
			continue // gone meanwhile, or not a message
		}
		base, info := splitName(c.name)
		phys := fi.Size()
		size := c.nf.wsize
		if !c.nf.hasW || !c.nf.hasSize || c.nf.size != phys {
			if size, err = f.crlfSize(src); err != nil {
				f.logger().LogAttrs(context.Background(), slog.LevelWarn, "maildir: reading delivered message",
					slog.String("file", src), slog.Any("err", err))
				continue
			}
		}
		var uid imap4.UID
		keep := tagged(c) && f.findLocked(c.nf.uid) < 0
		if rebuild {
			keep = keep && c.nf.uid < initialNext
		} else {
			keep = keep && c.nf.uid >= f.st.uidNext && c.nf.uid < f.resUID
		}
		if keep {
			uid = c.nf.uid
			if uid >= f.st.uidNext {
				f.st.uidNext = uid + 1
			}
		} else if uid, err = f.nextUIDLocked(); err != nil {
			return changed, err
		}
		ms, err := f.nextModSeqLocked()
		if err != nil {
			return changed, err
		}
		nb := withTag(base, c.nf, phys, size, v, uid)
		if c.nf.hasTag && c.nf.validity == v && c.nf.uid == uid && c.nf.hasSize && c.nf.hasW {
			nb = base
		}
		sys, extra := parseInfo(info)
		var kw []uint16
		if hasKeywordLetters(extra) {
			// Keyword letters ($Forwarded is the P flag here). A letter
			// the map lacks: the file may have come with a newer
			// dovecot-keywords, read it again (once per scan).
			m := f.dovecotKeywordsLocked()
			if !m.covers(extra) && !reread {
				f.dkw, reread = nil, true
				m = f.dovecotKeywordsLocked()
			}
			if fs, err := f.parseFlagsLocked(m.names(extra)); err == nil {
				sys, kw = sys|fs.sys, fs.kw
			}
		}
		name := nb + ":" + formatInfo(sys, extra)
		if bases[nb] || (name != c.name && exists(fsys, f.path("cur", name))) {
			// Another message has this unique part (a copied file): this
			// one gets a new one, and rename never overwrites a file.
			nb = withTag(uniqueName(), nameFields{}, phys, size, v, uid)
			name = nb + ":" + formatInfo(sys, extra)
		}
		if c.dir != "cur" || name != c.name {
			if err := fsys.Rename(src, f.path("cur", name)); err != nil {
				if !errors.Is(err, fs.ErrNotExist) {
					f.logger().LogAttrs(context.Background(), slog.LevelWarn, "maildir: adopting message",
						slog.String("file", src), slog.Any("err", err))
				}
				continue
			}
			moved = true
		}
		bases[nb] = true
		e := &entry{uid: uid, modseq: ms, date: fi.ModTime().UnixNano(), size: size, phys: phys, sys: sys, kw: kw, name: name}
		e.flags = f.internLocked(e.sys, e.kw)
		f.insertLocked(e)
		f.changedLocked(e)
		if !rebuild { // a rebuild writes a snapshot instead
			f.pending = encodeRecord(f.pending, putRecord(e))
		}
		changed = true
	}
	if moved {
		// The new names carry the UIDs: make them durable before the
		// journal names them.
		if err := fsys.SyncDir(f.path("cur")); err != nil {
			return changed, err
		}
		if err := fsys.SyncDir(f.path("new")); err != nil {
			return changed, err
		}
	}
	return changed, nil
}

// crlfSize reads a file and returns its size with bare LF counted as CRLF.
func (f *folder) crlfSize(path string) (int64, error) {
	r, err := f.fs().OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	return wire.CRLFSize(r)
}

// exists reports whether path exists (as anything).
func exists(fsys fileSystem, path string) bool {
	_, err := fsys.Lstat(path)
	return err == nil
}

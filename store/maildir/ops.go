package maildir

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync/atomic"
	"time"

	"github.com/mailfront/mailfront/imap4"
)

// staged is a message written to the user's tmp/ and fsynced, ready to be
// renamed (or linked) into a folder's cur/. Its content is served exactly
// as it was given: APPEND and submission give CRLF line endings, except in
// binary content (BINARYMIME, literal8), which must not be converted.
type staged struct {
	path string
	phys int64 // file size
	size int64 // size with CRLF line endings
	date time.Time
}

// stage writes r to a new file in dir (a tmp/ directory), fsyncs it and
// sets its modification time to date (zero: now). On any failure, including
// a failing r or a cancelled ctx, the file is removed.
func stage(ctx context.Context, fsys fileSystem, dir string, r io.Reader, date time.Time) (st *staged, err error) {
	path := filepath.Join(dir, uniqueName())
	w, err := fsys.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, quotaError(err)
	}
	defer func() {
		if err != nil {
			w.Close()
			fsys.Remove(path)
			err = quotaError(err)
		}
	}()
	var phys int64
	buf := make([]byte, 64<<10)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n, rerr := r.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return nil, err
			}
			phys += int64(n)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return nil, rerr
		}
	}
	if !date.IsZero() {
		if err := fsys.Chtimes(path, date, date); err != nil {
			return nil, err
		}
	}
	if err := w.Sync(); err != nil {
		return nil, err
	}
	fi, err := w.Stat()
	if err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return &staged{path: path, phys: phys, size: phys, date: fi.ModTime()}, nil
}

// deliverLocked moves a staged message into cur/ under a new UID with the
// given flags, makes it durable (directory fsync, journal record fsync) and
// shows it to the folder's sessions. With link, the staged file is linked
// (it stays in tmp/ for other deliveries; a copy is made where linking is
// impossible); otherwise it is renamed. On failure the message is not
// visible and nothing is left in cur/.
func (f *folder) deliverLocked(s *staged, flags []string, link bool, except *mailbox) (imap4.UID, error) {
	fsys := f.fs()
	fl, err := f.parseFlagsLocked(flags)
	if err != nil {
		f.invalidateLocked()
		return 0, err
	}
	uid, err := f.nextUIDLocked()
	if err != nil {
		f.invalidateLocked()
		return 0, err
	}
	ms, err := f.nextModSeqLocked()
	if err != nil {
		f.invalidateLocked()
		return 0, err
	}
	name := withTag(uniqueName(), nameFields{}, s.phys, s.size, f.st.validity, uid) + ":" + formatInfo(fl.sys, f.lettersLocked("", fl.sys, fl.kw))
	dst := f.path("cur", name)
	if link {
		err = linkOrCopy(fsys, s.path, dst, filepath.Join(f.u.root, "tmp"), s.date)
	} else {
		err = fsys.Rename(s.path, dst)
	}
	if err == nil {
		if err = fsys.SyncDir(f.path("cur")); err != nil {
			fsys.Remove(dst)
		}
	}
	if err != nil {
		f.invalidateLocked()
		return 0, quotaError(err)
	}
	e := &entry{uid: uid, modseq: ms, date: s.date.UnixNano(), size: s.size, phys: s.phys, sys: fl.sys, kw: fl.kw, name: name}
	e.flags = f.internLocked(e.sys, e.kw)
	f.insertLocked(e)
	f.changedLocked(e)
	f.pending = encodeRecord(f.pending, putRecord(e))
	f.pending = encodeRecord(f.pending, stateRecord(f.st))
	if err := f.commitLocked(true); err != nil {
		fsys.Remove(dst)
		fsys.SyncDir(f.path("cur"))
		return 0, err
	}
	f.notifyLocked(except)
	return uid, nil
}

// append is Mailbox.Append: the message is staged without the folder lock,
// then delivered under it.
func (f *folder) append(ctx context.Context, r io.Reader, opts *imap4.AppendOptions, except *mailbox) (imap4.AppendResult, error) {
	var flags []string
	var date time.Time
	if opts != nil {
		flags, date = opts.Flags, opts.InternalDate
	}
	f.mu.Lock()
	err := f.readyLocked(false)
	f.mu.Unlock()
	if err != nil {
		return imap4.AppendResult{}, err
	}
	s, err := stage(ctx, f.fs(), filepath.Join(f.u.root, "tmp"), r, date)
	if err != nil {
		return imap4.AppendResult{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.readyLocked(false); err != nil {
		f.fs().Remove(s.path)
		return imap4.AppendResult{}, err
	}
	v := f.st.validity
	uid, err := f.deliverLocked(s, flags, false, except)
	if err != nil {
		f.fs().Remove(s.path)
		return imap4.AppendResult{}, err
	}
	return imap4.AppendResult{UIDValidity: v, UID: uid}, nil
}

// linkOrCopy links src to dst, or copies it (through tmpDir, fsynced, with
// the modification time date) where the file system cannot link.
func linkOrCopy(fsys fileSystem, src, dst, tmpDir string, date time.Time) error {
	err := fsys.Link(src, dst)
	if err == nil || errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrExist) {
		return err
	}
	in, err := fsys.OpenFile(src, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	s, err := stage(context.Background(), fsys, tmpDir, in, date)
	if err != nil {
		return err
	}
	if err := fsys.Rename(s.path, dst); err != nil {
		fsys.Remove(s.path)
		return err
	}
	return nil
}

// meta returns the imap4 view of an entry.
func (e *entry) meta() imap4.MessageMeta {
	return imap4.MessageMeta{UID: e.uid, Flags: e.flags, ModSeq: e.modseq, Size: e.size, InternalDate: time.Unix(0, e.date)}
}

// A syncKey identifies a state of a folder's messages as imap4 sees them:
// every change to what Sync reports moves the HIGHESTMODSEQ (flag changes
// and expunges), UIDNEXT (new messages) or the count, and a reload
// replaces the state. Changes that keep all four (a file renamed by
// another program without a flag change) are invisible to imap4.
type syncKey struct {
	st       *indexState
	validity uint32
	uidNext  imap4.UID
	highest  imap4.ModSeq
	n        int
}

func (f *folder) syncKeyLocked() syncKey {
	return syncKey{f.st, f.st.validity, f.st.uidNext, f.st.highest, len(f.st.msgs)}
}

// statusLocked counts the folder's messages, once per state of the
// folder: STATUS, and the Sync before every command's response, would
// otherwise walk a large folder each time.
func (f *folder) statusLocked() imap4.MailboxStatus {
	key := f.syncKeyLocked()
	if f.statusOK && f.statusKey == key {
		return f.status
	}
	f.status, f.statusKey, f.statusOK = f.countLocked(), key, true
	return f.status
}

// countLocked counts the folder's messages.
func (f *folder) countLocked() imap4.MailboxStatus {
	st := imap4.MailboxStatus{
		UIDValidity:   f.st.validity,
		UIDNext:       f.st.uidNext,
		HighestModSeq: f.st.highest,
		Messages:      uint32(len(f.st.msgs)),
	}
	for _, e := range f.st.msgs {
		if e.sys&flagSeen == 0 {
			st.Unseen++
		}
		if e.sys&flagTrashed != 0 {
			st.Deleted++
		}
		st.Size += e.size
	}
	return st
}

// sync is Mailbox.Sync.
func (f *folder) sync(since imap4.ModSeq) (*imap4.SyncData, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.readyLocked(false); err != nil {
		return nil, err
	}
	key := f.syncKeyLocked()
	if since == 0 && f.full != nil && f.fullKey == key {
		return f.full, nil // unchanged: every SELECT shares one result
	}
	sd := &imap4.SyncData{MailboxStatus: f.statusLocked()}
	if since == 0 {
		// (Patching the last result instead of walking was tried: the
		// copy of 100,000 MessageMeta, with their pointers, costs as much
		// as the walk.)
		sd.Messages = f.walkLocked(0)
		f.full, f.fullKey = sd, key
		return sd, nil
	}
	if since >= f.changesFloor {
		sd.Messages = f.changedSinceLocked(since)
	} else {
		sd.Messages = f.walkLocked(since)
	}
	if since < f.st.tombFloor {
		// Expunges this old are forgotten: report every UID that is not
		// here (a superset, which the contract allows).
		next := imap4.UID(1)
		for _, e := range f.st.msgs {
			for ; next < e.uid; next++ {
				sd.Expunged = append(sd.Expunged, next)
			}
			next = e.uid + 1
		}
		for ; next < f.st.uidNext; next++ {
			sd.Expunged = append(sd.Expunged, next)
		}
		return sd, nil
	}
	for i := len(f.st.tombs) - 1; i >= 0 && f.st.tombs[i].modseq > since; i-- {
		sd.Expunged = append(sd.Expunged, f.st.tombs[i].uid)
	}
	slices.Sort(sd.Expunged)
	sd.Expunged = slices.Compact(sd.Expunged)
	return sd, nil
}

// walkLocked returns the metadata of every entry whose modseq is above
// since, walking them all.
func (f *folder) walkLocked(since imap4.ModSeq) []imap4.MessageMeta {
	out := make([]imap4.MessageMeta, 0, len(f.st.msgs))
	for _, e := range f.st.msgs {
		if e.modseq > since {
			out = append(out, e.meta())
		}
	}
	return out
}

// changedSinceLocked is walkLocked from the list of changes, for since at
// or above its floor: each change that is an entry's latest, by UID.
func (f *folder) changedSinceLocked(since imap4.ModSeq) []imap4.MessageMeta {
	var out []imap4.MessageMeta
	i := sort.Search(len(f.changes), func(i int) bool { return f.changes[i].modseq > since })
	for _, c := range f.changes[i:] {
		if j := f.findLocked(c.uid); j >= 0 && f.st.msgs[j].modseq == c.modseq {
			out = append(out, f.st.msgs[j].meta())
		}
	}
	slices.SortFunc(out, func(a, b imap4.MessageMeta) int { return cmp.Compare(a.UID, b.UID) })
	return out
}

// open is Mailbox.Open.
func (f *folder) open(uid imap4.UID) (*message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.readyLocked(false); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		i := f.findLocked(uid)
		if i < 0 {
			return nil, imap4.ErrNoSuchMessage
		}
		e := f.st.msgs[i]
		fh, err := f.fs().OpenFile(f.path("cur", e.name), os.O_RDONLY, 0)
		if err == nil {
			return newMessage(fh, e.size, e.phys), nil
		}
		if !errors.Is(err, fs.ErrNotExist) || attempt > 0 {
			return nil, err
		}
		// Renamed or deleted by another program: look again.
		if _, err := f.scanLocked(true, false); err != nil {
			return nil, err
		}
	}
}

// sortedUIDs returns uids ascending without duplicates.
func sortedUIDs(uids []imap4.UID) []imap4.UID {
	u := slices.Clone(uids)
	slices.Sort(u)
	return slices.Compact(u)
}

// setFlags is Mailbox.SetFlags. Flags kept in the info suffix are changed
// by renaming the file (and fsyncing cur/), keywords in the journal.
func (f *folder) setFlags(uids []imap4.UID, op imap4.StoreOp, flags []string, opts *imap4.StoreOptions, except *mailbox) (*imap4.StoreResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.readyLocked(false); err != nil {
		return nil, err
	}
	var fl flagSet
	if op == imap4.StoreRemove {
		fl = f.lookupFlagsLocked(flags)
	} else {
		var err error
		if fl, err = f.parseFlagsLocked(flags); err != nil {
			f.invalidateLocked()
			return nil, err
		}
	}
	var unchangedSince imap4.ModSeq
	if opts != nil {
		unchangedSince = opts.UnchangedSince
	}
	fsys := f.fs()
	res := &imap4.StoreResult{}
	type rename struct{ from, to string }
	var renames []rename
	undo := func() {
		for i := len(renames) - 1; i >= 0; i-- {
			fsys.Rename(renames[i].to, renames[i].from)
		}
	}
	for _, uid := range sortedUIDs(uids) {
		i := f.findLocked(uid)
		if i < 0 {
			continue
		}
		e := f.st.msgs[i]
		if unchangedSince > 0 && e.modseq > unchangedSince {
			res.Modified = append(res.Modified, uid)
			continue
		}
		nf := applyOp(e, op, fl)
		if sameFlags(e, nf) {
			continue
		}
		ne := *e
		ne.sys, ne.kw = nf.sys, nf.kw
		base, info := splitName(e.name)
		_, extra := parseInfo(info)
		if letters := f.lettersLocked(extra, ne.sys, ne.kw); ne.sys != e.sys || formatInfo(ne.sys, letters) != formatInfo(e.sys, extra) {
			ne.name = base + ":" + formatInfo(ne.sys, letters)
			from, to := f.path("cur", e.name), f.path("cur", ne.name)
			if err := fsys.Rename(from, to); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					// Renamed or removed by another program: the next
					// scan finds out which.
					f.forceScan = true
					continue
				}
				undo()
				f.invalidateLocked()
				return nil, err
			}
			renames = append(renames, rename{from, to})
		}
		ms, err := f.nextModSeqLocked()
		if err != nil {
			undo()
			f.invalidateLocked()
			return nil, err
		}
		ne.modseq = ms
		ne.flags = f.internLocked(ne.sys, ne.kw)
		f.st.msgs[i] = &ne
		f.changedLocked(&ne)
		f.pending = encodeRecord(f.pending, putRecord(&ne))
		res.Updated = append(res.Updated, ne.meta())
	}
	if len(renames) > 0 {
		if err := fsys.SyncDir(f.path("cur")); err != nil {
			undo()
			f.invalidateLocked()
			return nil, err
		}
	}
	if len(res.Updated) > 0 {
		f.pending = encodeRecord(f.pending, stateRecord(f.st))
	}
	if err := f.commitLocked(true); err != nil {
		// Undo, so that the client's NO is the truth (the reload would
		// otherwise take the new names for another program's change).
		undo()
		fsys.SyncDir(f.path("cur"))
		return nil, err
	}
	if len(res.Updated) > 0 {
		f.notifyLocked(except)
	}
	return res, nil
}

// expunge removes messages; with onlyDeleted, only those that still have
// \Deleted (another session may have cleared it meanwhile). It returns the
// UIDs removed, ascending.
func (f *folder) expunge(uids []imap4.UID, onlyDeleted bool, except *mailbox) ([]imap4.UID, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.readyLocked(false); err != nil {
		return nil, err
	}
	fsys := f.fs()
	var removed []imap4.UID
	var failure error
	for _, uid := range sortedUIDs(uids) {
		i := f.findLocked(uid)
		if i < 0 {
			continue
		}
		e := f.st.msgs[i]
		if onlyDeleted && e.sys&flagTrashed == 0 {
			continue
		}
		if err := fsys.Remove(f.path("cur", e.name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			failure = err
			break
		}
		removed = append(removed, uid)
	}
	if len(removed) > 0 {
		if err := fsys.SyncDir(f.path("cur")); err != nil {
			f.invalidateLocked()
			return nil, err
		}
		if err := f.forgetLocked(removed); err != nil {
			return nil, err
		}
		f.notifyLocked(except)
	}
	if failure != nil {
		return removed, failure
	}
	return removed, nil
}

// forgetLocked journals the expunge of messages whose files are gone and
// drops them from memory.
func (f *folder) forgetLocked(uids []imap4.UID) error {
	gone := make(map[imap4.UID]bool, len(uids))
	for _, uid := range uids {
		ms, err := f.nextModSeqLocked()
		if err != nil {
			f.invalidateLocked()
			return err
		}
		f.pending = encodeRecord(f.pending, expungeRecord(uid, ms))
		f.st.tombs = append(f.st.tombs, tomb{uid, ms})
		if f.cache != nil {
			f.cache.drop(uid)
		}
		gone[uid] = true
	}
	f.st.msgs = slices.DeleteFunc(f.st.msgs, func(e *entry) bool { return gone[e.uid] })
	f.pending = encodeRecord(f.pending, stateRecord(f.st))
	return f.commitLocked(true)
}

var folderIDs atomic.Uint64

// lockPair locks two folders in a fixed order (one lock if they are the
// same) and returns the unlock function.
func lockPair(a, b *folder) func() {
	if a == b {
		a.mu.Lock()
		return a.mu.Unlock
	}
	if b.id < a.id {
		a, b = b, a
	}
	a.mu.Lock()
	b.mu.Lock()
	return func() { b.mu.Unlock(); a.mu.Unlock() }
}

// copyTo copies (or, with move, moves) messages from src to dst. Copies
// are hard links of the immutable message files (a data copy where the
// file system cannot link); moves are renames, so a moved message is in
// exactly one of the two folders at any instant, crash or not. The new
// names carry the destination UIDs, and both directories and journals are
// fsynced before the result is returned.
func copyTo(src, dst *folder, uids []imap4.UID, move bool, except *mailbox) (*imap4.CopyResult, error) {
	unlock := lockPair(src, dst)
	defer unlock()
	if err := src.readyLocked(false); err != nil {
		return nil, err
	}
	if err := dst.readyLocked(false); err != nil {
		return nil, err
	}
	fsys := src.fs()
	res := &imap4.CopyResult{UIDValidity: dst.st.validity}
	type done struct{ from, to string }
	var made []done
	var added []*entry
	fail := func(err error) (*imap4.CopyResult, error) {
		for i := len(made) - 1; i >= 0; i-- {
			if move {
				fsys.Rename(made[i].to, made[i].from)
			} else {
				fsys.Remove(made[i].to)
			}
		}
		dst.invalidateLocked()
		if move {
			src.invalidateLocked()
		}
		return nil, quotaError(err)
	}
	for _, uid := range sortedUIDs(uids) {
		i := src.findLocked(uid)
		if i < 0 {
			continue
		}
		se := src.st.msgs[i]
		names := make([]string, 0, len(se.kw))
		for _, k := range se.kw {
			names = append(names, src.st.keywords[k])
		}
		fl, err := dst.parseFlagsLocked(names)
		if err != nil {
			return fail(err)
		}
		fl.sys = se.sys
		duid, err := dst.nextUIDLocked()
		if err != nil {
			return fail(err)
		}
		ms, err := dst.nextModSeqLocked()
		if err != nil {
			return fail(err)
		}
		name := withTag(uniqueName(), nameFields{}, se.phys, se.size, dst.st.validity, duid) + ":" + formatInfo(fl.sys, dst.lettersLocked("", fl.sys, fl.kw))
		from, to := src.path("cur", se.name), dst.path("cur", name)
		if move {
			err = fsys.Rename(from, to)
		} else {
			err = linkOrCopy(fsys, from, to, filepath.Join(dst.u.root, "tmp"), time.Unix(0, se.date))
		}
		if errors.Is(err, fs.ErrNotExist) {
			src.forceScan = true // changed by another program
			continue
		}
		if err != nil {
			return fail(err)
		}
		made = append(made, done{from, to})
		e := &entry{uid: duid, modseq: ms, date: se.date, size: se.size, phys: se.phys, sys: fl.sys, kw: fl.kw, name: name}
		added = append(added, e)
		res.Source = append(res.Source, uid)
		res.Dest = append(res.Dest, duid)
	}
	if len(added) == 0 {
		if err := dst.commitLocked(true); err != nil { // keyword records, if any
			return nil, err
		}
		return res, nil
	}
	if err := fsys.SyncDir(dst.path("cur")); err != nil {
		return fail(err)
	}
	if move && src != dst {
		if err := fsys.SyncDir(src.path("cur")); err != nil {
			return fail(err)
		}
	}
	for _, e := range added {
		e.flags = dst.internLocked(e.sys, e.kw)
		dst.insertLocked(e)
		dst.changedLocked(e)
		dst.pending = encodeRecord(dst.pending, putRecord(e))
	}
	dst.pending = encodeRecord(dst.pending, stateRecord(dst.st))
	if move && src == dst {
		// One journal write for both halves.
		if err := src.forgetLocked(res.Source); err != nil {
			return nil, err
		}
		src.notifyLocked(nil)
		return res, nil
	}
	if err := dst.commitLocked(true); err != nil {
		// The files carry their UIDs; a rescan adopts them. Undo instead,
		// so that the client's NO is the truth.
		for i := len(made) - 1; i >= 0; i-- {
			if move {
				fsys.Rename(made[i].to, made[i].from)
			} else {
				fsys.Remove(made[i].to)
			}
		}
		if move {
			src.invalidateLocked()
		}
		return nil, err
	}
	dst.notifyLocked(nil)
	if move {
		if err := src.forgetLocked(res.Source); err != nil {
			return nil, fmt.Errorf("maildir: moved messages but could not record it in the source: %w", err)
		}
		src.notifyLocked(except)
	}
	return res, nil
}

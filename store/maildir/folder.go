package maildir

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mailfront/mailfront/imap4"
)

// Files of a folder besides the index (see index.go).
const (
	// uidsFile holds "1 UIDVALIDITY UIDCEILING MODSEQCEILING": every UID
	// and modseq ever handed out is below its ceiling. It is written
	// (atomically) before a UID or modseq at or above a ceiling is used, so
	// a rebuild from the Maildir never reuses one, even with the index
	// lost.
	uidsFile = "mailfront-uids"
	// maildirFolderFile marks a Maildir++ folder (for other programs).
	maildirFolderFile = "maildirfolder"
	// specialUseFile holds a folder's special-use attribute, "\Sent" etc.
	specialUseFile = "mailfront-specialuse"
)

// Tuning. These are variables only so that tests can make them small.
var (
	uidReserveStep    = imap4.UID(1024) // UIDs reserved per write of the uids file
	modseqReserveStep = imap4.ModSeq(65536)
	maxTombs          = 100_000         // expunge records kept for Sync(since)
	minCompactLog     = int64(1 << 20)  // a journal longer than this and half the snapshot is folded in
	releaseCompactLog = int64(64 << 10) // ...and one longer than this when the user's last session ends
)

const (
	trustAge      = 2 * time.Second // a directory mtime is trusted once this old
	staleTmpAge   = 36 * time.Hour  // maildir(5): tmp/ files this old are garbage
	staleStateAge = 10 * time.Minute
)

// A folder is the shared state of one mailbox of one user: every session
// with the mailbox open, POP3 and deliveries use the same folder value, so
// they see each other's changes at once. All fields after mu are guarded by
// it.
type folder struct {
	s  *Store
	u  *userState
	id uint64 // lock order of folder pairs

	mu       sync.Mutex
	name     string // IMAP name
	dir      string // directory: the user's root for INBOX, root/.Name otherwise
	loaded   bool
	gone     bool // deleted (or closed with the store)
	st       *indexState
	kwIndex  map[string]int
	interned map[string][]string
	dkw      *dovecotKeywords // read when first needed, see keywords.go
	resUID   imap4.UID        // every UID below this is reserved in uidsFile
	resMod   imap4.ModSeq     // every modseq below this is reserved
	log      file
	logSize  int64
	snapSize int64
	pending  []byte // journal records of the change being made

	lastScan  time.Time
	forceScan bool
	gen       uint64 // the user's generation the state was checked in (see revive)

	watchers map[*mailbox]chan struct{}
	pollStop chan struct{}
	pollDone chan struct{}

	cache *structCache

	// full is the last result of Sync(0), handed to every caller until
	// the folder changes (imap4 never modifies it); status the last
	// counts. Both are valid while their key is the folder's.
	full      *imap4.SyncData
	fullKey   syncKey
	status    imap4.MailboxStatus
	statusKey syncKey
	statusOK  bool

	// changes lists, in modseq order, every entry given a new modseq after
	// changesFloor (each change once, with the modseq it got), so that
	// Sync(since) for a recent since reads the changes instead of every
	// entry: what each session pays before each response.
	changes      []change
	changesFloor imap4.ModSeq
}

// A change is an entry's UID and the modseq a change gave it.
type change struct {
	modseq imap4.ModSeq
	uid    imap4.UID
}

// changedLocked notes that e has just been given a new modseq (the highest
// so far). The list is bounded: past a quarter of the folder (at least
// 1024), its older half is forgotten and the floor rises.
func (f *folder) changedLocked(e *entry) {
	f.changes = append(f.changes, change{e.modseq, e.uid})
	if n := len(f.changes); n > max(1024, len(f.st.msgs)/4) {
		f.changesFloor = f.changes[n/2-1].modseq
		f.changes = append([]change(nil), f.changes[n/2:]...)
	}
}

func (f *folder) fs() fileSystem       { return f.s.fsys() }
func (f *folder) logger() *slog.Logger { return f.s.logger() }
func (f *folder) path(parts ...string) string {
	return filepath.Join(append([]string{f.dir}, parts...)...)
}

// errGone is returned for operations on a folder that was deleted.
var errGone = fmt.Errorf("maildir: mailbox was deleted: %w", imap4.ErrNoSuchMailbox)

// readyLocked loads the folder if needed and refreshes it from disk (at most
// once per poll interval unless force is set). It is called at the start of
// every operation.
func (f *folder) readyLocked(force bool) error {
	if f.gone {
		return errGone
	}
	f.revalidateLocked()
	if !f.loaded {
		if err := f.loadLocked(); err != nil {
			return err
		}
		return nil
	}
	if !force && !f.forceScan && time.Since(f.lastScan) < f.s.scanInterval() {
		return nil
	}
	_, err := f.scanLocked(f.forceScan, false)
	return err
}

// loadedLocked is readyLocked without looking at the directories, for a
// delivery: it needs the index to be current, not to know what other
// programs did to the mailbox (their messages are adopted by the next
// scan, with UIDs above the one it hands out). It loads the folder if
// needed. Deliveries thus do not read a large cur/ that the store itself
// changed (its mtime moves with every delivery).
func (f *folder) loadedLocked() error {
	if f.gone {
		return errGone
	}
	f.revalidateLocked()
	if !f.loaded {
		return f.loadLocked()
	}
	return nil
}

// revalidateLocked is the check of a folder of a user taken back from the
// idle list: the index files must be the ones the folder holds (else it
// reloads them), and the next readyLocked scans new/ and cur/ (two stat
// calls when their mtimes did not move) whenever the last scan was.
func (f *folder) revalidateLocked() {
	g := f.u.gen.Load()
	if g == f.gen {
		return
	}
	f.gen = g
	if f.loaded && !f.indexCurrentLocked() {
		// Changed behind the store's back (restored, removed): the
		// files are the truth.
		f.logger().LogAttrs(context.Background(), slog.LevelInfo, "maildir: index changed on disk, reloading",
			slog.String("dir", f.dir))
		f.invalidateLocked()
	}
	f.lastScan = time.Time{}
}

// loadLocked reads the index (or rebuilds it) and reconciles it with the
// directories.
func (f *folder) loadLocked() error {
	fsys := f.fs()
	if _, err := fsys.Lstat(f.dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			f.gone = true
			return errGone
		}
		return err
	}
	if err := makeMaildirDirs(fsys, f.dir); err != nil {
		return err
	}
	f.cleanupLocked()
	if f.log != nil { // a load that failed half-way
		f.log.Close()
		f.log = nil
	}
	f.pending = nil
	f.dkw = nil
	f.kwIndex = make(map[string]int)
	f.interned = make(map[string][]string)
	f.forceScan = false

	v, resUID, resMod, uidsErr := f.readUids()
	st, logData, err := f.readIndex()
	if err == nil && uidsErr == nil && st.validity != v {
		err = errCorrupt // the two files disagree: trust neither
	}
	rebuild := err != nil
	if rebuild {
		if !errors.Is(err, fs.ErrNotExist) {
			f.logger().LogAttrs(context.Background(), slog.LevelWarn, "maildir: rebuilding index",
				slog.String("dir", f.dir), slog.Any("err", err))
		}
		st = &indexState{uidNext: 1, highest: 1}
		if uidsErr == nil {
			st.validity, st.uidNext, st.highest = v, resUID, resMod
		} else {
			nv, err := f.u.newValidity()
			if err != nil {
				return err
			}
			st.validity, resUID, resMod = nv, 0, 0
		}
		// The expunge records are lost with the index: a client syncing
		// from any modseq before the rebuild is told every absent UID.
		st.tombFloor = st.highest
	}
	f.st = st
	f.changes, f.changesFloor = nil, st.highest
	for i, k := range st.keywords {
		f.kwIndex[lower(k)] = i
	}
	var bySys [256][]string // the flags of entries without keywords
	for _, e := range st.msgs {
		if len(e.kw) > 0 {
			e.flags = f.internLocked(e.sys, e.kw)
			continue
		}
		if bySys[e.sys] == nil {
			bySys[e.sys] = f.internLocked(e.sys, nil)
		}
		e.flags = bySys[e.sys]
	}
	f.resUID, f.resMod = resUID, resMod
	if uidsErr != nil || f.resUID <= st.uidNext || f.resMod <= st.highest {
		f.resUID, f.resMod = 0, 0 // rewrite the uids file
		if err := f.reserveLocked(st.uidNext, st.highest); err != nil {
			return err
		}
	}
	if rebuild {
		if _, err := f.scanLocked(true, true); err != nil {
			return err
		}
		f.pending = nil // the snapshot holds it all
		if err := f.writeSnapshotLocked(); err != nil {
			return err
		}
		f.cache = newStructCache(f, true)
	} else {
		if err := f.openLogLocked(logData); err != nil {
			return err
		}
		if _, err := f.scanLocked(false, false); err != nil {
			return err
		}
		f.cache = newStructCache(f, false)
	}
	f.loaded = true
	return nil
}

// indexCurrentLocked reports whether the index files on disk are the ones
// the folder loaded and wrote: the journal is the file it holds open, of
// the length it wrote, and the snapshot has the length it wrote. It costs
// two lstat calls and an fstat.
func (f *folder) indexCurrentLocked() bool {
	if f.log == nil {
		return false
	}
	fsys := f.fs()
	lfi, err1 := fsys.Lstat(f.path(logFile))
	ofi, err2 := f.log.Stat()
	sfi, err3 := fsys.Lstat(f.path(indexFile))
	return err1 == nil && err2 == nil && err3 == nil && os.SameFile(lfi, ofi) &&
		lfi.Size() == f.logSize && sfi.Size() == f.snapSize
}

// readIndex reads the snapshot and the journal. The journal's content is
// returned for openLogLocked, which cuts it at its last valid record.
func (f *folder) readIndex() (*indexState, []byte, error) {
	data, err := readFile(f.fs(), f.path(indexFile))
	if err != nil {
		return nil, nil, err
	}
	st, err := decodeSnapshot(data)
	if err != nil {
		return nil, nil, err
	}
	f.snapSize = int64(len(data))
	logData, err := readFile(f.fs(), f.path(logFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, err
	}
	valid, ok := replayLog(st, logData)
	if !ok {
		logData = nil
	} else {
		logData = logData[:valid]
		if err := st.check(); err != nil {
			return nil, nil, err
		}
	}
	return st, logData, nil
}

// openLogLocked opens the journal for appending, cutting a torn tail, or
// starts a new one when it did not match the snapshot.
func (f *folder) openLogLocked(valid []byte) error {
	if valid == nil {
		return f.newLogLocked()
	}
	lf, err := f.fs().OpenFile(f.path(logFile), os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	if fi, err := lf.Stat(); err == nil && fi.Size() != int64(len(valid)) {
		if err := lf.Truncate(int64(len(valid))); err != nil {
			lf.Close()
			return err
		}
	}
	f.log, f.logSize = lf, int64(len(valid))
	return nil
}

// newLogLocked replaces the journal by an empty one for the current
// snapshot's log id.
func (f *folder) newLogLocked() error {
	if f.log != nil {
		f.log.Close()
		f.log = nil
	}
	hdr := logHeader(f.st.logID)
	if err := writeFileAtomic(f.fs(), f.path(logFile), hdr); err != nil {
		return err
	}
	lf, err := f.fs().OpenFile(f.path(logFile), os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	f.log, f.logSize = lf, int64(len(hdr))
	return nil
}

// writeSnapshotLocked folds the state into a new snapshot and starts a new
// journal. Old expunge records beyond maxTombs are forgotten here (Sync
// then reports a superset for old modseqs).
func (f *folder) writeSnapshotLocked() error {
	st := *f.st
	if n := len(st.tombs) - maxTombs; n > 0 {
		st.tombFloor = max(st.tombFloor, st.tombs[n-1].modseq)
		st.tombs = st.tombs[n:]
	}
	st.logID = randomID()
	data := encodeSnapshot(&st)
	if err := writeFileAtomic(f.fs(), f.path(indexFile), data); err != nil {
		return err
	}
	*f.st = st
	f.snapSize = int64(len(data))
	return f.newLogLocked()
}

// commitLocked appends the pending journal records, fsynced when sync is
// set. On failure the journal is cut back and the folder forgets its
// in-memory state, so that the next operation reloads it from disk: a
// change that could not be made durable is never shown.
func (f *folder) commitLocked(sync bool) error {
	if len(f.pending) == 0 {
		return nil
	}
	data := f.pending
	f.pending = nil
	var err error
	if f.log == nil {
		err = errors.New("maildir: journal not open")
	} else if _, err = f.log.WriteAt(data, f.logSize); err == nil && sync {
		err = f.log.Sync()
	}
	if err != nil {
		if f.log != nil {
			f.log.Truncate(f.logSize)
		}
		f.invalidateLocked()
		return quotaError(fmt.Errorf("maildir: writing journal: %w", err))
	}
	f.logSize += int64(len(data))
	if f.logSize > max(minCompactLog, f.snapSize/2) {
		if err := f.writeSnapshotLocked(); err != nil {
			// The journal still holds everything; compaction is retried.
			f.logger().LogAttrs(context.Background(), slog.LevelWarn, "maildir: compacting index",
				slog.String("dir", f.dir), slog.Any("err", err))
		}
	}
	return nil
}

// invalidateLocked drops the in-memory state; the next operation reloads
// the folder from its files.
func (f *folder) invalidateLocked() {
	if f.log != nil {
		f.log.Close()
		f.log = nil
	}
	if f.cache != nil {
		f.cache.close()
		f.cache = nil
	}
	f.loaded = false
	f.pending = nil
	f.st = nil
	f.full, f.statusOK = nil, false
	f.changes = nil
}

// unloadLocked writes what is worth keeping and releases the folder's
// files. Nothing is written when the index files are no longer the ones
// the folder loaded (its directory was removed, or replaced, say by a
// backup restored while the user was idle): the state in memory is then
// stale, and the files on disk are the truth.
func (f *folder) unloadLocked() {
	f.stopPollLocked()
	if f.loaded && f.indexCurrentLocked() {
		if len(f.pending) == 0 && f.logSize > releaseCompactLog {
			if err := f.writeSnapshotLocked(); err != nil {
				f.logger().LogAttrs(context.Background(), slog.LevelWarn, "maildir: compacting index",
					slog.String("dir", f.dir), slog.Any("err", err))
			}
		}
		if f.cache != nil {
			f.cache.flush()
		}
	}
	f.invalidateLocked()
}

// readUids reads the uids file.
func (f *folder) readUids() (uint32, imap4.UID, imap4.ModSeq, error) {
	data, err := readFile(f.fs(), f.path(uidsFile))
	if err != nil {
		return 0, 0, 0, err
	}
	fields := strings.Fields(string(data))
	if len(fields) != 4 || fields[0] != "1" {
		return 0, 0, 0, errCorrupt
	}
	v, err1 := strconv.ParseUint(fields[1], 10, 32)
	r, err2 := strconv.ParseUint(fields[2], 10, 32)
	m, err3 := strconv.ParseUint(fields[3], 10, 63)
	if err1 != nil || err2 != nil || err3 != nil || v == 0 || r == 0 || m == 0 {
		return 0, 0, 0, errCorrupt
	}
	return uint32(v), imap4.UID(r), imap4.ModSeq(m), nil
}

// reserveLocked makes sure that uid and modseq are below the ceilings of
// the uids file, rewriting it durably when they are not.
func (f *folder) reserveLocked(uid imap4.UID, ms imap4.ModSeq) error {
	if uid < f.resUID && ms < f.resMod {
		return nil
	}
	r, m := f.resUID, f.resMod
	if uid >= r {
		r = imap4.UID(min(uint64(uid)+uint64(uidReserveStep), 0xffffffff))
	}
	if ms >= m {
		m = ms + modseqReserveStep
	}
	if uid >= r {
		return fmt.Errorf("maildir: UIDs exhausted: %w", imap4.ErrCannot)
	}
	data := fmt.Appendf(nil, "1 %d %d %d\n", f.st.validity, r, m)
	if err := writeFileAtomic(f.fs(), f.path(uidsFile), data); err != nil {
		return err
	}
	f.resUID, f.resMod = r, m
	return nil
}

// nextModSeqLocked hands out a modseq, reserving it first.
func (f *folder) nextModSeqLocked() (imap4.ModSeq, error) {
	ms := f.st.highest + 1
	if err := f.reserveLocked(f.st.uidNext, ms); err != nil {
		return 0, err
	}
	f.st.highest = ms
	return ms, nil
}

// nextUIDLocked hands out a UID, reserving it first.
func (f *folder) nextUIDLocked() (imap4.UID, error) {
	uid := f.st.uidNext
	if uid == 0xffffffff {
		return 0, fmt.Errorf("maildir: UIDs exhausted: %w", imap4.ErrCannot)
	}
	if err := f.reserveLocked(uid, f.st.highest+1); err != nil {
		return 0, err
	}
	f.st.uidNext = uid + 1
	return uid, nil
}

// cleanupLocked removes leftovers of a crash: temporary state files older
// than staleStateAge (younger ones may be an atomic write in progress in
// the user's root, which other locks guard), and tmp/ files older than 36
// hours (maildir(5)); younger ones may belong to a delivery in progress by
// another program.
func (f *folder) cleanupLocked() {
	fsys := f.fs()
	removeStale(fsys, f.dir, staleStateAge)
	if names, err := fsys.ReadDirNames(f.path("tmp")); err == nil {
		for _, n := range names {
			p := f.path("tmp", n)
			if fi, err := fsys.Lstat(p); err == nil && fi.Mode().IsRegular() && time.Since(fi.ModTime()) > staleTmpAge {
				fsys.Remove(p)
			}
		}
	}
}

// findLocked returns the index of uid in the message list, or -1.
func (f *folder) findLocked(uid imap4.UID) int {
	msgs := f.st.msgs
	i := sort.Search(len(msgs), func(i int) bool { return msgs[i].uid >= uid })
	if i < len(msgs) && msgs[i].uid == uid {
		return i
	}
	return -1
}

// insertLocked adds an entry in UID order.
func (f *folder) insertLocked(e *entry) {
	msgs := f.st.msgs
	if n := len(msgs); n == 0 || msgs[n-1].uid < e.uid {
		f.st.msgs = append(msgs, e)
		return
	}
	i := sort.Search(len(msgs), func(i int) bool { return msgs[i].uid >= e.uid })
	f.st.msgs = append(msgs, nil)
	copy(f.st.msgs[i+1:], f.st.msgs[i:])
	f.st.msgs[i] = e
}

// notifyLocked wakes every watcher but except (the mailbox that made the
// change, which knows).
func (f *folder) notifyLocked(except *mailbox) {
	for m, ch := range f.watchers {
		if m == except {
			continue
		}
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// addWatcherLocked registers a mailbox's watch channel and starts polling
// the directories for other programs' changes.
func (f *folder) addWatcherLocked(m *mailbox, ch chan struct{}) {
	if f.watchers == nil {
		f.watchers = make(map[*mailbox]chan struct{})
	}
	f.watchers[m] = ch
	if f.pollStop == nil && f.s.pollInterval() > 0 && !f.gone {
		f.pollStop = make(chan struct{})
		f.pollDone = make(chan struct{})
		go f.poll(f.pollStop, f.pollDone, f.s.pollInterval())
	}
}

// removeWatcherLocked unregisters a mailbox and stops polling when no one
// watches any more.
func (f *folder) removeWatcherLocked(m *mailbox) {
	delete(f.watchers, m)
	if len(f.watchers) == 0 {
		f.stopPollLocked()
	}
}

// stopPollLocked stops the poller without waiting for it (it may be
// waiting for f.mu).
func (f *folder) stopPollLocked() {
	if f.pollStop != nil {
		close(f.pollStop)
		f.pollStop, f.pollDone = nil, nil
	}
}

// poll checks the directories every interval until stop is closed.
func (f *folder) poll(stop, done chan struct{}, interval time.Duration) {
	defer close(done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		f.mu.Lock()
		select {
		case <-stop:
			f.mu.Unlock()
			return
		default:
		}
		if !f.gone {
			if err := f.readyLocked(true); err != nil && !errors.Is(err, imap4.ErrNoSuchMailbox) {
				f.logger().LogAttrs(context.Background(), slog.LevelWarn, "maildir: scanning mailbox",
					slog.String("dir", f.dir), slog.Any("err", err))
			}
			if f.gone {
				f.notifyLocked(nil)
			}
		}
		f.mu.Unlock()
		f.s.evictExpired()
	}
}

// markGoneLocked marks the folder deleted and wakes its watchers, whose
// next Sync reports the mailbox gone.
func (f *folder) markGoneLocked() {
	f.invalidateLocked()
	f.gone = true
	f.stopPollLocked()
	f.notifyLocked(nil)
}

// removeStale removes the entries of dir named with tmpStatePrefix (state
// files being replaced, mailboxes being deleted) older than age.
func removeStale(fsys fileSystem, dir string, age time.Duration) {
	names, err := fsys.ReadDirNames(dir)
	if err != nil {
		return
	}
	for _, n := range names {
		if !strings.HasPrefix(n, tmpStatePrefix) {
			continue
		}
		p := filepath.Join(dir, n)
		if fi, err := fsys.Lstat(p); err == nil && time.Since(fi.ModTime()) >= age {
			fsys.RemoveAll(p)
		}
	}
}

package maildir

import "github.com/mailfront/mailfront/imap4"

// Hooks for the external tests.

// FS is the file-system interface the store uses, for fault injection.
type FS = fileSystem

// File is an open file of an FS.
type File = file

// OSFS is the operating system's FS.
var OSFS FS = osFS{}

// SetFS makes s use fsys.
func SetFS(s *Store, fsys FS) { s.fsOver = fsys }

var (
	FolderDirName = folderDirName
	FolderName    = folderName
	CanonicalUser = canonicalUser
	ParseInfo     = parseInfo
	FormatInfo    = formatInfo
	// DovecotKeywords parses a dovecot-keywords file and returns the
	// keywords the letters of extra stand for.
	DovecotKeywords = func(data []byte, extra string) []string { return parseDovecotKeywords(data).names(extra) }
	ParseFieldsUID  = func(base string) (uint32, uint32, bool) {
		nf := parseFields(base)
		return nf.validity, uint32(nf.uid), nf.hasTag
	}
	NewCRLFReaderAt = func(r interface {
		ReadAt([]byte, int64) (int, error)
	}, phys, size int64) interface {
		ReadAt([]byte, int64) (int, error)
	} {
		return &crlfReaderAt{r: r, phys: phys, size: size, cps: []checkpoint{{}}}
	}
)

// DecodeIndex decodes a snapshot and replays a journal over it, as loading
// a folder does; it reports whether the snapshot was accepted.
func DecodeIndex(snapshot, journal []byte) bool {
	st, err := decodeSnapshot(snapshot)
	if err != nil {
		return false
	}
	replayLog(st, journal)
	return st.check() == nil || true
}

// EncodeDecodeRoundTrip encodes the state decoded from snapshot again and
// reports whether the bytes are equal.
func EncodeDecodeRoundTrip(snapshot []byte) (ok, equal bool) {
	st, err := decodeSnapshot(snapshot)
	if err != nil {
		return false, false
	}
	return true, string(encodeSnapshot(st)) == string(snapshot)
}

// SetLimits lowers the store's thresholds for a test: the UID and modseq
// reservation steps, the expunge records kept, and the journal length that
// triggers a snapshot. It returns a function restoring them.
func SetLimits(uidStep, modseqStep, tombs int, compact int64) (restore func()) {
	a, b, c, d, e := uidReserveStep, modseqReserveStep, maxTombs, minCompactLog, releaseCompactLog
	uidReserveStep, modseqReserveStep, maxTombs, minCompactLog, releaseCompactLog = imap4.UID(uidStep), imap4.ModSeq(modseqStep), tombs, compact, compact
	return func() {
		uidReserveStep, modseqReserveStep, maxTombs, minCompactLog, releaseCompactLog = a, b, c, d, e
	}
}

// IdleUsers returns the names of the users s keeps loaded without a
// reference, least recently used first.
func IdleUsers(s *Store) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := []string{}
	for u := s.idle.head; u != nil; u = u.next {
		names = append(names, u.name)
	}
	return names
}

// LoadedUsers returns how many users s has loaded, idle or not.
func LoadedUsers(s *Store) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.users)
}

package auth

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"
)

// A UsersFile is a user directory kept in a text file: an [Authenticator],
// [SCRAMKeyStore] and [NTHashStore] that advertises, through
// [MechanismFilter], SCRAM only for the hashes every enabled user has keys
// for, and NTLM only when every enabled user has an NT hash. A client picks
// a mechanism before it names the user and does not fall back when it
// fails, so a mechanism that would fail for some users is not offered at
// all (as with Dovecot, where auth_mechanisms must suit every user).
//
// The file is UTF-8 text. Blank lines and lines starting with '#' are
// ignored. Every other line describes one user:
//
//	address:passwordhash[:key=value...]
//
// address is the login name (usually an email address): no spaces, no ':'
// or control characters. It is compared case-insensitively, and
// [Identity.Username] keeps the file's spelling. passwordhash is an argon2id
// or bcrypt hash (see [HashPassword] and [VerifyPassword]); it may be empty
// for a user who logs in only with SCRAM or NTLM, and "!" (or "!" in front of
// a hash) disables the user for every mechanism. The optional fields are:
//
//	scram-sha-1=ITER,SALT,STOREDKEY,SERVERKEY    SCRAM-SHA-1 keys (RFC 5802)
//	scram-sha-256=ITER,SALT,STOREDKEY,SERVERKEY  SCRAM-SHA-256 keys (RFC 7677)
//	nt=HEX                                       the 32-hex-digit NT hash, for NTLM
//	sendas=ADDR,ADDR,@DOMAIN                     more sender addresses ([Identity.SendAs])
//
// where ITER is the PBKDF2 iteration count (at least 4096) and SALT,
// STOREDKEY and SERVERKEY are in standard base64 with padding. For example:
//
//	# alice may also send as sales@example.org
//	alice@example.org:$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$QKHrg5tayLGcN+Y0HVPNaBqykOVLUxlMkZycXE1uWRM:sendas=sales@example.org
//	bob@example.org:!
//
// [AddUser] writes such lines, with SCRAM keys derived from the password. A
// file with an invalid line is refused whole, with an error naming the line.
//
// A UsersFile notices when its file changes (a different size, modification
// time or inode, checked at most once a second when it is consulted) and
// loads it again once it has been left alone for half a second (a file
// rewritten in place is empty or half written for a moment; replacing it
// by rename, as [AddUser] does, is best); if the new content is invalid,
// it keeps serving the last valid content and [UsersFile.LastError]
// reports why. [UsersFile.Reload] loads it at once, for instance on
// SIGHUP.
//
// Failed logins take the same time for unknown users, disabled users and
// wrong passwords when the users' hashes use [HashPassword]'s parameters:
// the password is checked against a dummy hash of those parameters when the
// user has none. Keep every user on the same scheme, or bcrypt users can be
// told apart by timing.
//
// The zero UsersFile is an empty directory; use [OpenUsersFile]. A UsersFile
// is safe for concurrent use.
type UsersFile struct {
	path      string
	data      atomic.Pointer[usersData]
	nextCheck atomic.Int64 // unix nanoseconds of the next change check

	mu      sync.Mutex  // serialises loads; guards stat and lastErr
	stat    os.FileInfo // of the file content last loaded or tried
	lastErr error
}

var (
	_ SCRAMKeyStore   = (*UsersFile)(nil)
	_ NTHashStore     = (*UsersFile)(nil)
	_ MechanismFilter = (*UsersFile)(nil)
)

// usersFileCheckInterval is how often a UsersFile looks at its file.
const usersFileCheckInterval = time.Second

// usersFileSettle is how long a changed file must have been left alone
// before it is reloaded automatically: a file rewritten in place (an
// editor, "cat >") is empty or half written for a moment, and loading it
// then would make every user vanish until the next check.
const usersFileSettle = 500 * time.Millisecond

// maxUsersFileLine bounds the length of one line of a users file.
const maxUsersFileLine = 64 << 10

// errUsersFileCredentials is the one error every failed UsersFile login
// returns.
var errUsersFileCredentials = fmt.Errorf("auth: users file: %w", ErrInvalidCredentials)

// usersData is one loaded version of the file. It is never modified once
// published.
type usersData struct {
	users  map[string]*userRecord // by normalised address
	scram1 bool                   // every enabled user has SCRAM-SHA-1 keys
	scram2 bool                   // every enabled user has SCRAM-SHA-256 keys
	nt     bool                   // every enabled user has an NT hash
}

// userRecord is one line of the file.
type userRecord struct {
	name     string // as spelled in the file
	hash     string // as in the file: "", "!", "!<hash>" or a hash
	scram1   *SCRAMCredentials
	scram256 *SCRAMCredentials
	nt       *[16]byte
	sendAs   []string
}

func (u *userRecord) disabled() bool { return strings.HasPrefix(u.hash, "!") }

func (u *userRecord) identity() Identity {
	return Identity{Username: u.name, SendAs: slices.Clone(u.sendAs)}
}

func (u *userRecord) scram(h SCRAMHash) *SCRAMCredentials {
	switch h {
	case SCRAMSHA1:
		return u.scram1
	case SCRAMSHA256:
		return u.scram256
	}
	return nil
}

// OpenUsersFile loads the users file at path (see [UsersFile] for its
// format). It fails if the file cannot be read or has an invalid line.
func OpenUsersFile(path string) (*UsersFile, error) {
	f := &UsersFile{path: path}
	if err := f.Reload(); err != nil {
		return nil, err
	}
	return f, nil
}

// Reload reads the file again now. If it cannot be read or is invalid, the
// UsersFile keeps its previous content and Reload returns the error (which
// [UsersFile.LastError] then also reports).
func (f *UsersFile) Reload() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextCheck.Store(time.Now().Add(usersFileCheckInterval).UnixNano())
	return f.loadLocked()
}

// LastError returns the error of the last attempt to load the file, or nil
// if it succeeded.
func (f *UsersFile) LastError() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastErr
}

// loadLocked reads, parses and publishes the file. f.mu is held.
func (f *UsersFile) loadLocked() (err error) {
	defer func() { f.lastErr = err }()
	if f.path == "" {
		return errors.New("auth: users file has no path (use OpenUsersFile)")
	}
	file, err := os.Open(f.path)
	if err != nil {
		return fmt.Errorf("auth: users file: %w", err)
	}
	defer file.Close()
	st, err := file.Stat()
	if err != nil {
		return fmt.Errorf("auth: users file: %w", err)
	}
	// Remember what was tried even if it fails, so that an invalid file is
	// not parsed again every second, only when it changes.
	f.stat = st
	d, err := parseUsers(file)
	if err != nil {
		return fmt.Errorf("auth: users file %s: %w", f.path, err)
	}
	f.data.Store(d)
	return nil
}

// maybeReload loads the file again if it changed, at most once per
// usersFileCheckInterval. Lookups running meanwhile use the old content.
func (f *UsersFile) maybeReload() {
	if f.path == "" {
		return
	}
	now := time.Now().UnixNano()
	if now < f.nextCheck.Load() || !f.mu.TryLock() {
		return
	}
	defer f.mu.Unlock()
	if now < f.nextCheck.Load() {
		return
	}
	f.nextCheck.Store(now + int64(usersFileCheckInterval))
	st, err := os.Stat(f.path)
	if err != nil {
		// Keep serving what was loaded: the file may be being replaced.
		f.lastErr = fmt.Errorf("auth: users file: %w", err)
		return
	}
	if f.stat != nil && os.SameFile(f.stat, st) && f.stat.Size() == st.Size() && f.stat.ModTime().Equal(st.ModTime()) {
		return
	}
	if age := time.Unix(0, now).Sub(st.ModTime()); age >= 0 && age < usersFileSettle {
		return // being written, maybe: look again at the next check
	}
	f.loadLocked()
}

// lookup returns the record for username, or nil.
func (f *UsersFile) lookup(username string) *userRecord {
	f.maybeReload()
	d := f.data.Load()
	if d == nil {
		return nil
	}
	return d.users[normalizeUsername(username)]
}

// HasUser reports whether the file lists address as a user (enabled or
// not). Mail stores use it to decide which recipients are local.
func (f *UsersFile) HasUser(address string) bool {
	return f.lookup(address) != nil
}

// Users returns the addresses of the users in the file, as spelled there,
// sorted.
func (f *UsersFile) Users() []string {
	f.maybeReload()
	d := f.data.Load()
	if d == nil {
		return nil
	}
	names := make([]string, 0, len(d.users))
	for _, u := range d.users {
		names = append(names, u.name)
	}
	slices.Sort(names)
	return names
}

// dummyPasswordHash is checked for users without a usable hash, so that
// they take as long to refuse as a wrong password.
var dummyPasswordHash = sync.OnceValue(func() string {
	h, _ := HashPassword("dummy password")
	return h
})

// Authenticate checks username and password against the file. Every failure
// (unknown user, disabled user, user without a password, wrong password)
// returns the same error, wrapping [ErrInvalidCredentials].
func (f *UsersFile) Authenticate(ctx context.Context, username, password string) (Identity, error) {
	u := f.lookup(username)
	hash := ""
	if u != nil && !u.disabled() {
		hash = u.hash
	}
	if hash == "" {
		u = nil
		hash = dummyPasswordHash()
	}
	ok, err := VerifyPassword(hash, password)
	if err != nil || !ok || u == nil {
		return Identity{}, errUsersFileCredentials
	}
	return u.identity(), nil
}

// SCRAMCredentials returns the user's stored keys for hash. It returns an
// error wrapping [ErrInvalidCredentials] for an unknown or disabled user, and
// [ErrUnsupportedMechanism] when the user has no keys for hash.
func (f *UsersFile) SCRAMCredentials(ctx context.Context, hash SCRAMHash, username string) (SCRAMCredentials, error) {
	if hash != SCRAMSHA1 && hash != SCRAMSHA256 {
		return SCRAMCredentials{}, fmt.Errorf("%w: SCRAM hash %q", ErrUnsupportedMechanism, string(hash))
	}
	u := f.lookup(username)
	if u == nil || u.disabled() {
		return SCRAMCredentials{}, errUsersFileCredentials
	}
	c := u.scram(hash)
	if c == nil {
		return SCRAMCredentials{}, fmt.Errorf("%w: no SCRAM-%s keys for this user", ErrUnsupportedMechanism, string(hash))
	}
	return SCRAMCredentials{
		Salt:       slices.Clone(c.Salt),
		Iterations: c.Iterations,
		StoredKey:  slices.Clone(c.StoredKey),
		ServerKey:  slices.Clone(c.ServerKey),
		Identity:   u.identity(),
	}, nil
}

// SCRAMHashes returns the hashes for which every enabled user has keys.
func (f *UsersFile) SCRAMHashes() []SCRAMHash {
	f.maybeReload()
	d := f.data.Load()
	var hs []SCRAMHash
	if d != nil && d.scram2 {
		hs = append(hs, SCRAMSHA256)
	}
	if d != nil && d.scram1 {
		hs = append(hs, SCRAMSHA1)
	}
	return hs
}

// NTHash returns the user's NT hash. The domain the client named is
// ignored: usernames in the file are complete. It returns an error wrapping
// [ErrInvalidCredentials] for an unknown or disabled user and for a user
// without an NT hash.
func (f *UsersFile) NTHash(ctx context.Context, username, domain string) ([16]byte, Identity, error) {
	u := f.lookup(username)
	if u == nil || u.disabled() || u.nt == nil {
		return [16]byte{}, Identity{}, errUsersFileCredentials
	}
	return *u.nt, u.identity(), nil
}

// AllowMechanism reports whether mechanism name can succeed for every
// enabled user: the SCRAM mechanisms need keys for their hash, NTLM an NT
// hash. Other mechanisms are always allowed.
func (f *UsersFile) AllowMechanism(name string) bool {
	f.maybeReload()
	d := f.data.Load()
	if d == nil {
		d = &usersData{}
	}
	switch name {
	case SCRAMSHA1Name, SCRAMSHA1Plus:
		return d.scram1
	case SCRAMSHA256Name, SCRAMSHA256Plus:
		return d.scram2
	case NTLM:
		return d.nt
	}
	return true
}

// parseUsers parses a whole users file.
func parseUsers(r io.Reader) (*usersData, error) {
	d := &usersData{users: make(map[string]*userRecord)}
	lines := make(map[string]int) // normalised address → line number
	enabled := 0
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, maxUsersFileLine)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if n == 1 {
			line = strings.TrimPrefix(line, "\uFEFF")
		}
		u, err := parseUserLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if u == nil {
			continue
		}
		key := normalizeUsername(u.name)
		if prev, dup := lines[key]; dup {
			return nil, fmt.Errorf("line %d: %q already defined on line %d", n, u.name, prev)
		}
		lines[key] = n
		d.users[key] = u
		// A mechanism is offered only if it works for every user: a
		// client picks the strongest mechanism offered before it says who
		// it is, and does not fall back when it fails (curl picks NTLM,
		// for one). Disabled users do not count.
		if u.disabled() {
			continue
		}
		if enabled == 0 {
			d.scram1, d.scram2, d.nt = true, true, true
		}
		enabled++
		d.scram1 = d.scram1 && u.scram1 != nil
		d.scram2 = d.scram2 && u.scram256 != nil
		d.nt = d.nt && u.nt != nil
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("line %d: longer than %d bytes", n+1, maxUsersFileLine)
		}
		return nil, err
	}
	return d, nil
}

// parseUserLine parses one line; it returns nil for a blank or comment line.
func parseUserLine(line string) (*userRecord, error) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return nil, nil
	}
	if !utf8.ValidString(line) {
		return nil, errors.New("not valid UTF-8")
	}
	fields := strings.Split(line, ":")
	if len(fields) < 2 {
		return nil, errors.New("want address:passwordhash[:key=value...]")
	}
	u := &userRecord{name: fields[0], hash: fields[1]}
	if err := checkUserAddress(u.name); err != nil {
		return nil, err
	}
	if h := strings.TrimPrefix(u.hash, "!"); h != "" {
		if err := checkPasswordHash(h); err != nil {
			return nil, err
		}
	}
	seen := make(map[string]bool)
	for _, field := range fields[2:] {
		if field == "" {
			continue // "address::" or a trailing ':'
		}
		key, value, ok := strings.Cut(field, "=")
		if !ok {
			return nil, fmt.Errorf("field %q: want key=value", truncateForError(field))
		}
		if seen[key] {
			return nil, fmt.Errorf("field %s given twice", key)
		}
		seen[key] = true
		var err error
		switch key {
		case "scram-sha-1":
			u.scram1, err = parseSCRAMField(SCRAMSHA1, value)
		case "scram-sha-256":
			u.scram256, err = parseSCRAMField(SCRAMSHA256, value)
		case "nt":
			var h [16]byte
			var b []byte
			b, err = hex.DecodeString(value)
			if err == nil && len(b) != len(h) {
				err = errors.New("want 32 hex digits")
			}
			copy(h[:], b)
			u.nt = &h
		case "sendas":
			for a := range strings.SplitSeq(value, ",") {
				if err = checkSendAs(a); err != nil {
					break
				}
				u.sendAs = append(u.sendAs, a)
			}
		default:
			return nil, fmt.Errorf("unknown field %q", truncateForError(key))
		}
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", key, err)
		}
	}
	return u, nil
}

// parseSCRAMField parses "ITER,SALT,STOREDKEY,SERVERKEY".
func parseSCRAMField(h SCRAMHash, value string) (*SCRAMCredentials, error) {
	parts := strings.Split(value, ",")
	if len(parts) != 4 {
		return nil, errors.New("want ITER,SALT,STOREDKEY,SERVERKEY")
	}
	iter, err := strconv.Atoi(parts[0])
	if err != nil || iter < DefaultSCRAMIterations || iter > 10_000_000 {
		return nil, fmt.Errorf("iteration count must be %d to 10000000", DefaultSCRAMIterations)
	}
	newHash, _ := h.hashFunc()
	size := newHash().Size()
	var keys [3][]byte
	for i, p := range parts[1:] {
		keys[i], err = base64.StdEncoding.Strict().DecodeString(p)
		if err != nil {
			return nil, errors.New("bad base64")
		}
	}
	if len(keys[0]) == 0 || len(keys[0]) > 256 {
		return nil, errors.New("salt must be 1 to 256 bytes")
	}
	if len(keys[1]) != size || len(keys[2]) != size {
		return nil, fmt.Errorf("keys must be %d bytes", size)
	}
	return &SCRAMCredentials{Iterations: iter, Salt: keys[0], StoredKey: keys[1], ServerKey: keys[2]}, nil
}

func formatSCRAMField(c *SCRAMCredentials) string {
	enc := base64.StdEncoding.EncodeToString
	return strconv.Itoa(c.Iterations) + "," + enc(c.Salt) + "," + enc(c.StoredKey) + "," + enc(c.ServerKey)
}

// formatUserLine renders a record as a line, without the newline.
func formatUserLine(u *userRecord) string {
	var b strings.Builder
	b.WriteString(u.name)
	b.WriteByte(':')
	b.WriteString(u.hash)
	if u.scram1 != nil {
		b.WriteString(":scram-sha-1=" + formatSCRAMField(u.scram1))
	}
	if u.scram256 != nil {
		b.WriteString(":scram-sha-256=" + formatSCRAMField(u.scram256))
	}
	if u.nt != nil {
		b.WriteString(":nt=" + hex.EncodeToString(u.nt[:]))
	}
	if len(u.sendAs) > 0 {
		b.WriteString(":sendas=" + strings.Join(u.sendAs, ","))
	}
	return b.String()
}

// checkUserAddress checks a login name: non-empty, at most 320 bytes, no
// spaces, ':' or control characters, not starting with '#'.
func checkUserAddress(s string) error {
	if s == "" {
		return errors.New("empty address")
	}
	if len(s) > 320 {
		return errors.New("address longer than 320 bytes")
	}
	if s[0] == '#' {
		return errors.New("address starts with '#'")
	}
	for _, r := range s {
		if r == ':' || r == utf8.RuneError || unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("address %q contains %q", truncateForError(s), r)
		}
	}
	return nil
}

// checkSendAs checks one sendas entry: an address, or "@domain".
func checkSendAs(s string) error {
	if s == "@" || strings.Contains(s, ",") {
		return fmt.Errorf("bad address %q", truncateForError(s))
	}
	if err := checkUserAddress(strings.TrimPrefix(s, "@")); err != nil {
		return err
	}
	return nil
}

func truncateForError(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// UserOptions are the optional settings of [AddUser].
type UserOptions struct {
	// NTLM stores the NT hash of the password, enabling NTLM for the user.
	// The NT hash is unsalted MD4 and as good as the password to anyone who
	// reads the file; store it only for users whose clients need NTLM.
	NTLM bool

	// SendAs lists further addresses, or "@domain" entries, the user may
	// send as ([Identity.SendAs]).
	SendAs []string

	// Bcrypt hashes the password with bcrypt (cost 10) instead of argon2id,
	// for files shared with tools that know only bcrypt.
	Bcrypt bool
}

// addUserMu serialises AddUser calls within the process, so that two
// concurrent calls on the same file do not lose one another's change. Calls
// from different processes are not serialised.
var addUserMu sync.Mutex

// AddUser adds the user address with password to the users file at path,
// creating the file if needed, or replaces the line of an existing user of
// that address (compared case-insensitively; the new line uses address as
// given, and has only the settings of opts). Other lines and comments are
// kept as they are. The password is hashed with argon2id ([HashPassword])
// or, with opts.Bcrypt, bcrypt, and SCRAM-SHA-1 and SCRAM-SHA-256 keys are
// derived from it with [NewSCRAMCredentials].
//
// The file is replaced atomically: written to a temporary file in the same
// directory, synced, given mode 0600 and renamed over path. AddUser refuses
// to touch a file that has invalid lines.
func AddUser(path, address, password string, opts UserOptions) error {
	if err := checkUserAddress(address); err != nil {
		return fmt.Errorf("auth: adduser: %w", err)
	}
	if password == "" {
		return errors.New("auth: adduser: empty password")
	}
	for _, a := range opts.SendAs {
		if err := checkSendAs(a); err != nil {
			return fmt.Errorf("auth: adduser: sendas: %w", err)
		}
	}
	u := &userRecord{name: address, sendAs: slices.Clone(opts.SendAs)}
	var err error
	if opts.Bcrypt {
		u.hash, err = HashPasswordBcrypt(password, 0)
	} else {
		u.hash, err = HashPassword(password)
	}
	if err != nil {
		return fmt.Errorf("auth: adduser: %w", err)
	}
	for _, h := range []SCRAMHash{SCRAMSHA1, SCRAMSHA256} {
		c, err := NewSCRAMCredentials(h, password, nil, 0)
		if err != nil {
			return fmt.Errorf("auth: adduser: %w", err)
		}
		if h == SCRAMSHA1 {
			u.scram1 = &c
		} else {
			u.scram256 = &c
		}
	}
	if opts.NTLM {
		nt := NTHashOf(password)
		u.nt = &nt
	}
	newLine := formatUserLine(u)

	addUserMu.Lock()
	defer addUserMu.Unlock()
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("auth: adduser: %w", err)
	}
	if _, err := parseUsers(bytes.NewReader(old)); err != nil {
		return fmt.Errorf("auth: adduser: users file %s: %w", path, err)
	}
	var out bytes.Buffer
	replaced := false
	key := normalizeUsername(address)
	first := true
	for line := range strings.Lines(string(old)) {
		content := line
		if first {
			content = strings.TrimPrefix(line, "\uFEFF")
			first = false
		}
		if r, _ := parseUserLine(content); r != nil && normalizeUsername(r.name) == key {
			out.WriteString(newLine + "\n")
			replaced = true
			continue
		}
		out.WriteString(line)
		if !strings.HasSuffix(line, "\n") {
			out.WriteByte('\n')
		}
	}
	if !replaced {
		out.WriteString(newLine + "\n")
	}
	if err := writeFileAtomic(path, out.Bytes(), 0o600); err != nil {
		return fmt.Errorf("auth: adduser: %w", err)
	}
	return nil
}

// writeFileAtomic replaces path with data: a temporary file in the same
// directory is written, synced and renamed over path, then the directory is
// synced so that the rename survives a crash.
func writeFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(perm); err != nil {
		return err
	}
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return nil // the file is in place; only its durability is uncertain
	}
	defer d.Close()
	d.Sync()
	return nil
}

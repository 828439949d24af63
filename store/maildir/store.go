package maildir

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/pop3"
	"github.com/mailfront/mailfront/submission"
)

// DefaultPollInterval is how often a watched mailbox's directories are
// checked for changes made by other programs when [Store.PollInterval] is
// zero.
const DefaultPollInterval = 500 * time.Millisecond

// DefaultMaxIdleUsers is how many users a Store keeps loaded after their
// last session ends when [Store.MaxIdleUsers] is zero.
const DefaultMaxIdleUsers = 64

// DefaultIdleUnload is how long a Store keeps a user loaded after the
// user's last session ends when [Store.IdleUnload] is zero.
const DefaultIdleUnload = 10 * time.Minute

// A Store is a durable mail store in Maildir++ directories, one per user
// under Root. It serves the IMAP, POP3 and submission servers at once: a
// message submitted for a local user is in that user's INBOX for IMAP and
// POP3, and every session sees the others' changes.
//
// A Store with Root set is ready to use; the other fields are optional.
// Fields must not be changed once the store is in use. Call Close when
// done. Only one Store (in one process) may use a user's directory at a
// time; see the package documentation.
type Store struct {
	// Root is the directory holding one Maildir++ root per user, named as
	// the lower-cased user name (ROOT/alice@example.org/). It is created
	// when missing.
	Root string

	// PollInterval is how often the directories of a mailbox that a
	// session watches (IMAP IDLE, or between commands) are checked for
	// messages delivered, renamed or removed by other programs. Zero means
	// DefaultPollInterval; a negative value disables polling (changes by
	// other programs are then seen at the sessions' next commands).
	PollInterval time.Duration

	// IsLocal reports whether a recipient address belongs to a local user
	// who should get mail even though no directory exists for it yet; with
	// an auth.UsersFile:
	//
	//	IsLocal: func(ctx context.Context, a string) (bool, error) { return users.HasUser(a), nil },
	//
	// Nil: a recipient is local when its directory exists under Root. A
	// recipient is local when either says so.
	IsLocal func(ctx context.Context, address string) (bool, error)

	// Relay takes messages for recipients that are not local. Nil: such
	// recipients are refused at RCPT time (550 5.1.1). When Relay also
	// implements submission.RecipientChecker, it decides at RCPT time.
	Relay submission.Backend

	// MaxIdleUsers is how many users stay loaded after their last session
	// (or delivery) ends: their folders' indexes in memory, their journals
	// open and their lock held, so that a client that connects again (or
	// the next delivery) does not read the index again. Beyond it, the
	// users idle the longest are unloaded first. Zero means
	// DefaultMaxIdleUsers; a negative value keeps none (a user is unloaded
	// when its last session ends). Each idle user holds its lock file and
	// one or two descriptors per folder it used, and the index of those
	// folders in memory (about 200 bytes per message).
	MaxIdleUsers int

	// IdleUnload is how long a user stays loaded after its last session
	// ends. The store has no timer: idle users are unloaded when the store
	// is next used (a session opens or ends, a delivery, a poller's tick)
	// or closed, so on a store nobody uses an idle user stays loaded (and
	// locked) until Close. Zero means DefaultIdleUnload; a negative value
	// sets no age limit.
	IdleUnload time.Duration

	// Logger receives warnings (index rebuilds, unreadable files). Nil
	// means slog.Default().
	Logger *slog.Logger

	mu      sync.Mutex
	users   map[string]*userState // loaded users: in use, or idle
	idle    idleList              // users without references, least recently used first
	closing map[string]*userState // evicted users being unloaded (outside mu)
	expires atomic.Int64          // when the first idle user expires (Unix ns); 0: none
	closed  bool
	fsOver  fileSystem // tests
}

// Compile-time checks of the interfaces the store implements.
var (
	_ imap4.Backend               = (*Store)(nil)
	_ pop3.Backend                = (*Store)(nil)
	_ submission.Backend          = (*Store)(nil)
	_ submission.RecipientChecker = (*Store)(nil)
)

// ErrClosed is returned by a Store after Close.
var ErrClosed = errors.New("maildir: store closed")

func (s *Store) fsys() fileSystem {
	if s.fsOver != nil {
		return s.fsOver
	}
	return osFS{}
}

func (s *Store) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func (s *Store) pollInterval() time.Duration {
	if s.PollInterval == 0 {
		return DefaultPollInterval
	}
	return s.PollInterval
}

// scanInterval is the least time between two reads of the directories of
// an unwatched mailbox by the sessions' commands.
func (s *Store) scanInterval() time.Duration {
	if iv := s.pollInterval(); iv > 0 {
		return iv
	}
	return DefaultPollInterval
}

// UserDir returns the directory of a user's Maildir++ root (which need
// not exist yet), or an error if the name cannot be mapped safely to a
// directory name.
func (s *Store) UserDir(username string) (string, error) {
	c, err := canonicalUser(username)
	if err != nil {
		return "", err
	}
	return filepath.Join(s.Root, c), nil
}

// CreateUser creates a user's Maildir++ root with INBOX and the special-use
// folders (Drafts, Sent, Trash, Junk, Archive), subscribed, if it does not
// exist yet. Opening a user through any of the servers does the same, so
// calling it is needed only to make the user "local" for recipient checks
// before the first login.
func (s *Store) CreateUser(ctx context.Context, username string) error {
	u, err := s.acquire(ctx, username, true)
	if err != nil {
		return err
	}
	s.release(u)
	return nil
}

// Close unloads every user, idle or not, releasing their files and locks,
// and stops polling. Sessions still open get errors afterwards. When Close
// returns, another Store (in this process or another) can use the users.
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	var users, closing []*userState
	for name, u := range s.users {
		users = append(users, u)
		delete(s.users, name)
	}
	s.idle = idleList{}
	s.expires.Store(0)
	for _, u := range s.closing {
		closing = append(closing, u)
	}
	s.mu.Unlock()
	for _, u := range users {
		u.close()
	}
	// Users evicted by other goroutines are being unloaded: wait for
	// their locks to be released too.
	for _, u := range closing {
		<-u.unloaded
	}
	return nil
}

// errNoUser is returned by acquire for a user without a directory.
var errNoUser = errors.New("maildir: no such user")

// acquire returns the shared state of a user, creating the user's
// directory when create is set, and counts a reference; release undoes it.
// A user kept loaded while idle is taken back after a check that its
// directory is still the one it locked; its folders check their files
// before their next use (see revive).
func (s *Store) acquire(ctx context.Context, username string, create bool) (*userState, error) {
	name, err := canonicalUser(username)
	if err != nil {
		return nil, err
	}
	if s.Root == "" {
		return nil, errors.New("maildir: Store.Root is empty")
	}
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, ErrClosed
		}
		if c := s.closing[name]; c != nil {
			// Being unloaded: its lock must be released before the user
			// is opened again.
			s.mu.Unlock()
			select {
			case <-c.unloaded:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		u := s.users[name]
		if u != nil && u.refs == 0 {
			s.idle.remove(u)
			if !u.current() {
				// The directory was removed or replaced while the user
				// was idle: unload it and open the user afresh.
				s.startUnloadLocked(u)
				evicted := append(s.evictLocked(time.Now()), u)
				s.mu.Unlock()
				s.unload(evicted)
				continue
			}
			u.revive()
		}
		if u == nil {
			if u, err = s.openUserLocked(name, create); err != nil {
				s.mu.Unlock()
				return nil, err
			}
		}
		u.refs++
		evicted := s.evictLocked(time.Now())
		s.mu.Unlock()
		s.unload(evicted)
		return u, nil
	}
}

// openUserLocked loads a user that is not loaded, creating its directory
// when create is set.
func (s *Store) openUserLocked(name string, create bool) (*userState, error) {
	fsys := s.fsys()
	root := filepath.Join(s.Root, name)
	fi, err := fsys.Lstat(root)
	switch {
	case err == nil && !fi.IsDir():
		return nil, fmt.Errorf("maildir: %s is not a directory", root)
	case errors.Is(err, fs.ErrNotExist) && !create:
		return nil, errNoUser
	case errors.Is(err, fs.ErrNotExist):
		if _, err := fsys.Lstat(s.Root); errors.Is(err, fs.ErrNotExist) {
			if err := os.MkdirAll(s.Root, 0o700); err != nil {
				return nil, err
			}
			fsys.SyncDir(filepath.Dir(s.Root))
		}
		if err := fsys.Mkdir(root, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, quotaError(err)
		}
		// The user's directory must outlive a power failure before any
		// message in it is acknowledged.
		if err := fsys.SyncDir(s.Root); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	}
	u := &userState{s: s, name: name, root: root, folders: make(map[string]*folder), unloaded: make(chan struct{})}
	if err := u.open(); err != nil {
		return nil, err
	}
	if s.users == nil {
		s.users = make(map[string]*userState)
	}
	s.users[name] = u
	return u, nil
}

// release drops a reference taken by acquire. A user whose last reference
// goes stays loaded, idle, within Store.MaxIdleUsers and Store.IdleUnload.
func (s *Store) release(u *userState) {
	s.mu.Lock()
	u.refs--
	if u.refs > 0 || s.users[u.name] != u {
		s.mu.Unlock()
		return
	}
	now := time.Now()
	u.idleSince = now
	s.idle.pushBack(u)
	evicted := s.evictLocked(now)
	s.mu.Unlock()
	s.unload(evicted)
}

// A userState is the shared state of one user: the folders loaded, the
// POP3 lock, the process lock on the directory.
type userState struct {
	s    *Store
	name string
	root string

	// Guarded by s.mu.
	refs       int
	idleSince  time.Time  // when refs last dropped to 0
	prev, next *userState // in s.idle, while idle

	unloaded chan struct{} // closed once an evicted user is unloaded
	gen      atomic.Uint64 // counts the times the user was taken back from idle
	lockInfo fs.FileInfo   // of the lock file, to notice a replaced directory

	mu      sync.Mutex // guards folders, pop3, and mailbox create/delete/rename
	folders map[string]*folder
	pop3    bool
	lock    *os.File

	vmu sync.Mutex // guards the UIDVALIDITY counter file
}

// userLockFile is held (flock) by the process serving a user.
const userLockFile = "mailfront-lock"

// validityFile holds the last UIDVALIDITY handed out to a folder of the
// user, so that a folder deleted and created again gets a new one.
const validityFile = "mailfront-uidvalidity"

// specialFolders are created for a new user.
var specialFolders = []struct{ name, use string }{
	{"Drafts", `\Drafts`},
	{"Sent", `\Sent`},
	{"Trash", `\Trash`},
	{"Junk", `\Junk`},
	{"Archive", `\Archive`},
}

// open takes the process lock and prepares a user seen for the first time.
func (u *userState) open() error {
	fsys := u.s.fsys()
	if err := makeMaildirDirs(fsys, u.root); err != nil {
		return err
	}
	lf, err := lockFile(filepath.Join(u.root, userLockFile))
	if err != nil {
		return fmt.Errorf("maildir: user %s is in use by another process: %w", u.name, err)
	}
	u.lock = lf
	if u.lockInfo, err = lf.Stat(); err != nil {
		u.close()
		return err
	}
	// Nothing else uses the directory yet: every leftover of a crash can go.
	removeStale(fsys, u.root, 0)
	if _, err := fsys.Lstat(filepath.Join(u.root, validityFile)); errors.Is(err, fs.ErrNotExist) {
		// First use by this store (new, or a Maildir made by another
		// program): add the special-use folders that are missing.
		var subscribe []string
		for _, sf := range specialFolders {
			dir, _ := folderDirName(sf.name)
			if exists(fsys, filepath.Join(u.root, dir)) {
				continue
			}
			if err := u.makeFolderDir(dir, sf.use); err != nil {
				u.close()
				return err
			}
			subscribe = append(subscribe, sf.name)
		}
		if err := u.updateSubscriptions(subscribe, true); err != nil {
			u.close()
			return err
		}
		if _, err := u.newValidity(); err != nil {
			u.close()
			return err
		}
		if err := fsys.SyncDir(u.root); err != nil {
			u.close()
			return err
		}
	}
	return nil
}

// close unloads the folders and releases the lock.
func (u *userState) close() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, f := range u.folders {
		f.mu.Lock()
		f.unloadLocked()
		f.gone = true
		f.notifyLocked(nil)
		f.mu.Unlock()
	}
	u.folders = nil
	if u.lock != nil {
		u.lock.Close() // releases the flock
		u.lock = nil
	}
}

// newValidity hands out a UIDVALIDITY for a new (or rebuilt) folder: the
// current time in seconds, or one more than the last handed out if that is
// not greater, never 0.
func (u *userState) newValidity() (uint32, error) {
	u.vmu.Lock()
	defer u.vmu.Unlock()
	fsys := u.s.fsys()
	path := filepath.Join(u.root, validityFile)
	var last uint64
	if data, err := readFile(fsys, path); err == nil {
		last, _ = strconv.ParseUint(strings.TrimSpace(string(data)), 10, 32)
	}
	v := uint64(uint32(time.Now().Unix()))
	if v <= last {
		v = last + 1
	}
	if v > 0xffffffff {
		v = 1
	}
	if err := writeFileAtomic(fsys, path, []byte(strconv.FormatUint(v, 10)+"\n")); err != nil {
		return 0, err
	}
	return uint32(v), nil
}

// folderLocked returns the folder named name (an IMAP name), or
// imap4.ErrNoSuchMailbox if its directory does not exist. It is called
// with u.mu held.
func (u *userState) folderLocked(name string) (*folder, error) {
	if u.folders == nil {
		return nil, ErrClosed
	}
	if f := u.folders[name]; f != nil {
		f.mu.Lock()
		gone := f.gone
		f.mu.Unlock()
		if !gone {
			return f, nil
		}
		delete(u.folders, name)
	}
	dir, err := folderDirName(name)
	if err != nil {
		return nil, err
	}
	path := u.root
	if dir != "" {
		path = filepath.Join(u.root, dir)
		fi, err := u.s.fsys().Lstat(path)
		if err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("%w: %q", imap4.ErrNoSuchMailbox, name)
		}
	}
	f := &folder{s: u.s, u: u, id: folderIDs.Add(1), name: name, dir: path, gen: u.gen.Load()}
	u.folders[name] = f
	return f, nil
}

// folder is folderLocked with u.mu taken.
func (u *userState) folder(name string) (*folder, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.folderLocked(name)
}

// makeFolderDir creates a folder's directory with cur/, new/, tmp/, the
// maildirfolder marker and, if use is set, its special-use attribute.
func (u *userState) makeFolderDir(dir, use string) error {
	fsys := u.s.fsys()
	path := filepath.Join(u.root, dir)
	if err := fsys.Mkdir(path, 0o700); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return imap4.ErrMailboxExists
		}
		return quotaError(err)
	}
	mf, err := fsys.OpenFile(filepath.Join(path, maildirFolderFile), os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return quotaError(err)
	}
	mf.Close()
	if use != "" {
		if err := writeFileAtomic(fsys, filepath.Join(path, specialUseFile), []byte(use+"\n")); err != nil {
			return err
		}
	}
	if err := makeMaildirDirs(fsys, path); err != nil {
		return err
	}
	return fsys.SyncDir(u.root)
}

// makeMaildirDirs creates the cur/, new/ and tmp/ that dir lacks and, if it
// created any, fsyncs dir, so that they survive a power failure with the
// messages later put in them.
func makeMaildirDirs(fsys fileSystem, dir string) error {
	created := false
	for _, d := range []string{"cur", "new", "tmp"} {
		err := fsys.Mkdir(filepath.Join(dir, d), 0o700)
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return quotaError(err)
		}
		created = created || err == nil
	}
	if created {
		return fsys.SyncDir(dir)
	}
	return nil
}

// OpenUser implements imap4.Backend: it opens (creating if needed) the
// Maildir++ root of the identity's user.
func (s *Store) OpenUser(ctx context.Context, id auth.Identity) (imap4.User, error) {
	u, err := s.acquire(ctx, id.Username, true)
	if err != nil {
		return nil, err
	}
	return &user{u: u}, nil
}

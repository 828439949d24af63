package mailtest

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"weak"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/store/memstore"
)

// The default user every test server creates. The public packages repeat
// these values as their own constants.
const (
	DefaultUser     = "alice@example.org"
	DefaultPassword = "secret"
)

// A Directory is an in-memory user directory with known passwords, for tests.
// It implements auth.Authenticator and the optional interfaces that enable
// every password-based SASL mechanism: auth.SecretStore (CRAM-MD5, APOP),
// auth.SCRAMKeyStore (SCRAM-SHA-1, SCRAM-SHA-256 and their -PLUS variants),
// auth.NTHashStore (NTLM) and auth.TokenVerifier (OAUTHBEARER and XOAUTH2,
// which accept the user's password as the bearer token).
//
// Passwords are kept in clear: it is a test double, never a directory for
// real users. Addresses compare case-insensitively. The zero Directory is
// empty and ready to use; it is safe for concurrent use.
type Directory struct {
	mu    sync.RWMutex
	users map[string]*user // by lower-cased address
}

// user is one entry of a Directory. Its SCRAM keys are derived on first use,
// since PBKDF2 costs a few milliseconds and most tests never use SCRAM.
type user struct {
	id       auth.Identity
	password string

	scramMu sync.Mutex
	scram   map[auth.SCRAMHash]auth.SCRAMCredentials
}

var (
	_ auth.SecretStore   = (*Directory)(nil)
	_ auth.SCRAMKeyStore = (*Directory)(nil)
	_ auth.NTHashStore   = (*Directory)(nil)
	_ auth.TokenVerifier = (*Directory)(nil)
)

func key(address string) string { return strings.ToLower(address) }

// Add adds a user, or replaces the password and send-as addresses of an
// existing one. sendAs lists further addresses (or "@domain" entries) the
// user may send as (auth.Identity.SendAs). Add fails for an empty address
// or one with spaces or control characters, which no protocol could carry.
func (d *Directory) Add(address, password string, sendAs ...string) error {
	if address == "" || strings.ContainsFunc(address, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("invalid user address %q", address)
	}
	u := &user{
		id:       auth.Identity{Username: address, SendAs: append([]string(nil), sendAs...)},
		password: password,
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.users == nil {
		d.users = make(map[string]*user)
	}
	d.users[key(address)] = u
	return nil
}

// Has reports whether the directory has a user of that address.
func (d *Directory) Has(address string) bool {
	return d.lookup(address) != nil
}

// Reset removes every user.
func (d *Directory) Reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.users = nil
}

func (d *Directory) lookup(address string) *user {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.users[key(address)]
}

// errInvalid is the failure for every unknown user and wrong secret.
var errInvalid = fmt.Errorf("mailtest: %w", auth.ErrInvalidCredentials)

// Authenticate implements auth.Authenticator.
func (d *Directory) Authenticate(ctx context.Context, username, password string) (auth.Identity, error) {
	u := d.lookup(username)
	if u == nil || subtle.ConstantTimeCompare([]byte(u.password), []byte(password)) != 1 {
		return auth.Identity{}, errInvalid
	}
	return u.id, nil
}

// Secret implements auth.SecretStore.
func (d *Directory) Secret(ctx context.Context, username string) (string, auth.Identity, error) {
	u := d.lookup(username)
	if u == nil {
		return "", auth.Identity{}, errInvalid
	}
	return u.password, u.id, nil
}

// SCRAMCredentials implements auth.SCRAMKeyStore, deriving the user's keys
// from the password on first use.
func (d *Directory) SCRAMCredentials(ctx context.Context, hash auth.SCRAMHash, username string) (auth.SCRAMCredentials, error) {
	u := d.lookup(username)
	if u == nil {
		return auth.SCRAMCredentials{}, errInvalid
	}
	u.scramMu.Lock()
	defer u.scramMu.Unlock()
	if c, ok := u.scram[hash]; ok {
		return c, nil
	}
	c, err := auth.NewSCRAMCredentials(hash, u.password, nil, 0)
	if err != nil {
		return auth.SCRAMCredentials{}, err
	}
	c.Identity = u.id
	if u.scram == nil {
		u.scram = make(map[auth.SCRAMHash]auth.SCRAMCredentials)
	}
	u.scram[hash] = c
	return c, nil
}

// SCRAMHashes implements auth.SCRAMKeyStore: both SHA-1 and SHA-256.
func (d *Directory) SCRAMHashes() []auth.SCRAMHash {
	return []auth.SCRAMHash{auth.SCRAMSHA256, auth.SCRAMSHA1}
}

// NTHash implements auth.NTHashStore. The domain is ignored.
func (d *Directory) NTHash(ctx context.Context, username, domain string) ([16]byte, auth.Identity, error) {
	u := d.lookup(username)
	if u == nil {
		return [16]byte{}, auth.Identity{}, errInvalid
	}
	return auth.NTHashOf(u.password), u.id, nil
}

// VerifyToken implements auth.TokenVerifier: the token of a user is the
// user's password. A token without a username is refused.
func (d *Directory) VerifyToken(ctx context.Context, username, token string) (auth.Identity, error) {
	if username == "" {
		return auth.Identity{}, errInvalid
	}
	return d.Authenticate(ctx, username, token)
}

// directories holds the Directory of each Store, keyed weakly so that a
// Store no longer referenced takes its Directory with it.
var directories sync.Map // weak.Pointer[memstore.Store] -> *Directory

// UsersOf returns the Directory that belongs to st, creating it on first
// use. Every test server serving st authenticates against it, so servers
// that share a Store share its users and passwords. The Directory lives as
// long as st does.
func UsersOf(st *memstore.Store) *Directory {
	if st == nil {
		panic(errors.New("mailtest: UsersOf(nil)"))
	}
	k := weak.Make(st)
	if d, ok := directories.Load(k); ok {
		return d.(*Directory)
	}
	d, loaded := directories.LoadOrStore(k, new(Directory))
	if !loaded {
		runtime.AddCleanup(st, func(k weak.Pointer[memstore.Store]) { directories.Delete(k) }, k)
	}
	return d.(*Directory)
}

// NewStore returns the Store a test server creates when given none: every
// recipient address is local, so a message submitted to anyone lands in an
// INBOX of that address, as a test double of "the mail system" should.
func NewStore() *memstore.Store {
	return &memstore.Store{
		LocalRecipient: func(ctx context.Context, addr string) (string, bool) {
			return addr, addr != ""
		},
	}
}

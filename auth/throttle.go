package auth

import (
	"container/list"
	"fmt"
	"hash/maphash"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// A Throttle slows down and locks out clients that fail to log in, per
// client address and per username, as Dovecot's auth_failure_delay and mox's
// failed-auth limiter do. The zero value is ready to use with the defaults
// documented on each field; a Throttle must not be copied after first use.
// It is safe for concurrent use and is meant to be shared by every server
// and listener of a process.
//
// A server uses it around each login attempt:
//
//	if err := t.Check(addr, username); err != nil {
//		// Refuse as for invalid credentials, without asking the Authenticator.
//	}
//	id, err := authenticator.Authenticate(ctx, username, password)
//	if errors.Is(err, auth.ErrInvalidCredentials) {
//		delay := t.Failure(addr, username)
//		// Wait delay, then answer.
//	} else if err == nil {
//		t.Success(addr, username)
//	}
//
// IPv6 clients are counted per /64 network, since anyone who has one address
// of a /64 usually has them all; IPv4 clients (including IPv4-mapped IPv6
// addresses) per address. Usernames are compared case-insensitively.
//
// Memory is bounded by MaxEntries: under a flood of distinct addresses or
// usernames the least recently failing entries are forgotten first, and
// entries that are locked out are kept while others can be dropped. An entry
// costs about 200 bytes, so the default bound is about 13 MB.
//
// A username lockout applies whichever address the attempt comes from, so an
// attacker who knows a username can keep that user out for Lockout at a time.
// That is why username lockouts never grow (unlike address lockouts) and why
// failures during a lockout do not extend it: the user can log in again as
// soon as it ends.
type Throttle struct {
	// FailureDelay is how long a server should wait before answering the
	// first failed attempt; the delay doubles with each further recent
	// failure from the same address or for the same username, up to
	// MaxFailureDelay. Zero means 2 seconds (Dovecot's auth_failure_delay);
	// negative means no delay.
	FailureDelay time.Duration

	// MaxFailureDelay caps the delay [Throttle.Failure] returns. Zero means
	// 15 seconds.
	MaxFailureDelay time.Duration

	// MaxFailuresPerAddr is how many failed attempts a client address (an
	// IPv4 address or an IPv6 /64) may make within Window before it is
	// locked out. Zero means 10; negative means no address lockout (failures
	// are still delayed).
	MaxFailuresPerAddr int

	// MaxFailuresPerUser is how many failed attempts, from any address, a
	// username may collect within Window before it is locked out. Zero means
	// 10; negative means no username lockout.
	MaxFailuresPerUser int

	// Window is the period over which failures are counted, starting at the
	// first failure. Zero or negative means 1 minute.
	Window time.Duration

	// Lockout is how long a locked-out address or username is refused. An
	// address locked out again soon after its previous lockout ended is
	// locked out twice as long, up to 8 times Lockout; a username lockout
	// always lasts Lockout. Zero means 5 minutes; negative means no lockout
	// (failures are only delayed).
	Lockout time.Duration

	// MaxEntries bounds how many addresses and usernames the Throttle
	// remembers at once. Zero or negative means 65,536.
	MaxEntries int

	mu      sync.Mutex
	entries map[throttleKey]*throttleEntry
	active  list.List // entries not locked out, most recently failing first
	locked  list.List // entries locked out (or formerly), most recent first
	seed    maphash.Seed
}

// Defaults of the Throttle fields.
const (
	defaultFailureDelay    = 2 * time.Second
	defaultMaxFailureDelay = 15 * time.Second
	defaultMaxFailures     = 10
	defaultThrottleWindow  = time.Minute
	defaultLockout         = 5 * time.Minute
	defaultThrottleEntries = 65536
	// maxLockoutDoublings caps the growth of address lockouts: 2^3 = 8×.
	maxLockoutDoublings = 3
)

func (t *Throttle) failureDelay() time.Duration {
	switch {
	case t.FailureDelay < 0:
		return 0
	case t.FailureDelay == 0:
		return defaultFailureDelay
	}
	return t.FailureDelay
}

func (t *Throttle) maxFailureDelay() time.Duration {
	if t.MaxFailureDelay <= 0 {
		return defaultMaxFailureDelay
	}
	return t.MaxFailureDelay
}

func (t *Throttle) maxFailuresPerAddr() int {
	if t.MaxFailuresPerAddr == 0 {
		return defaultMaxFailures
	}
	return t.MaxFailuresPerAddr
}

func (t *Throttle) maxFailuresPerUser() int {
	if t.MaxFailuresPerUser == 0 {
		return defaultMaxFailures
	}
	return t.MaxFailuresPerUser
}

func (t *Throttle) window() time.Duration {
	if t.Window <= 0 {
		return defaultThrottleWindow
	}
	return t.Window
}

func (t *Throttle) lockout() time.Duration {
	if t.Lockout == 0 {
		return defaultLockout
	}
	return t.Lockout
}

func (t *Throttle) maxEntries() int {
	if t.MaxEntries <= 0 {
		return defaultThrottleEntries
	}
	return t.MaxEntries
}

// throttleKey identifies a client network or a username. Usernames are
// stored as a keyed hash, so that long usernames cost no more memory than
// short ones; the per-Throttle random seed keeps clients from choosing
// colliding names.
type throttleKey struct {
	addr netip.Addr // an IPv4 address or the first address of an IPv6 /64; invalid for a username
	user uint64     // maphash of the normalised username
}

type throttleEntry struct {
	key         throttleKey
	elem        *list.Element
	inLocked    bool      // elem is in Throttle.locked: the entry is or was locked out
	failures    int       // failures since windowStart
	windowStart time.Time // start of the counting window
	lockedUntil time.Time // zero if never locked out
	lockouts    int       // consecutive lockouts, for growth
}

// normalizeUsername folds a username for case-insensitive comparison. The
// Throttle and [UsersFile] use the same folding.
func normalizeUsername(s string) string {
	return strings.ToLower(s)
}

// throttleNetwork returns the address under which addr is counted: the
// unmapped IPv4 address, or the IPv6 /64 network.
func throttleNetwork(addr netip.Addr) netip.Addr {
	addr = addr.Unmap().WithZone("")
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.Addr()
	}
	return addr
}

func describeNetwork(a netip.Addr) string {
	if a.Is6() {
		return netip.PrefixFrom(a, 64).String()
	}
	return a.String()
}

func (t *Throttle) initLocked() {
	if t.entries == nil {
		t.entries = make(map[throttleKey]*throttleEntry)
		t.seed = maphash.MakeSeed()
	}
}

func (t *Throttle) userKey(username string) throttleKey {
	return throttleKey{user: maphash.String(t.seed, normalizeUsername(username))}
}

// Check reports whether a login attempt from addr for username may proceed.
// It returns an error wrapping [ErrThrottled] when the address or the
// username is locked out; the server then refuses the attempt without asking
// the Authenticator. username may be empty, to check only the address
// before the client has named a user; an invalid addr (a Unix socket, an
// unknown peer) checks only the username.
func (t *Throttle) Check(addr netip.Addr, username string) error {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.initLocked()
	if addr.IsValid() {
		net := throttleNetwork(addr)
		if e := t.entries[throttleKey{addr: net}]; e != nil && now.Before(e.lockedUntil) {
			return fmt.Errorf("%w: client %s locked out for %v", ErrThrottled, describeNetwork(net), e.lockedUntil.Sub(now).Round(time.Second))
		}
	}
	if username != "" {
		if e := t.entries[t.userKey(username)]; e != nil && now.Before(e.lockedUntil) {
			return fmt.Errorf("%w: user %q locked out for %v", ErrThrottled, truncateForError(username), e.lockedUntil.Sub(now).Round(time.Second))
		}
	}
	return nil
}

// Failure records a failed login attempt from addr for username (either may
// be invalid or empty) and returns how long the server should wait before
// answering it: FailureDelay, doubled for each further recent failure of the
// address or the username, capped at MaxFailureDelay. Servers may also call
// it for an attempt [Throttle.Check] refused, to get the delay; a failure
// during a lockout does not extend the lockout.
func (t *Throttle) Failure(addr netip.Addr, username string) time.Duration {
	now := time.Now()
	t.mu.Lock()
	t.initLocked()
	n := 0
	if addr.IsValid() {
		e := t.entryLocked(throttleKey{addr: throttleNetwork(addr)}, now)
		n = max(n, t.failLocked(e, now, t.maxFailuresPerAddr(), true))
	}
	if username != "" {
		e := t.entryLocked(t.userKey(username), now)
		n = max(n, t.failLocked(e, now, t.maxFailuresPerUser(), false))
	}
	t.mu.Unlock()
	return t.delay(n)
}

// Success records a successful login from addr as username. The username's
// failures are forgotten. The address's count drops by one (a typo followed
// by the right password leaves no trace), but is not cleared: a client that
// owns one account must not be able to reset its address's count and go on
// guessing other users' passwords.
func (t *Throttle) Success(addr netip.Addr, username string) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.initLocked()
	if username != "" {
		if e := t.entries[t.userKey(username)]; e != nil {
			t.removeLocked(e)
		}
	}
	if addr.IsValid() {
		if e := t.entries[throttleKey{addr: throttleNetwork(addr)}]; e != nil && !now.Before(e.lockedUntil) && e.failures > 0 {
			e.failures--
			if e.failures == 0 && e.lockouts == 0 {
				t.removeLocked(e)
			}
		}
	}
}

// delay returns the wait after the n-th recent failure.
func (t *Throttle) delay(n int) time.Duration {
	d := t.failureDelay()
	if d == 0 {
		return 0
	}
	limit := t.maxFailureDelay()
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// entryLocked returns the entry for key, creating it (and evicting another
// if the table is full), and marks it most recently used.
func (t *Throttle) entryLocked(key throttleKey, now time.Time) *throttleEntry {
	if e := t.entries[key]; e != nil {
		if e.inLocked {
			t.locked.MoveToFront(e.elem)
		} else {
			t.active.MoveToFront(e.elem)
		}
		return e
	}
	for len(t.entries) >= t.maxEntries() {
		t.evictLocked(now)
	}
	e := &throttleEntry{key: key, windowStart: now}
	e.elem = t.active.PushFront(e)
	t.entries[key] = e
	return e
}

// evictLocked forgets one entry: the oldest lockout that has ended, else the
// least recently failing entry that is not locked out, else the oldest
// lockout.
func (t *Throttle) evictLocked(now time.Time) {
	if b := t.locked.Back(); b != nil && !now.Before(b.Value.(*throttleEntry).lockedUntil) {
		t.removeLocked(b.Value.(*throttleEntry))
		return
	}
	if b := t.active.Back(); b != nil {
		t.removeLocked(b.Value.(*throttleEntry))
		return
	}
	if b := t.locked.Back(); b != nil {
		t.removeLocked(b.Value.(*throttleEntry))
	}
}

func (t *Throttle) removeLocked(e *throttleEntry) {
	if e.inLocked {
		t.locked.Remove(e.elem)
	} else {
		t.active.Remove(e.elem)
	}
	delete(t.entries, e.key)
}

// failLocked counts one failure on e and locks it out when it reaches
// limit. It returns the failure count to base the delay on. grow says
// whether repeated lockouts grow longer.
func (t *Throttle) failLocked(e *throttleEntry, now time.Time, limit int, grow bool) int {
	if now.Before(e.lockedUntil) {
		// Already locked out: do not extend the lockout.
		return max(limit, e.failures)
	}
	if now.Sub(e.windowStart) >= t.window() {
		e.failures = 0
		e.windowStart = now
	}
	e.failures++
	lockout := t.lockout()
	if limit <= 0 || lockout < 0 || e.failures < limit {
		return e.failures
	}
	if !e.lockedUntil.IsZero() && now.Sub(e.lockedUntil) > lockout<<maxLockoutDoublings {
		e.lockouts = 0 // well behaved for long enough: start over
	}
	e.lockouts++
	if grow {
		lockout <<= min(e.lockouts-1, maxLockoutDoublings)
	}
	n := e.failures
	e.lockedUntil = now.Add(lockout)
	// Count afresh once the lockout ends.
	e.failures = 0
	e.windowStart = e.lockedUntil
	if !e.inLocked {
		t.active.Remove(e.elem)
		e.elem = t.locked.PushFront(e)
		e.inLocked = true
	}
	return n
}

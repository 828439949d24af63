package maildir

import (
	"os"
	"path/filepath"
	"time"
)

// Idle users. A user whose last reference goes (the last IMAP or POP3
// session ends, a delivery is done) stays loaded: its folders keep their
// index in memory and their journal open, and the user keeps its lock, so
// that the next session or delivery starts without reading the index. The
// idle users are in a list, least recently used first; they are unloaded
// beyond Store.MaxIdleUsers, when idle longer than Store.IdleUnload (checked
// whenever a user is acquired or released and on pollers' ticks: no timer,
// no goroutine), or on Close. Unloading (which may compact a journal) runs
// after s.mu is released; a user being unloaded is in s.closing, and
// acquiring it waits until its lock is released.
//
// Nothing done while a user is idle goes through the store, but other
// programs may change the directories: a user taken back checks that its
// lock file is still the one it holds (else the directory was replaced and
// the user is loaded afresh), and each of its folders, before its next use,
// checks that its index files are the ones it holds (else it reloads) and
// stats new/ and cur/ (scanning them if their mtimes moved).

// idleList is a doubly linked list of idle users, guarded by Store.mu.
type idleList struct {
	head, tail *userState
	n          int
}

func (l *idleList) pushBack(u *userState) {
	u.prev, u.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = u
	} else {
		l.head = u
	}
	l.tail = u
	l.n++
}

func (l *idleList) remove(u *userState) {
	if u.prev != nil {
		u.prev.next = u.next
	} else {
		l.head = u.next
	}
	if u.next != nil {
		u.next.prev = u.prev
	} else {
		l.tail = u.prev
	}
	u.prev, u.next = nil, nil
	l.n--
}

func (s *Store) maxIdleUsers() int {
	switch {
	case s.MaxIdleUsers == 0:
		return DefaultMaxIdleUsers
	case s.MaxIdleUsers < 0:
		return 0
	}
	return s.MaxIdleUsers
}

// idleUnload returns the age limit of idle users, or a negative duration
// for none.
func (s *Store) idleUnload() time.Duration {
	if s.IdleUnload == 0 {
		return DefaultIdleUnload
	}
	return s.IdleUnload
}

// evictLocked takes the idle users beyond the bounds out of the store and
// returns them, to be unloaded by s.unload once s.mu is released.
func (s *Store) evictLocked(now time.Time) []*userState {
	limit, age := s.maxIdleUsers(), s.idleUnload()
	var out []*userState
	for u := s.idle.head; u != nil; u = s.idle.head {
		if s.idle.n <= limit && (age < 0 || now.Sub(u.idleSince) < age) {
			break
		}
		s.idle.remove(u)
		s.startUnloadLocked(u)
		out = append(out, u)
	}
	if u := s.idle.head; u != nil && age >= 0 {
		s.expires.Store(u.idleSince.Add(age).UnixNano())
	} else {
		s.expires.Store(0)
	}
	return out
}

// startUnloadLocked takes a user out of the store; acquiring it waits until
// s.unload has released it.
func (s *Store) startUnloadLocked(u *userState) {
	delete(s.users, u.name)
	if s.closing == nil {
		s.closing = make(map[string]*userState)
	}
	s.closing[u.name] = u
}

// unload unloads users taken out by startUnloadLocked. It is called
// without s.mu (unloading writes files).
func (s *Store) unload(users []*userState) {
	for _, u := range users {
		u.close()
		s.mu.Lock()
		if s.closing[u.name] == u {
			delete(s.closing, u.name)
		}
		s.mu.Unlock()
		close(u.unloaded)
	}
}

// evictExpired unloads the idle users older than Store.IdleUnload. It is
// cheap when there are none (pollers call it on every tick).
func (s *Store) evictExpired() {
	if e := s.expires.Load(); e == 0 || time.Now().UnixNano() < e {
		return
	}
	s.mu.Lock()
	var evicted []*userState
	if !s.closed {
		evicted = s.evictLocked(time.Now())
	}
	s.mu.Unlock()
	s.unload(evicted)
}

// current reports whether the user's lock file is still the one the user
// holds locked: not when the user's directory was removed or replaced
// while the user was idle.
func (u *userState) current() bool {
	fi, err := u.s.fsys().Lstat(filepath.Join(u.root, userLockFile))
	return err == nil && u.lockInfo != nil && os.SameFile(fi, u.lockInfo)
}

// revive starts a new generation of a user taken back from the idle list:
// each of its folders checks its files before its next use (see
// folder.revalidateLocked), without s.mu waiting for the folders' locks.
func (u *userState) revive() { u.gen.Add(1) }

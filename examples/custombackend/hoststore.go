package main

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"
)

// This file stands for the host application's own storage: the database
// layer that its web UI and delivery agent already use. It knows nothing
// of IMAP or POP3. backend.go adapts it to mailfront; in your program this
// file is your database, and backend.go is the part you copy.

// Errors the host store returns.
var (
	ErrNoFolder = errors.New("hoststore: no such folder")
	ErrNoRecord = errors.New("hoststore: no such record")
	ErrExists   = errors.New("hoststore: folder already exists")
	ErrConflict = errors.New("hoststore: record changed since it was read")
)

// A Folder is one of a user's folders of messages.
type Folder struct {
	// ID identifies the folder in the whole store. It is never reused,
	// not even for a folder deleted and created again under its old name.
	ID int64
	// Name is unique among the user's folders. The store gives "/" no
	// meaning.
	Name string
	// Role is what the folder is for: "sent", "drafts", "trash", "junk",
	// "archive", or empty.
	Role string
	// NextID is the ID the folder's next record will get: each folder
	// numbers its records 1, 2, 3... like the issues of a project.
	NextID int64
	// Rev is the folder's revision (as a CalDAV ctag): it goes up with
	// every change to the folder's records, and a record stored or changed
	// takes the new value as its own Rev.
	Rev int64
	// DeletedRev is the Rev of the last deletion of records, 0 if none.
	DeletedRev int64
}

// A Record is one stored message.
type Record struct {
	ID    int64     // unique in its folder, ascending in order of arrival
	Data  []byte    // the message, CRLF line endings; never modified once stored
	Flags []string  // replaced as a whole, never modified in place
	Date  time.Time // when the message arrived
	Rev   int64     // the folder's Rev when the record was stored or last changed
}

// HostStore keeps users' folders and messages in memory. The zero value is
// an empty store; it is safe for concurrent use. Its methods take a context
// as a database layer's do; being in memory, they never block.
type HostStore struct {
	mu        sync.Mutex
	accounts  map[string]*account // by user name
	folders   map[int64]*folder   // by folder ID
	lastID    int64               // the last folder ID given out
	listeners []func(folderID int64)
}

type account struct {
	folders    map[string]*folder // by name
	subscribed map[string]bool
}

type folder struct {
	Folder
	records []Record // ascending ID
}

// Listen registers fn to be called after every change to a folder or its
// records, like a database trigger or PostgreSQL's LISTEN. fn is called
// with no lock held and must not block.
func (s *HostStore) Listen(fn func(folderID int64)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listeners = append(s.listeners, fn)
}

// notify calls the listeners. s.mu must not be held.
func (s *HostStore) notify(folderID int64) {
	s.mu.Lock()
	listeners := s.listeners
	s.mu.Unlock()
	for _, fn := range listeners {
		fn(folderID)
	}
}

// account returns a user's account, creating it. s.mu must be held.
func (s *HostStore) account(user string) *account {
	if s.accounts == nil {
		s.accounts, s.folders = make(map[string]*account), make(map[int64]*folder)
	}
	a := s.accounts[user]
	if a == nil {
		a = &account{folders: make(map[string]*folder), subscribed: make(map[string]bool)}
		s.accounts[user] = a
	}
	return a
}

// Folders returns a user's folders, in no particular order.
func (s *HostStore) Folders(ctx context.Context, user string) ([]Folder, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []Folder
	for _, f := range s.account(user).folders {
		list = append(list, f.Folder)
	}
	return list, nil
}

// Folder returns the user's folder called name.
func (s *HostStore) Folder(ctx context.Context, user, name string) (Folder, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.account(user).folders[name]; f != nil {
		return f.Folder, nil
	}
	return Folder{}, ErrNoFolder
}

// CreateFolder creates an empty folder.
func (s *HostStore) CreateFolder(ctx context.Context, user, name, role string) (Folder, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.account(user)
	if a.folders[name] != nil {
		return Folder{}, ErrExists
	}
	if s.lastID == 0 {
		// A database keeps its sequences across restarts. This store
		// forgets everything, so it starts its IDs at the current time:
		// a folder made after a restart gets an ID unused before it.
		s.lastID = time.Now().Unix()
	}
	s.lastID++
	f := &folder{Folder: Folder{ID: s.lastID, Name: name, Role: role, NextID: 1, Rev: 1}}
	a.folders[name], s.folders[f.ID] = f, f
	return f.Folder, nil
}

// RenameFolder renames a folder. Its ID and records stay.
func (s *HostStore) RenameFolder(ctx context.Context, user, oldName, newName string) error {
	s.mu.Lock()
	a := s.account(user)
	f := a.folders[oldName]
	switch {
	case f == nil:
		s.mu.Unlock()
		return ErrNoFolder
	case a.folders[newName] != nil:
		s.mu.Unlock()
		return ErrExists
	}
	delete(a.folders, oldName)
	f.Name, a.folders[newName] = newName, f
	s.mu.Unlock()
	s.notify(f.ID)
	return nil
}

// DeleteFolder deletes a folder and its records.
func (s *HostStore) DeleteFolder(ctx context.Context, user, name string) error {
	s.mu.Lock()
	a := s.account(user)
	f := a.folders[name]
	if f == nil {
		s.mu.Unlock()
		return ErrNoFolder
	}
	delete(a.folders, name)
	delete(s.folders, f.ID)
	s.mu.Unlock()
	s.notify(f.ID)
	return nil
}

// Subscriptions returns the names of the folders a user subscribes to,
// which need not exist.
func (s *HostStore) Subscriptions(ctx context.Context, user string) (map[string]bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.account(user).subscribed), nil
}

// SetSubscribed subscribes a user to a folder name, or unsubscribes.
func (s *HostStore) SetSubscribed(ctx context.Context, user, name string, on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on {
		s.account(user).subscribed[name] = true
	} else {
		delete(s.account(user).subscribed, name)
	}
	return nil
}

// Load returns a folder and all its records, as of one moment.
func (s *HostStore) Load(ctx context.Context, folderID int64) (Folder, []Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.folders[folderID]
	if f == nil {
		return Folder{}, nil, ErrNoFolder
	}
	return f.Folder, slices.Clone(f.records), nil
}

// Record returns one record of a folder.
func (s *HostStore) Record(ctx context.Context, folderID, id int64) (Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.folders[folderID]
	if f == nil {
		return Record{}, ErrNoFolder
	}
	i, ok := f.find(id)
	if !ok {
		return Record{}, ErrNoRecord
	}
	return f.records[i], nil
}

func (f *folder) find(id int64) (int, bool) {
	return slices.BinarySearchFunc(f.records, id, func(r Record, id int64) int { return cmp.Compare(r.ID, id) })
}

// change runs fn on a folder with the lock held, then tells the
// listeners if fn succeeded.
func (s *HostStore) change(folderID int64, fn func(f *folder) error) error {
	s.mu.Lock()
	err := ErrNoFolder
	if f := s.folders[folderID]; f != nil {
		err = fn(f)
	}
	s.mu.Unlock()
	if err == nil {
		s.notify(folderID)
	}
	return err
}

// Insert stores a new record in a folder and returns it.
func (s *HostStore) Insert(ctx context.Context, folderID int64, data []byte, flags []string, date time.Time) (Record, error) {
	var r Record
	err := s.change(folderID, func(f *folder) error {
		f.Rev++
		r = Record{ID: f.NextID, Data: data, Flags: slices.Clone(flags), Date: date, Rev: f.Rev}
		f.NextID++
		f.records = append(f.records, r)
		return nil
	})
	return r, err
}

// SetFlags replaces the flags of a record whose Rev is still ifRev, and
// returns it; if the record has changed since, it returns ErrConflict
// (optimistic concurrency, as an HTTP If-Match).
func (s *HostStore) SetFlags(ctx context.Context, folderID, id int64, flags []string, ifRev int64) (Record, error) {
	var r Record
	err := s.change(folderID, func(f *folder) error {
		i, ok := f.find(id)
		switch {
		case !ok:
			return ErrNoRecord
		case f.records[i].Rev != ifRev:
			return ErrConflict
		}
		f.Rev++
		r = f.records[i]
		r.Flags, r.Rev = slices.Clone(flags), f.Rev
		f.records[i] = r
		return nil
	})
	return r, err
}

// Delete deletes records of a folder, and returns the IDs of those it
// found, ascending.
func (s *HostStore) Delete(ctx context.Context, folderID int64, ids []int64) ([]int64, error) {
	var gone []int64
	err := s.change(folderID, func(f *folder) error {
		kept := make([]Record, 0, len(f.records))
		for _, r := range f.records {
			if slices.Contains(ids, r.ID) {
				gone = append(gone, r.ID)
			} else {
				kept = append(kept, r)
			}
		}
		if len(gone) > 0 {
			f.records = kept
			f.Rev++
			f.DeletedRev = f.Rev
		}
		return nil
	})
	return gone, err
}

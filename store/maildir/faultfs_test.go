package maildir_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/store/maildir"
)

// faultFS wraps the OS file system: it records every operation (for
// checking the order of writes, syncs and renames) and can fail any of
// them.
type faultFS struct {
	mu    sync.Mutex
	trace []string
	// fail returns the error to inject for an operation ("write", "sync",
	// "rename", "link", "syncdir", "remove", "open", "mkdir", "chtimes")
	// on path, or nil.
	fail func(op, path string) error
	// before is called before every operation (the power-loss simulator
	// takes its images there).
	before func(op, path string)
}

func (f *faultFS) hook(op, path string, more ...string) error {
	f.mu.Lock()
	fail, before := f.fail, f.before
	entry := op + " " + path
	for _, m := range more {
		entry += " " + m
	}
	f.trace = append(f.trace, entry)
	f.mu.Unlock()
	if before != nil {
		before(op, path)
	}
	if fail != nil {
		if err := fail(op, path); err != nil {
			return &fs.PathError{Op: op, Path: path, Err: err}
		}
	}
	return nil
}

func (f *faultFS) setFail(fn func(op, path string) error) {
	f.mu.Lock()
	f.fail = fn
	f.mu.Unlock()
}

func (f *faultFS) takeTrace() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.trace
	f.trace = nil
	return t
}

func (f *faultFS) OpenFile(name string, flag int, perm os.FileMode) (maildir.File, error) {
	if err := f.hook("open", name); err != nil {
		return nil, err
	}
	fh, err := maildir.OSFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: fh, fs: f}, nil
}
func (f *faultFS) Rename(a, b string) error {
	if err := f.hook("rename", a, b); err != nil {
		return err
	}
	return maildir.OSFS.Rename(a, b)
}
func (f *faultFS) Link(a, b string) error {
	if err := f.hook("link", a, b); err != nil {
		return err
	}
	return maildir.OSFS.Link(a, b)
}
func (f *faultFS) Remove(name string) error {
	if err := f.hook("remove", name); err != nil {
		return err
	}
	return maildir.OSFS.Remove(name)
}
func (f *faultFS) RemoveAll(name string) error {
	if err := f.hook("removeall", name); err != nil {
		return err
	}
	return maildir.OSFS.RemoveAll(name)
}
func (f *faultFS) Mkdir(name string, perm os.FileMode) error {
	if err := f.hook("mkdir", name); err != nil {
		return err
	}
	return maildir.OSFS.Mkdir(name, perm)
}
func (f *faultFS) Lstat(name string) (fs.FileInfo, error) { return maildir.OSFS.Lstat(name) }
func (f *faultFS) ReadDirNames(name string) ([]string, error) {
	return maildir.OSFS.ReadDirNames(name)
}
func (f *faultFS) SyncDir(name string) error {
	if err := f.hook("syncdir", name); err != nil {
		return err
	}
	return maildir.OSFS.SyncDir(name)
}
func (f *faultFS) Chtimes(name string, a, m time.Time) error {
	if err := f.hook("chtimes", name); err != nil {
		return err
	}
	return maildir.OSFS.Chtimes(name, a, m)
}

type faultFile struct {
	maildir.File
	fs *faultFS
}

func (f *faultFile) Write(p []byte) (int, error) {
	if err := f.fs.hook("write", f.Name()); err != nil {
		return 0, err
	}
	return f.File.Write(p)
}
func (f *faultFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.fs.hook("write", f.Name()); err != nil {
		return 0, err
	}
	return f.File.WriteAt(p, off)
}
func (f *faultFile) Sync() error {
	if err := f.fs.hook("sync", f.Name()); err != nil {
		return err
	}
	return f.File.Sync()
}

// lossyModel simulates power loss: it knows, for every directory (by
// inode), the entries made durable by its last fsync, and for every file
// (by inode) the content and mtime made durable by its last fsync.
// image() writes the tree as it would be found after a power failure at
// that instant: un-synced directory entries dropped, un-synced file data
// lost.
type lossyModel struct {
	mu    sync.Mutex
	root  string
	rootI uint64
	dirs  map[uint64]map[string]lossyEntry
	data  map[uint64]lossyData
}

type lossyEntry struct {
	ino   uint64
	isDir bool
}

type lossyData struct {
	content []byte
	mtime   time.Time
}

func inodeOf(t testing.TB, fi fs.FileInfo) uint64 {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		t.Skip("no inode numbers on this system")
	}
	return st.Ino
}

// newLossyModel records everything under root as durable.
func newLossyModel(t testing.TB, root string) *lossyModel {
	m := &lossyModel{root: root, dirs: map[uint64]map[string]lossyEntry{}, data: map[uint64]lossyData{}}
	fi, err := os.Lstat(root)
	require.NoError(t, err)
	m.rootI = inodeOf(t, fi)
	require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			m.syncDir(t, p)
		} else if fi.Mode().IsRegular() {
			m.syncFile(t, p)
		}
		return nil
	}))
	return m
}

func (m *lossyModel) syncDir(t testing.TB, dir string) {
	fi, err := os.Lstat(dir)
	if err != nil {
		return
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	ns := map[string]lossyEntry{}
	for _, e := range ents {
		efi, err := os.Lstat(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		ns[e.Name()] = lossyEntry{inodeOf(t, efi), efi.IsDir()}
	}
	m.mu.Lock()
	m.dirs[inodeOf(t, fi)] = ns
	m.mu.Unlock()
}

func (m *lossyModel) syncFile(t testing.TB, path string) {
	fi, err := os.Lstat(path)
	if err != nil {
		return
	}
	content, err := os.ReadFile(path)
	if err != nil {
		return
	}
	m.mu.Lock()
	m.data[inodeOf(t, fi)] = lossyData{content, fi.ModTime()}
	m.mu.Unlock()
}

// image writes the durable tree to dst.
func (m *lossyModel) image(t testing.TB, dst string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var walk func(ino uint64, dir string)
	walk = func(ino uint64, dir string) {
		require.NoError(t, os.MkdirAll(dir, 0o700))
		for name, e := range m.dirs[ino] {
			p := filepath.Join(dir, name)
			if e.isDir {
				walk(e.ino, p)
				continue
			}
			d := m.data[e.ino] // never synced: an empty file
			require.NoError(t, os.WriteFile(p, d.content, 0o600))
			if !d.mtime.IsZero() {
				require.NoError(t, os.Chtimes(p, d.mtime, d.mtime))
			}
		}
	}
	walk(m.rootI, dst)
}

// lossyFS is a faultFS whose syncs update a lossyModel after they are done.
type lossyFS struct {
	*faultFS
	m *lossyModel
	t testing.TB
}

func (l *lossyFS) OpenFile(name string, flag int, perm os.FileMode) (maildir.File, error) {
	fh, err := l.faultFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &lossyFile{File: fh, l: l}, nil
}

func (l *lossyFS) SyncDir(name string) error {
	if err := l.faultFS.SyncDir(name); err != nil {
		return err
	}
	l.m.syncDir(l.t, name)
	return nil
}

type lossyFile struct {
	maildir.File
	l *lossyFS
}

func (f *lossyFile) Sync() error {
	if err := f.File.Sync(); err != nil {
		return err
	}
	f.l.m.syncFile(f.l.t, f.Name())
	return nil
}

func (f *lossyFile) String() string { return fmt.Sprintf("lossyFile(%s)", f.Name()) }

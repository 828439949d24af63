package maildir

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/mailfront/mailfront/imap4"
)

// A file is an open file of a [fileSystem]; *os.File implements it.
type file interface {
	io.Reader
	io.ReaderAt
	io.Writer
	io.WriterAt
	io.Seeker
	Sync() error
	Close() error
	Stat() (fs.FileInfo, error)
	Truncate(size int64) error
	Name() string
}

// A fileSystem is every file operation the store performs. The store uses
// the operating system's ([osFS]); tests substitute one that injects
// failures (a full disk, a failing fsync or rename) to check that nothing
// partial becomes visible and that nothing is acknowledged before it is
// durable.
type fileSystem interface {
	// OpenFile is os.OpenFile.
	OpenFile(name string, flag int, perm os.FileMode) (file, error)
	// Rename is os.Rename.
	Rename(oldpath, newpath string) error
	// Link is os.Link.
	Link(oldpath, newpath string) error
	// Remove is os.Remove.
	Remove(name string) error
	// RemoveAll is os.RemoveAll.
	RemoveAll(name string) error
	// Mkdir is os.Mkdir.
	Mkdir(name string, perm os.FileMode) error
	// Lstat is os.Lstat.
	Lstat(name string) (fs.FileInfo, error)
	// ReadDirNames returns the names in a directory, unsorted.
	ReadDirNames(name string) ([]string, error)
	// SyncDir makes the entries of a directory durable (fsync of the
	// directory), so that a rename or link into it survives a crash.
	SyncDir(name string) error
	// Chtimes sets a file's access and modification times.
	Chtimes(name string, atime, mtime time.Time) error
}

// osFS is the [fileSystem] of the operating system.
type osFS struct{}

func (osFS) OpenFile(name string, flag int, perm os.FileMode) (file, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return f, nil
}
func (osFS) Rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }
func (osFS) Link(oldpath, newpath string) error   { return os.Link(oldpath, newpath) }
func (osFS) Remove(name string) error             { return os.Remove(name) }
func (osFS) RemoveAll(name string) error          { return os.RemoveAll(name) }
func (osFS) Mkdir(name string, perm os.FileMode) error {
	return os.Mkdir(name, perm)
}
func (osFS) Lstat(name string) (fs.FileInfo, error) { return os.Lstat(name) }
func (osFS) ReadDirNames(name string) ([]string, error) {
	d, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Readdirnames(-1)
}
func (osFS) SyncDir(name string) error {
	d, err := os.Open(name)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	// Some file systems cannot sync a directory; their entries are as
	// durable as they will get.
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) {
		err = nil
	}
	return err
}
func (osFS) Chtimes(name string, atime, mtime time.Time) error {
	return os.Chtimes(name, atime, mtime)
}

// isNoSpace reports whether err means the disk or the user's quota is full.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// quotaError wraps an error that means "no space" so that it also wraps
// imap4.ErrQuotaExceeded; other errors are returned as they are. The
// submission path maps imap4.ErrQuotaExceeded to its own sentinel.
func quotaError(err error) error {
	if err == nil || !isNoSpace(err) || errors.Is(err, imap4.ErrQuotaExceeded) {
		return err
	}
	return fmt.Errorf("%w: %w", imap4.ErrQuotaExceeded, err)
}

// tmpStatePrefix starts the names of the temporary files that
// [writeFileAtomic] renames over the state files; leftovers from a crash are
// removed when a folder is loaded. The name does not start with ".", which
// Maildir++ reserves for folders.
const tmpStatePrefix = "mailfront-tmp-"

// writeFileAtomic replaces path with data durably: a temporary file in the
// same directory is written, synced and renamed over path, then the
// directory is synced. A reader sees the old content or the new, never a
// mixture, even after a crash.
func writeFileAtomic(fsys fileSystem, path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmp := filepath.Join(dir, tmpStatePrefix+filepath.Base(path)+"-"+randomSuffix())
	f, err := fsys.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return quotaError(err)
	}
	defer func() {
		if err != nil {
			fsys.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		f.Close()
		return quotaError(err)
	}
	if err = f.Sync(); err != nil {
		f.Close()
		return quotaError(err)
	}
	if err = f.Close(); err != nil {
		return quotaError(err)
	}
	if err = fsys.Rename(tmp, path); err != nil {
		return err
	}
	return fsys.SyncDir(dir)
}

// readFile reads a whole file (an index snapshot can be megabytes): into
// a buffer of the size the file has, and one byte more to see the end
// without growing it.
func readFile(fsys fileSystem, path string) ([]byte, error) {
	f, err := fsys.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var size int64
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		size = fi.Size()
	}
	buf := make([]byte, 0, size+1)
	for {
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, 4096) // the file grew
		}
	}
}

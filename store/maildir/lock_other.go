//go:build !unix

package maildir

import "os"

// lockFile opens path. Without flock, nothing stops a second process from
// using the same user directory (see the package documentation).
func lockFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
}

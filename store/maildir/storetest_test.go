package maildir_test

import (
	"testing"

	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/store/maildir"
	"github.com/mailfront/mailfront/store/storetest"
)

// newSuiteStore returns an empty store whose suite users exist, so that
// submission delivers to them.
func newSuiteStore(t *testing.T, root string) *maildir.Store {
	s := &maildir.Store{Root: root, PollInterval: 50e6}
	for _, u := range storetest.Users() {
		if err := s.CreateUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestStoretest(t *testing.T) {
	storetest.Run(t, func(t *testing.T) any {
		s := newSuiteStore(t, t.TempDir())
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestStoretestPersistence(t *testing.T) {
	storetest.RunPersistence(t, func(t *testing.T) (imap4.Backend, func() imap4.Backend) {
		root := t.TempDir()
		s := newSuiteStore(t, root)
		t.Cleanup(func() { s.Close() })
		return s, func() imap4.Backend {
			s.Close()
			s = newSuiteStore(t, root)
			return s
		}
	})
}

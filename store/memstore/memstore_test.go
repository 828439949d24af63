package memstore_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/pop3"
	"github.com/mailfront/mailfront/store/memstore"
	"github.com/mailfront/mailfront/store/storetest"
)

// newStore returns a store with the suite's users.
func newStore(t *testing.T) *memstore.Store {
	s := memstore.New()
	for _, name := range storetest.Users() {
		require.NoError(t, s.AddUser(name))
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) any { return newStore(t) })
}

// The zero value passes too, creating users on first login. (Submission
// needs its recipients to exist: that is newStore's job.)
func TestConformanceZeroValue(t *testing.T) {
	storetest.RunIMAP4(t, func(t *testing.T) imap4.Backend { return new(memstore.Store) })
	storetest.RunPOP3(t, func(t *testing.T) pop3.Backend { return new(memstore.Store) })
}

// A memory store "restarts" by being the same store: the clauses still
// check that nothing a session sees changes when every handle is closed
// and opened again.
func TestPersistence(t *testing.T) {
	storetest.RunPersistence(t, func(t *testing.T) (imap4.Backend, func() imap4.Backend) {
		s := newStore(t)
		return s, func() imap4.Backend { return s }
	})
}

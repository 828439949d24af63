package maildir_test

import (
	"testing"

	"github.com/mailfront/mailfront/internal/testutil"
)

// TestMain fails the run if a poller or any other goroutine of the store
// outlives the tests.
func TestMain(m *testing.M) { testutil.MainWithLeakCheck(m) }

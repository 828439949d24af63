package example_test

import (
	"testing"

	"github.com/mailfront/mailfront/internal/testutil"
)

// TestMain checks that the test servers leave no goroutine behind. It is
// mailfront's own check (internal/testutil cannot be imported from another
// module): leave this file out when copying example_test.go.
func TestMain(m *testing.M) { testutil.MainWithLeakCheck(m) }

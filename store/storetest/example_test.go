package storetest_test

import (
	"testing"

	"github.com/mailfront/mailfront/store/memstore"
	"github.com/mailfront/mailfront/store/storetest"
)

// A host proves its backend honours the contract of the imap4, pop3 and
// submission Backend interfaces it implements by running the suite in its
// own tests, with a fresh backend per clause.
func ExampleRun() {
	// In a _test.go file of the host's package:
	_ = func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) any {
			return &memstore.Store{} // the host's own backend here
		})
	}
}

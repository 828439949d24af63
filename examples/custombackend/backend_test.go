package main

import (
	"testing"

	"github.com/mailfront/mailfront/store/storetest"
)

// TestConformance runs the storetest suite, IMAP and POP3, against the
// adapter over a new, empty HostStore per clause.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) any { return NewBackend(new(HostStore)) })
}

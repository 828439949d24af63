package storetest

import (
	"testing"

	"github.com/mailfront/mailfront/imap4"
)

// RunIMAP4 checks that the backends newBackend returns honour the
// [imap4.Backend] contract, one subtest per clause, each on a fresh
// backend. Optional interfaces ([imap4.Mover], [imap4.StructureCache]) are
// checked when the mailboxes implement them; clauses that need a POP3 or
// submission side run when the backend also implements [pop3.Backend] or
// [submission.Backend].
//
// newBackend must return a new, empty backend on each call, with the
// [Users] existing or created on first login.
func RunIMAP4(t *testing.T, newBackend func(t *testing.T) imap4.Backend) {
	t.Helper()
	runClauses(t, newBackend, imapClauses())
}

type imapClause = clause[imap4.Backend]

func imapClauses() []imapClause {
	var all []imapClause
	all = append(all, mailboxClauses()...)
	all = append(all, hostileNameClauses()...)
	all = append(all, messageClauses()...)
	all = append(all, flagClauses()...)
	all = append(all, syncClauses()...)
	all = append(all, copyClauses()...)
	all = append(all, watchClauses()...)
	all = append(all, concurrencyClauses()...)
	return all
}

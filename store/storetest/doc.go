// Package storetest is a conformance suite for mail storage backends: it
// checks that an implementation of [imap4.Backend], [pop3.Backend] or
// [submission.Backend] honours the contracts written in those interfaces'
// doc comments, the way testing/fstest.TestFS checks an fs.FS and
// golang.org/x/net/nettest checks a net.Conn.
//
// Every contract clause is a named subtest on a fresh backend, so a
// failure names the rule broken ("IMAP4/UID/NotReusedAfterExpunge",
// "POP3/Lock", "IMAP4/Names/MailboxTraversal"). The suite uses only the
// public interfaces and the optional interfaces the backend implements
// ([imap4.Mover], [imap4.StructureCache], [submission.RecipientChecker]).
//
// # Running it against your backend
//
// Write a test that returns a new, empty backend on each call:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) any {
//			b, err := mystore.Open(t.TempDir())
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { b.Close() })
//			return b
//		})
//	}
//
// and run it with the race detector: go test -race -run TestConformance.
// [Run] runs [RunIMAP4], [RunPOP3] and [RunSubmission] for the interfaces
// the backend implements; call them directly to choose. Clauses that need
// two interfaces (a POP3 deletion seen by an IMAP session, a submission
// seen by IMAP IDLE) run when the backend implements both.
//
// The suite logs in as the users [Users] names. If your backend does not
// create a user's store on first login, create them in the factory. For
// submission it sends to those names as addresses and expects the message
// in that user's INBOX.
//
// A backend that keeps its data across restarts should also run
// [RunPersistence], giving it a way to reopen the same storage:
//
//	storetest.RunPersistence(t, func(t *testing.T) (imap4.Backend, func() imap4.Backend) {
//		dir := t.TempDir()
//		b := mustOpen(t, dir)
//		return b, func() imap4.Backend { b.Close(); b = mustOpen(t, dir); return b }
//	})
//
// # What it checks
//
//   - Mailboxes: INBOX exists; create (with parents), delete (with children
//     becoming \Noselect, ErrHasChildren), rename (hierarchies, INBOX),
//     subscriptions (to missing mailboxes too), special use, and the
//     sentinel errors ErrNoSuchMailbox and ErrMailboxExists.
//   - Hostile names (ADVERSARIAL I7): "..", "/abs", NUL, CR/LF, wildcards,
//     4 KiB and 1000-level names, hostile user names, and users whose names
//     are prefixes of each other: each is refused, or contained so that it
//     reaches no other mailbox or user.
//   - Messages: Open returns the appended bytes, Size and metadata agree,
//     flags and dates are kept, a failing Append leaves nothing,
//     ErrNoSuchMessage.
//   - UIDs (I10, I11): ascending, never reused after expunge or in a new
//     session, UIDNEXT monotonic, UIDVALIDITY non-zero and new after delete
//     and create.
//   - ModSeqs (RFC 7162): arrivals, flag changes and expunges raise them;
//     a change that changes nothing does not; UNCHANGEDSINCE fills
//     Modified.
//   - Flags: add, remove, replace, keywords, system-flag spelling, missing
//     UIDs ignored.
//   - Sync: full and delta results, Expunged, many expunges.
//   - CopyTo and MoveTo: UID mappings, content, flags and dates preserved.
//   - Watch: one channel per handle, closed by Close, signalled by other
//     sessions and handles, by copies in, by POP3 deletions and by
//     submissions, coalescing without blocking writers.
//   - Concurrency (M6, I10): fifty sessions appending, storing, expunging,
//     reading and watching at once; each session's view kept with Sync
//     deltas ends equal to a fresh Sync(0); returned data is never changed
//     afterwards; an expunged UID never yields another message's content.
//   - POP3 (P1, P2): listing order and CRLF sizes, stable and valid unique
//     ids, the exclusive lock (or snapshot isolation), Delete, no deletion
//     without Delete, Delete of messages already gone.
//   - Submission: local delivery byte for byte, every recipient, nothing
//     delivered when reading fails, concurrent submissions.
//   - Persistence (I11): UIDVALIDITY, UIDs, UIDNEXT, modseqs, flags,
//     dates, mailboxes, subscriptions and POP3 unique ids across restarts.
//
// The suite waits for Watch signals at most [WatchTimeout]; it never
// sleeps. testing.Short reduces the concurrency clause.
package storetest

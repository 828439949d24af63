// Package store is the home of mailfront's reference mail storage. It holds
// no code itself; its sub-packages implement the storage interfaces of the
// protocol servers ([github.com/mailfront/mailfront/pop3.Backend],
// [github.com/mailfront/mailfront/imap4.Backend] and
// [github.com/mailfront/mailfront/submission.Backend]):
//
//   - [github.com/mailfront/mailfront/store/memstore]: everything in memory.
//     The store for tests, demos and for unit-testing the mail logic of
//     other projects: it has helpers to deliver fixture messages, read what
//     a user received and wait for deliveries.
//   - [github.com/mailfront/mailfront/store/maildir]: durable storage in the
//     standard Maildir++ layout, interoperable with other programs that
//     deliver into or read from the same directories.
//   - [github.com/mailfront/mailfront/store/storetest]: a conformance suite
//     that any backend implementation can run, in the manner of
//     testing/fstest.TestFS. Both stores above pass it; a host writing its
//     own backend should run it too.
//
// One store value serves all three servers at once, so a message submitted
// on port 587 is fetched over IMAP, deleted over POP3, and an IMAP session
// sees it go.
package store

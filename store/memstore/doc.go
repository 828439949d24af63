// Package memstore is an in-memory mail store: one [Store] is the backend
// of the POP3, IMAP4 and submission servers at once
// ([github.com/mailfront/mailfront/pop3.Backend],
// [github.com/mailfront/mailfront/imap4.Backend] and
// [github.com/mailfront/mailfront/submission.Backend]). A message submitted
// on port 587 lands in the recipient's INBOX, is fetched over IMAP, deleted
// over POP3, and every IMAP session watching the INBOX sees it go.
//
// It is the store for tests, demos and for unit-testing the mail logic of
// other projects; nothing survives the process. Its zero value is ready to
// use.
//
// # Users
//
// A user is created by [Store.AddUser], or on first login ([Store.OpenUser]
// and [Store.OpenMaildrop] trust the identity the frontend authenticated).
// A new user has an INBOX and the special-use mailboxes Drafts, Sent,
// Trash, Junk and Archive, all subscribed. User names compare
// case-insensitively.
//
// # IMAP semantics
//
// Mailbox names use "/" between levels; creating "a/b" creates "a" as a
// \Noselect level, which CREATE "a" later turns into a mailbox. Deleting a
// mailbox with children leaves a \Noselect level; subscriptions survive
// deletion and may name mailboxes that do not exist. Renaming keeps
// UIDVALIDITY and UIDs, moves the names below and the subscriptions;
// renaming INBOX moves its messages to a new mailbox and leaves INBOX
// empty. Names the frontend should have refused ("..", empty levels,
// control characters, wildcards, over 1000 octets or 100 levels) are
// refused again.
//
// Every mailbox gets a UIDVALIDITY never used before by the Store (so a
// mailbox deleted and created again gets a new one). UIDs ascend and are
// never reused. Every change — an arrival, a flag change, an expunge — gets
// a ModSeq above all before; a SetFlags that changes nothing changes no
// ModSeq. Expunged UIDs are remembered for [imap4.Mailbox.Sync] one by one
// up to [Store.ExpungeHistory], then folded into a range (see that field).
// Flags are interned per user, so messages with the same flags share one
// slice.
//
// Every write — by an IMAP session, a POP3 deletion, a submission, or the
// test helpers — signals the [imap4.Mailbox.Watch] channels of the other
// handles open on the mailbox. Handles also implement [imap4.Mover] and
// [imap4.StructureCache].
//
// # POP3
//
// The maildrop is the INBOX, locked per user: a second POP3 session of the
// same user gets [pop3.ErrMaildropLocked], while IMAP sessions go on. Unique
// ids are "UIDVALIDITY.UID", stable across sessions. Sizes are the stored
// sizes, which are CRLF sizes since the servers store CRLF content.
//
// # Submission
//
// [Store.Submit] delivers to the INBOX of each local recipient. A recipient
// is local if a user of that name exists, or as [Store.LocalRecipient]
// decides; others are refused at RCPT time ([Store.CheckRecipient]) unless
// a [Store.Relay] takes them.
//
// # Test helpers
//
// [Store.Deliver] puts a fixture message into a mailbox, [Store.Messages]
// returns what a mailbox holds (raw bytes, flags and the parsed header),
// [Store.WaitForMessages] waits for deliveries without polling, and
// [Store.Purge] and [Store.Reset] clean up between tests.
//
// The package passes the conformance suite in
// [github.com/mailfront/mailfront/store/storetest].
package memstore

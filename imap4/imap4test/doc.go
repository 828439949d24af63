// Package imap4test provides an IMAP server for tests, in the manner of
// net/http/httptest: a real [imap4.Server] listening on 127.0.0.1, over an
// in-memory [memstore.Store], with a self-signed certificate, users with
// known passwords, and a scripted client for one-line protocol assertions.
// A project uses it to test its own IMAP client code (a mail importer, a
// helpdesk that reads a shared mailbox, a sync tool) against a server that
// behaves as in production.
//
//	func TestImport(t *testing.T) {
//		srv := imap4test.NewServer(t) // closed when the test ends
//		srv.Deliver(imap4test.DefaultUser, "Subject: ticket 42\n\nPrinter on fire.\n")
//
//		tickets, err := helpdesk.Import(srv.TLSAddr, srv.ClientTLSConfig(), imap4test.DefaultUser, imap4test.DefaultPassword)
//		...
//		msgs := srv.Messages(imap4test.DefaultUser)
//		assert.True(t, msgs[0].HasFlag(`\Seen`), "imported messages are marked read")
//	}
//
// # What a Server offers
//
//   - Two listeners on 127.0.0.1 with ports chosen by the system:
//     Server.Addr offers STARTTLS (port 143 of a real host), Server.TLSAddr
//     speaks TLS from the first byte (port 993). Server.ClientTLSConfig
//     trusts the certificate; Server.CAPEM gives it to programs outside Go.
//   - Users: DefaultUser with DefaultPassword from the start, more with
//     Server.AddUser, each with INBOX, Drafts, Sent, Trash, Junk and
//     Archive. LOGIN and every SASL mechanism of the auth package work with
//     them (PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1/256 and -PLUS, NTLM, and
//     OAUTHBEARER and XOAUTH2 with the password as token).
//   - Mail: Server.Deliver puts a fixture message into a user's INBOX (and
//     sessions see it arrive, in IDLE too), Server.Messages and
//     Server.WaitForMessages read what a user has, parsed and raw, with UIDs
//     and flags, and Server.Purge and Server.Reset clean up between tests.
//     Server.Store is the memstore.Store behind them, for other mailboxes
//     and everything else.
//   - A scripted client: Server.Dial and Server.DialTLS return a Client
//     whose Send, Expect, ExpectRegexp, ExpectTagged, Command, StartTLS and
//     Login fail the test with the response received and the recent
//     transcript, and whose reads have a deadline, so a hung server fails
//     the test instead of hanging it. Responses with literals are read
//     whole; Literals extracts them.
//
// # Security defaults
//
// The server is configured like a production one: logins are accepted only
// over TLS (auth.SecureLogin; CAPABILITY shows LOGINDISABLED before
// STARTTLS), so a test logs in after Client.StartTLS, or on the
// implicit-TLS listener, or with its own client given
// Server.ClientTLSConfig. That catches code that would send a password in
// clear, at the cost of a STARTTLS step. For code under test that cannot be
// given a CA to trust, set Server.PlainText before Start: Addr then offers
// no STARTTLS and accepts LOGIN in clear, as a GreenMail server does.
//
// What a test server changes from a production configuration, all of it
// overridable through Server.Server between NewUnstartedServer and
// Server.Start: failed logins are neither delayed nor locked out, so tests
// of failures stay fast; connections per client address are not limited,
// since every client of a test comes from 127.0.0.1; the host name is
// "localhost"; the server's logs go to the test log from level Warn
// (Server.LogLevel).
//
// # Sharing a store
//
// A submissiontest or pop3test server that uses the same Store serves the
// same users, passwords and messages, so a test can submit a message over
// SMTP and read it back here:
//
//	smtp := submissiontest.NewServer(t)
//	imap := imap4test.NewUnstartedServer(t)
//	imap.Store = smtp.Store
//	imap.Start()
//
// # Failures
//
// Methods that check something the test asked for (Server.Dial, the
// Client's, Server.WaitForMessages) take the calling test's t and report
// through it, so they work in subtests. Misuse (starting twice, an empty
// user name) panics, as in httptest.
package imap4test

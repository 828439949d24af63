// Package pop3test provides a POP3 server for tests, in the manner of
// net/http/httptest: a real [pop3.Server] listening on 127.0.0.1, over an
// in-memory [memstore.Store], with a self-signed certificate, users with
// known passwords, and a scripted client for one-line protocol assertions.
// A project uses it to test its own POP3 client code, or mail logic that
// reads a mailbox, against a server that behaves as in production.
//
//	func TestFetch(t *testing.T) {
//		srv := pop3test.NewServer(t) // closed when the test ends
//		srv.Deliver(pop3test.DefaultUser, "Subject: hello\n\nHi!\n")
//
//		got := myapp.FetchMail(srv.Addr, srv.ClientTLSConfig(), pop3test.DefaultUser, pop3test.DefaultPassword)
//		...
//		c := srv.Dial(t)
//		c.StartTLS()
//		c.Login(pop3test.DefaultUser, pop3test.DefaultPassword)
//		c.Send("STAT")
//		c.Expect("+OK 0 0") // myapp deleted what it fetched
//	}
//
// # What a Server offers
//
//   - Two listeners on 127.0.0.1 with ports chosen by the system:
//     Server.Addr offers STLS, Server.TLSAddr speaks TLS from the first byte
//     (the POP3S port 995 of a real host). Server.ClientTLSConfig trusts the
//     certificate; Server.CAPEM gives it to programs outside Go.
//   - Users: DefaultUser with DefaultPassword from the start, more with
//     Server.AddUser. Every SASL mechanism of the auth package works with
//     them (PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1/256 and -PLUS, NTLM, and
//     OAUTHBEARER and XOAUTH2 with the password as token), as does APOP
//     when the test sets Server.Server.AllowAPOP.
//   - Mail: Server.Deliver puts a fixture message into a user's INBOX,
//     Server.Messages and Server.WaitForMessages read what a user has, parsed
//     and raw, and Server.Purge and Server.Reset clean up between tests.
//     Server.Store is the memstore.Store behind them, for everything else
//     (other mailboxes, flags, waiting with a context of your own).
//   - A scripted client: Server.Dial and Server.DialTLS return a Client
//     whose Send, Expect, ExpectRegexp, ExpectMultiline, StartTLS and Login
//     fail the test with the line received and the recent transcript, and
//     whose reads have a deadline, so a hung server fails the test instead of
//     hanging it.
//
// # Security defaults
//
// The server is configured like a production one: logins are accepted only
// over TLS (auth.SecureLogin), so a test logs in after Client.StartTLS, or
// on the implicit-TLS listener, or with its own client given
// Server.ClientTLSConfig. That catches code that would send a password in
// clear, at the cost of a STLS step. For code under test that cannot be
// given a CA to trust, set Server.PlainText before Start: Addr then offers
// no STLS and accepts USER/PASS in clear, as a GreenMail server does.
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
// A submissiontest or imap4test server that uses the same Store serves the
// same users, passwords and messages: a message submitted over SMTP can be
// fetched over POP3.
//
//	smtp := submissiontest.NewServer(t)
//	pop := pop3test.NewUnstartedServer(t)
//	pop.Store = smtp.Store
//	pop.Start()
//
// # Failures
//
// Methods that check something the test asked for (Server.Dial, the
// Client's, Server.WaitForMessages) take the calling test's t and report
// through it, so they work in subtests. Misuse (starting twice, an empty
// user name) panics, as in httptest.
package pop3test

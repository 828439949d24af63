// Package submissiontest provides an SMTP submission server for tests, in
// the manner of net/http/httptest: a real [submission.Server] listening on
// 127.0.0.1, delivering into an in-memory [memstore.Store], with a
// self-signed certificate, users with known passwords, and a scripted
// client for one-line protocol assertions. A project uses it to test the
// code that sends its mail (sign-up confirmations, alerts, reports) against
// a server that behaves as in production, and to read what was sent.
//
//	func TestWelcomeMail(t *testing.T) {
//		srv := submissiontest.NewServer(t) // closed when the test ends
//		mailer := myapp.Mailer{
//			Addr:      srv.Addr,
//			TLSConfig: srv.ClientTLSConfig(),
//			Username:  submissiontest.DefaultUser,
//			Password:  submissiontest.DefaultPassword,
//		}
//		go mailer.Welcome("new.customer@example.com")
//
//		msgs := srv.WaitForMessages(t, "new.customer@example.com", 1)
//		assert.Equal(t, "Welcome!", msgs[0].Subject())
//	}
//
// # What a Server offers
//
//   - Two listeners on 127.0.0.1 with ports chosen by the system:
//     Server.Addr offers STARTTLS (port 587 of a real host), Server.TLSAddr
//     speaks TLS from the first byte (port 465, RFC 8314).
//     Server.ClientTLSConfig trusts the certificate (pass it to net/smtp's
//     Client.StartTLS); Server.CAPEM gives it to programs outside Go.
//   - Users: DefaultUser with DefaultPassword from the start, more with
//     Server.AddUser, which also says which addresses a user may send as.
//     Every SASL mechanism of the auth package works with them (PLAIN,
//     LOGIN, CRAM-MD5, SCRAM-SHA-1/256 and -PLUS, NTLM, and OAUTHBEARER and
//     XOAUTH2 with the password as token).
//   - Every recipient is accepted, as by GreenMail: a message to any
//     address lands in an INBOX of that address. Server.Messages and
//     Server.WaitForMessages read what an address received, parsed (header
//     fields, body) and raw; Server.Envelopes shows the envelopes (MAIL
//     FROM, RCPT TO, who logged in), which the header does not (Bcc).
//     Server.Deliver, Server.Purge and Server.Reset prepare and clean the
//     store; Server.Store is the memstore.Store itself.
//   - A scripted client: Server.Dial and Server.DialTLS return a Client
//     whose Send, Expect, ExpectRegexp, Hello, StartTLS, Login and SendMail
//     fail the test with the reply received and the recent transcript, and
//     whose reads have a deadline, so a hung server fails the test instead of
//     hanging it.
//
// # Security defaults
//
// The server is configured like a production one: AUTH is offered only
// over TLS (auth.SecureLogin), and a user may send only as the addresses
// its identity allows (its own, and those given to AddUser). That catches
// code that would send a password in clear or forge a sender, at the cost
// of a STARTTLS step with Server.ClientTLSConfig: with net/smtp,
//
//	c, err := smtp.Dial(srv.Addr)
//	...
//	err = c.StartTLS(srv.ClientTLSConfig())
//	err = c.Auth(smtp.PlainAuth("", submissiontest.DefaultUser, submissiontest.DefaultPassword, "127.0.0.1"))
//
// net/smtp.SendMail cannot be given a CA: it starts TLS whenever STARTTLS is
// offered and verifies against the system's roots. For it, and for any
// code under test that cannot be given a CA to trust, set Server.PlainText
// before Start: Addr then offers no STARTTLS and accepts AUTH in clear,
// as a GreenMail server does (net/smtp's PlainAuth allows that towards
// 127.0.0.1). To let a user send as anyone, set Server.SenderPolicy to a
// function that returns nil.
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
// An imap4test or pop3test server that uses the same Store serves the same
// users, passwords and messages, so a test can submit a message over SMTP
// and read it back over IMAP or POP3:
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
package submissiontest

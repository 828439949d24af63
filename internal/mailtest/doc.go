// Package mailtest is the machinery shared by the public test-server
// packages pop3/pop3test, imap4/imap4test and submission/submissiontest:
//
//   - [Directory], an in-memory user directory with known passwords that
//     serves every SASL mechanism the auth package offers, and [UsersOf],
//     which ties one Directory to each memstore.Store so that servers sharing
//     a store share its users;
//   - [Harness], the core of the test servers: it fills in a protocol
//     server's test defaults ([Fields]), listens on 127.0.0.1:0 and runs
//     Serve and ServeTLS, writes the server's logs to the test log, manages
//     the users and mail of the server's store, and closes everything at
//     cleanup;
//   - [Conn], the core of the scripted clients: line, dot-terminated, SMTP
//     reply and IMAP literal reading with a deadline per read, Expect and
//     ExpectRegexp over whichever of those readers the protocol uses, and
//     failure messages that carry the recent transcript;
//   - [FakeTB] and [MustFail], for tests of that failure reporting.
//
// The public packages wrap these with documented, protocol-specific APIs;
// nothing here is part of mailfront's public API.
package mailtest

// Package dovecotdiff holds differential tests that run the same scripted
// IMAP and POP3 sessions against mailfront (imap4 and pop3 over
// store/maildir, in process) and against a private Dovecot instance, and
// compare what both answer once the differences the RFCs allow are
// normalised away.
//
// The tests are skipped unless MAILFRONT_TEST_DOVECOT=1 and a dovecot
// binary (Debian: apt-get install dovecot-imapd dovecot-pop3d) is found in
// PATH or /usr/sbin:
//
//	MAILFRONT_TEST_DOVECOT=1 go test ./internal/dovecotdiff/
//
// Dovecot runs as an ordinary child process (dovecot -F -c CONF) with its
// own configuration, Maildir, state and log in a temporary directory,
// listening on 127.0.0.1 only; nothing on the machine's own Dovecot
// configuration is used or changed. Both servers get the same messages
// (testdata/*.eml, appended in name order with fixed flags and internal
// dates, plus one file with bare LF line endings dropped into the Maildir
// as another program would deliver it).
//
// Every normalisation the comparison applies is documented in
// normalize_test.go with the reason the difference is legitimate. Whatever
// differs after normalisation fails the test, printed with both servers'
// raw responses.
//
// Nothing in this package is used outside its tests.
package dovecotdiff

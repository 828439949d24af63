// Package example shows, in example_test.go, how another project tests the
// code that sends its mail: a submissiontest server takes the message the
// code sends with net/smtp, and an imap4test server sharing its store reads
// the same message back over IMAP, as the recipient's mail client would.
// Copy TestSendAndReadBack into your project and replace the sending part
// with a call to your own code.
//
// Run it with:
//
//	go test ./examples/testing
package example

// Package wire holds the byte-level helpers the POP3, IMAP and SMTP servers
// share: a bounded line reader, the SMTP DATA reader that ends only at
// <CRLF>.<CRLF> and polices bare line endings, and the dot-stuffing writer for
// POP3 multi-line responses.
//
// The package is pure: it does no I/O policy and no logging, and works over
// bufio readers and writers. Every limit is enforced inside the parser, so no
// input can grow memory without bound.
package wire

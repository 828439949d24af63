// Package imapwire parses IMAP commands and encodes IMAP responses (RFC 9051,
// RFC 3501 and the extensions the imap4 server implements). It is pure: it
// reads through a [Source] and writes to an io.Writer, does no logging and
// knows nothing of backends or sessions.
//
// The [Decoder] is a sticky-error decoder whose methods are named after the
// grammar of RFC 9051 §9 (Tag, Atom, AString, SequenceSet, FetchAtt,
// SearchKey...): after the first error every method does nothing and returns
// a zero value, and Err reports what went wrong. Its limits live inside it:
// the length of each line is bounded by the Source, the size of a whole
// command outside streamed message literals, the number of literals per
// command and the nesting depth of lists by the Decoder, and the size of each
// literal by a hook consulted before any continuation request is sent.
//
// The [Encoder] appends responses to a buffer and flushes it in large
// writes; it can trace each line with literal payloads summarised.
package imapwire

// Package imapmsg computes and renders the MIME structure of messages for
// the IMAP server: ENVELOPE and BODYSTRUCTURE (RFC 9051 §7.5.2, RFC 3501
// §7.4.2), BODY[section] octet ranges (RFC 9051 §6.4.5), BINARY decoding
// (RFC 3516), and the text matching of SEARCH (RFC 9051 §6.4.4).
//
// It is pure: no I/O policy, no logging, no knowledge of backends.
// Messages are read through io.ReaderAt, with CRLF line endings, as
// imap4.Message provides them.
//
// # Parse once, render many times
//
// [Parse] reads a message once, streaming, and returns a [Structure]: the
// byte offsets of every part's header and body, and the header data that
// ENVELOPE and BODYSTRUCTURE need, already interpreted. Rendering from a
// Structure does no parsing and no allocation beyond the destination
// buffer:
//
//	s, err := imapmsg.Parse(msg, msg.Size())
//	buf = s.AppendEnvelope(buf, imapmsg.RenderOptions{})
//	buf = s.AppendBodyStructure(buf, true, imapmsg.RenderOptions{})
//	r, n, err := s.SectionReader(msg, imapmsg.Section{Part: []int{2}})
//
// [Structure.MarshalBinary] and [Unmarshal] give a compact, versioned
// encoding for imap4.StructureCache, so a backend can keep structures and
// the server need not read messages for ENVELOPE or BODYSTRUCTURE at all.
//
// # Malformed messages
//
// Parse never fails on bad MIME (see [Parse] for the rules, which follow
// Dovecot's): every message gets a structure that clients can display,
// and every section offset lies within the message. Bounds on nesting
// depth, part count and kept header bytes keep hostile messages cheap.
//
// # Strings on the wire
//
// [AppendString], [AppendNString] and [AppendAString] hold the IMAP
// quoting rules in one place: quoted strings when allowed, literals
// otherwise, with 8-bit text quoted only for UTF-8 sessions
// ([RenderOptions.UTF8]: IMAP4rev2 or UTF8=ACCEPT).
package imapmsg

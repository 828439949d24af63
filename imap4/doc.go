// Package imap4 implements an IMAP server: IMAP4rev2 (RFC 9051) and
// IMAP4rev1 (RFC 3501), both advertised, on port 143 with STARTTLS and 993
// with implicit TLS (RFC 8314). The frontend owns the protocol — sequence
// numbers, FETCH rendering, SEARCH, IDLE, unilateral updates and
// mod-sequences — so that a host's [Backend] only stores mailboxes,
// messages, flags and metadata.
//
// A client gets IMAP4rev1 semantics until it sends ENABLE IMAP4rev2: then
// SEARCH answers with ESEARCH, there is no RECENT, and mailbox names travel
// as UTF-8 rather than modified UTF-7 (as they also do after ENABLE
// UTF8=ACCEPT).
//
// For IMAP4rev1 sessions the Server keeps the \Recent flag itself, in
// memory: a message is recent in the first session that learns of it (a
// read-write one takes it from later sessions; EXAMINE does not), and
// SELECT, EXISTS updates, FETCH FLAGS, SEARCH RECENT/NEW/OLD and STATUS
// RECENT follow it. After the Server starts, messages that arrived before
// it did are not recent.
//
// # Extensions
//
//   - IDLE (RFC 2177), with "* OK Still here" keepalives
//   - UIDPLUS (RFC 4315), MOVE (RFC 6851), UNSELECT (RFC 3691)
//   - NAMESPACE (RFC 2342), ID (RFC 2971), ENABLE (RFC 5161)
//   - LITERAL+, or LITERAL- with [Server.DisableLiteralPlus] (RFC 7888);
//     SASL-IR (RFC 4959)
//   - SPECIAL-USE and CREATE-SPECIAL-USE (RFC 6154), CHILDREN (RFC 3348),
//     LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819)
//   - ESEARCH (RFC 4731), SEARCHRES (RFC 5182)
//   - STATUS=SIZE (RFC 8438), APPENDLIMIT (RFC 7889), MULTIAPPEND (RFC 3502)
//   - BINARY (RFC 3516), UTF8=ACCEPT (RFC 6855, including APPEND of
//     UTF8 (literal8) data)
//   - CONDSTORE and QRESYNC (RFC 7162), including VANISHED, SELECT
//     (QRESYNC ...) and UID FETCH (CHANGEDSINCE n VANISHED)
//   - the response codes of RFC 5530
//
// # Security
//
// The zero [Server] with a Backend and an Authenticator is secure:
//
//   - credentials only over TLS (auth.SecureLogin): on a plain connection
//     CAPABILITY shows LOGINDISABLED and STARTTLS, and LOGIN and
//     AUTHENTICATE answer "NO [PRIVACYREQUIRED]" without the credentials
//     being checked; STARTTLS discards anything the client pipelined after
//     it;
//   - failed logins are delayed and throttled (auth.Throttle), look the
//     same whatever the reason, and end the connection after three;
//   - every limit has a safe default and a protocol-correct reply: 64 KiB
//     lines, 1 MiB commands outside APPEND, 1000 literals per command, 100
//     levels of nesting, 8 KiB literals before login, APPENDLIMIT checked
//     before the client is asked for a message, 3 bad commands before login
//     and 20 in a row after, autologout after 60 seconds before login and
//     31 minutes after (never less than 30), connection limits in total,
//     per address and per user and address;
//   - mailbox names are validated before the backend sees them: no "..",
//     no empty levels, no control characters or wildcards, bounded length
//     and depth.
//
// # Backends
//
// A host implements [Backend] → [User] → [Mailbox] (see backend.go), in
// UIDs only, with contexts and streams. The optional interfaces [Mover],
// [StructureCache] and [Searcher] let a backend make MOVE atomic, keep
// parsed MIME structures and answer text searches with an index; without
// them the server copies then expunges, parses messages (caching per
// session) and reads messages to search them. Wrappers that implement
// [Unwrapper] keep the optional interfaces reachable.
//
// The store/memstore and store/maildir packages implement the interfaces,
// and store/storetest checks any implementation against the contract.
//
// # Performance
//
// Each session keeps its view of the selected mailbox in flat slices with
// interned flag sets, so a flag resynchronisation (UID FETCH 1:* (UID
// FLAGS)) allocates nothing per message; responses are built in a buffer
// and written in large pieces; a message's structure is parsed once and
// kept through the backend's StructureCache.
//
// # Testing
//
// The tests of this package run scripted exchanges against an in-memory
// backend, real clients (python imaplib, curl, mbsync) when installed, and
// benchmarks of flag synchronisation, first synchronisation and text
// search.
package imap4

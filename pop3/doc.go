// Package pop3 implements a POP3 server (RFC 1939) for a host's own
// storage: the host implements a small [Backend] and an
// [github.com/mailfront/mailfront/auth.Authenticator], and [Server] speaks
// the protocol on port 110 (with STLS) and 995 (implicit TLS).
//
// Implemented:
//
//   - [RFC 1939]: POP3. The AUTHORIZATION, TRANSACTION and UPDATE states;
//     USER, PASS, STAT, LIST, UIDL, TOP, RETR, DELE, RSET, NOOP, QUIT, and
//     APOP when the host enables it ([Server.AllowAPOP]).
//   - [RFC 2449]: the extension mechanism. CAPA, with TOP, UIDL, USER, SASL,
//     RESP-CODES, PIPELINING, EXPIRE, LOGIN-DELAY and IMPLEMENTATION, and
//     the [IN-USE] and [LOGIN-DELAY] response codes.
//   - [RFC 2595] §4: STLS.
//   - [RFC 3206]: the SYS/TEMP, SYS/PERM and AUTH response codes, and
//     AUTH-RESP-CODE.
//   - [RFC 5034]: SASL authentication (AUTH), with initial responses and
//     cancellation, for every mechanism the auth package offers on the
//     connection; AUTH without an argument lists them ([RFC 1734] style).
//   - [RFC 6856]: UTF8, and UTF-8 user names and passwords ("UTF8 USER").
//     Messages are sent as stored in either mode.
//   - [RFC 8314]: implicit TLS on port 995 ([Server.ServeTLS]).
//
// # Security
//
// The zero [Server] is secure. Under the default login policy,
// [github.com/mailfront/mailfront/auth.SecureLogin], credentials are
// accepted only over TLS: on a plain connection USER, PASS, APOP and AUTH
// are answered "-ERR [AUTH] Command is not valid in this state: use STLS
// or the TLS port first" without the credentials being looked at, and CAPA
// offers neither USER nor SASL until STLS. Anything a client pipelines
// after STLS is discarded before the handshake (the STARTTLS injection of
// CVE-2011-0411).
//
// USER answers +OK for any name, and every credential failure gets the
// same reply, "-ERR [AUTH] Authentication failed", so that nobody can learn
// which accounts exist. Failed logins are delayed and throttled per
// address and per user ([Server.Throttle]); a connection is closed after
// [Server.MaxAuthFailures] failures, and after [Server.MaxBadCommands]
// unknown, malformed or out-of-state commands (3 before login). Lines are
// bounded ([Server.MaxLineLength]), connections are bounded in number
// ([Server.MaxConns], [Server.MaxConnsPerAddr]) and time
// ([Server.ReadTimeout], 10 minutes, the minimum RFC 1939 allows).
//
// APOP is off by default: it needs plaintext secrets on the server. See
// [Server.AllowAPOP] for how a host keeps an account from using both APOP
// and PASS.
//
// Messages are deleted only in the UPDATE state, after QUIT: a dropped
// connection, an inactivity timeout, [Server.Shutdown] and [Server.Close]
// delete nothing. The protocol trace, at
// [github.com/mailfront/mailfront.LevelTrace], never shows a password, an
// AUTH initial response, a SASL response or message content.
//
// # Backends
//
// A [Backend] opens (and locks) the maildrop of an authenticated user; a
// [Maildrop] lists its messages with their unique ids and sizes, opens one
// as a stream, deletes a set at QUIT, and unlocks on Close. A second
// session for a locked maildrop is answered "-ERR [IN-USE]" when
// OpenMaildrop returns [ErrMaildropLocked]. Other errors map to response
// codes: [ErrLoginDelay], [ErrPermanent], [ErrNoSuchMessage], and [*Error]
// for exact control; anything else is answered with [CodeSysTemp] and
// logged.
//
// Optional interfaces, found through Unwrap() Maildrop wrappers:
//
//   - [TopOpener]: TOP without reading the whole message. Without it, TOP
//     reads the message from Open and stops after the lines asked for.
//   - [PolicyProvider]: per-user EXPIRE and LOGIN-DELAY. Without it,
//     [Server.ExpireDays] and [Server.LoginDelay] apply to everyone.
//
// Messages are streamed: RETR and TOP read from the backend as they write,
// dot-stuff lines that begin with ".", turn bare LF into CRLF, and always
// end with the terminating line. A 100 MB message costs 32 KiB of memory.
// LIST and STAT report the sizes the backend gives, which should count CRLF
// line endings ([MessageInfo.Size]).
//
// # Testing
//
// store/storetest.RunPOP3 checks a Backend against the contract above; the
// reference stores (store/memstore, store/maildir) run it. To test a host's
// mail logic end to end, serve a Server on a listener from net.Listen on
// 127.0.0.1:0 with a certificate from tlsconfig.SelfSigned, as this
// package's examples do.
//
// The package's own tests drive the server with scripted exchanges over an
// in-memory listener, with real clients (python's poplib, curl, fetchmail),
// under testing/synctest for timeouts and shutdown, and with fuzz targets
// for the command parser, SASL exchanges and whole sessions.
//
// # Example
//
//	srv := &pop3.Server{
//		Backend:       backend,
//		Authenticator: users,
//		TLSConfig:     tlsconfig.New(cert.GetCertificate),
//	}
//	go srv.ServeTLS(tlsListener) // 995
//	go srv.Serve(plainListener)  // 110, with STLS
//	...
//	srv.Shutdown(ctx)
//
// [RFC 1939]: https://www.rfc-editor.org/rfc/rfc1939
// [RFC 1734]: https://www.rfc-editor.org/rfc/rfc1734
// [RFC 2449]: https://www.rfc-editor.org/rfc/rfc2449
// [RFC 2595]: https://www.rfc-editor.org/rfc/rfc2595
// [RFC 3206]: https://www.rfc-editor.org/rfc/rfc3206
// [RFC 5034]: https://www.rfc-editor.org/rfc/rfc5034
// [RFC 6856]: https://www.rfc-editor.org/rfc/rfc6856
// [RFC 8314]: https://www.rfc-editor.org/rfc/rfc8314
package pop3

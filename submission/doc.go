// Package submission implements an SMTP message submission server (RFC 6409)
// that is safe to expose on port 587 (STARTTLS) and port 465 (implicit TLS,
// RFC 8314): it accepts mail from authenticated users only, checks that they
// send as themselves, and hands each message, as a stream, to a [Backend]
// (a queue, a relay, or local delivery).
//
// # Standards
//
//   - [RFC 6409] Message Submission for Mail; [RFC 5321] SMTP (server side:
//     EHLO, HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT, VRFY, HELP)
//   - [RFC 3207] STARTTLS; [RFC 8314] implicit TLS for submission
//   - [RFC 4954] AUTH, with every SASL mechanism the Authenticator supports
//     and the login policy allows (see package auth)
//   - [RFC 2034] and [RFC 3463] enhanced status codes on every reply
//   - [RFC 1870] SIZE, [RFC 2920] PIPELINING, [RFC 6152] 8BITMIME,
//     [RFC 6531] SMTPUTF8, [RFC 3030] CHUNKING and BINARYMIME (BDAT),
//     [RFC 3461] DSN parameters, [RFC 8689] REQUIRETLS, [RFC 9422] LIMITS
//     RCPTMAX
//
// # Security
//
// The zero [Server], with a Backend, an Authenticator and a TLSConfig, is
// secure:
//
//   - MAIL before AUTH is refused ("530 5.7.0 Authentication required");
//     nothing reaches the backend without a login. Under the default
//     [auth.SecureLogin] policy AUTH is not even advertised before TLS and
//     answers "530 5.7.0 Must issue a STARTTLS command first", so passwords
//     never cross the network in clear.
//   - Whatever a client pipelines after STARTTLS is discarded before the
//     handshake (CVE-2011-0411), and the session starts over after it.
//   - The envelope sender and the From and Sender header fields must be
//     addresses the identity may send as ([auth.Identity.MaySendAs], or the
//     host's [Server.SenderPolicy]); the null sender is refused.
//   - The end of DATA is recognised only at <CRLF>.<CRLF>, and bare CR or LF
//     in a message is refused by default, which closes SMTP smuggling
//     (CVE-2023-51764 and its siblings).
//   - An unauthenticated client that talks before the greeting or pipelines
//     where RFC 2920 does not allow it is disconnected with "554 5.5.0".
//   - Every limit has a default: message size (advertised with SIZE and
//     enforced while the data streams), header size, recipients, command
//     line length, refused commands and failed logins per connection,
//     connections in total and per address, timeouts per command (RFC
//     5321 §4.5.3.2) and a minimum average rate for message data after a
//     grace period ([Server.MinDataRate]). Failed logins are delayed and throttled per address and
//     per user, and every credential failure gets the same reply.
//
// The server adds a Received header naming the authenticated user and the
// TLS version and cipher, and, unless [Server.MissingHeaders] says otherwise,
// Date, Message-ID and From where the message lacks them (RFC 6409 §8).
//
// # Backends
//
// A host implements [Backend]: one method, Submit, which gets the
// authenticated, checked [Envelope] and the message as an io.Reader. It
// replies through its error: the sentinels ([ErrRecipientRejected],
// [ErrMessageTooLarge], [ErrQuotaExceeded], [ErrTemporary]) or an [*Error]
// with an exact code; 4xx is temporary, 5xx permanent. The server replies
// 250 only after Submit has returned nil for a complete message. A backend
// that also implements [RecipientChecker] refuses bad recipients at RCPT
// time; without it every well-formed recipient is accepted until Submit.
//
// The stores of this module (store/memstore, store/maildir) implement
// Backend for local delivery; store/storetest checks any implementation.
//
// # Logging
//
// Logs go to [Server.Logger] through log/slog: one child logger per
// connection, backend failures and panics at Error, policy hits (refused
// senders) at Warn, connection life at Debug, and the protocol trace at
// [github.com/mailfront/mailfront.LevelTrace], with AUTH data replaced by
// "<redacted>" when the command is parsed and message data summarised as
// "{N bytes}".
//
// # Example
//
//	srv := &submission.Server{
//		Backend:       queue,
//		Authenticator: users,
//		TLSConfig:     tlsconfig.New(reloader.GetCertificate),
//	}
//	go srv.ServeTLS(ln465)
//	go srv.Serve(ln587)
//	...
//	srv.Shutdown(ctx) // "421 4.3.2" to idle clients; messages in flight finish
//
// [RFC 6409]: https://www.rfc-editor.org/rfc/rfc6409
// [RFC 5321]: https://www.rfc-editor.org/rfc/rfc5321
// [RFC 3207]: https://www.rfc-editor.org/rfc/rfc3207
// [RFC 8314]: https://www.rfc-editor.org/rfc/rfc8314
// [RFC 4954]: https://www.rfc-editor.org/rfc/rfc4954
// [RFC 2034]: https://www.rfc-editor.org/rfc/rfc2034
// [RFC 3463]: https://www.rfc-editor.org/rfc/rfc3463
// [RFC 1870]: https://www.rfc-editor.org/rfc/rfc1870
// [RFC 2920]: https://www.rfc-editor.org/rfc/rfc2920
// [RFC 6152]: https://www.rfc-editor.org/rfc/rfc6152
// [RFC 6531]: https://www.rfc-editor.org/rfc/rfc6531
// [RFC 3030]: https://www.rfc-editor.org/rfc/rfc3030
// [RFC 3461]: https://www.rfc-editor.org/rfc/rfc3461
// [RFC 8689]: https://www.rfc-editor.org/rfc/rfc8689
// [RFC 9422]: https://www.rfc-editor.org/rfc/rfc9422
package submission

// Package mailfront holds the few types the mail protocol servers of this
// module share with their host: the facts about a connection ([ConnInfo]), its
// life cycle ([ConnState] and [CloseReason]) for metrics hooks, the protocol
// trace log level ([LevelTrace]) and a PROXY protocol listener
// ([ProxyListener]).
//
// The servers themselves live in sub-packages; a host imports only what it
// serves:
//
//   - [github.com/mailfront/mailfront/pop3]: POP3 (RFC 1939) on 110 and 995.
//   - [github.com/mailfront/mailfront/imap4]: IMAP4rev2 and IMAP4rev1 on 143 and 993.
//   - [github.com/mailfront/mailfront/submission]: SMTP submission (RFC 6409) on 587 and 465.
//   - [github.com/mailfront/mailfront/auth]: SASL mechanisms, login policy,
//     throttling and a users file, shared by all three.
//   - [github.com/mailfront/mailfront/tlsconfig]: TLS defaults, certificate
//     reloading, self-signed certificates and ACME.
//
// # Security
//
// Every server is secure when its zero value is used: POP3 and IMAP accept
// credentials only over TLS, submission requires authentication and checks that
// the authenticated user may send as the envelope and header sender, and every
// connection is bounded in time, line length and count.
package mailfront

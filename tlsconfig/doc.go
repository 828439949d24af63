// Package tlsconfig provides the TLS server configuration of the mailfront
// listeners: secure defaults, certificates from PEM files that reload without
// a restart, generated certificates for development and tests, certificates
// from an ACME CA (Let's Encrypt), and optional client certificates for SASL
// EXTERNAL.
//
// Where to start:
//
//   - [New] returns a [tls.Config] with the defaults below, given where its
//     certificates come from.
//   - [NewReloader] serves certificates from PEM files (certbot's
//     fullchain.pem and privkey.pem, say), picking one by server name (SNI)
//     when there are several, and reloads them when the files change or on
//     [Reloader.Reload] (for SIGHUP).
//   - [SelfSigned] and [LoadOrCreateSelfSigned] make a certificate signed by
//     a throw-away CA whose ca.pem clients can trust; [SelfSignedCert.ClientConfig]
//     is the matching client configuration for tests.
//   - [NewACME] obtains certificates through golang.org/x/crypto/acme/autocert,
//     with the adjustments mail listeners need (see [ACME]).
//   - [VerifyClientCertIfGiven] lets clients authenticate with a certificate
//     without requiring one.
//
// The resulting configuration goes into the TLSConfig field of the pop3,
// imap4 and submission servers, which use it for implicit TLS (RFC 8314) and
// STARTTLS (RFC 2595, RFC 3207).
//
// # Security
//
// Configurations from [New] and [ACME.TLSConfig]:
//
//   - accept TLS 1.2 and 1.3 only ([MinVersion]), as RFC 8314 §4.1 and RFC
//     9325 require; older clients fail the handshake;
//   - leave cipher suites, key exchange groups (including the post-quantum
//     hybrid X25519MLKEM768) and signature schemes to crypto/tls, whose
//     defaults track current guidance with each Go release, rather than
//     freezing a list that ages;
//   - keep session tickets enabled, so clients that reconnect often (mail
//     clients poll) resume cheaply; crypto/tls rotates the ticket keys;
//   - offer no protocol by ALPN, in particular not HTTP's (unlike autocert's
//     own TLSConfig), so that the mail ports cannot pass for an HTTPS
//     service (the ALPACA attack); [ACME.TLSConfig] negotiates acme-tls/1
//     with the CA's TLS-ALPN-01 validation only. A host may add its
//     protocol's name ("imap", "pop3") to NextProtos to refuse clients that
//     offer another.
//
// Generated certificates use ECDSA P-256 keys and are valid for a year. The
// CA key is discarded after signing, so trusting ca.pem trusts nothing else.
// key.pem is written with mode 0600.
//
// Client certificates are never required: [VerifyClientCertIfGiven] verifies
// those presented against the given CAs and leaves the mapping to an identity
// to the auth package.
package tlsconfig

// Package auth is the authentication layer shared by the mailfront servers:
// who may log in, with which SASL mechanisms, on which connections, and how
// fast they may fail.
//
// A host supplies an [Authenticator] (username and password in, [Identity]
// out). Optional interfaces on the same value unlock more mechanisms:
//
//   - [SCRAMKeyStore]: SCRAM-SHA-1 and SCRAM-SHA-256 (and their -PLUS
//     variants) from stored keys, with no plaintext password (RFC 5802, 7677).
//   - [SecretStore]: CRAM-MD5 (RFC 2195) and POP3 APOP, which need the
//     plaintext secret.
//   - [NTHashStore]: NTLM (NTLMv2 only), the "Secure Password Authentication"
//     of Outlook (MS-NLMP).
//   - [TokenVerifier]: OAUTHBEARER (RFC 7628) and XOAUTH2.
//   - [CertificateMapper]: EXTERNAL (RFC 4422) from a TLS client certificate.
//   - [Authorizer]: PLAIN and the others with an authorization identity
//     different from the authenticated one (a proxy login).
//
// PLAIN (RFC 4616) and LOGIN work with any Authenticator.
//
// # Security
//
// [LoginPolicy] decides on which connections credentials are accepted. The
// default, [SecureLogin], accepts them only over TLS, as Exchange does for
// POP3 and IMAP4. [Throttle] delays every failed attempt and locks out
// addresses and usernames that fail too often, with bounded memory. Unknown
// users and wrong passwords fail with the same error, after the same work.
//
// [UsersFile] is a ready user directory: a text file of bcrypt or argon2id
// hashes and SCRAM keys, reloaded when it changes.
//
// # Mechanisms
//
// [NewServerSession] starts the server side of one SASL exchange; the protocol
// servers carry its challenges and responses in their own framing. Servers
// advertise exactly the mechanisms [LoginPolicy.Allowed] returns for the
// connection.
package auth

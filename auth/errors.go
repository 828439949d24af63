package auth

import "errors"

// Errors an [Authenticator] or a SASL exchange returns. Servers map them to
// protocol responses; every credential failure produces the same response,
// whatever the cause.
var (
	// ErrInvalidCredentials means the username, password, key, token or
	// certificate was not accepted. Authenticators return it (possibly
	// wrapped) for an unknown user, a wrong password and a disabled account
	// alike.
	ErrInvalidCredentials = errors.New("auth: invalid credentials")

	// ErrUnavailable means the user directory could not answer (a database
	// down, a timeout). It is temporary: servers answer with a "try again
	// later" code (POP3 [SYS/TEMP], IMAP [UNAVAILABLE], SMTP 454 4.7.0) and
	// do not count it as a failed login.
	ErrUnavailable = errors.New("auth: authentication service unavailable")

	// ErrThrottled means the [Throttle] refused the attempt before the
	// Authenticator was asked, because the client address or the username
	// failed too often recently. Servers answer it like invalid credentials.
	ErrThrottled = errors.New("auth: too many failed attempts")

	// ErrMalformed means a SASL response was not valid for its mechanism
	// (bad base64, a missing field, an oversized message). Servers answer
	// with a syntax error (SMTP 501 5.5.2, IMAP BAD, POP3 -ERR).
	ErrMalformed = errors.New("auth: malformed authentication exchange")

	// ErrCanceled means the client cancelled the exchange ("*", RFC 4422
	// §3.5).
	ErrCanceled = errors.New("auth: authentication cancelled by client")

	// ErrUnsupportedMechanism means the mechanism is unknown, or not
	// available with this Authenticator or on this connection.
	ErrUnsupportedMechanism = errors.New("auth: unsupported mechanism")

	// ErrEncryptionRequired means the login policy does not allow these
	// credentials on a connection without TLS.
	ErrEncryptionRequired = errors.New("auth: encryption required")
)

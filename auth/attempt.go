package auth

import (
	"context"
	"net/netip"
)

// An Attempt describes one login attempt, for an audit hook (fail2ban-style
// tooling, metrics). It never contains a password or any other secret.
type Attempt struct {
	// Protocol is "pop3", "imap4" or "submission".
	Protocol string
	// Mechanism is the SASL mechanism, or the protocol's own login command
	// ("USER" for POP3 USER/PASS, "LOGIN" for IMAP LOGIN, "APOP").
	Mechanism string
	// Username is the name the client claimed, possibly empty.
	Username string
	// RemoteAddr is the client's address.
	RemoteAddr netip.Addr
	// TLS reports whether the connection was encrypted.
	TLS bool
	// Err is nil for a successful login; otherwise why it failed
	// ([ErrInvalidCredentials], [ErrThrottled], [ErrUnavailable],
	// [ErrMalformed], [ErrCanceled], [ErrEncryptionRequired], ...).
	Err error
}

// An AttemptHook is called once for every login attempt, after its outcome
// is known. It runs on the connection's goroutine and should return quickly.
type AttemptHook func(ctx context.Context, a Attempt)

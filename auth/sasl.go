package auth

import "context"

// SASL mechanism names, as advertised on the wire.
const (
	Plain           = "PLAIN"
	Login           = "LOGIN"
	CRAMMD5         = "CRAM-MD5"
	SCRAMSHA1Name   = "SCRAM-SHA-1"
	SCRAMSHA1Plus   = "SCRAM-SHA-1-PLUS"
	SCRAMSHA256Name = "SCRAM-SHA-256"
	SCRAMSHA256Plus = "SCRAM-SHA-256-PLUS"
	OAuthBearer     = "OAUTHBEARER"
	XOAuth2         = "XOAUTH2"
	External        = "EXTERNAL"
	NTLM            = "NTLM"
)

// A ServerSession is the server side of one SASL exchange (RFC 4422). The
// protocol server carries the bytes: it decodes each client response from
// base64 and passes it to Next, and encodes each challenge Next returns.
//
// A ServerSession is used by one goroutine. It bounds its own work: it fails
// with [ErrMalformed] on an oversized message or when the client keeps going
// past the mechanism's last step.
type ServerSession interface {
	// Next consumes the client's next response and returns the next
	// challenge to send.
	//
	// On the first call, response is the client's initial response: nil when
	// the client sent none, non-nil and empty when it sent an empty one ("="
	// on the wire). When the mechanism has final data for the client (a
	// SCRAM server signature), Next returns it as a challenge with done
	// false; the client's (empty) answer then completes the exchange.
	//
	// When done is true the client is authenticated and Identity returns who
	// it is. A non-nil error ends the exchange: [ErrInvalidCredentials],
	// [ErrMalformed], [ErrUnavailable], [ErrThrottled] or an error from the
	// Authenticator wrapping one of them.
	Next(ctx context.Context, response []byte) (challenge []byte, done bool, err error)

	// Identity returns the authenticated identity once Next has reported
	// done.
	Identity() Identity

	// Username returns the username the client has claimed so far, for logs
	// and throttling; empty when it is not known (yet).
	Username() string
}

// SessionOptions configure a [ServerSession].
type SessionOptions struct {
	// Transport describes the connection: TLS state for channel binding and
	// EXTERNAL, the server name for challenges.
	Transport Transport

	// Admit, when set, is called with the claimed username before the
	// Authenticator is consulted; an error it returns ends the exchange.
	// Servers use it to refuse a throttled username without touching the
	// user directory.
	Admit func(ctx context.Context, username string) error
}

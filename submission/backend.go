package submission

import (
	"context"
	"errors"
	"io"

	"github.com/mailfront/mailfront/auth"
)

// A Backend takes the messages the submission server has accepted: a queue,
// a relay, or local delivery. It must be safe for concurrent use.
type Backend interface {
	// Submit takes one message. The envelope has been checked (an
	// authenticated identity that may send as the sender, recipients within
	// the limit); msg is the message with the server's trace header
	// prepended and CRLF line endings, streamed from the client.
	//
	// Submit must consume msg before returning, and must commit nothing
	// if reading msg fails (the client broke the size limit or the
	// line-ending rule, or went away): the server replies 250 only after
	// Submit has returned nil, so a message is never acknowledged and then
	// lost. An error wrapping [ErrRecipientRejected], [ErrMessageTooLarge]
	// or [ErrTemporary], or an [*Error], chooses the reply; any other error
	// is "451 4.3.0" and logged.
	Submit(ctx context.Context, env *Envelope, msg io.Reader) error
}

// BackendFunc adapts a function to the [Backend] interface.
type BackendFunc func(ctx context.Context, env *Envelope, msg io.Reader) error

// Submit calls f(ctx, env, msg).
func (f BackendFunc) Submit(ctx context.Context, env *Envelope, msg io.Reader) error {
	return f(ctx, env, msg)
}

// A RecipientChecker is a [Backend] that checks each recipient when the
// client names it (RCPT TO), so that a bad address is refused at once with
// a precise reply rather than after the whole message. Without it every
// syntactically valid recipient is accepted at RCPT time and the backend
// decides in Submit.
type RecipientChecker interface {
	// CheckRecipient returns nil to accept rcpt, or an error (wrapping
	// [ErrRecipientRejected], or an [*Error]) to refuse it. env holds the
	// transaction so far: the sender and the recipients already accepted.
	CheckRecipient(ctx context.Context, env *Envelope, rcpt Recipient) error
}

// BodyType is the MAIL FROM BODY parameter (RFC 6152, RFC 3030).
type BodyType string

// Body types.
const (
	Body7Bit       BodyType = "7BIT"
	Body8BitMIME   BodyType = "8BITMIME"
	BodyBinaryMIME BodyType = "BINARYMIME"
)

// An Envelope is one mail transaction as the client declared it.
type Envelope struct {
	// Identity is the authenticated user who submitted the message.
	Identity auth.Identity
	// From is the reverse-path (MAIL FROM) address, never empty on
	// submission. It may hold UTF-8 when SMTPUTF8 is set.
	From string
	// Recipients are the forward-paths, in the order given.
	Recipients []Recipient
	// Body is the BODY parameter; empty if the client gave none.
	Body BodyType
	// SMTPUTF8 reports the SMTPUTF8 parameter (RFC 6531).
	SMTPUTF8 bool
	// RequireTLS reports the REQUIRETLS parameter (RFC 8689): the message
	// must only be relayed over verified TLS.
	RequireTLS bool
	// Size is the SIZE parameter (RFC 1870), 0 if not given: the client's
	// estimate, already checked against the limit.
	Size int64
	// Ret is the DSN RET parameter (RFC 3461): "FULL", "HDRS" or empty.
	Ret string
	// EnvID is the DSN ENVID parameter, decoded from xtext; empty if none.
	EnvID string
}

// A Recipient is one RCPT TO address and its parameters.
type Recipient struct {
	// Address is the forward-path address.
	Address string
	// Notify is the DSN NOTIFY parameter (RFC 3461): "NEVER", or some of
	// "SUCCESS", "FAILURE", "DELAY"; nil if not given.
	Notify []string
	// ORCPT is the DSN ORCPT parameter as addr-type ";" address, with the
	// xtext decoded; empty if not given.
	ORCPT string
}

// Sentinel errors a Backend returns (wrapped with %w as it likes), and
// their replies.
var (
	// ErrRecipientRejected: "550 5.1.1 Recipient address rejected".
	ErrRecipientRejected = errors.New("submission: recipient rejected")
	// ErrMessageTooLarge: "552 5.3.4 Message too big".
	ErrMessageTooLarge = errors.New("submission: message too large")
	// ErrQuotaExceeded: "452 4.2.2 Mailbox full" (the recipient's quota).
	ErrQuotaExceeded = errors.New("submission: quota exceeded")
	// ErrTemporary: "451 4.3.0 Temporary failure, try again later".
	ErrTemporary = errors.New("submission: temporary failure")
)

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
	// the limit), and so have the message's From and Sender header fields.
	// msg is the message streamed from the client, with the server's
	// Received header prepended and, unless [Server.MissingHeaders] says
	// otherwise, Date, Message-ID and From added where missing. Its line
	// endings are CRLF, except in the body of a BODY=BINARYMIME message,
	// which may hold any octet.
	//
	// Submit must consume msg before returning, and must commit nothing
	// if reading msg fails (the client broke the size limit or the
	// line-ending rule, ended the transaction, or went away; the error
	// then wraps [ErrMessageTooLarge] for the size): the server replies
	// 250 only after the whole message has arrived and Submit has returned
	// nil, so a message is never acknowledged and then lost. ctx is
	// cancelled when the connection ends or the server is closed.
	//
	// An error wrapping [ErrRecipientRejected], [ErrMessageTooLarge],
	// [ErrQuotaExceeded] or [ErrTemporary], or an [*Error], chooses the
	// reply; any other error is "451 4.3.0" and logged. A panic is
	// recovered and logged, and the client is disconnected with "421".
	//
	// The reply covers every recipient at once, and a client retries the
	// whole message after an error: a Submit that fails should leave no
	// recipient with a copy, or the retry duplicates it (store/maildir
	// expunges the copies it had delivered).
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
	// transaction so far: the sender and the recipients already accepted;
	// it must not be changed or kept.
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
	// ID identifies the transaction in logs, in the Received header and
	// in the server's "250 2.0.0 OK: queued as ID" reply: the connection's
	// id, a dot and the transaction's number on the connection.
	ID string
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
	// Address is the forward-path address, without its source route. It
	// may hold UTF-8 when SMTPUTF8 is set, and may be the bare
	// "postmaster" (any case) that RFC 5321 §4.1.1.3 requires servers to
	// accept.
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

package submission

import (
	"context"

	"github.com/mailfront/mailfront/auth"
)

// A SenderField names where a sender address was found.
type SenderField string

// The places a sender address is checked.
const (
	// EnvelopeSender is the reverse-path of MAIL FROM.
	EnvelopeSender SenderField = "MAIL FROM"
	// HeaderFrom is an address of the message's From header field.
	HeaderFrom SenderField = "From"
	// HeaderSender is the address of the message's Sender header field.
	HeaderSender SenderField = "Sender"
	// HeaderResentFrom is an address of the Resent-From field of a
	// message's most recent resent block (RFC 5322 §3.6.6): who resends
	// it. From and Sender are checked too, since that is what readers see.
	HeaderResentFrom SenderField = "Resent-From"
	// HeaderResentSender is the address of the Resent-Sender field of the
	// most recent resent block.
	HeaderResentSender SenderField = "Resent-Sender"
)

// A SenderPolicyFunc decides whether the authenticated identity id may use
// addr as a sender in field: the envelope sender of MAIL FROM, each
// address of the message's From and Sender header fields, and those of the
// Resent-From and Resent-Sender fields of its most recent resent block. This is what
// Exchange calls the sender's permission to send as, and what stops an
// authenticated user from impersonating another (Postfix
// reject_sender_login_mismatch).
//
// It returns nil to allow the address. An error wrapping
// [ErrSenderNotAllowed] refuses it with the standard reply ("553 5.7.1" for
// MAIL FROM, "550 5.7.1" for a header field); an [*Error] chooses the reply;
// any other error is a temporary failure ("451 4.3.0") and is logged. It is
// called on the connection's goroutine, or on the goroutine receiving a
// BDAT message, and must be safe for concurrent use.
type SenderPolicyFunc func(ctx context.Context, id auth.Identity, field SenderField, addr string) error

// checkSender applies the sender policy; the default is id.MaySendAs.
func (cfg *config) checkSender(ctx context.Context, id auth.Identity, field SenderField, addr string) error {
	if cfg.senderPolicy != nil {
		return cfg.senderPolicy(ctx, id, field, addr)
	}
	if !id.MaySendAs(addr) {
		return ErrSenderNotAllowed
	}
	return nil
}

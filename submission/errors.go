package submission

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
)

// ErrSenderNotAllowed is what a [Server.SenderPolicy] returns (possibly
// wrapped) to refuse an address: "553 5.7.1" for MAIL FROM, "550 5.7.1"
// for a header field, with a text naming the address.
var ErrSenderNotAllowed = errors.New("submission: sender address not allowed for this user")

// An EnhancedCode is an RFC 3463 enhanced status code, "class.subject.detail",
// for example "5.1.1". Its class must match the first digit of the reply
// code it goes with.
type EnhancedCode string

// valid reports whether e is well formed and of class class (2, 4 or 5).
func (e EnhancedCode) valid(class int) bool {
	parts := strings.Split(string(e), ".")
	if len(parts) != 3 || parts[0] != strconv.Itoa(class) {
		return false
	}
	for _, p := range parts[1:] {
		if len(p) == 0 || len(p) > 3 {
			return false
		}
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return false
			}
		}
	}
	return true
}

// An Error is an error a [Backend], [RecipientChecker] or
// [Server.SenderPolicy] returns to choose the exact SMTP reply. A 4xx Code
// is temporary (the client retries later), a 5xx Code permanent.
type Error struct {
	// Code is the SMTP reply code, 400 to 599. Another value is replaced
	// by 451 and logged.
	Code int
	// Enhanced is the RFC 3463 enhanced status code. Empty, or one whose
	// class does not match Code, means "4.0.0" or "5.0.0".
	Enhanced EnhancedCode
	// Text is the reply text sent to the client, on one line: control
	// characters are removed and it is cut at 400 octets. Empty means a
	// generic text for the code.
	Text string
	// Err is the underlying error, for logs and errors.Is; it never
	// reaches the client.
	Err error
}

// Error returns the reply the error stands for, followed by the underlying
// error if any.
func (e *Error) Error() string {
	s := fmt.Sprintf("submission: %d %s %s", e.Code, e.Enhanced, e.Text)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Temporary reports whether the code is a 4xx temporary failure.
func (e *Error) Temporary() bool { return e.Code >= 400 && e.Code < 500 }

// reply is one SMTP reply before it is written.
type reply struct {
	code int
	enh  EnhancedCode
	text string
}

// Replies used in several places.
var (
	replyTempFailure  = reply{451, "4.3.0", "Temporary failure, try again later"}
	replyTooBig       = reply{552, "5.3.4", "Message exceeds the maximum message size"}
	replyBareLine     = reply{550, "5.5.2", "Message contains bare CR or LF line endings; lines must end with CRLF"}
	replyInternal     = reply{421, "4.3.0", "Internal server error, closing connection"}
	replyShutdown     = reply{421, "4.3.2", "Service shutting down, try again later"}
	replyTimeout      = reply{421, "4.4.2", "Timeout waiting for the client, closing connection"}
	replyTooManyErrs  = reply{421, "4.7.0", "Too many errors, closing connection"}
	replyNeedEHLO     = reply{503, "5.5.1", "Send EHLO first"}
	replyNeedAuth     = reply{530, "5.7.0", "Authentication required"}
	replyNeedMail     = reply{503, "5.5.1", "Send MAIL first"}
	replyNeedRcpt     = reply{503, "5.5.1", "Send RCPT first"}
	replyLineTooLong  = reply{500, "5.5.2", "Line too long"}
	replySync         = reply{554, "5.5.0", "SMTP protocol synchronization error: commands sent before the server's reply"}
	replyTooManyRcpts = reply{452, "4.5.3", "Too many recipients"}
)

// errorReply maps an error from a backend or a hook to a reply, and logs
// what the client must not see. where names the call for the log. It
// returns fatal when the connection must close after the reply (shutdown).
func (c *conn) errorReply(err error, where string) (r reply, fatal bool) {
	var e *Error
	switch {
	case errors.As(err, &e):
		return sanitizeError(c, e, where), false
	case errors.Is(err, ErrRecipientRejected):
		return reply{550, "5.1.1", "Recipient address rejected"}, false
	case errors.Is(err, ErrMessageTooLarge):
		return replyTooBig, false
	case errors.Is(err, ErrQuotaExceeded):
		return reply{452, "4.2.2", "Mailbox full"}, false
	case errors.Is(err, ErrSenderNotAllowed):
		return reply{553, "5.7.1", "Sender address not allowed"}, false
	case errors.Is(err, ErrTemporary):
		return replyTempFailure, false
	case (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) && (c.nc.ShuttingDown() || c.nc.Ctx.Err() != nil):
		return replyShutdown, true
	}
	c.nc.Logger.LogAttrs(c.nc.Ctx, slog.LevelError, "backend error", slog.String("call", where), slog.Any("err", err))
	return replyTempFailure, false
}

// sanitizeError turns a host's *Error into a well-formed reply.
func sanitizeError(c *conn, e *Error, where string) reply {
	code := e.Code
	if code < 400 || code > 599 {
		c.nc.Logger.LogAttrs(c.nc.Ctx, slog.LevelError, "backend returned an *Error with an invalid code; using 451",
			slog.String("call", where), slog.Int("code", code), slog.Any("err", e))
		return replyTempFailure
	}
	class := code / 100
	enh := e.Enhanced
	if !enh.valid(class) {
		enh = EnhancedCode(strconv.Itoa(class) + ".0.0")
	}
	text := cleanText(e.Text, 400)
	if text == "" {
		if class == 4 {
			text = "Temporary failure"
		} else {
			text = "Permanent failure"
		}
	}
	if e.Err != nil {
		c.nc.Logger.LogAttrs(c.nc.Ctx, slog.LevelDebug, "backend refused", slog.String("call", where), slog.Int("code", code), slog.Any("err", e.Err))
	}
	return reply{code, enh, text}
}

// cleanText keeps the printable ASCII characters of s (tabs become spaces,
// other characters '?') and cuts it at max octets.
func cleanText(s string, max int) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\t':
			r = ' '
		case r < ' ' || r == 0x7f:
			continue
		case r >= 0x80:
			r = '?' // replies are ASCII (RFC 5321 §4.2 textstring)
		}
		if b.Len()+len(string(r)) > max {
			break
		}
		b.WriteRune(r)
	}
	return strings.TrimSpace(b.String())
}

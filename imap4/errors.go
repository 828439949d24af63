package imap4

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/mailfront/mailfront/imap4/internal/imapwire"
)

// A ResponseCode is the code in brackets at the start of a status
// response's text, as "TRYCREATE" in "NO [TRYCREATE] ...".
type ResponseCode string

// Response codes of RFC 9051 §7.1 and RFC 5530 that a backend may return
// in an [Error].
const (
	CodeAlert                ResponseCode = "ALERT"
	CodeAlreadyExists        ResponseCode = "ALREADYEXISTS"
	CodeAuthenticationFailed ResponseCode = "AUTHENTICATIONFAILED"
	CodeAuthorizationFailed  ResponseCode = "AUTHORIZATIONFAILED"
	CodeCannot               ResponseCode = "CANNOT"
	CodeContactAdmin         ResponseCode = "CONTACTADMIN"
	CodeCorruption           ResponseCode = "CORRUPTION"
	CodeExpired              ResponseCode = "EXPIRED"
	CodeExpungeIssued        ResponseCode = "EXPUNGEISSUED"
	CodeHasChildren          ResponseCode = "HASCHILDREN"
	CodeInUse                ResponseCode = "INUSE"
	CodeLimit                ResponseCode = "LIMIT"
	CodeNonExistent          ResponseCode = "NONEXISTENT"
	CodeNoPerm               ResponseCode = "NOPERM"
	CodeOverQuota            ResponseCode = "OVERQUOTA"
	CodeParse                ResponseCode = "PARSE"
	CodePrivacyRequired      ResponseCode = "PRIVACYREQUIRED"
	CodeServerBug            ResponseCode = "SERVERBUG"
	CodeTooBig               ResponseCode = "TOOBIG"
	CodeTryCreate            ResponseCode = "TRYCREATE"
	CodeUnavailable          ResponseCode = "UNAVAILABLE"
	CodeUnknownCTE           ResponseCode = "UNKNOWN-CTE"
)

// An Error lets a backend choose the exact "NO" response a client sees.
// Only Code and Text reach the wire; Err, the cause, is for logs and for
// errors.Is and errors.As.
type Error struct {
	// Code is the response code; empty means none.
	Code ResponseCode
	// Text is the human-readable text. CR, LF and other control
	// characters are removed and it is cut to 200 bytes. Empty: a generic
	// text.
	Text string
	// Err is the underlying cause, or nil.
	Err error
}

// Error returns the text, with the cause if any.
func (e *Error) Error() string {
	s := "imap4: " + string(e.Code) + " " + e.Text
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// status is a tagged (or untagged) status response the session sends: the
// result of a command.
type status struct {
	typ  string // "OK", "NO", "BAD"
	code string // the response code with its arguments, without brackets
	text string
}

func (s *status) Error() string {
	if s.code != "" {
		return s.typ + " [" + s.code + "] " + s.text
	}
	return s.typ + " " + s.text
}

func ok(code, text string) *status  { return &status{typ: "OK", code: code, text: text} }
func no(code, text string) *status  { return &status{typ: "NO", code: code, text: text} }
func bad(code, text string) *status { return &status{typ: "BAD", code: code, text: text} }

// errSent is returned by a command that has sent its tagged response
// itself (STARTTLS, before the handshake).
var errSent = errors.New("imap4: tagged response sent")

// errShutdown means the command met the server's shutdown or close (a
// cancelled context): the session says BYE.
var errShutdown = errors.New("imap4: shutting down")

// mapping of backend sentinels to responses.
var sentinels = []struct {
	err  error
	code ResponseCode
	text string
}{
	{ErrNoSuchMailbox, CodeNonExistent, "No such mailbox"},
	{ErrMailboxExists, CodeAlreadyExists, "Mailbox already exists"},
	{ErrHasChildren, CodeHasChildren, "Mailbox has child mailboxes"},
	{ErrNoSuchMessage, CodeExpungeIssued, "Message has been expunged"},
	{ErrReadOnly, "READ-ONLY", "Mailbox is read-only"},
	{ErrQuotaExceeded, CodeOverQuota, "Quota exceeded"},
	{ErrMessageTooLarge, CodeTooBig, "Message too large"},
	{ErrCannot, CodeCannot, "Operation not possible"},
	{ErrMailboxInUse, CodeInUse, "Mailbox is in use"},
}

// mapError turns an error from a backend (or the session's own machinery)
// into the response the client sees. Unknown errors are logged at Error
// and become "NO [SERVERBUG]"; a cancelled context during shutdown (and
// errShutdown) gives nil: the session must say BYE.
func (c *conn) mapError(err error) *status {
	if errors.Is(err, errShutdown) {
		return nil
	}
	if st, ok := errors.AsType[*status](err); ok {
		return st
	}
	if e, ok := errors.AsType[*Error](err); ok {
		text := cleanText(e.Text)
		if text == "" {
			text = "Command failed"
		}
		return &status{typ: "NO", code: cleanCode(string(e.Code)), text: text}
	}
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			return no(string(s.code), s.text)
		}
	}
	if (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) && (c.nc.Ctx.Err() != nil || c.nc.ShuttingDown()) {
		return nil
	}
	c.log(slog.LevelError, "backend error", slog.Any("err", err))
	return no(string(CodeServerBug), "Internal server error")
}

// cleanText makes text safe for a status response: printable, one line,
// at most 200 bytes.
func cleanText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < 200; i++ {
		if c := s[i]; c >= ' ' && c != 0x7f {
			b.WriteByte(c)
		}
	}
	return strings.TrimSpace(b.String())
}

// cleanCode keeps a response code an atom.
func cleanCode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < 64; i++ {
		if c := s[i]; c > ' ' && c < 0x7f && c != '[' && c != ']' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// syntaxStatus turns a decoder error into the response.
func syntaxStatus(err error) *status {
	var se *imapwire.SyntaxError
	var tb *imapwire.TooBigError
	switch {
	case errors.As(err, &tb) && tb.Nesting:
		return bad("", "Command too deeply nested")
	case errors.As(err, &tb):
		return no(string(CodeTooBig), "Command too large: "+tb.Msg)
	case errors.As(err, &se):
		return bad("", "Syntax error: "+cleanText(se.Msg))
	}
	return nil
}

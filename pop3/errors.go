package pop3

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/mailfront/mailfront"
	"github.com/mailfront/mailfront/internal/netsrv"
)

// ErrServerClosed is returned by [Server.Serve], [Server.ServeTLS],
// [Server.ListenAndServe] and [Server.ListenAndServeTLS] after
// [Server.Shutdown] or [Server.Close].
var ErrServerClosed = netsrv.ErrServerClosed

// A ResponseCode is an extended response code (RFC 2449 §8), sent in
// brackets at the start of the text of a -ERR reply so that a client can
// tell the user what went wrong.
type ResponseCode string

// The response codes the server sends.
const (
	// CodeInUse: the maildrop is locked by another session (RFC 2449
	// §8.1.1).
	CodeInUse ResponseCode = "IN-USE"
	// CodeLoginDelay: the user logged in too recently (RFC 2449 §8.1.2).
	CodeLoginDelay ResponseCode = "LOGIN-DELAY"
	// CodeSysTemp: a temporary failure of the server or its storage; the
	// client may retry later (RFC 3206 §4).
	CodeSysTemp ResponseCode = "SYS/TEMP"
	// CodeSysPerm: a permanent failure, which retrying will not fix; the
	// user should contact the administrator (RFC 3206 §4).
	CodeSysPerm ResponseCode = "SYS/PERM"
	// CodeAuth: the credentials were refused, or the command is not allowed
	// on this connection (RFC 3206 §5).
	CodeAuth ResponseCode = "AUTH"
)

// An Error is a backend error with exact control over the reply: the client
// sees "-ERR [Code] Text" (no brackets when Code is empty), and Err, the
// cause, reaches only the log. Return it, possibly wrapped, from any
// [Backend] or [Maildrop] method.
type Error struct {
	// Code is the RFC 3206 response code, or empty.
	Code ResponseCode
	// Text is the reply text the client sees; CR and LF are removed and
	// it is shortened if needed.
	Text string
	// Err is the cause, for the log only.
	Err error
}

// Error returns the reply text and the cause, for logs.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("pop3: ")
	if e.Code != "" {
		b.WriteString("[" + string(e.Code) + "] ")
	}
	b.WriteString(e.Text)
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// maxReplyText bounds the text a backend can put on the wire: RFC 2449 §4
// limits a response line to 512 octets including CRLF.
const maxReplyText = 400

// sanitize makes s safe as reply text: printable, one line, bounded.
func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= maxReplyText {
			break
		}
		if r < 0x20 || r == 0x7f {
			r = ' '
		}
		b.WriteRune(r)
	}
	return strings.TrimSpace(b.String())
}

// backendReply maps an error from the backend to a -ERR reply: the single
// place where backend errors become wire text. It logs what the client does
// not see. shutdown reports that the error is the connection's context
// ending (Close, or the connection lost): the caller ends the session.
func (c *conn) backendReply(op string, err error) (code ResponseCode, text string, shutdown bool) {
	if e, ok := errors.AsType[*Error](err); ok {
		text = sanitize(e.Text)
		if text == "" {
			text = "Error"
		}
		level := slog.LevelDebug
		if e.Code == CodeSysTemp || e.Code == CodeSysPerm {
			level = slog.LevelWarn
		}
		c.log(level, "backend error", slog.String("op", op), slog.Any("err", err))
		return e.Code, text, false
	}
	switch {
	case errors.Is(err, ErrMaildropLocked):
		c.log(slog.LevelInfo, "maildrop locked by another session")
		return CodeInUse, "Maildrop is locked by another session; try again later", false
	case errors.Is(err, ErrLoginDelay):
		c.log(slog.LevelInfo, "login refused: too soon after the previous one")
		return CodeLoginDelay, "Logged in too recently; try again later", false
	case errors.Is(err, ErrNoSuchMessage):
		return "", "Message is no longer available", false
	case errors.Is(err, ErrPermanent):
		c.log(slog.LevelWarn, "backend error", slog.String("op", op), slog.Any("err", err))
		return CodeSysPerm, "Mailbox unavailable; contact your administrator", false
	case c.cancelled(err):
		return CodeSysTemp, "Server shutting down; try again later", true
	}
	c.log(slog.LevelError, "backend error", slog.String("op", op), slog.Any("err", err))
	return CodeSysTemp, "Internal error; try again later", false
}

// cancelled reports whether err is the connection's context ending (Close,
// or the connection dropped) rather than a backend failure.
func (c *conn) cancelled(err error) bool {
	return c.nc.Ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, c.nc.Ctx.Err()))
}

// shutdownReason is the close reason after cancellation: Shutdown when the
// server is closing, otherwise the connection was lost.
func (c *conn) shutdownReason() mailfront.CloseReason {
	if c.nc.ShuttingDown() {
		return mailfront.Shutdown
	}
	return mailfront.ReadError
}

package mailfront

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
)

// LevelTrace is the [slog.Level] at which servers log the protocol exchange,
// one record per line read or written. It is below [slog.LevelDebug], so a
// handler must be configured for it explicitly. Credentials never appear in
// the trace: secret arguments are replaced by "<redacted>" when the command is
// parsed, and message bodies and literals are summarised by their size.
const LevelTrace = slog.Level(-8)

// ConnState is the state of a client connection, reported to a server's
// ConnState hook as the connection moves through its life.
type ConnState int

const (
	// StateNew is a connection that has just been accepted. It moves to
	// StateIdle once the greeting has been sent.
	StateNew ConnState = iota
	// StateActive is a connection executing a command.
	StateActive
	// StateIdle is a connection waiting for the client's next command at a
	// command boundary (including an IMAP IDLE). Shutdown closes idle
	// connections at once.
	StateIdle
	// StateClosed is a connection that has ended. It is the last state
	// reported; [ConnInfo.CloseReason] says why it ended.
	StateClosed
)

var connStateNames = [...]string{"new", "active", "idle", "closed"}

// String returns the state's name in lower case.
func (s ConnState) String() string {
	if s < 0 || int(s) >= len(connStateNames) {
		return "unknown"
	}
	return connStateNames[s]
}

// CloseReason says why a connection ended.
type CloseReason int

const (
	// NotClosed is the zero value: the connection is still open.
	NotClosed CloseReason = iota
	// ClientQuit: the client ended the session (QUIT, LOGOUT).
	ClientQuit
	// IdleTimeout: the client sent nothing within the inactivity timeout, or
	// took too long over one command.
	IdleTimeout
	// ReadError: reading from or writing to the connection failed, including
	// the client dropping the connection without a goodbye.
	ReadError
	// ProtocolError: the client broke the protocol in a way that cannot be
	// recovered from (a line longer than the limit, an unsynchronised
	// pipeline, a command that is refused before login).
	ProtocolError
	// LimitExceeded: a connection limit (total, per address, per user)
	// refused the connection, or a size limit ended it.
	LimitExceeded
	// TooManyBadCommands: the client sent too many unknown or malformed
	// commands.
	TooManyBadCommands
	// AuthFailures: the client failed to authenticate too many times.
	AuthFailures
	// TLSHandshakeFailed: the TLS handshake failed or timed out.
	TLSHandshakeFailed
	// Shutdown: the server was shut down or closed.
	Shutdown
	// InternalError: a bug or a backend failure (including a recovered panic)
	// ended the connection.
	InternalError
)

var closeReasonNames = [...]string{
	"not closed", "client quit", "idle timeout", "read error", "protocol error",
	"limit exceeded", "too many bad commands", "auth failures",
	"tls handshake failed", "shutdown", "internal error",
}

// String returns a short lower-case description of the reason.
func (r CloseReason) String() string {
	if r < 0 || int(r) >= len(closeReasonNames) {
		return "unknown"
	}
	return closeReasonNames[r]
}

// ConnInfo describes a client connection. Servers hand it to ConnState hooks
// and make it available to backends and authenticators through the context of
// every call ([ConnInfoFromContext]). It is a snapshot: a later call may see
// TLS or Username set.
type ConnInfo struct {
	// ID identifies the connection in logs and in the server's greeting, so
	// that a client's report can be matched to log lines.
	ID string
	// Protocol is "pop3", "imap4" or "submission".
	Protocol string
	// RemoteAddr is the client's address: the address from a PROXY protocol
	// header where the listener trusts one (see [ProxyListener]), otherwise
	// the peer address of the TCP connection.
	RemoteAddr net.Addr
	// LocalAddr is the address the client connected to.
	LocalAddr net.Addr
	// TLS is the state of the TLS connection, nil until TLS is established
	// (at once on an implicit-TLS listener, after STARTTLS/STLS otherwise).
	// It is tracked by the server, never guessed from the net.Conn's type.
	TLS *tls.ConnectionState
	// Username is the authenticated user, empty before authentication.
	Username string
	// CloseReason says why the connection ended; it is NotClosed until the
	// connection reaches StateClosed.
	CloseReason CloseReason
}

type connInfoKey struct{}

// ContextWithConnInfo returns a copy of ctx that carries a source of
// [ConnInfo]. Servers call it for every connection; [ConnInfoFromContext] calls
// src each time it is used, so it sees the connection's current state. Hosts
// need it only to test an Authenticator or backend outside a server.
func ContextWithConnInfo(ctx context.Context, src func() ConnInfo) context.Context {
	return context.WithValue(ctx, connInfoKey{}, src)
}

// ConnInfoFromContext returns the facts about the connection that a backend or
// Authenticator call is made for, and whether ctx carries any.
func ConnInfoFromContext(ctx context.Context) (ConnInfo, bool) {
	src, ok := ctx.Value(connInfoKey{}).(func() ConnInfo)
	if !ok || src == nil {
		return ConnInfo{}, false
	}
	return src(), true
}

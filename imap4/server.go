package imap4

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/mailfront/mailfront"
	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/internal/authsrv"
	"github.com/mailfront/mailfront/internal/netsrv"
)

// ErrServerClosed is returned by the Serve methods after Shutdown or Close.
var ErrServerClosed = netsrv.ErrServerClosed

// A Server is an IMAP4rev2 and IMAP4rev1 server. The zero value, with
// Backend and Authenticator set, is a valid and secure configuration:
// credentials are accepted only over TLS (see LoginPolicy), and every
// connection is bounded in time, line length, command size and count. Set
// TLSConfig to offer STARTTLS on [Server.Serve] and to use
// [Server.ServeTLS].
//
// Fields must not be changed once a Serve method has been called. A Server
// must not be copied after first use. One Server may serve several
// listeners at once (say 143 and 993).
type Server struct {
	// Addr is the address ListenAndServe and ListenAndServeTLS listen on,
	// "host:port". Empty means ":143" for ListenAndServe and ":993" for
	// ListenAndServeTLS.
	Addr string

	// Backend opens the mail stores of authenticated users. Required.
	Backend Backend

	// Authenticator checks credentials. Required. Its optional interfaces
	// (auth.SCRAMKeyStore, auth.TokenVerifier, ...) decide which SASL
	// mechanisms AUTHENTICATE offers.
	Authenticator auth.Authenticator

	// TLSConfig enables STARTTLS on Serve and is required by ServeTLS and
	// ListenAndServeTLS. It must have a certificate (Certificates,
	// GetCertificate or GetConfigForClient). The server uses a clone.
	// tlsconfig.New gives secure defaults. Nil: no TLS.
	TLSConfig *tls.Config

	// LoginPolicy says on which connections credentials are accepted.
	// Zero, auth.SecureLogin, accepts them only after TLS (implicit, or
	// after STARTTLS) or from TrustedNetworks: before that CAPABILITY
	// shows LOGINDISABLED and LOGIN and AUTHENTICATE are answered
	// "NO [PRIVACYREQUIRED]" without the credentials being checked.
	// auth.PlainTextLogin exposes passwords and is logged as a warning
	// when serving starts.
	LoginPolicy auth.LoginPolicy

	// TrustedNetworks are client networks whose connections count as
	// secure without TLS. Nil: none.
	TrustedNetworks []netip.Prefix

	// Throttle delays and locks out failed logins per client address and
	// per username. Nil: a Throttle with its defaults, private to this
	// Server; hosts running several servers should share one.
	Throttle *auth.Throttle

	// OnAuthAttempt, if set, is called after every login attempt, with its
	// outcome and never a password.
	OnAuthAttempt auth.AttemptHook

	// Hostname is the server's name in the greeting and SASL challenges.
	// Empty: os.Hostname, or "localhost".
	Hostname string

	// Logger receives the server's logs: lifecycle at Info, limits hit at
	// Warn, backend failures and panics at Error, per-connection events at
	// Debug and the protocol trace, with credentials redacted and literals
	// summarised, at mailfront.LevelTrace. Nil: slog.Default().
	Logger *slog.Logger

	// ConnState, if set, is called when a connection changes state (as
	// http.Server.ConnState); the last call carries the close reason. A
	// session in IDLE is StateIdle.
	ConnState func(mailfront.ConnInfo, mailfront.ConnState)

	// BaseContext, if set, returns the base context for connections
	// accepted on a listener, as in net/http. Nil: context.Background().
	BaseContext func(net.Listener) context.Context

	// ConnContext, if set, derives a connection's context from the base
	// context, as in net/http.
	ConnContext func(ctx context.Context, c net.Conn) context.Context

	// PreAuthTimeout is how long a client that has not logged in may stay
	// silent (or take over one command) before it is disconnected with
	// "* BYE". Zero: 60 seconds; negative: none.
	PreAuthTimeout time.Duration

	// ReadTimeout is the autologout timer after login: how long a client
	// may stay silent, including in IDLE, before the server says "* BYE"
	// and closes. RFC 9051 §5.4 requires at least 30 minutes; shorter
	// values are raised to 30 minutes. Zero: 31 minutes (clients renew
	// IDLE every 29); negative: none.
	ReadTimeout time.Duration

	// IdleNotifyInterval is how often a session in IDLE with nothing to
	// report is sent "* OK Still here", so that NAT gateways and firewalls
	// keep the connection open. Zero: 2 minutes (Dovecot's
	// imap_idle_notify_interval); negative: never.
	IdleNotifyInterval time.Duration

	// WriteTimeout bounds how long each flush of responses may take to be
	// accepted by a client that has stopped reading. Zero: 5 minutes;
	// negative: none.
	WriteTimeout time.Duration

	// HandshakeTimeout bounds a TLS handshake (implicit TLS and
	// STARTTLS). Zero: 30 seconds; negative: none.
	HandshakeTimeout time.Duration

	// MaxConns bounds the connections served at once; further connections
	// get "* BYE [UNAVAILABLE]" and are closed. Zero: 1000; negative:
	// unlimited.
	MaxConns int

	// MaxConnsPerAddr bounds the connections from one client IP address.
	// Zero: 100 (clients behind one NAT share an address); negative:
	// unlimited.
	MaxConnsPerAddr int

	// MaxConnsPerUserAddr bounds the sessions of one user from one IP
	// address; a login past it is answered "NO [UNAVAILABLE]". Real clients
	// open several connections per account (one per folder being watched),
	// so keep it generous. Zero: 20; negative: unlimited.
	MaxConnsPerUserAddr int

	// MaxBadCommands is how many unknown, malformed or out-of-state
	// commands in a row a client may send after login; the last one is
	// followed by "* BYE" and the connection is closed. Zero: 20;
	// negative: unlimited.
	MaxBadCommands int

	// MaxBadCommandsBeforeLogin is the number of bad commands (in total,
	// not in a row) allowed before login. Zero: 3 (as Dovecot); negative:
	// unlimited.
	MaxBadCommandsBeforeLogin int

	// MaxAuthFailures is how many failed logins a connection may make
	// before it is closed. The Throttle limits failures per address and
	// user across connections. Zero: 3; negative: unlimited.
	MaxAuthFailures int

	// MaxLineLength bounds each line of a command, in octets without CRLF;
	// a longer line is answered "* BAD" and the connection closed. Zero:
	// 64 KiB; negative: 1 MiB.
	MaxLineLength int

	// MaxCommandSize bounds the lines and literals of one command, other
	// than APPEND's message data; a command past it is refused with
	// "NO [TOOBIG]" before the client sends the literal that would cross
	// it. Literals before login are further limited to 8 KiB. Zero: 1 MiB;
	// negative: 64 MiB.
	MaxCommandSize int

	// DisableLiteralPlus advertises LITERAL- instead of LITERAL+ (RFC
	// 7888): non-synchronizing literals are then limited to 4096 octets,
	// and a larger one is answered "BAD [TOOBIG]" with its bytes discarded
	// (or the connection closed). Default false: LITERAL+, with every
	// literal still bounded by MaxCommandSize or AppendLimit.
	DisableLiteralPlus bool

	// AppendLimit is the largest message APPEND accepts, in octets,
	// advertised as APPENDLIMIT (RFC 7889) and checked before the client
	// is told to send the message. A backend may refuse smaller messages
	// with ErrMessageTooLarge. Zero: 35 MiB (the submission server's
	// default message size); negative: no limit (plain "APPENDLIMIT").
	AppendLimit int64

	srv netsrv.Server

	throttle authsrv.OwnThrottle // used when Throttle is nil
	recent   recentTracker       // who has seen which messages (\Recent)
}

// Defaults of the Server fields.
const (
	defaultPreAuthTimeout      = 60 * time.Second
	defaultReadTimeout         = 31 * time.Minute
	minReadTimeout             = 30 * time.Minute
	defaultIdleNotify          = 2 * time.Minute
	defaultWriteTimeout        = 5 * time.Minute
	defaultMaxConns            = 1000
	defaultMaxConnsPerAddr     = 100
	defaultMaxConnsPerUserAddr = 20
	defaultMaxBadCommands      = 20
	defaultMaxBadPreAuth       = 3
	defaultMaxLineLength       = 64 << 10
	defaultMaxCommandSize      = 1 << 20
	defaultAppendLimit         = 35 << 20
	// preAuthLiteralMax bounds each literal before login: enough for any
	// user name and password (LOGIN) or client ID.
	preAuthLiteralMax = 8 << 10
)

func (s *Server) logger() *slog.Logger { return cmp.Or(s.Logger, slog.Default()) }

func (s *Server) preAuthTimeout() time.Duration {
	return netsrv.Timeout(s.PreAuthTimeout, defaultPreAuthTimeout)
}

func (s *Server) readTimeout() time.Duration {
	d := netsrv.Timeout(s.ReadTimeout, defaultReadTimeout)
	if d > 0 && d < minReadTimeout {
		d = minReadTimeout
	}
	return d
}

func (s *Server) idleNotifyInterval() time.Duration {
	return netsrv.Timeout(s.IdleNotifyInterval, defaultIdleNotify)
}

func (s *Server) writeTimeout() time.Duration {
	return netsrv.Timeout(s.WriteTimeout, defaultWriteTimeout)
}

func (s *Server) maxBadCommands(loggedIn bool) int {
	if loggedIn {
		return netsrv.Limit(s.MaxBadCommands, defaultMaxBadCommands)
	}
	return netsrv.Limit(s.MaxBadCommandsBeforeLogin, defaultMaxBadPreAuth)
}

func (s *Server) maxLineLength() int {
	if s.MaxLineLength < 0 {
		return 1 << 20
	}
	return netsrv.Limit(s.MaxLineLength, defaultMaxLineLength)
}

func (s *Server) maxCommandSize() int64 {
	if s.MaxCommandSize < 0 {
		return 64 << 20
	}
	return int64(netsrv.Limit(s.MaxCommandSize, defaultMaxCommandSize))
}

// appendLimit returns the APPEND size limit, 0 for none.
func (s *Server) appendLimit() int64 {
	return netsrv.Limit(s.AppendLimit, defaultAppendLimit)
}

// validate checks the configuration once per Serve call.
func (s *Server) validate(implicitTLS bool) error {
	if s.Backend == nil {
		return errors.New("imap4: Server.Backend is nil")
	}
	if s.Authenticator == nil {
		return errors.New("imap4: Server.Authenticator is nil")
	}
	if implicitTLS && !netsrv.HasCertificate(s.TLSConfig) {
		return fmt.Errorf("imap4: ServeTLS: %w", netsrv.ErrNoTLSConfig)
	}
	return nil
}

// Serve accepts connections on l and serves IMAP on each, offering
// STARTTLS when TLSConfig is set. It always closes l and returns a non-nil
// error: ErrServerClosed after Shutdown or Close, or a configuration error
// at once (no Backend or Authenticator, or a LoginPolicy under which no
// client could log in on l because there is neither TLSConfig nor
// TrustedNetworks).
func (s *Server) Serve(l net.Listener) error { return s.serve(l, false) }

// ServeTLS is like Serve, with TLS from the first byte (port 993, RFC
// 8314). TLSConfig must be set with a certificate.
func (s *Server) ServeTLS(l net.Listener) error { return s.serve(l, true) }

func (s *Server) serve(l net.Listener, implicitTLS bool) error {
	if s.srv.ShuttingDown() {
		l.Close()
		return ErrServerClosed
	}
	if err := s.validate(implicitTLS); err != nil {
		l.Close()
		return err
	}
	s.recent.started(time.Now())
	hostname := netsrv.Hostname(s.Hostname)
	h := &handler{
		s:        s,
		hostname: hostname,
		auth: authsrv.Config{
			Protocol:        "imap4",
			Authenticator:   s.Authenticator,
			Policy:          s.LoginPolicy,
			TrustedNetworks: s.TrustedNetworks,
			Throttle:        s.throttle.Or(s.Throttle),
			OnAttempt:       s.OnAuthAttempt,
			MaxFailures:     s.MaxAuthFailures, // authsrv: zero 3, negative none
			ServerName:      hostname,
		},
	}
	secure := implicitTLS || netsrv.HasCertificate(s.TLSConfig)
	if err := h.auth.CheckLoginPossible(secure, authsrv.Logins{Command: true}); err != nil {
		l.Close()
		return err
	}
	h.auth.WarnPlainTextLogin(s.logger(), l.Addr())
	cfg := netsrv.Config{
		Protocol:            "imap4",
		Logger:              s.logger(),
		TLSConfig:           s.TLSConfig,
		HandshakeTimeout:    s.HandshakeTimeout, // netsrv: zero 30s, negative none
		WriteTimeout:        s.writeTimeout(),
		MaxConns:            netsrv.Limit(s.MaxConns, defaultMaxConns),
		MaxConnsPerAddr:     netsrv.Limit(s.MaxConnsPerAddr, defaultMaxConnsPerAddr),
		MaxConnsPerUserAddr: netsrv.Limit(s.MaxConnsPerUserAddr, defaultMaxConnsPerUserAddr),
		ConnState:           s.ConnState,
		BaseContext:         s.BaseContext,
		ConnContext:         s.ConnContext,
		Refuse:              refuse,
		Handle:              h.handle,
	}
	return s.srv.Serve(l, cfg, implicitTLS)
}

// refuse writes the last words when the machinery ends a connection on its
// own: a connection limit, shutdown before the greeting, or a panic.
func refuse(c *netsrv.Conn, reason mailfront.CloseReason) {
	switch reason {
	case mailfront.LimitExceeded:
		c.W.WriteString("* BYE [UNAVAILABLE] Too many connections; try again later\r\n")
	case mailfront.Shutdown:
		c.W.WriteString("* BYE [UNAVAILABLE] Server shutting down\r\n")
	default:
		c.W.WriteString("* BYE [SERVERBUG] Internal server error\r\n")
	}
}

// ListenAndServe listens on the TCP address Addr (":143" if empty) and
// calls Serve.
func (s *Server) ListenAndServe() error {
	return s.srv.ListenAndServe(s.Addr, ":143", s.Serve)
}

// ListenAndServeTLS listens on the TCP address Addr (":993" if empty) and
// calls ServeTLS. TLSConfig must be set.
func (s *Server) ListenAndServeTLS() error {
	if !netsrv.HasCertificate(s.TLSConfig) {
		return fmt.Errorf("imap4: ListenAndServeTLS: %w", netsrv.ErrNoTLSConfig)
	}
	return s.srv.ListenAndServe(s.Addr, ":993", s.ServeTLS)
}

// Shutdown stops the server gracefully: it closes the listeners, says
// "* BYE" to every session waiting for a command or in IDLE and closes it,
// and waits for commands in progress (an APPEND being received, a FETCH
// being sent) to finish and their connections to close. If ctx expires
// first it returns ctx.Err(); call Close to end the rest.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.srv.ShutdownLogged(ctx, s.logger(), "imap4")
}

// Close closes the listeners and every connection at once, cancelling the
// contexts of backend calls in progress.
func (s *Server) Close() error {
	return s.srv.Close()
}

package pop3

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/mailfront/mailfront"
	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/internal/authsrv"
	"github.com/mailfront/mailfront/internal/netsrv"
)

// A Server is a POP3 server. The zero value, with Backend and Authenticator
// set, is a valid and secure configuration: credentials are accepted only
// over TLS (see LoginPolicy), and every connection is bounded in time, line
// length and count. Set TLSConfig to offer STLS on [Server.Serve] and to use
// [Server.ServeTLS].
//
// Fields must not be changed once a Serve method has been called. A Server
// must not be copied after first use. One Server may serve several
// listeners at once (say 110 and 995).
type Server struct {
	// Addr is the address ListenAndServe and ListenAndServeTLS listen on,
	// "host:port". Empty means ":110" for ListenAndServe and ":995" for
	// ListenAndServeTLS.
	Addr string

	// Backend opens the maildrops of authenticated users. Required.
	Backend Backend

	// Authenticator checks credentials. Required. Its optional interfaces
	// (auth.SCRAMKeyStore, auth.SecretStore, ...) decide which SASL
	// mechanisms AUTH offers.
	Authenticator auth.Authenticator

	// TLSConfig enables STLS (RFC 2595) on Serve and is required by
	// ServeTLS and ListenAndServeTLS. It must have a certificate
	// (Certificates, GetCertificate or GetConfigForClient). The server
	// uses a clone. tlsconfig.New gives secure defaults. Nil: no TLS.
	TLSConfig *tls.Config

	// LoginPolicy says on which connections credentials are accepted.
	// Zero, auth.SecureLogin, accepts them only after TLS (implicit, or
	// after STLS) or from TrustedNetworks; a client that tries before is
	// told "-ERR [AUTH] Command is not valid in this state: use STLS or the
	// TLS port first". auth.PlainTextLogin exposes passwords and is logged
	// as a warning when serving starts.
	LoginPolicy auth.LoginPolicy

	// TrustedNetworks are client networks whose connections count as
	// secure without TLS (a host's own loopback, a TLS-terminating proxy
	// on a private network). Nil: none.
	TrustedNetworks []netip.Prefix

	// Throttle delays and locks out failed logins per client address and
	// per username. Nil: a Throttle with its defaults, private to this
	// Server; hosts running several servers should share one.
	Throttle *auth.Throttle

	// OnAuthAttempt, if set, is called after every login attempt, with its
	// outcome and never a password (fail2ban-style tooling, metrics).
	OnAuthAttempt auth.AttemptHook

	// AllowAPOP enables the APOP command (RFC 1939 §7) when the
	// Authenticator is an auth.SecretStore: the greeting then carries the
	// timestamp a client needs. Default false: APOP needs plaintext
	// secrets on the server and rests on MD5. APOP proves knowledge of the
	// secret without sending it, so the policy treats it as
	// challenge-response (allowed without TLS under
	// auth.PlainTextAuthentication).
	//
	// An account should not be usable with both APOP and USER/PASS (RFC
	// 1939 §13): a password sent in clear by PASS would reveal the APOP
	// secret. The server cannot know which accounts use which, so the
	// host's directory enforces it: Authenticate refuses accounts meant
	// for APOP, and SecretStore.Secret refuses accounts that are not (both
	// with auth.ErrInvalidCredentials).
	AllowAPOP bool

	// Hostname is the server's name in the greeting, the APOP timestamp
	// and SASL challenges. Empty: os.Hostname, or "localhost".
	Hostname string

	// Implementation is announced by CAPA as IMPLEMENTATION (RFC 2449
	// §6.9). Empty: "mailfront"; "-" announces nothing.
	Implementation string

	// ExpireDays is announced by CAPA as EXPIRE (RFC 2449 §6.7): how many
	// days the host keeps a message once retrieved. Zero: not announced;
	// ExpireNever: "NEVER"; ExpireOnRetrieval: "0". A backend's
	// PolicyProvider can set it per user, in which case the announcement
	// before login carries "USER". The server only announces it.
	ExpireDays int

	// LoginDelay is the minimum time between two logins of a user (RFC
	// 2449 §6.5), announced by CAPA as LOGIN-DELAY in seconds and enforced:
	// a sooner login is answered "-ERR [LOGIN-DELAY]". Logins are
	// remembered in memory by this Server. Zero or negative: none. A
	// backend's PolicyProvider can set it per user.
	LoginDelay time.Duration

	// Logger receives the server's logs: lifecycle at Info, limits hit at
	// Warn, backend failures and panics at Error, per-connection events at
	// Debug and the protocol trace, with credentials redacted, at
	// mailfront.LevelTrace. Nil: slog.Default().
	Logger *slog.Logger

	// ConnState, if set, is called when a connection changes state (as
	// http.Server.ConnState); the last call carries the close reason.
	ConnState func(mailfront.ConnInfo, mailfront.ConnState)

	// BaseContext, if set, returns the base context for connections
	// accepted on a listener, as in net/http. Nil: context.Background().
	BaseContext func(net.Listener) context.Context

	// ConnContext, if set, derives a connection's context from the base
	// context, as in net/http.
	ConnContext func(ctx context.Context, c net.Conn) context.Context

	// ReadTimeout is the inactivity timeout: how long the server waits for
	// a complete command line (or a SASL response) before it closes the
	// connection, in any state. Zero: 10 minutes, the shortest RFC 1939
	// §3 allows; negative: none. A connection closed for inactivity does
	// not enter the UPDATE state: nothing is deleted.
	ReadTimeout time.Duration

	// WriteTimeout bounds how long a reply, or each 32 KiB of a message
	// being sent, may take to be accepted by a client that has stopped
	// reading. Zero: 5 minutes; negative: none.
	WriteTimeout time.Duration

	// HandshakeTimeout bounds a TLS handshake (implicit TLS and STLS).
	// Zero: 30 seconds; negative: none.
	HandshakeTimeout time.Duration

	// MaxConns bounds the connections served at once; further connections
	// get -ERR with [CodeSysTemp] and are closed. Zero: 1000; negative:
	// unlimited.
	MaxConns int

	// MaxConnsPerAddr bounds the connections from one client IP address.
	// Zero: 100 (clients behind one NAT share an address); negative:
	// unlimited.
	MaxConnsPerAddr int

	// MaxConnsPerUserAddr bounds the sessions of one user from one IP
	// address; a login past it is answered "-ERR [IN-USE]". The maildrop
	// lock usually allows one session per user anyway. Zero: 20;
	// negative: unlimited.
	MaxConnsPerUserAddr int

	// MaxBadCommands is how many unknown, malformed or out-of-state
	// commands a client may send after login; the last one is answered
	// with a final -ERR and the connection is closed. Before login the
	// limit is MaxBadCommandsBeforeLogin. Zero: 20; negative: unlimited.
	MaxBadCommands int

	// MaxBadCommandsBeforeLogin is MaxBadCommands before login, where
	// real clients send few commands and attackers many. Zero: 3 (as
	// Dovecot); negative: unlimited.
	MaxBadCommandsBeforeLogin int

	// MaxAuthFailures is how many failed logins a connection may make
	// before it is closed. The Throttle limits failures per address and
	// user across connections. Zero: 3; negative: unlimited.
	MaxAuthFailures int

	// MaxLineLength bounds a command line, in octets without CRLF; a longer
	// line is answered "-ERR Line too long" and the connection closed. SASL
	// responses may be longer (12,288 octets, for OAuth tokens). Zero: 512
	// (RFC 2449 §4 asks for 255; real clients send long user names);
	// negative: the SASL bound.
	MaxLineLength int

	srv netsrv.Server

	throttle authsrv.OwnThrottle // used when Throttle is nil
	logins   loginTracker
}

// Defaults of the Server fields.
const (
	defaultReadTimeout         = 10 * time.Minute
	defaultWriteTimeout        = 5 * time.Minute
	defaultMaxConns            = 1000
	defaultMaxConnsPerAddr     = 100
	defaultMaxConnsPerUserAddr = 20
	defaultMaxBadCommands      = 20
	defaultMaxBadPreAuth       = 3
	defaultMaxLineLength       = 512
	defaultImplementation      = "mailfront"
)

func (s *Server) logger() *slog.Logger { return cmp.Or(s.Logger, slog.Default()) }

func (s *Server) readTimeout() time.Duration {
	return netsrv.Timeout(s.ReadTimeout, defaultReadTimeout)
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
	switch {
	case s.MaxLineLength < 0:
		return authsrv.MaxResponseLine
	case s.MaxLineLength == 0:
		return defaultMaxLineLength
	}
	return s.MaxLineLength
}

func (s *Server) implementation() string {
	switch s.Implementation {
	case "":
		return defaultImplementation
	case "-":
		return ""
	}
	return sanitize(s.Implementation)
}

// apopStore returns the Authenticator as a SecretStore when APOP is enabled
// and possible, else nil.
func (s *Server) apopStore() auth.SecretStore {
	if !s.AllowAPOP {
		return nil
	}
	st, _ := s.Authenticator.(auth.SecretStore)
	return st
}

// sanitizeToken keeps the printable, non-space ASCII of s, up to 255
// octets, for the host name in the greeting and the APOP timestamp.
func sanitizeToken(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < 255; i++ {
		if c := s[i]; c > ' ' && c < 0x7f {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// validate checks the configuration once per Serve call.
func (s *Server) validate(implicitTLS bool) error {
	if s.Backend == nil {
		return errors.New("pop3: Server.Backend is nil")
	}
	if s.Authenticator == nil {
		return errors.New("pop3: Server.Authenticator is nil")
	}
	if implicitTLS && !netsrv.HasCertificate(s.TLSConfig) {
		return fmt.Errorf("pop3: ServeTLS: %w", netsrv.ErrNoTLSConfig)
	}
	return nil
}

// Serve accepts connections on l and serves POP3 on each, offering STLS when
// TLSConfig is set. It always closes l and returns a non-nil error:
// ErrServerClosed after Shutdown or Close, or a configuration error at once
// (no Backend or Authenticator, or a LoginPolicy under which no client could
// log in on l because there is neither TLSConfig nor TrustedNetworks).
func (s *Server) Serve(l net.Listener) error { return s.serve(l, false) }

// ServeTLS is like Serve, with TLS from the first byte (port 995, RFC 8314).
// TLSConfig must be set with a certificate.
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
	hostname := netsrv.Hostname(s.Hostname)
	h := &handler{
		s:        s,
		hostname: sanitizeToken(hostname),
		apop:     s.apopStore(),
		auth: authsrv.Config{
			Protocol:        "pop3",
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
	if err := h.auth.CheckLoginPossible(secure, authsrv.Logins{Command: true, Verify: h.apop != nil}); err != nil {
		l.Close()
		return err
	}
	h.auth.WarnPlainTextLogin(s.logger(), l.Addr())
	cfg := netsrv.Config{
		Protocol:            "pop3",
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
		c.W.WriteString("-ERR [SYS/TEMP] Too many connections; try again later\r\n")
	case mailfront.Shutdown:
		c.W.WriteString("-ERR [SYS/TEMP] Server shutting down; try again later\r\n")
	default:
		c.W.WriteString("-ERR [SYS/TEMP] Internal server error; try again later\r\n")
	}
}

// ListenAndServe listens on the TCP address Addr (":110" if empty) and calls
// Serve.
func (s *Server) ListenAndServe() error {
	return s.srv.ListenAndServe(s.Addr, ":110", s.Serve)
}

// ListenAndServeTLS listens on the TCP address Addr (":995" if empty) and
// calls ServeTLS. TLSConfig must be set.
func (s *Server) ListenAndServeTLS() error {
	if !netsrv.HasCertificate(s.TLSConfig) {
		return fmt.Errorf("pop3: ListenAndServeTLS: %w", netsrv.ErrNoTLSConfig)
	}
	return s.srv.ListenAndServe(s.Addr, ":995", s.ServeTLS)
}

// Shutdown stops the server gracefully: it closes the listeners, closes
// every connection waiting for a command (POP3 has no unsolicited goodbye;
// such a session ends without the UPDATE state, so nothing is deleted),
// and waits for commands in progress — a RETR being sent, the deletions
// of a QUIT — to finish and their connections to close. If ctx expires
// first it returns ctx.Err(); call Close to end the rest.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.srv.ShutdownLogged(ctx, s.logger(), "pop3")
}

// Close closes the listeners and every connection at once, cancelling the
// contexts of backend calls in progress. No session enters the UPDATE
// state.
func (s *Server) Close() error {
	return s.srv.Close()
}

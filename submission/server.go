package submission

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

// ErrServerClosed is returned by the Serve and ListenAndServe methods after
// [Server.Shutdown] or [Server.Close].
var ErrServerClosed = netsrv.ErrServerClosed

// A LineEndingPolicy says what the server does with a bare CR or a bare LF
// (one not part of a CRLF pair) in message data.
type LineEndingPolicy int

const (
	// RejectBareLineEndings refuses the message with "550 5.5.2" after the
	// end of its data; nothing reaches the backend. It is the zero value:
	// bare line endings are the raw material of SMTP smuggling
	// (CVE-2023-51764 and its siblings), and a submission client that
	// sends them is broken.
	RejectBareLineEndings LineEndingPolicy = iota
	// NormalizeBareLineEndings turns every bare CR and bare LF into CRLF,
	// so the backend sees CRLF line endings only. The end of DATA is still
	// recognised only at a real <CRLF>.<CRLF>.
	NormalizeBareLineEndings
)

// MissingHeaders says what the server does with a message that lacks
// header fields a message must have (RFC 6409 §8).
type MissingHeaders int

const (
	// AddMissingHeaders adds Date (RFC 6409 §8.2) and Message-ID (§8.3)
	// when the message has none, and a From holding the envelope sender
	// when it has no From. It is the zero value.
	AddMissingHeaders MissingHeaders = iota
	// KeepMissingHeaders passes the message on with only the Received
	// header added.
	KeepMissingHeaders
)

// Defaults of the Server fields.
const (
	// DefaultMaxMessageBytes is the default message size limit, 35 MiB,
	// advertised with SIZE (RFC 1870).
	DefaultMaxMessageBytes = 35 << 20
	// DefaultMaxRecipients is the default number of recipients per
	// message, advertised with LIMITS RCPTMAX (RFC 9422); RFC 5321
	// §4.5.3.1.8 requires at least 100.
	DefaultMaxRecipients = 100
	// DefaultMaxLineLength is the default length of a command line,
	// including its CRLF: 512 octets (RFC 5321 §4.5.3.1.4).
	DefaultMaxLineLength = 512
)

// mailLineExtra is how much longer MAIL and RCPT lines may be than other
// commands: RFC 5321 §4.5.3.1.4 lets each extension lengthen them, and the
// ones advertised here add SIZE=(26, RFC 1870), RET and ENVID (100, RFC
// 3461), AUTH= (500, RFC 4954), ORCPT and NOTIFY (500+, RFC 3461), BODY,
// SMTPUTF8 and REQUIRETLS, plus UTF-8 addresses that take up to four octets
// a character. 1,536 octets covers them all with room to spare.
const mailLineExtra = 1536

// A Server is an SMTP message submission server (RFC 6409) for port 587
// (STARTTLS) and port 465 (implicit TLS, RFC 8314). Its zero value, with
// Backend, Authenticator and TLSConfig set, is a working and secure
// configuration: clients must authenticate (over TLS under the default
// [auth.SecureLogin] policy) before they can send, may send only as the
// addresses their identity allows, and every limit has a safe default.
//
// Fields must not be changed once the server has started. One Server may
// serve several listeners at once (typically 587 and 465).
type Server struct {
	// Addr is the TCP address ListenAndServe and ListenAndServeTLS listen
	// on. Empty means ":587" for ListenAndServe and ":465" for
	// ListenAndServeTLS.
	Addr string

	// Backend receives the accepted messages. It is required.
	Backend Backend

	// Authenticator checks credentials; the SASL mechanisms advertised are
	// those it supports (see package auth) and the policy allows. It is
	// required: submission is for authenticated users only.
	Authenticator auth.Authenticator

	// TLSConfig enables STARTTLS on Serve and is required by ServeTLS. Nil
	// means no TLS: logins are then possible only under a policy or from a
	// network that allows them without TLS.
	TLSConfig *tls.Config

	// LoginPolicy says on which connections credentials are accepted. The
	// zero value, auth.SecureLogin, hides AUTH until TLS is active and
	// answers "530 5.7.0 Must issue a STARTTLS command first".
	// auth.PlainTextLogin is logged as a warning when the server starts.
	LoginPolicy auth.LoginPolicy

	// TrustedNetworks lists client networks whose connections count as
	// secure for LoginPolicy (a webmail host on the same machine, say).
	// They must still authenticate. Nil means none.
	TrustedNetworks []netip.Prefix

	// Throttle delays and locks out clients that fail to log in. Nil means
	// a Throttle private to this Server; hosts running several servers
	// should share one.
	Throttle *auth.Throttle

	// OnAuthAttempt, if set, is called after every login attempt, for
	// audit logs and fail2ban-style tooling. It never sees a password.
	OnAuthAttempt auth.AttemptHook

	// SenderPolicy, if set, replaces the rule that decides whether the
	// authenticated identity may use an address as the envelope sender
	// (MAIL FROM) or in the From or Sender header field. Nil means
	// [auth.Identity.MaySendAs]. See [SenderPolicyFunc].
	SenderPolicy SenderPolicyFunc

	// Hostname is the name the server gives in its greeting, its EHLO
	// reply, the Received header and generated Message-IDs. Empty means
	// os.Hostname(), or "localhost" if that fails.
	Hostname string

	// Logger receives the server's logs; the protocol trace is at
	// mailfront.LevelTrace, with credentials redacted and message data
	// summarised. Nil means slog.Default().
	Logger *slog.Logger

	// ConnState, if set, is called when a connection changes state, with
	// a snapshot of its facts (including, at the end, why it closed).
	ConnState func(mailfront.ConnInfo, mailfront.ConnState)

	// BaseContext, if set, returns the base context for the connections
	// accepted on a listener; nil means context.Background().
	BaseContext func(net.Listener) context.Context

	// ConnContext, if set, derives each connection's context from the base
	// context. Backend and Authenticator calls get a context derived from
	// it, cancelled when the connection ends.
	ConnContext func(ctx context.Context, c net.Conn) context.Context

	// ReadTimeout bounds the wait for each command line (the whole line,
	// so a client dripping bytes gains nothing), for each SASL response
	// and for each read of message data. Zero means 5 minutes (RFC 5321
	// §4.5.3.2.7); negative means no timeout.
	ReadTimeout time.Duration

	// MinDataRate is the slowest average rate, in octets per second, at
	// which a client may send a message's data (DATA, or one BDAT chunk)
	// once the first DataGrace (10 minutes) of it has passed: a client
	// dripping a byte now and then, within ReadTimeout each time, is
	// answered "421 4.4.2" when its average falls below. Zero means 1024
	// octets per second (a 35 MiB message may take 45 minutes); negative
	// means no minimum.
	MinDataRate int

	// WriteTimeout bounds each write of replies to a client that does not
	// read them. Zero means 5 minutes; negative means no timeout.
	WriteTimeout time.Duration

	// HandshakeTimeout bounds a TLS handshake (implicit TLS and STARTTLS).
	// Zero means 30 seconds; negative means no limit.
	HandshakeTimeout time.Duration

	// GreetingDelay is how long the server waits before its greeting,
	// watching for a client that talks first; such a client is answered
	// "554 5.5.0" and disconnected (Postfix's postscreen greet wait).
	// Zero or negative means no wait: a client that sends several
	// commands ahead of the greeting is still caught at its first
	// command, as an unauthenticated pipelining violation.
	GreetingDelay time.Duration

	// MaxConns limits the connections served at once; past it a client is
	// answered "421 4.7.0" and disconnected. Zero means 5000 (Exchange's
	// receive connector default); negative means no limit.
	MaxConns int

	// MaxConnsPerAddr limits the connections from one client address. Zero
	// means 20 (Exchange's MaxInboundConnectionPerSource); negative means no
	// limit.
	MaxConnsPerAddr int

	// MaxBadCommands is how many refused commands (unknown, malformed, out
	// of sequence, not permitted) a connection may send before it is
	// answered "421 4.7.0" and disconnected. Zero means 3 before
	// authentication and 20 after; a positive value applies to both;
	// negative means no limit.
	MaxBadCommands int

	// MaxAuthFailures is how many failed AUTH attempts a connection may
	// make before it is disconnected. Zero means 3; negative means no
	// limit (the Throttle still applies).
	MaxAuthFailures int

	// MaxLineLength is the longest command line accepted, in octets
	// including CRLF. MAIL and RCPT may be 1,536 octets longer, for their
	// extension parameters, and AUTH may reach 12,288 octets (RFC 4954
	// §4). A longer line that still ends within 12,288 octets is answered
	// "500 5.5.2 Line too long" and the session goes on; a line with no
	// end within 12,288 octets closes the connection. Zero means 512 (RFC
	// 5321 §4.5.3.1.4); negative leaves only the 12,288-octet bound.
	MaxLineLength int

	// MaxMessageBytes is the largest message accepted, in octets as
	// received (before the Received header is added). It is advertised
	// with SIZE and enforced while the message streams. Zero means
	// [DefaultMaxMessageBytes]; negative means no limit.
	MaxMessageBytes int64

	// MaxSizeExcess is how much data past MaxMessageBytes the server reads
	// and discards after refusing an oversized message, so that the
	// connection stays usable; a client that sends more is answered "552"
	// and disconnected. It also bounds a refused BDAT chunk. Zero means 1
	// MiB (as Dovecot); negative means no bound.
	MaxSizeExcess int64

	// MaxHeaderBytes bounds the message header, which the server reads
	// whole to check From and Sender before the backend sees anything; a
	// longer header is refused with "552 5.3.4". Zero means 256 KiB
	// (Exchange's MaxHeaderSize); negative means only MaxMessageBytes
	// bounds it.
	MaxHeaderBytes int

	// MaxRecipients limits the recipients of one message, advertised with
	// LIMITS RCPTMAX (RFC 9422); past it RCPT is answered "452 4.5.3".
	// Zero means [DefaultMaxRecipients]; negative means no limit.
	MaxRecipients int

	// BareLineEndings says what to do with bare CR and LF in message data.
	// The zero value rejects the message.
	BareLineEndings LineEndingPolicy

	// MissingHeaders says whether to add Date, Message-ID and From when a
	// message lacks them. The zero value adds them.
	MissingHeaders MissingHeaders

	srv      netsrv.Server
	throttle authsrv.OwnThrottle // used when Throttle is nil
}

func (s *Server) logger() *slog.Logger { return cmp.Or(s.Logger, slog.Default()) }

func (s *Server) readTimeout() time.Duration  { return netsrv.Timeout(s.ReadTimeout, 5*time.Minute) }
func (s *Server) writeTimeout() time.Duration { return netsrv.Timeout(s.WriteTimeout, 5*time.Minute) }

// DataGrace is how long message data may take before
// [Server.MinDataRate] applies.
const DataGrace = 10 * time.Minute

func (s *Server) minDataRate() int     { return netsrv.Limit(s.MinDataRate, 1024) }
func (s *Server) maxConns() int        { return netsrv.Limit(s.MaxConns, 5000) }
func (s *Server) maxConnsPerAddr() int { return netsrv.Limit(s.MaxConnsPerAddr, 20) }
func (s *Server) maxLineLength() int   { return netsrv.Limit(s.MaxLineLength, DefaultMaxLineLength) }
func (s *Server) maxSizeExcess() int64 { return netsrv.Limit(s.MaxSizeExcess, 1<<20) }
func (s *Server) maxHeaderBytes() int  { return netsrv.Limit(s.MaxHeaderBytes, 256<<10) }
func (s *Server) maxRecipients() int   { return netsrv.Limit(s.MaxRecipients, DefaultMaxRecipients) }

func (s *Server) maxMessageBytes() int64 {
	return netsrv.Limit(s.MaxMessageBytes, DefaultMaxMessageBytes)
}

func (s *Server) maxBadCommands() (preAuth, postAuth int) {
	switch {
	case s.MaxBadCommands == 0:
		return 3, 20
	case s.MaxBadCommands < 0:
		return 0, 0
	}
	return s.MaxBadCommands, s.MaxBadCommands
}

// config is a Server's settings resolved for one Serve call, shared by the
// connections it accepts.
type config struct {
	srv           *Server
	hostname      string
	backend       Backend
	rcptChecker   RecipientChecker
	auth          authsrv.Config
	senderPolicy  SenderPolicyFunc
	readTimeout   time.Duration
	minDataRate   int // octets per second; 0: none
	writeTimeout  time.Duration
	greetingDelay time.Duration
	maxBadPre     int
	maxBadPost    int
	maxLine       int // octets including CRLF; 0: only physLine
	physLine      int // the hard bound of every line, without CRLF
	maxMessage    int64
	maxExcess     int64
	maxHeader     int
	maxRcpts      int
	normalize     bool
	addHeaders    bool
}

// authLineMax is RFC 4954 §4's bound on an AUTH command line and on each
// SASL response line.
const authLineMax = authsrv.MaxResponseLine

// validate checks the fields the server cannot do without, so that a
// misconfigured host fails at Serve; serve then checks that some client
// could log in.
func (s *Server) validate() error {
	if s.Backend == nil {
		return errors.New("submission: Server.Backend is nil")
	}
	if s.Authenticator == nil {
		return errors.New("submission: Server.Authenticator is nil; submission requires authentication")
	}
	return nil
}

func (s *Server) newConfig() *config {
	cfg := &config{
		srv:           s,
		hostname:      netsrv.Hostname(s.Hostname),
		backend:       s.Backend,
		senderPolicy:  s.SenderPolicy,
		readTimeout:   s.readTimeout(),
		minDataRate:   s.minDataRate(),
		writeTimeout:  s.writeTimeout(),
		greetingDelay: max(s.GreetingDelay, 0),
		maxLine:       s.maxLineLength(),
		maxMessage:    s.maxMessageBytes(),
		maxExcess:     s.maxSizeExcess(),
		maxHeader:     s.maxHeaderBytes(),
		maxRcpts:      s.maxRecipients(),
		normalize:     s.BareLineEndings == NormalizeBareLineEndings,
		addHeaders:    s.MissingHeaders == AddMissingHeaders,
	}
	cfg.maxBadPre, cfg.maxBadPost = s.maxBadCommands()
	cfg.physLine = max(authLineMax, cfg.maxLine+mailLineExtra)
	if rc, ok := s.Backend.(RecipientChecker); ok {
		cfg.rcptChecker = rc
	}
	cfg.auth = authsrv.Config{
		Protocol:        "submission",
		Authenticator:   s.Authenticator,
		Policy:          s.LoginPolicy,
		TrustedNetworks: s.TrustedNetworks,
		Throttle:        s.throttle.Or(s.Throttle),
		OnAttempt:       s.OnAuthAttempt,
		MaxFailures:     s.MaxAuthFailures, // authsrv: zero 3, negative none
		ServerName:      cfg.hostname,
	}
	return cfg
}

func (s *Server) netConfig(cfg *config) netsrv.Config {
	return netsrv.Config{
		Protocol:         "submission",
		Logger:           s.logger(),
		TLSConfig:        s.TLSConfig,
		HandshakeTimeout: s.HandshakeTimeout, // netsrv: zero 30s, negative none
		WriteTimeout:     s.writeTimeout(),
		MaxConns:         s.maxConns(),
		MaxConnsPerAddr:  s.maxConnsPerAddr(),
		ConnState:        s.ConnState,
		BaseContext:      s.BaseContext,
		ConnContext:      s.ConnContext,
		Refuse:           cfg.refuse,
		Handle:           cfg.handle,
	}
}

func (s *Server) serve(l net.Listener, implicitTLS bool) error {
	if err := s.validate(); err != nil {
		l.Close()
		return err
	}
	cfg := s.newConfig()
	secure := implicitTLS || netsrv.HasCertificate(s.TLSConfig)
	if err := cfg.auth.CheckLoginPossible(secure, authsrv.Logins{}); err != nil {
		l.Close()
		return err
	}
	cfg.auth.WarnPlainTextLogin(s.logger(), l.Addr())
	return s.srv.Serve(l, s.netConfig(cfg), implicitTLS)
}

// Serve accepts connections on l and serves each in its own goroutine, with
// STARTTLS offered when TLSConfig is set (port 587). It returns a non-nil
// error: [ErrServerClosed] after Shutdown or Close, or a configuration
// error (no Backend, no Authenticator, or a LoginPolicy under which nobody
// could log in). Serve closes l.
func (s *Server) Serve(l net.Listener) error { return s.serve(l, false) }

// ServeTLS is like Serve for implicit TLS (port 465, RFC 8314): every
// connection starts with a TLS handshake. It fails without a TLSConfig that
// has a certificate.
func (s *Server) ServeTLS(l net.Listener) error { return s.serve(l, true) }

// ListenAndServe listens on Addr (":587" if empty) and calls Serve.
func (s *Server) ListenAndServe() error {
	return s.listenAndServe(":587", false)
}

// ListenAndServeTLS listens on Addr (":465" if empty) and calls ServeTLS.
func (s *Server) ListenAndServeTLS() error {
	return s.listenAndServe(":465", true)
}

func (s *Server) listenAndServe(def string, implicitTLS bool) error {
	if implicitTLS && !netsrv.HasCertificate(s.TLSConfig) {
		return fmt.Errorf("submission: ListenAndServeTLS: %w", netsrv.ErrNoTLSConfig)
	}
	return s.srv.ListenAndServe(s.Addr, def, func(l net.Listener) error { return s.serve(l, implicitTLS) })
}

// Shutdown stops the listeners, says "421 4.3.2" to every connection
// waiting for a command and closes it, and waits for the commands in
// flight (a message being received or handed to the backend) to finish and
// their connections to close in turn. It returns ctx.Err() if ctx expires
// first; the caller may then call Close. A message whose client is cut off
// is never committed: the backend sees its stream fail.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.srv.ShutdownLogged(ctx, s.logger(), "submission")
}

// Close closes the listeners and every connection at once, cancelling the
// contexts of backend calls in flight. Messages being received are not
// committed.
func (s *Server) Close() error { return s.srv.Close() }

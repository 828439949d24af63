package netsrv

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pires/go-proxyproto"

	"github.com/mailfront/mailfront"
	"github.com/mailfront/mailfront/internal/wire"
)

// Errors from [Conn.ReadCommand] and [Conn.ReadLine].
var (
	// ErrShutdown means the server is shutting down; the protocol should
	// say goodbye (BYE, 421) and return.
	ErrShutdown = errors.New("server shutting down")
	// ErrTimeout means the client sent nothing (or not a whole line) within
	// the timeout. It wraps os.ErrDeadlineExceeded.
	ErrTimeout = fmt.Errorf("client timed out: %w", os.ErrDeadlineExceeded)
	// ErrAlreadyTLS is returned by StartTLS on a connection that is already
	// encrypted.
	ErrAlreadyTLS = errors.New("TLS is already active")
)

// Buffer sizes per connection. Small, so idle connections stay cheap.
const (
	readBufferSize  = 4096
	writeBufferSize = 4096
)

// lastWordsTimeout bounds the final writes of a closing connection (a
// refusal, a goodbye left in the buffer), so a client that does not read
// cannot hold its goroutine.
const lastWordsTimeout = 5 * time.Second

// Conn is one client connection as a protocol handler sees it.
type Conn struct {
	srv *Server
	cfg *Config

	raw     net.Conn // as accepted
	netConn net.Conn // raw, or the TLS layer over it
	// R and W are the buffered reader and writer of the connection. After
	// StartTLS they read and write through TLS.
	R  *bufio.Reader
	W  *bufio.Writer
	lr wire.LineReader

	// Ctx is the connection's context, cancelled when the connection ends
	// or the server is closed. Every backend call derives from it.
	Ctx    context.Context
	cancel context.CancelFunc
	// Logger carries the connection's attributes (proto, conn, remote, and
	// tls and user once known).
	Logger *slog.Logger

	id        string
	addr      netip.Addr
	remote    net.Addr
	local     net.Addr
	localCert *x509.Certificate
	started   time.Time
	counted   bool
	implicit  bool
	lastWords atomic.Bool // closing: writes get at most lastWordsTimeout
	userKey   userAddr

	mu          sync.Mutex // guards what follows
	state       mailfront.ConnState
	interrupted bool
	tlsState    *tls.ConnectionState
	username    string
	reason      mailfront.CloseReason
}

func (s *Server) newConn(rw net.Conn, cfg *Config, implicitTLS bool, baseCtx context.Context) *Conn {
	c := &Conn{srv: s, cfg: cfg, raw: rw, netConn: rw, id: s.newID(), started: time.Now(), implicit: implicitTLS, state: -1}
	c.R = bufio.NewReaderSize(rw, readBufferSize)
	c.W = bufio.NewWriterSize(deadlineWriter{c}, writeBufferSize)
	c.lr.R = c.R
	ctx := baseCtx
	if cfg.ConnContext != nil {
		ctx = cfg.ConnContext(ctx, rw)
		if ctx == nil {
			panic("netsrv: ConnContext returned a nil context")
		}
	}
	ctx = mailfront.ContextWithConnInfo(ctx, c.Info)
	c.Ctx, c.cancel = context.WithCancel(ctx)
	c.Logger = cfg.Logger
	return c
}

// ID returns the connection's identifier, unique within the process.
func (c *Conn) ID() string { return c.id }

// Addr returns the client's IP address (from a trusted PROXY header where
// there is one); it is the zero Addr for non-IP transports.
func (c *Conn) Addr() netip.Addr { return c.addr }

// Info returns a snapshot of the connection's facts.
func (c *Conn) Info() mailfront.ConnInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return mailfront.ConnInfo{
		ID:          c.id,
		Protocol:    c.cfg.Protocol,
		RemoteAddr:  c.remote,
		LocalAddr:   c.local,
		TLS:         c.tlsState,
		Username:    c.username,
		CloseReason: c.reason,
	}
}

// TLS returns the TLS state, nil before TLS.
func (c *Conn) TLS() *tls.ConnectionState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tlsState
}

// LocalCertificate returns the certificate presented in the TLS handshake,
// nil before TLS or when it is unknown.
func (c *Conn) LocalCertificate() *x509.Certificate { return c.localCert }

// CanStartTLS reports whether STARTTLS may be offered: the server has a
// certificate and the connection is not yet encrypted.
func (c *Conn) CanStartTLS() bool { return HasCertificate(c.cfg.TLSConfig) && c.TLS() == nil }

// ShuttingDown reports whether the server is shutting down.
func (c *Conn) ShuttingDown() bool { return c.srv.ShuttingDown() }

// SetUser records the authenticated user for logs, ConnInfo and the
// per-user-and-address limit. It returns false, changing nothing, when that
// limit is reached; the protocol then refuses the login.
func (c *Conn) SetUser(username string) bool {
	if !c.srv.acquireUser(c, username) {
		return false
	}
	c.mu.Lock()
	c.username = username
	c.mu.Unlock()
	c.Logger = c.Logger.With(slog.String("user", username))
	return true
}

// SetCloseReason records why the connection is about to end, for the log
// and the ConnState hook. The first reason recorded wins.
func (c *Conn) SetCloseReason(r mailfront.CloseReason) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reason == mailfront.NotClosed {
		c.reason = r
	}
}

func (c *Conn) setState(st mailfront.ConnState) {
	c.mu.Lock()
	changed := c.state != st
	c.state = st
	c.mu.Unlock()
	if changed && c.cfg.ConnState != nil {
		c.cfg.ConnState(c.Info(), st)
	}
}

// serve runs the connection from accept to close.
func (c *Conn) serve() {
	defer c.finish()
	defer func() {
		if v := recover(); v != nil {
			c.Logger.LogAttrs(c.Ctx, slog.LevelError, "panic serving connection",
				slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
			c.SetCloseReason(mailfront.InternalError)
			c.refuse(mailfront.InternalError)
		}
	}()

	// The remote address comes from the PROXY header when a trusted proxy
	// sent one; it is read here, never in the accept loop.
	c.local = c.raw.LocalAddr()
	if pc, ok := c.raw.(*proxyproto.Conn); ok {
		if pc.ProxyHeader() == nil {
			c.remote = c.raw.RemoteAddr()
			c.Logger = c.cfg.Logger.With(slog.String("proto", c.cfg.Protocol), slog.String("conn", c.id))
			c.Logger.LogAttrs(c.Ctx, slog.LevelDebug, "missing or invalid PROXY header", slog.String("peer", c.remote.String()))
			c.SetCloseReason(mailfront.ProtocolError)
			c.srv.acquire(c)
			return
		}
	}
	c.remote = c.raw.RemoteAddr()
	if ap, err := netip.ParseAddrPort(c.remote.String()); err == nil {
		c.addr = ap.Addr().Unmap()
	}
	c.Logger = c.cfg.Logger.With(slog.String("proto", c.cfg.Protocol), slog.String("conn", c.id), slog.String("remote", c.remote.String()))

	ok := c.srv.acquire(c)
	c.setState(mailfront.StateNew)
	if !ok {
		c.Logger.LogAttrs(c.Ctx, slog.LevelWarn, "connection limit reached; refusing connection")
		c.SetCloseReason(mailfront.LimitExceeded)
		c.refuse(mailfront.LimitExceeded)
		return
	}
	if c.srv.ShuttingDown() {
		c.SetCloseReason(mailfront.Shutdown)
		c.refuse(mailfront.Shutdown)
		return
	}
	c.Logger.LogAttrs(c.Ctx, slog.LevelDebug, "connection opened")
	if c.implicit {
		if err := c.handshake(); err != nil {
			return
		}
	}
	c.cfg.Handle(c)
}

// finish closes the connection and reports it.
func (c *Conn) finish() {
	c.lastWords.Store(true)
	c.W.Flush()
	c.netConn.Close()
	c.raw.Close()
	c.cancel()
	c.srv.release(c)
	c.srv.localCerts.Delete(c.raw)
	c.SetCloseReason(mailfront.ReadError)
	info := c.Info()
	c.Logger.LogAttrs(context.Background(), slog.LevelDebug, "connection closed",
		slog.String("reason", info.CloseReason.String()), slog.Duration("duration", time.Since(c.started)))
	c.setState(mailfront.StateClosed)
}

// refuse lets the protocol say its last words, with a short write deadline
// so that a client that does not read cannot hold the goroutine.
func (c *Conn) refuse(reason mailfront.CloseReason) {
	if c.cfg.Refuse == nil {
		return
	}
	c.lastWords.Store(true)
	defer func() {
		if v := recover(); v != nil {
			c.Logger.LogAttrs(context.Background(), slog.LevelError, "panic in refusal", slog.Any("panic", v))
		}
	}()
	c.cfg.Refuse(c, reason)
	c.W.Flush()
}

// handshake runs the server side of a TLS handshake on the current
// connection and switches the buffered reader and writer to it.
func (c *Conn) handshake() error {
	tc := tls.Server(c.netConn, c.cfg.TLSConfig)
	ctx := c.Ctx
	if d := Timeout(c.cfg.HandshakeTimeout, defaultHandshakeTimeout); d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	err := tc.HandshakeContext(ctx)
	c.localCert = c.srv.takeLocalCert(c.netConn)
	if err != nil {
		c.Logger.LogAttrs(c.Ctx, slog.LevelDebug, "TLS handshake failed", slog.Any("err", err))
		c.SetCloseReason(mailfront.TLSHandshakeFailed)
		return err
	}
	cs := tc.ConnectionState()
	c.mu.Lock()
	c.tlsState = &cs
	c.mu.Unlock()
	c.netConn = tc
	c.R.Reset(tc)
	c.W.Reset(deadlineWriter{c})
	c.Logger = c.Logger.With(slog.String("tls", tls.VersionName(cs.Version)))
	return nil
}

// StartTLS upgrades the connection in place (STARTTLS, STLS). The protocol
// must have flushed its "go ahead" reply. Anything the client pipelined after
// the STARTTLS command is discarded before the handshake, so no plaintext
// sent before TLS can be taken as a command after it (CVE-2011-0411 and its
// siblings). On error the connection cannot continue.
func (c *Conn) StartTLS() error {
	if c.TLS() != nil {
		return ErrAlreadyTLS
	}
	if !HasCertificate(c.cfg.TLSConfig) {
		return ErrNoTLSConfig
	}
	if n := c.R.Buffered(); n > 0 {
		c.R.Discard(n)
		c.Logger.LogAttrs(c.Ctx, slog.LevelWarn, "discarded plaintext pipelined after STARTTLS", slog.Int("bytes", n))
	}
	return c.handshake()
}

// ReadCommand waits for the next command at a command boundary. While it
// waits the connection is Idle, and Shutdown ends the wait with
// [ErrShutdown]; once a line arrives the connection is Active. timeout bounds
// the wait for the whole line (<= 0: none); past it the error is
// [ErrTimeout]. A line longer than max fails with wire.ErrLineTooLong.
func (c *Conn) ReadCommand(max int, timeout time.Duration) ([]byte, error) {
	c.mu.Lock()
	if c.srv.ShuttingDown() {
		c.mu.Unlock()
		return nil, ErrShutdown
	}
	changed := c.state != mailfront.StateIdle
	c.state = mailfront.StateIdle
	c.interrupted = false
	c.setReadDeadlineLocked(timeout)
	c.mu.Unlock()
	if changed && c.cfg.ConnState != nil {
		c.cfg.ConnState(c.Info(), mailfront.StateIdle)
	}

	line, err := c.lr.ReadLine(max)

	c.mu.Lock()
	interrupted := c.interrupted
	c.mu.Unlock()
	if interrupted || (err != nil && c.srv.ShuttingDown() && errors.Is(err, os.ErrDeadlineExceeded)) {
		return nil, ErrShutdown
	}
	if err != nil {
		return nil, c.mapReadErr(err)
	}
	c.setState(mailfront.StateActive)
	return line, nil
}

// ReadLine reads a line inside a command (a SASL response, IDLE's DONE)
// without changing the connection state.
func (c *Conn) ReadLine(max int, timeout time.Duration) ([]byte, error) {
	c.mu.Lock()
	c.setReadDeadlineLocked(timeout)
	c.mu.Unlock()
	line, err := c.lr.ReadLine(max)
	if err != nil {
		return nil, c.mapReadErr(err)
	}
	return line, nil
}

// SetReadTimeout sets the deadline for reads made directly on R (message
// data, literals); <= 0 removes it.
func (c *Conn) SetReadTimeout(timeout time.Duration) {
	c.mu.Lock()
	c.setReadDeadlineLocked(timeout)
	c.mu.Unlock()
}

// SetWriteTimeout sets the deadline for writes made through W without
// [Conn.Flush]: a long streamed response (POP3 RETR, an IMAP literal) whose
// bytes reach the network as W's buffer fills. Calling it before each chunk
// bounds every stall rather than the whole transfer; <= 0 removes it.
func (c *Conn) SetWriteTimeout(timeout time.Duration) {
	if timeout > 0 {
		c.netConn.SetWriteDeadline(time.Now().Add(timeout))
	} else {
		c.netConn.SetWriteDeadline(time.Time{})
	}
}

func (c *Conn) setReadDeadlineLocked(timeout time.Duration) {
	if timeout > 0 {
		c.netConn.SetReadDeadline(time.Now().Add(timeout))
	} else {
		c.netConn.SetReadDeadline(time.Time{})
	}
}

func (c *Conn) mapReadErr(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return ErrTimeout
	}
	return err
}

// interruptIfIdle wakes a connection waiting in ReadCommand so that it sees
// the shutdown. Called with the server's lock held.
func (c *Conn) interruptIfIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == mailfront.StateIdle && !c.interrupted {
		c.interrupted = true
		c.netConn.SetReadDeadline(time.Now())
	}
}

// forceClose closes the connection at once (Server.Close).
func (c *Conn) forceClose() {
	c.mu.Lock()
	if c.reason == mailfront.NotClosed {
		c.reason = mailfront.Shutdown
	}
	c.mu.Unlock()
	// Close before cancelling, so a handler woken by the cancellation
	// cannot write a reply to a connection Close is ending.
	c.raw.Close()
	c.cancel()
}

// Flush writes buffered output. Every write to the network, whether from
// Flush or from W filling up during a long response, is bounded by the write
// timeout on its own, so a stall is caught wherever it happens and a long
// transfer to a reading client never times out.
func (c *Conn) Flush() error {
	return c.W.Flush()
}

// deadlineWriter writes to the connection's current transport (plain or
// TLS) with a fresh write deadline for each write.
type deadlineWriter struct{ c *Conn }

func (w deadlineWriter) Write(p []byte) (int, error) {
	t := w.c.cfg.WriteTimeout
	if w.c.lastWords.Load() && (t <= 0 || t > lastWordsTimeout) {
		t = lastWordsTimeout
	}
	if t > 0 {
		w.c.netConn.SetWriteDeadline(time.Now().Add(t))
	}
	return w.c.netConn.Write(p)
}

// Trace logs one protocol line at mailfront.LevelTrace; dir is "C" for the
// client and "S" for the server. Callers redact secrets before calling.
func (c *Conn) Trace(dir, line string) {
	if !c.Logger.Enabled(c.Ctx, mailfront.LevelTrace) {
		return
	}
	c.Logger.LogAttrs(c.Ctx, mailfront.LevelTrace, dir, slog.String("line", line))
}

// TraceEnabled reports whether protocol tracing is on, so callers can skip
// building trace lines.
func (c *Conn) TraceEnabled() bool { return c.Logger.Enabled(c.Ctx, mailfront.LevelTrace) }

// CloseReasonFor classifies a read error for the close reason.
func CloseReasonFor(err error) mailfront.CloseReason {
	switch {
	case err == nil:
		return mailfront.NotClosed
	case errors.Is(err, ErrShutdown):
		return mailfront.Shutdown
	case errors.Is(err, ErrTimeout):
		return mailfront.IdleTimeout
	case errors.Is(err, wire.ErrLineTooLong):
		return mailfront.ProtocolError
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return mailfront.ReadError
	}
	return mailfront.ReadError
}

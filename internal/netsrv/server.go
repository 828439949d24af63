// Package netsrv is the connection machinery the POP3, IMAP and submission
// servers share: the accept loop with back-off, connection tracking with the
// ConnState hook, total, per-address and per-user connection limits, implicit
// TLS and STARTTLS with handshake timeouts, PROXY protocol addresses, panic
// recovery, and Shutdown/Close with net/http semantics adapted to mail.
//
// A protocol package embeds a [Server] in its exported Server, builds a
// [Config] from its fields on each Serve call, and implements the protocol in
// Config.Handle over a [Conn].
package netsrv

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mailfront/mailfront"
)

// ErrServerClosed is returned by Serve after Shutdown or Close. The protocol
// packages export it as their own ErrServerClosed.
var ErrServerClosed = errors.New("mailfront: server closed")

// ErrNoTLSConfig is returned by ServeTLS without a usable TLS configuration.
var ErrNoTLSConfig = errors.New("mailfront: TLS requested but the server has no TLSConfig with a certificate")

// Config is what a protocol server passes to [Server.Serve]: its resolved
// settings and its handler.
type Config struct {
	// Protocol names the protocol in logs and ConnInfo ("pop3", "imap4",
	// "submission").
	Protocol string
	// Logger receives the connection logs; it must not be nil.
	Logger *slog.Logger
	// TLSConfig enables STARTTLS and is required for implicit TLS. Serve
	// clones it.
	TLSConfig *tls.Config
	// HandshakeTimeout bounds a TLS handshake; zero means 30 seconds,
	// negative none.
	HandshakeTimeout time.Duration
	// WriteTimeout bounds each flush of buffered output; <= 0 means none.
	WriteTimeout time.Duration
	// MaxConns, MaxConnsPerAddr and MaxConnsPerUserAddr are connection
	// limits; <= 0 means unlimited.
	MaxConns            int
	MaxConnsPerAddr     int
	MaxConnsPerUserAddr int
	// ConnState, BaseContext and ConnContext are the host's hooks, as in
	// net/http; each may be nil.
	ConnState   func(mailfront.ConnInfo, mailfront.ConnState)
	BaseContext func(net.Listener) context.Context
	ConnContext func(ctx context.Context, c net.Conn) context.Context
	// Refuse writes the protocol's last words when the server ends a
	// connection on its own: a connection limit (LimitExceeded), shutdown
	// before the greeting (Shutdown), or a recovered panic (InternalError).
	// It must only write and flush.
	Refuse func(c *Conn, reason mailfront.CloseReason)
	// Handle serves one connection and returns when it is over. The
	// connection is closed after it returns.
	Handle func(c *Conn)
}

// defaultHandshakeTimeout bounds a TLS handshake when
// Config.HandshakeTimeout is zero.
const defaultHandshakeTimeout = 30 * time.Second

// Server tracks listeners and connections. Its zero value is ready to use.
type Server struct {
	mu         sync.Mutex
	listeners  map[*net.Listener]struct{}
	conns      map[*Conn]struct{}
	perAddr    map[netip.Addr]int
	perUser    map[userAddr]int
	counted    int      // connections that passed the limits
	localCerts sync.Map // net.Conn -> *tls.Certificate chosen in its handshake
	inShutdown atomic.Bool
	nextID     atomic.Uint64
	idPrefix   string
	onceID     sync.Once
}

type userAddr struct {
	user string
	addr netip.Addr
}

// ShuttingDown reports whether Shutdown or Close has been called.
func (s *Server) ShuttingDown() bool { return s.inShutdown.Load() }

// Serve accepts connections on l and serves each with cfg.Handle in its own
// goroutine. With implicitTLS the TLS handshake runs first. Serve always
// closes l and returns a non-nil error: [ErrServerClosed] after Shutdown or
// Close.
func (s *Server) Serve(l net.Listener, cfg Config, implicitTLS bool) error {
	l = &onceCloseListener{Listener: l}
	defer l.Close()

	if cfg.TLSConfig != nil {
		cfg.TLSConfig = s.prepareTLS(cfg.TLSConfig)
	}
	if implicitTLS && !HasCertificate(cfg.TLSConfig) {
		return ErrNoTLSConfig
	}
	if !s.trackListener(&l, true) {
		return ErrServerClosed
	}
	defer s.trackListener(&l, false)

	baseCtx := context.Background()
	if cfg.BaseContext != nil {
		baseCtx = cfg.BaseContext(l)
		if baseCtx == nil {
			panic("netsrv: BaseContext returned a nil context")
		}
	}
	cfg.Logger.LogAttrs(baseCtx, slog.LevelInfo, "listening",
		slog.String("proto", cfg.Protocol), slog.String("addr", l.Addr().String()), slog.Bool("implicit_tls", implicitTLS))

	var delay time.Duration
	for {
		rw, err := l.Accept()
		if err != nil {
			if s.ShuttingDown() {
				return ErrServerClosed
			}
			if isTemporary(err) {
				if delay == 0 {
					delay = 5 * time.Millisecond
				} else {
					delay = min(2*delay, time.Second)
				}
				cfg.Logger.LogAttrs(baseCtx, slog.LevelWarn, "accept error; retrying",
					slog.String("proto", cfg.Protocol), slog.Any("err", err), slog.Duration("delay", delay))
				t := time.NewTimer(delay)
				<-t.C
				continue
			}
			return err
		}
		delay = 0
		c := s.newConn(rw, &cfg, implicitTLS, baseCtx)
		go c.serve()
	}
}

// isTemporary reports whether an accept error is worth retrying: resource
// exhaustion and aborted connections, as net/http does.
func isTemporary(err error) bool {
	if errors.Is(err, net.ErrClosed) {
		return false
	}
	var te interface{ Temporary() bool }
	if errors.As(err, &te) && te.Temporary() {
		return true
	}
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM)
}

func (s *Server) trackListener(l *net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.ShuttingDown() {
			return false
		}
		if s.listeners == nil {
			s.listeners = make(map[*net.Listener]struct{})
		}
		s.listeners[l] = struct{}{}
	} else {
		delete(s.listeners, l)
	}
	return true
}

func (s *Server) newID() string {
	s.onceID.Do(func() {
		var b [3]byte
		rand.Read(b[:])
		s.idPrefix = hex.EncodeToString(b[:])
	})
	return s.idPrefix + "-" + itoa(s.nextID.Add(1))
}

func itoa(n uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// acquire registers c and checks the total and per-address limits.
func (s *Server) acquire(c *Conn) (ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns == nil {
		s.conns = make(map[*Conn]struct{})
		s.perAddr = make(map[netip.Addr]int)
		s.perUser = make(map[userAddr]int)
	}
	s.conns[c] = struct{}{}
	if c.cfg.MaxConns > 0 && s.counted >= c.cfg.MaxConns {
		return false
	}
	if c.addr.IsValid() {
		if c.cfg.MaxConnsPerAddr > 0 && s.perAddr[c.addr] >= c.cfg.MaxConnsPerAddr {
			return false
		}
		s.perAddr[c.addr]++
	}
	c.counted = true
	s.counted++
	return true
}

func (s *Server) release(c *Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	if c.counted {
		s.counted--
		if c.addr.IsValid() {
			if s.perAddr[c.addr]--; s.perAddr[c.addr] <= 0 {
				delete(s.perAddr, c.addr)
			}
		}
	}
	if c.userKey.user != "" {
		if s.perUser[c.userKey]--; s.perUser[c.userKey] <= 0 {
			delete(s.perUser, c.userKey)
		}
	}
}

// acquireUser counts c against the per-user-and-address limit.
func (s *Server) acquireUser(c *Conn, user string) bool {
	key := userAddr{strings.ToLower(user), c.addr}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.userKey == key {
		return true
	}
	if c.cfg.MaxConnsPerUserAddr > 0 && s.perUser[key] >= c.cfg.MaxConnsPerUserAddr {
		return false
	}
	if c.userKey.user != "" {
		if s.perUser[c.userKey]--; s.perUser[c.userKey] <= 0 {
			delete(s.perUser, c.userKey)
		}
	}
	s.perUser[key]++
	c.userKey = key
	return true
}

// Shutdown stops the listeners, ends every connection that is idle at a
// command boundary (the protocol says goodbye: BYE, 421, or for POP3 just a
// close without UPDATE), and waits for commands in flight to finish and their
// connections to end. It returns ctx.Err() if ctx expires first; the caller
// may then call Close.
func (s *Server) Shutdown(ctx context.Context) error {
	s.inShutdown.Store(true)
	s.mu.Lock()
	s.closeListenersLocked()
	s.mu.Unlock()

	poll := time.Millisecond
	timer := time.NewTimer(poll)
	defer timer.Stop()
	for {
		if s.interruptIdle() == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			poll = min(2*poll, 200*time.Millisecond)
			timer.Reset(poll)
		}
	}
}

// ShutdownLogged is [Server.Shutdown] for a protocol server's Shutdown
// method: it logs at Info on logger, with the protocol's name, when the
// shutdown begins and when it ends, with ctx's error if it expired first.
func (s *Server) ShutdownLogged(ctx context.Context, logger *slog.Logger, proto string) error {
	logger.LogAttrs(ctx, slog.LevelInfo, "shutting down", slog.String("proto", proto))
	err := s.Shutdown(ctx)
	if err != nil {
		logger.LogAttrs(ctx, slog.LevelInfo, "shutdown cut short; connections remain", slog.String("proto", proto), slog.Any("err", err))
	} else {
		logger.LogAttrs(ctx, slog.LevelInfo, "shut down", slog.String("proto", proto))
	}
	return err
}

// interruptIdle wakes every idle connection so it notices the shutdown, and
// returns the number of connections still open.
func (s *Server) interruptIdle() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.interruptIfIdle()
	}
	return len(s.conns)
}

// Close closes the listeners and every connection at once, cancelling their
// contexts so backend calls return promptly.
func (s *Server) Close() error {
	s.inShutdown.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.closeListenersLocked()
	for c := range s.conns {
		c.forceClose()
	}
	return err
}

func (s *Server) closeListenersLocked() error {
	var err error
	for l := range s.listeners {
		if cerr := (*l).Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	return err
}

// onceCloseListener makes Close idempotent, as Serve and Shutdown both close.
type onceCloseListener struct {
	net.Listener
	once sync.Once
	err  error
}

func (l *onceCloseListener) Close() error {
	l.once.Do(func() { l.err = l.Listener.Close() })
	return l.err
}

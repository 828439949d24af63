package mailtest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/internal/netsrv"
	"github.com/mailfront/mailfront/store/memstore"
	"github.com/mailfront/mailfront/tlsconfig"
)

// OrPanic returns t, or when t is nil a testing.TB whose failures panic and
// whose Cleanup does nothing: the test servers accept a nil t outside tests
// (Example functions, programs), where the caller closes what it opens.
func OrPanic(t testing.TB) testing.TB {
	if t == nil {
		return panicTB{}
	}
	return t
}

// panicTB is the testing.TB of a nil t. Only the methods the test servers
// call are implemented; the embedded nil interface makes the others panic.
type panicTB struct{ testing.TB }

func (panicTB) Helper()                           {}
func (panicTB) Cleanup(func())                    {}
func (panicTB) Logf(string, ...any)               {}
func (panicTB) Context() context.Context          { return context.Background() }
func (panicTB) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (panicTB) Errorf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

// isNil reports whether t is the stand-in for a nil t.
func isNil(t testing.TB) bool {
	_, ok := t.(panicTB)
	return ok
}

// A Harness is the protocol-independent core of a public test server
// (pop3test.Server, imap4test.Server, submissiontest.Server). It owns the
// certificate, the listeners and the serving goroutines, fills in the
// protocol server's test defaults, manages the users and mail of the
// server's Store, and dials scripted clients. A gate stops the server's
// logs from reaching the test log once the harness is closed (a late log
// line after the test has finished would panic).
//
// The public server passes its Store to each method that uses it, rather
// than the Harness keeping one, because a test may replace the Store
// between NewUnstartedServer and Start.
type Harness struct {
	t         testing.TB
	name      string // the public package, for messages: "pop3test"
	cert      *tlsconfig.SelfSignedCert
	closeOnce sync.Once

	mu          sync.Mutex
	started     bool
	closed      bool
	closeServer func() error // the protocol server's Close, set by Start
	wg          sync.WaitGroup
}

// NewHarness returns a Harness for the test server package name, with a new
// self-signed certificate for localhost, 127.0.0.1 and ::1, and registers
// t.Cleanup to close it.
func NewHarness(t testing.TB, name string) *Harness {
	t = OrPanic(t)
	t.Helper()
	cert, err := tlsconfig.SelfSigned()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	h := &Harness{t: t, name: name, cert: cert}
	t.Cleanup(h.Close)
	return h
}

// T returns the test the harness reports to.
func (h *Harness) T() testing.TB { return h.t }

// A ProtocolServer is what pop3.Server, imap4.Server and
// submission.Server have in common for Start and Close.
type ProtocolServer interface {
	Serve(net.Listener) error
	ServeTLS(net.Listener) error
	Close() error
}

// Fields gives Start the protocol server, and pointers to its fields that
// Start fills in when they are zero: the three server types share these
// fields' names and types, but no interface could reach them. Backend is
// not here: its type and its default differ per protocol.
type Fields struct {
	Server ProtocolServer

	Authenticator   *auth.Authenticator
	TLSConfig       **tls.Config
	LoginPolicy     *auth.LoginPolicy
	Throttle        **auth.Throttle
	MaxConnsPerAddr *int
	Hostname        *string
	Logger          **slog.Logger
}

// Start fills in the protocol server's fields left at their zero value, as
// the public Server types document: Authenticator (the users of st),
// TLSConfig (the certificate, unless plainText), LoginPolicy
// (auth.PlainTextLogin with plainText), Throttle (no delay, no lockout),
// MaxConnsPerAddr (unlimited), Hostname ("localhost") and Logger (the test
// log from logLevel). It adds the default user to st unless a user of that
// address exists, then listens on 127.0.0.1:0 for the server's Serve and,
// unless plainText, on a second listener for its ServeTLS. It returns the listeners'
// addresses (tlsAddr is "" with plainText). A serve function that returns
// anything but ErrServerClosed fails the test. Start panics if called twice
// or after Close.
func (h *Harness) Start(st *memstore.Store, plainText bool, logLevel slog.Leveler, f Fields) (addr, tlsAddr string) {
	h.t.Helper()
	h.mu.Lock()
	if h.started || h.closed {
		h.mu.Unlock()
		panic(h.name + ": Server already started or closed")
	}
	h.started = true
	h.closeServer = f.Server.Close
	h.mu.Unlock()

	users := UsersOf(st)
	if *f.Authenticator == nil {
		*f.Authenticator = users
	}
	if *f.TLSConfig == nil && !plainText {
		*f.TLSConfig = tlsconfig.New(h.cert.GetCertificate)
	}
	if plainText && *f.LoginPolicy == auth.SecureLogin {
		*f.LoginPolicy = auth.PlainTextLogin
	}
	if *f.Throttle == nil {
		*f.Throttle = &auth.Throttle{FailureDelay: -1, MaxFailuresPerAddr: -1, MaxFailuresPerUser: -1, Lockout: -1}
	}
	if *f.MaxConnsPerAddr == 0 {
		*f.MaxConnsPerAddr = -1
	}
	if *f.Hostname == "" {
		*f.Hostname = "localhost"
	}
	if *f.Logger == nil {
		*f.Logger = h.logger(logLevel)
	}
	if !users.Has(DefaultUser) {
		h.AddUser(st, DefaultUser, DefaultPassword)
	}

	addr = h.serve(f.Server.Serve, "Serve")
	if !plainText {
		tlsAddr = h.serve(f.Server.ServeTLS, "ServeTLS")
	}
	return addr, tlsAddr
}

// serve listens on 127.0.0.1:0 and runs f on the listener in a goroutine
// that Close waits for. It returns the listener's address.
func (h *Harness) serve(f func(net.Listener) error, what string) string {
	h.t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.t.Fatalf("%s: listening on 127.0.0.1: %v", h.name, err)
	}
	h.wg.Go(func() {
		if err := f(l); err != nil && !errors.Is(err, netsrv.ErrServerClosed) {
			// Close waits for this goroutine before the test ends,
			// so reporting from here is safe.
			h.t.Errorf("%s: %s: %v", h.name, what, err)
		}
	})
	return l.Addr().String()
}

// Close calls the protocol server's Close (if Start was called), waits for
// the serving goroutines to return, and stops logging to the test. NewHarness
// registers it with t.Cleanup; calling it again does nothing.
func (h *Harness) Close() {
	h.closeOnce.Do(func() {
		h.mu.Lock()
		closeServer := h.closeServer
		h.mu.Unlock()
		if closeServer != nil {
			closeServer()
		}
		h.wg.Wait()
		h.mu.Lock()
		h.closed = true
		h.mu.Unlock()
	})
}

// ClientTLSConfig returns a client configuration that trusts the
// certificate's CA only, with ServerName "localhost" (the certificate also
// names 127.0.0.1 and ::1), so that it verifies whatever loopback address
// the client dials and works as given with net/smtp's Client.StartTLS.
func (h *Harness) ClientTLSConfig() *tls.Config {
	cfg := h.cert.ClientConfig()
	cfg.ServerName = "localhost"
	return cfg
}

// CAPEM returns a copy of the PEM encoding of the CA certificate that
// signed the server's certificate.
func (h *Harness) CAPEM() []byte { return append([]byte(nil), h.cert.CAPEM...) }

// Dial connects a scripted client to addr (with TLS from the first byte
// when implicitTLS), registers t.Cleanup(c.Close) and returns the Conn. The
// TLS handshake, now or at a later STARTTLS, uses ClientTLSConfig. A nil t
// makes failures panic and leaves closing to the caller.
func (h *Harness) Dial(t testing.TB, addr string, implicitTLS bool) *Conn {
	t = OrPanic(t)
	t.Helper()
	if addr == "" {
		t.Fatalf("%s: Dial: no address (the server has not started, or has no such listener)", h.name)
	}
	nc, err := net.DialTimeout("tcp", addr, DefaultTimeout)
	if err != nil {
		t.Fatalf("%s: Dial: %v", h.name, err)
	}
	c := NewConn(t, h.name, nc, h.ClientTLSConfig())
	if implicitTLS {
		c.HandshakeTLS()
	}
	return c
}

// logger returns a logger that writes records at level (nil: Warn) and
// above to the test log, until Close. With a nil t it discards everything.
func (h *Harness) logger(level slog.Leveler) *slog.Logger {
	if isNil(h.t) {
		return slog.New(slog.DiscardHandler)
	}
	if level == nil {
		level = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(logWriter{h}, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// logWriter writes whole log records to the test's output, unless the
// harness is closed.
type logWriter struct{ h *Harness }

func (w logWriter) Write(p []byte) (int, error) {
	w.h.mu.Lock()
	defer w.h.mu.Unlock()
	if !w.h.closed {
		io.WriteString(w.h.t.Output(), w.h.name+" server: "+string(p))
	}
	return len(p), nil
}

// AddUser adds the user to the Directory of st (see UsersOf), or changes
// the password and send-as addresses of an existing one, and creates the
// user's mailboxes in st. It panics for an empty address or one with spaces
// or control characters.
func (h *Harness) AddUser(st *memstore.Store, address, password string, sendAs ...string) {
	if err := UsersOf(st).Add(address, password, sendAs...); err != nil {
		panic(h.name + ": AddUser: " + err.Error())
	}
	if err := st.AddUser(address); err != nil {
		panic(h.name + ": AddUser: " + err.Error())
	}
}

// Deliver puts msg into the INBOX of user in st and returns its UID. It
// panics for an empty user name.
func (h *Harness) Deliver(st *memstore.Store, user, msg string) imap4.UID {
	uid, err := st.Deliver(user, "", []byte(msg))
	if err != nil {
		panic(h.name + ": Deliver: " + err.Error())
	}
	return uid
}

// Reset removes every user and message from st and its Directory, then adds
// the default user again.
func (h *Harness) Reset(st *memstore.Store) {
	st.Reset()
	UsersOf(st).Reset()
	h.AddUser(st, DefaultUser, DefaultPassword)
}

// WaitForMessages waits until the INBOX of user in st holds at least n
// messages and returns them, failing t if they have not arrived within
// DefaultTimeout or when t's context ends.
func (h *Harness) WaitForMessages(t testing.TB, st *memstore.Store, user string, n int) []memstore.StoredMessage {
	t = OrPanic(t)
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), DefaultTimeout)
	defer cancel()
	msgs, err := st.WaitForMessages(ctx, user, "", n)
	if err != nil {
		t.Fatalf("%s: WaitForMessages(%q, %d): %d message(s) after waiting: %v", h.name, user, n, len(msgs), err)
	}
	return msgs
}

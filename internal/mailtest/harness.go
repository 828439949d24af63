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

// A Harness runs one protocol server for a test: it owns the certificate,
// the listeners and the serving goroutines, and a gate that stops the
// server's logs from reaching the test log once the test server is closed
// (a late log line after the test has finished would panic).
type Harness struct {
	t    testing.TB
	name string
	cert *tlsconfig.SelfSignedCert

	mu      sync.Mutex
	started bool
	closed  bool
	wg      sync.WaitGroup
}

// NewHarness returns a Harness for the test server package name, with a new
// self-signed certificate for localhost, 127.0.0.1 and ::1.
func NewHarness(t testing.TB, name string) *Harness {
	t = OrPanic(t)
	t.Helper()
	cert, err := tlsconfig.SelfSigned()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &Harness{t: t, name: name, cert: cert}
}

// T returns the test the harness reports to.
func (h *Harness) T() testing.TB { return h.t }

// Cert returns the server certificate.
func (h *Harness) Cert() *tlsconfig.SelfSignedCert { return h.cert }

// ServerTLSConfig returns a server configuration serving the certificate.
func (h *Harness) ServerTLSConfig() *tls.Config { return tlsconfig.New(h.cert.GetCertificate) }

// ClientTLSConfig returns a client configuration that trusts the
// certificate's CA only, with ServerName "localhost" (the certificate also
// names 127.0.0.1 and ::1), so that it verifies whatever loopback address
// the client dials and works as given with net/smtp's Client.StartTLS.
func (h *Harness) ClientTLSConfig() *tls.Config {
	cfg := h.cert.ClientConfig()
	cfg.ServerName = "localhost"
	return cfg
}

// Logger returns a logger that writes records at level and above to the
// test log, until Close. With a nil t it discards everything.
func (h *Harness) Logger(level slog.Leveler) *slog.Logger {
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

// Serve listens on 127.0.0.1:0 and runs serve on that listener and, if
// serveTLS is not nil, serveTLS on a second one, each in its own goroutine.
// It returns the listeners' addresses ("" for a listener not started).
// A serve function that returns anything but ErrServerClosed fails the
// test. Serve panics if called twice or after Close.
func (h *Harness) Serve(serve, serveTLS func(net.Listener) error) (addr, tlsAddr string) {
	h.t.Helper()
	h.mu.Lock()
	if h.started || h.closed {
		h.mu.Unlock()
		panic(h.name + ": Server already started or closed")
	}
	h.started = true
	h.mu.Unlock()

	start := func(f func(net.Listener) error, what string) string {
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
	addr = start(serve, "Serve")
	if serveTLS != nil {
		tlsAddr = start(serveTLS, "ServeTLS")
	}
	return addr, tlsAddr
}

// Close calls closeServer (the protocol server's Close) once, waits for the
// serving goroutines to return, and stops logging to the test. It is safe to
// call more than once and before Serve.
func (h *Harness) Close(closeServer func() error) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	started := h.started
	h.mu.Unlock()
	if started {
		closeServer()
	}
	h.wg.Wait()
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
}

// WaitForMessages waits until the INBOX of user in st holds at least n
// messages and returns them, failing t if they have not arrived within
// DefaultTimeout or when t's context ends.
func WaitForMessages(t testing.TB, name string, st *memstore.Store, user string, n int) []memstore.StoredMessage {
	t = OrPanic(t)
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), DefaultTimeout)
	defer cancel()
	msgs, err := st.WaitForMessages(ctx, user, "", n)
	if err != nil {
		t.Fatalf("%s: WaitForMessages(%q, %d): %d message(s) after waiting: %v", name, user, n, len(msgs), err)
	}
	return msgs
}

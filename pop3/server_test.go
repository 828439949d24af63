package pop3_test

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront"
	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/internal/testutil"
	"github.com/mailfront/mailfront/pop3"
)

// Serve validates the configuration once, closes the listener and returns
// an error rather than serving a port nobody could log in on.
func TestServeValidation(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		name    string
		srv     *pop3.Server
		tls     bool
		wantErr string
	}{
		{"zero value", &pop3.Server{}, false, "Backend is nil"},
		{"no authenticator", &pop3.Server{Backend: h.backend}, false, "Authenticator is nil"},
		{"secure login without TLS", &pop3.Server{Backend: h.backend, Authenticator: h.dir}, false, "no client could log in"},
		{"plaintext-auth without TLS, no challenge mechanism", &pop3.Server{Backend: h.backend, Authenticator: plainOnly{h.dir}, LoginPolicy: auth.PlainTextAuthentication}, false, "no client could log in"},
		{"ServeTLS without TLSConfig", &pop3.Server{Backend: h.backend, Authenticator: h.dir}, true, "TLS requested but the server has no TLSConfig"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := testutil.NewListener()
			var err error
			if tc.tls {
				err = tc.srv.ServeTLS(l)
			} else {
				err = tc.srv.Serve(l)
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
			_, derr := l.Dial()
			assert.Error(t, derr, "the listener is closed")
		})
	}
	// These are valid: a trusted network, plaintext-auth with a
	// challenge-response mechanism, and PlainTextLogin (with a warning).
	for _, srv := range []*pop3.Server{
		{Backend: h.backend, Authenticator: h.dir, TrustedNetworks: h.srv.TrustedNetworks},
		{Backend: h.backend, Authenticator: h.dir, LoginPolicy: auth.PlainTextAuthentication},
		{Backend: h.backend, Authenticator: h.dir, LoginPolicy: auth.PlainTextLogin, Logger: h.srv.Logger},
	} {
		l := testutil.NewListener()
		done := make(chan error, 1)
		go func() { done <- srv.Serve(l) }()
		conn, err := l.Dial()
		require.NoError(t, err)
		c := newClient(t, conn)
		c.expect("+OK")
		conn.Close()
		require.NoError(t, srv.Shutdown(context.Background()))
		assert.ErrorIs(t, <-done, pop3.ErrServerClosed)
	}
	assert.Contains(t, h.logs.String(), "PlainTextLogin accepts passwords without TLS")
}

// Serve after Shutdown returns ErrServerClosed and closes the listener.
func TestServeAfterShutdown(t *testing.T) {
	h := newHarness(t)
	require.NoError(t, h.srv.Shutdown(context.Background()))
	l := testutil.NewListener()
	assert.ErrorIs(t, h.srv.Serve(l), pop3.ErrServerClosed)
	_, err := l.Dial()
	assert.Error(t, err)
}

// One Server serves a plain and an implicit-TLS listener at once; Shutdown
// closes idle connections on both and every Serve returns ErrServerClosed.
func TestServeTwoListeners(t *testing.T) {
	h := newHarness(t)
	plain, implicit := testutil.NewListener(), testutil.NewListener()
	done := make(chan error, 2)
	go func() { done <- h.srv.Serve(plain) }()
	go func() { done <- h.srv.ServeTLS(implicit) }()
	h.l = plain
	a := h.login()
	h.l = implicit
	b := h.dialTLS(untrustedAddr)
	b.cmdOK("USER carol")
	b.cmdOK("PASS carol-pw")
	require.NoError(t, h.srv.Shutdown(context.Background()))
	a.expectEOF()
	b.expectEOF()
	assert.ErrorIs(t, <-done, pop3.ErrServerClosed)
	assert.ErrorIs(t, <-done, pop3.ErrServerClosed)
}

// ListenAndServe and ListenAndServeTLS listen on Addr.
func TestListenAndServe(t *testing.T) {
	h := newHarness(t)
	h.srv.Addr = "127.0.0.1:0"
	errs := make(chan error, 2)
	go func() { errs <- h.srv.ListenAndServe() }()
	go func() { errs <- h.srv.ListenAndServeTLS() }()
	// Whether Shutdown comes before or after they listen, they end with
	// ErrServerClosed.
	require.NoError(t, h.srv.Shutdown(context.Background()))
	assert.ErrorIs(t, <-errs, pop3.ErrServerClosed)
	assert.ErrorIs(t, <-errs, pop3.ErrServerClosed)

	srv := &pop3.Server{Backend: h.backend, Authenticator: h.dir}
	assert.Error(t, srv.ListenAndServeTLS(), "no TLSConfig")
	srv.Addr = "256.0.0.1:99999"
	srv.TLSConfig = serverTLS(t)
	assert.Error(t, srv.ListenAndServe())
}

// The connection's facts reach the backend through the context, and the
// ConnState hook sees the life of a connection.
func TestConnInfoAndStates(t *testing.T) {
	h := newHarness(t)
	var got mailfront.ConnInfo
	h.srv.Backend = pop3.BackendFunc(func(ctx context.Context, id auth.Identity) (pop3.Maildrop, error) {
		got, _ = mailfront.ConnInfoFromContext(ctx)
		return h.backend.OpenMaildrop(ctx, id)
	})
	h.start(true)
	c := h.dialTLS(untrustedAddr)
	c.cmdOK("USER alice")
	c.cmdOK("PASS secret")
	c.cmdOK("QUIT")
	c.expectEOF()
	assert.Equal(t, "pop3", got.Protocol)
	assert.Equal(t, "alice", got.Username)
	assert.Equal(t, untrustedAddr, got.RemoteAddr.String())
	require.NotNil(t, got.TLS)
	assert.GreaterOrEqual(t, got.TLS.Version, uint16(tls.VersionTLS12))
	assert.Contains(t, c.greeting, got.ID)
	require.Eventually(t, func() bool { return len(h.closeReasons()) == 1 }, 5*time.Second, time.Millisecond)
	h.mu.Lock()
	defer h.mu.Unlock()
	assert.Equal(t, "new", h.states[0])
	assert.Contains(t, h.states, "active")
	assert.Contains(t, h.states, "idle")
	assert.Equal(t, "closed:client quit", h.states[len(h.states)-1])
}

// A backend returning a nil Maildrop without an error is a bug, reported
// as [SYS/TEMP] rather than a crash.
func TestNilMaildrop(t *testing.T) {
	h := newHarness(t)
	h.srv.Backend = pop3.BackendFunc(func(context.Context, auth.Identity) (pop3.Maildrop, error) { return nil, nil })
	h.start(false)
	c := h.dial()
	c.cmdOK("USER alice")
	assert.Equal(t, "-ERR [SYS/TEMP] Internal error; try again later", c.cmd("PASS secret"))
	c.expectEOF()
}

func TestErrorType(t *testing.T) {
	cause := errors.New("disk on fire")
	err := error(&pop3.Error{Code: pop3.CodeSysTemp, Text: "Try later", Err: cause})
	assert.Equal(t, "pop3: [SYS/TEMP] Try later: disk on fire", err.Error())
	assert.ErrorIs(t, err, cause)
	assert.Equal(t, "pop3: Gone", (&pop3.Error{Text: "Gone"}).Error())
}

// BaseContext and ConnContext values reach the backend.
func TestContexts(t *testing.T) {
	type key struct{}
	h := newHarness(t)
	var saw []any
	h.srv.BaseContext = func(net.Listener) context.Context { return context.WithValue(context.Background(), key{}, "base") }
	h.srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		return context.WithValue(ctx, key{}, ctx.Value(key{}).(string)+"+conn")
	}
	h.srv.Backend = pop3.BackendFunc(func(ctx context.Context, id auth.Identity) (pop3.Maildrop, error) {
		saw = append(saw, ctx.Value(key{}))
		return h.backend.OpenMaildrop(ctx, id)
	})
	h.srv.Logger = slog.New(slog.DiscardHandler)
	h.start(false)
	h.login().cmdOK("QUIT")
	assert.Equal(t, []any{"base+conn"}, saw)
}

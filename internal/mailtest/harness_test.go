package mailtest_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront"
	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/internal/mailtest"
	"github.com/mailfront/mailfront/pop3"
	"github.com/mailfront/mailfront/store/memstore"
	"github.com/mailfront/mailfront/tlsconfig"
)

// The harness is tested with a POP3 server, the simplest of the three it
// serves; the public packages test their own protocol's use of it.

// testServer is what the public packages build around a Harness.
type testServer struct {
	h   *mailtest.Harness
	srv *pop3.Server
	st  *memstore.Store

	addr, tlsAddr string
}

func newTestServer(t testing.TB) *testServer {
	return &testServer{h: mailtest.NewHarness(t, "xtest"), srv: &pop3.Server{}, st: mailtest.NewStore()}
}

func (s *testServer) start(plainText bool, logLevel slog.Leveler) {
	s.startAs(s.srv, plainText, logLevel)
}

// startAs starts the harness with ps serving in place of s.srv, whose
// fields Start fills in.
func (s *testServer) startAs(ps mailtest.ProtocolServer, plainText bool, logLevel slog.Leveler) {
	srv := s.srv
	if srv.Backend == nil {
		srv.Backend = s.st
	}
	s.addr, s.tlsAddr = s.h.Start(s.st, plainText, logLevel, mailtest.Fields{
		Server:          ps,
		Authenticator:   &srv.Authenticator,
		TLSConfig:       &srv.TLSConfig,
		LoginPolicy:     &srv.LoginPolicy,
		Throttle:        &srv.Throttle,
		MaxConnsPerAddr: &srv.MaxConnsPerAddr,
		Hostname:        &srv.Hostname,
		Logger:          &srv.Logger,
	})
}

// login dials addr, logs in as user and returns the session.
func (s *testServer) login(t testing.TB, addr string, implicitTLS bool, user, password string) *mailtest.Conn {
	c := s.h.Dial(t, addr, implicitTLS)
	c.Expect(c.ReadLine, "+OK")
	c.Send("USER " + user)
	c.Expect(c.ReadLine, "+OK")
	c.Send("PASS " + password)
	c.Expect(c.ReadLine, "+OK")
	return c
}

// Start fills in every field left at its zero value, adds the default
// user, and serves both listeners.
func TestStartFillsDefaults(t *testing.T) {
	s := newTestServer(t)
	s.start(false, nil)
	srv := s.srv
	assert.Same(t, mailtest.UsersOf(s.st), srv.Authenticator)
	require.NotNil(t, srv.TLSConfig)
	assert.Equal(t, auth.SecureLogin, srv.LoginPolicy)
	assert.Equal(t, &auth.Throttle{FailureDelay: -1, MaxFailuresPerAddr: -1, MaxFailuresPerUser: -1, Lockout: -1}, srv.Throttle)
	assert.Equal(t, -1, srv.MaxConnsPerAddr)
	assert.Equal(t, "localhost", srv.Hostname)
	assert.NotNil(t, srv.Logger)
	assert.True(t, mailtest.UsersOf(s.st).Has(mailtest.DefaultUser))
	assert.Equal(t, []string{mailtest.DefaultUser}, s.st.Users(), "the default user's mailboxes exist")

	require.NotEmpty(t, s.addr)
	require.NotEmpty(t, s.tlsAddr)
	assert.NotEqual(t, s.addr, s.tlsAddr)
	c := s.h.Dial(t, s.addr, false)
	c.Expect(c.ReadLine, "+OK")
	s.login(t, s.tlsAddr, true, mailtest.DefaultUser, mailtest.DefaultPassword)
}

// With plainText there is no certificate, no TLS listener, and logins in
// clear are allowed unless the test chose a policy.
func TestStartPlainText(t *testing.T) {
	s := newTestServer(t)
	s.start(true, nil)
	assert.Nil(t, s.srv.TLSConfig)
	assert.Equal(t, auth.PlainTextLogin, s.srv.LoginPolicy)
	assert.Empty(t, s.tlsAddr)
	s.login(t, s.addr, false, mailtest.DefaultUser, mailtest.DefaultPassword)

	chosen := newTestServer(t)
	chosen.srv.LoginPolicy = auth.PlainTextAuthentication
	chosen.start(true, nil)
	assert.Equal(t, auth.PlainTextAuthentication, chosen.srv.LoginPolicy)
}

// Start keeps what the test set, including the default user's password.
func TestStartKeepsSetFields(t *testing.T) {
	s := newTestServer(t)
	a := new(mailtest.Directory)
	cert, err := tlsconfig.SelfSigned()
	require.NoError(t, err)
	cfg := tlsconfig.New(cert.GetCertificate)
	th := &auth.Throttle{}
	logger := slog.New(slog.DiscardHandler)
	s.srv.Authenticator = a
	s.srv.TLSConfig = cfg
	s.srv.Throttle = th
	s.srv.MaxConnsPerAddr = 3
	s.srv.Hostname = "pop.example.org"
	s.srv.Logger = logger
	s.h.AddUser(s.st, mailtest.DefaultUser, "changed")
	s.start(false, nil)

	assert.Same(t, a, s.srv.Authenticator)
	assert.Same(t, cfg, s.srv.TLSConfig)
	assert.Same(t, th, s.srv.Throttle)
	assert.Equal(t, 3, s.srv.MaxConnsPerAddr)
	assert.Equal(t, "pop.example.org", s.srv.Hostname)
	assert.Same(t, logger, s.srv.Logger)
	_, err = mailtest.UsersOf(s.st).Authenticate(t.Context(), mailtest.DefaultUser, "changed")
	assert.NoError(t, err, "Start keeps the password of an existing default user (a store shared with a started server)")
}

func TestStartAndCloseMisuse(t *testing.T) {
	s := newTestServer(t)
	s.h.Close()
	s.h.Close()
	assert.PanicsWithValue(t, "xtest: Server already started or closed", func() { s.start(false, nil) }, "Start after Close")

	started := newTestServer(t)
	started.start(false, nil)
	assert.Panics(t, func() { started.start(false, nil) }, "Start twice")
	started.h.Close()
	started.h.Close()
}

// brokenServer's Serve fails at once.
type brokenServer struct{ *pop3.Server }

func (brokenServer) Serve(l net.Listener) error {
	l.Close()
	return errors.New("broken")
}

// A serve function that fails with anything but ErrServerClosed fails the
// test.
func TestServeErrorFailsTheTest(t *testing.T) {
	f := mailtest.NewFakeTB()
	s := newTestServer(f)
	s.startAs(brokenServer{s.srv}, true, nil)
	f.Finish()
	assert.Equal(t, []string{"xtest: Serve: broken"}, f.Failures())
}

// The cleanup NewHarness registers closes the listeners and the
// connections; TestMain checks that no goroutine is left behind.
func TestCleanupCloses(t *testing.T) {
	var addr string
	var conn net.Conn
	t.Run("inner", func(t *testing.T) {
		s := newTestServer(t)
		s.start(false, nil)
		addr = s.addr
		var err error
		conn, err = net.Dial("tcp", s.addr)
		require.NoError(t, err)
		_, err = conn.Read(make([]byte, 512)) // the greeting: the session is being served
		require.NoError(t, err)
	})
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(time.Minute))
	_, err := conn.Read(make([]byte, 1))
	assert.Error(t, err, "the open connection was closed")
	_, err = net.Dial("tcp", addr)
	assert.Error(t, err, "the listener was closed")
}

// A Conn dialled with a t is closed by that t's cleanup.
func TestConnClosedAtCleanup(t *testing.T) {
	s := newTestServer(t)
	s.start(false, nil)
	f := mailtest.NewFakeTB()
	var c *mailtest.Conn
	require.True(t, f.Run(func(tb testing.TB) { c = s.h.Dial(tb, s.addr, false) }))
	f.Finish()
	_, err := c.NetConn().Write([]byte("NOOP\r\n"))
	assert.Error(t, err)
}

// ClientTLSConfig verifies the certificate with the standard library
// alone, whether the client dials 127.0.0.1 or names localhost; CAPEM is
// the CA that signed it; each harness has its own CA.
func TestClientTLSConfig(t *testing.T) {
	s := newTestServer(t)
	s.start(false, nil)
	for _, name := range []string{"", "localhost", "127.0.0.1"} {
		t.Run("ServerName="+name, func(t *testing.T) {
			cfg := s.h.ClientTLSConfig()
			if name != "" {
				cfg.ServerName = name
			}
			conn, err := tls.Dial("tcp", s.tlsAddr, cfg)
			require.NoError(t, err)
			defer conn.Close()
			line := make([]byte, 3)
			_, err = conn.Read(line)
			require.NoError(t, err)
			assert.Equal(t, "+OK", string(line))
		})
	}

	pemCA := s.h.CAPEM()
	block, _ := pem.Decode(pemCA)
	require.NotNil(t, block)
	ca, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	conn, err := tls.Dial("tcp", s.tlsAddr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	require.NoError(t, err)
	conn.Close()
	pemCA[0] = 'x'
	assert.Equal(t, byte('-'), s.h.CAPEM()[0], "CAPEM returns a copy")

	other := newTestServer(t)
	other.start(false, nil)
	_, err = tls.Dial("tcp", other.tlsAddr, s.h.ClientTLSConfig())
	assert.Error(t, err, "each server has its own CA")
}

// The server's logs reach the test's output at the level asked for and
// above, prefixed with the package name, and stop when the harness is
// closed; by default only warnings and errors are written.
func TestLogs(t *testing.T) {
	f := mailtest.NewFakeTB()
	s := newTestServer(f)
	s.start(false, mailfront.LevelTrace)
	c := s.login(t, s.tlsAddr, true, mailtest.DefaultUser, mailtest.DefaultPassword)
	c.Send("QUIT")
	c.Expect(c.ReadLine, "+OK")
	f.Finish()
	logged := f.Logged()
	assert.Contains(t, logged, "xtest server: ")
	assert.Contains(t, logged, "USER alice@example.org")
	assert.NotContains(t, logged, "time=", "the test log has its own times")
	assert.Empty(t, f.Failures())

	n := len(logged)
	if conn, err := net.Dial("tcp", s.addr); err == nil { // the listener is closed: nothing more is logged
		conn.Close()
	}
	assert.Len(t, f.Logged(), n)

	quiet := mailtest.NewFakeTB()
	s = newTestServer(quiet)
	s.start(false, nil)
	s.login(t, s.tlsAddr, true, mailtest.DefaultUser, mailtest.DefaultPassword)
	quiet.Finish()
	assert.Empty(t, quiet.Logged())
}

// With a nil t failures panic, nothing is logged, and the caller closes.
func TestNilT(t *testing.T) {
	s := newTestServer(nil)
	defer s.h.Close()
	assert.PanicsWithValue(t, "xtest: Dial: no address (the server has not started, or has no such listener)",
		func() { s.h.Dial(nil, "", false) })
	s.start(true, mailfront.LevelTrace)
	c := s.login(nil, s.addr, false, mailtest.DefaultUser, mailtest.DefaultPassword)
	defer c.Close()
	assert.Contains(t, panicValue(func() {
		c.Send("STAT")
		c.Expect(c.ReadLine, "-ERR")
	}), `xtest: Expect("-ERR"): got "+OK 0 0"`)
}

// panicValue returns what f panics with, or nil.
func panicValue(f func()) (v any) {
	defer func() { v = recover() }()
	f()
	return nil
}

// AddUser creates the user in the directory and the store; Deliver and
// Reset panic or restore as the public packages document.
func TestUsersAndMail(t *testing.T) {
	h := mailtest.NewHarness(t, "xtest")
	st := mailtest.NewStore()
	h.AddUser(st, "Bob@example.org", "pw", "@example.net")
	assert.True(t, mailtest.UsersOf(st).Has("bob@example.org"))
	assert.Equal(t, []string{"Bob@example.org"}, st.Users())
	assert.PanicsWithValue(t, `xtest: AddUser: invalid user address ""`, func() { h.AddUser(st, "", "x") })
	assert.Panics(t, func() { h.AddUser(st, "a b@example.org", "x") })

	uid := h.Deliver(st, "bob@example.org", "Subject: one\n\nx\n")
	assert.Equal(t, uid+1, h.Deliver(st, "bob@example.org", "Subject: two\n\nx\n"))
	msgs := h.WaitForMessages(t, st, "bob@example.org", 2)
	assert.Equal(t, "Subject: one\r\n\r\nx\r\n", string(msgs[0].Raw))
	assert.Panics(t, func() { h.Deliver(st, "", "x") })

	h.Reset(st)
	assert.Equal(t, []string{mailtest.DefaultUser}, st.Users())
	assert.False(t, mailtest.UsersOf(st).Has("bob@example.org"))
	assert.True(t, mailtest.UsersOf(st).Has(mailtest.DefaultUser))
}

// WaitForMessages fails the calling test, not the harness's, when the
// messages do not come.
func TestWaitForMessagesFailsThroughT(t *testing.T) {
	h := mailtest.NewHarness(t, "xtest")
	st := mailtest.NewStore()
	f := mailtest.NewFakeTB()
	f.Finish() // its context is over: the wait ends at once
	completed := f.Run(func(tb testing.TB) { h.WaitForMessages(tb, st, mailtest.DefaultUser, 1) })
	assert.False(t, completed)
	require.Len(t, f.Failures(), 1)
	assert.Contains(t, f.Failures()[0], `xtest: WaitForMessages("alice@example.org", 1): 0 message(s)`)
}

package pop3test_test

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/internal/mailtest"
	"github.com/mailfront/mailfront/internal/testutil"
	"github.com/mailfront/mailfront/pop3/pop3test"
)

func TestMain(m *testing.M) { testutil.MainWithLeakCheck(m) }

func TestDefaultsMatchTheOtherPackages(t *testing.T) {
	assert.Equal(t, mailtest.DefaultUser, pop3test.DefaultUser)
	assert.Equal(t, mailtest.DefaultPassword, pop3test.DefaultPassword)
}

// Both listeners serve: STLS then USER/PASS on Addr, USER/PASS at once on
// TLSAddr; before STLS the default policy refuses credentials.
func TestNewServerListeners(t *testing.T) {
	srv := pop3test.NewServer(t)
	require.NotEmpty(t, srv.Addr)
	require.NotEmpty(t, srv.TLSAddr)
	assert.NotEqual(t, srv.Addr, srv.TLSAddr)

	t.Run("plain refuses credentials before STLS", func(t *testing.T) {
		c := srv.Dial(t)
		assert.Contains(t, c.Greeting(), "localhost", "the greeting names the host")
		c.Send("USER " + pop3test.DefaultUser)
		c.Expect("-ERR [AUTH]")
		c.Send("CAPA")
		capa := c.ExpectMultiline("+OK")
		assert.Contains(t, capa, "STLS")
		assert.NotContains(t, capa, "USER")
	})
	t.Run("STLS", func(t *testing.T) {
		c := srv.Dial(t)
		c.StartTLS()
		_, isTLS := c.NetConn().(*tls.Conn)
		assert.True(t, isTLS)
		c.Login(pop3test.DefaultUser, pop3test.DefaultPassword)
		c.Send("QUIT")
		c.Expect("+OK")
	})
	t.Run("implicit TLS", func(t *testing.T) {
		c := srv.DialTLS(t)
		c.Login(pop3test.DefaultUser, pop3test.DefaultPassword)
		c.Send("STAT")
		c.ExpectRegexp(`^\+OK 0 0$`)
	})
}

// ClientTLSConfig and CAPEM give clients the server's CA (the harness's
// tests cover the certificate in detail).
func TestClientTLSConfig(t *testing.T) {
	srv := pop3test.NewServer(t)
	conn, err := tls.Dial("tcp", srv.TLSAddr, srv.ClientTLSConfig())
	require.NoError(t, err)
	defer conn.Close()
	line := make([]byte, 3)
	_, err = conn.Read(line)
	require.NoError(t, err)
	assert.Equal(t, "+OK", string(line))
	assert.Contains(t, string(srv.CAPEM()), "BEGIN CERTIFICATE")
}

// A test changes the configuration between NewUnstartedServer and Start;
// Start keeps what it set.
func TestUnstartedServer(t *testing.T) {
	srv := pop3test.NewUnstartedServer(t)
	assert.Empty(t, srv.Addr)
	srv.Server.LoginPolicy = auth.PlainTextAuthentication
	srv.Server.Hostname = "pop.example.org"
	srv.Server.MaxBadCommandsBeforeLogin = 1
	srv.Start()

	c := srv.Dial(t)
	assert.Contains(t, c.Greeting(), "pop.example.org")
	c.Send("CAPA")
	capa := strings.Join(c.ExpectMultiline("+OK"), "\n")
	assert.Contains(t, capa, "CRAM-MD5", "challenge-response is allowed without TLS under PlainTextAuthentication")
	assert.NotContains(t, capa, "\nUSER")
	c.Send("BOGUS")
	c.Expect("-ERR")
	_, err := c.NetConn().Read(make([]byte, 1))
	assert.Error(t, err, "closed after the one bad command allowed")
}

// A custom Authenticator set before Start replaces the Store's users.
func TestCustomAuthenticator(t *testing.T) {
	srv := pop3test.NewUnstartedServer(t)
	srv.Server.Authenticator = auth.AuthenticatorFunc(func(ctx context.Context, user, pass string) (auth.Identity, error) {
		if user == "carol" && pass == "hunter2" {
			return auth.Identity{Username: "carol@example.org"}, nil
		}
		return auth.Identity{}, auth.ErrInvalidCredentials
	})
	srv.Start()
	srv.Deliver("carol@example.org", "Subject: x\n\nbody\n")

	c := srv.DialTLS(t)
	c.Send("USER " + pop3test.DefaultUser)
	c.Expect("+OK")
	c.Send("PASS " + pop3test.DefaultPassword)
	c.Expect("-ERR [AUTH]")
	c.Login("carol", "hunter2")
	c.Send("STAT")
	c.Expect("+OK 1 ")
}

// AddUser's users log in with every mechanism; a wrong password fails.
func TestAddUser(t *testing.T) {
	srv := pop3test.NewServer(t)
	srv.AddUser("Bob@Example.org", "b0b's pass")

	c := srv.DialTLS(t)
	c.Send("CAPA")
	capa := strings.Join(c.ExpectMultiline("+OK"), "\n")
	for _, mech := range []string{"PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS", "SCRAM-SHA-1", "NTLM", "OAUTHBEARER", "XOAUTH2"} {
		assert.Contains(t, capa, " "+mech, "CAPA offers %s", mech)
	}
	c.Send("USER bob@example.org")
	c.Expect("+OK")
	c.Send("PASS wrong")
	c.Expect("-ERR [AUTH] Authentication failed")
	c.Login("bob@example.org", "b0b's pass")

	// Each subtest logs in as its own user: a POP3 maildrop is locked by one
	// session at a time.
	t.Run("AUTH PLAIN", func(t *testing.T) {
		srv.AddUser("plain@example.org", "pw")
		c := srv.DialTLS(t)
		c.Send("AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00plain@example.org\x00pw")))
		c.Expect("+OK")
	})
	t.Run("CRAM-MD5", func(t *testing.T) {
		srv.AddUser("cram@example.org", "b0b's pass")
		c := srv.DialTLS(t)
		c.Send("AUTH CRAM-MD5")
		m := c.ExpectRegexp(`^\+ (\S+)$`)
		challenge, err := base64.StdEncoding.DecodeString(m[1])
		require.NoError(t, err)
		mac := hmac.New(md5.New, []byte("b0b's pass"))
		mac.Write(challenge)
		c.Send(base64.StdEncoding.EncodeToString([]byte("cram@example.org " + hex.EncodeToString(mac.Sum(nil)))))
		c.Expect("+OK")
	})
	t.Run("changed password", func(t *testing.T) {
		srv.AddUser("carol@example.org", "old")
		srv.AddUser("carol@example.org", "new")
		c := srv.DialTLS(t)
		c.Send("USER carol@example.org")
		c.Expect("+OK")
		c.Send("PASS old")
		c.Expect("-ERR [AUTH]")
		c.Login("carol@example.org", "new")
	})
	assert.Panics(t, func() { srv.AddUser("", "x") })
	assert.Panics(t, func() { srv.AddUser("a b@example.org", "x") })
}

// Deliver, Messages and WaitForMessages see the INBOX the POP3 session
// sees, and POP3 deletions.
func TestDeliverAndWait(t *testing.T) {
	srv := pop3test.NewServer(t)
	assert.Empty(t, srv.Messages("nobody@example.org"))

	srv.Deliver(pop3test.DefaultUser, "Subject: one\n\nfirst\n")
	go srv.Deliver(pop3test.DefaultUser, "Subject: two\n\nsecond\n")
	msgs := srv.WaitForMessages(t, pop3test.DefaultUser, 2)
	require.Len(t, msgs, 2)
	assert.Equal(t, "one", msgs[0].Subject())
	assert.Equal(t, "second\r\n", string(msgs[1].Body))
	assert.Equal(t, "Subject: two\r\n\r\nsecond\r\n", string(msgs[1].Raw))

	c := srv.DialTLS(t)
	c.Login(pop3test.DefaultUser, pop3test.DefaultPassword)
	c.Send("RETR 2")
	assert.Equal(t, []string{"Subject: two", "", "second"}, c.ExpectMultiline("+OK"))
	c.Send("DELE 1")
	c.Expect("+OK")
	c.Send("QUIT")
	c.Expect("+OK")
	msgs = srv.Messages(pop3test.DefaultUser)
	require.Len(t, msgs, 1)
	assert.Equal(t, "two", msgs[0].Subject())
}

func TestPurgeAndReset(t *testing.T) {
	srv := pop3test.NewServer(t)
	srv.AddUser("bob@example.org", "pw")
	srv.Deliver("bob@example.org", "Subject: x\n\n.\n")
	srv.Deliver(pop3test.DefaultUser, "Subject: y\n\n.\n")

	srv.Purge()
	assert.Empty(t, srv.Messages("bob@example.org"))
	assert.Empty(t, srv.Messages(pop3test.DefaultUser))
	c := srv.DialTLS(t)
	c.Login("bob@example.org", "pw")

	srv.Deliver("bob@example.org", "Subject: x\n\n.\n")
	srv.Reset()
	assert.Equal(t, []string{pop3test.DefaultUser}, srv.Store.Users())
	c = srv.DialTLS(t)
	c.Send("USER bob@example.org")
	c.Expect("+OK")
	c.Send("PASS pw")
	c.Expect("-ERR [AUTH]")
	c.Login(pop3test.DefaultUser, pop3test.DefaultPassword)
}

// Two servers sharing a store share its users and messages; the second
// Start does not reset the default user's password.
func TestSharedStore(t *testing.T) {
	a := pop3test.NewServer(t)
	a.AddUser(pop3test.DefaultUser, "changed")
	b := pop3test.NewUnstartedServer(t)
	b.Store = a.Store
	b.Start()

	a.AddUser("bob@example.org", "pw")
	a.Deliver("bob@example.org", "Subject: shared\n\nx\n")
	c := b.DialTLS(t)
	c.Login("bob@example.org", "pw")
	c.Send("STAT")
	c.Expect("+OK 1 ")
	c = b.DialTLS(t)
	c.Login(pop3test.DefaultUser, "changed")
}

// With PlainText the plain listener offers no STLS and takes USER/PASS in
// clear; there is no TLS listener.
func TestPlainText(t *testing.T) {
	srv := pop3test.NewUnstartedServer(t)
	srv.PlainText = true
	srv.Start()
	assert.Empty(t, srv.TLSAddr)
	assert.Equal(t, auth.PlainTextLogin, srv.Server.LoginPolicy)

	c := srv.Dial(t)
	c.Send("CAPA")
	capa := c.ExpectMultiline("+OK")
	assert.NotContains(t, capa, "STLS")
	assert.Contains(t, capa, "USER")
	c.Login(pop3test.DefaultUser, pop3test.DefaultPassword)

	failure := mailtest.MustFail(t, func(tb testing.TB) { srv.DialTLS(tb) })
	assert.Contains(t, failure, "pop3test: Dial: no address")
}

package imap4test_test

import (
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront"
	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/imap4/imap4test"
	"github.com/mailfront/mailfront/internal/mailtest"
	"github.com/mailfront/mailfront/internal/testutil"
)

func TestMain(m *testing.M) { testutil.MainWithLeakCheck(m) }

func TestDefaultsMatchTheOtherPackages(t *testing.T) {
	assert.Equal(t, mailtest.DefaultUser, imap4test.DefaultUser)
	assert.Equal(t, mailtest.DefaultPassword, imap4test.DefaultPassword)
}

// Both listeners serve; before STARTTLS the default policy refuses LOGIN.
func TestNewServerListeners(t *testing.T) {
	srv := imap4test.NewServer(t)
	require.NotEmpty(t, srv.Addr)
	require.NotEmpty(t, srv.TLSAddr)

	t.Run("plain refuses LOGIN before STARTTLS", func(t *testing.T) {
		c := srv.Dial(t)
		assert.Contains(t, c.Greeting(), "LOGINDISABLED")
		assert.Contains(t, c.Greeting(), "STARTTLS")
		assert.Contains(t, c.Greeting(), "localhost")
		c.Send("a1 LOGIN alice@example.org secret")
		c.ExpectTagged("a1 NO [PRIVACYREQUIRED]")
	})
	t.Run("STARTTLS", func(t *testing.T) {
		c := srv.Dial(t)
		c.StartTLS()
		_, isTLS := c.NetConn().(*tls.Conn)
		assert.True(t, isTLS)
		caps := c.Command("CAPABILITY")
		require.Len(t, caps, 1)
		assert.NotContains(t, caps[0], "LOGINDISABLED")
		c.Login(imap4test.DefaultUser, imap4test.DefaultPassword)
		c.Send("a9 LOGOUT")
		untagged := c.ExpectTagged("a9 OK")
		assert.Equal(t, []string{"* BYE Logging out"}, untagged)
	})
	t.Run("implicit TLS", func(t *testing.T) {
		c := srv.DialTLS(t)
		c.Login(imap4test.DefaultUser, imap4test.DefaultPassword)
		list := c.Command(`LIST "" "*"`)
		assert.Len(t, list, 6, "INBOX and the five special-use mailboxes")
	})
}

func TestClientTLSConfig(t *testing.T) {
	srv := imap4test.NewServer(t)
	conn, err := tls.Dial("tcp", srv.TLSAddr, srv.ClientTLSConfig())
	require.NoError(t, err)
	defer conn.Close()
	buf := make([]byte, 4)
	_, err = conn.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "* OK", string(buf))
	assert.Contains(t, string(srv.CAPEM()), "BEGIN CERTIFICATE")
}

func TestUnstartedServer(t *testing.T) {
	srv := imap4test.NewUnstartedServer(t)
	srv.Server.AppendLimit = 1000
	srv.Server.LoginPolicy = auth.PlainTextAuthentication
	srv.Start()
	c := srv.Dial(t)
	assert.Contains(t, c.Greeting(), "AUTH=CRAM-MD5", "challenge-response before TLS under PlainTextAuthentication")
	c.StartTLS()
	c.Login(imap4test.DefaultUser, imap4test.DefaultPassword)
	caps := c.Command("CAPABILITY")
	assert.Contains(t, caps[0], "APPENDLIMIT=1000")
}

// AddUser's users log in with LOGIN, whatever their password holds, and
// with AUTHENTICATE.
func TestAddUser(t *testing.T) {
	srv := imap4test.NewServer(t)
	for _, pass := range []string{`with "quotes" and \backslash`, "naïve", "a b"} {
		srv.AddUser("bob@example.org", pass)
		c := srv.DialTLS(t)
		c.Login("BOB@example.org", pass)
	}
	c := srv.DialTLS(t)
	c.Send("a1 LOGIN bob@example.org wrong")
	c.ExpectTagged("a1 NO [AUTHENTICATIONFAILED]")
	c.Send("a2 AUTHENTICATE PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00alice@example.org\x00secret")))
	_, tagged := c.ExpectTaggedResponse("a2 OK")
	assert.Contains(t, tagged, "CAPABILITY")

	caps := srv.DialTLS(t).Command("CAPABILITY")[0]
	for _, mech := range []string{"PLAIN", "CRAM-MD5", "SCRAM-SHA-256", "SCRAM-SHA-1-PLUS", "NTLM", "OAUTHBEARER", "XOAUTH2"} {
		assert.Contains(t, caps, "AUTH="+mech)
	}
}

// Deliver shows in a session in IDLE; WaitForMessages and Messages see what
// the session does.
func TestDeliverIdleAndWait(t *testing.T) {
	srv := imap4test.NewServer(t)
	c := srv.DialTLS(t)
	c.Login(imap4test.DefaultUser, imap4test.DefaultPassword)
	c.Command("SELECT INBOX")
	c.Send("a5 IDLE")
	c.Expect("+ ")
	uid := srv.Deliver(imap4test.DefaultUser, "Subject: first\n\nbody {5}\nnot a literal\n")
	c.Expect("* 1 EXISTS")
	c.Send("DONE")
	c.ExpectTagged("a5 OK")

	fetch := c.Command(fmt.Sprintf("UID FETCH %d (BODY[] FLAGS)", uid))
	require.Len(t, fetch, 1)
	lits := imap4test.Literals(fetch[0])
	require.Len(t, lits, 1)
	assert.Equal(t, "Subject: first\r\n\r\nbody {5}\r\nnot a literal\r\n", lits[0])
	assert.True(t, strings.HasSuffix(fetch[0], `FLAGS (\Recent \Seen))`), fetch[0]) // new since the session selected INBOX

	msgs := srv.WaitForMessages(t, imap4test.DefaultUser, 1)
	assert.True(t, msgs[0].HasFlag(`\Seen`), "the session's FETCH BODY[] set \\Seen")

	// An APPEND with a synchronizing literal, in parts.
	c.SendRaw("a7 APPEND INBOX {21}\r\n")
	c.Expect("+")
	c.Send("Subject: second\r\n\r\nx")
	c.ExpectTagged("a7 OK")
	msgs = srv.WaitForMessages(t, imap4test.DefaultUser, 2)
	assert.Equal(t, "second", msgs[1].Subject())
}

func TestPurgeAndReset(t *testing.T) {
	srv := imap4test.NewServer(t)
	srv.AddUser("bob@example.org", "pw")
	srv.Deliver("bob@example.org", "Subject: x\n\nx\n")
	c := srv.DialTLS(t)
	c.Login("bob@example.org", "pw")
	c.Command("SELECT INBOX")

	srv.Purge()
	untagged := c.Command("NOOP")
	assert.Contains(t, untagged, "* 1 EXPUNGE", "the session sees the purge")
	assert.Empty(t, srv.Messages("bob@example.org"))

	srv.Reset()
	assert.Equal(t, []string{imap4test.DefaultUser}, srv.Store.Users())
	c = srv.DialTLS(t)
	c.Send("a1 LOGIN bob@example.org pw")
	c.ExpectTagged("a1 NO")
	c.Login(imap4test.DefaultUser, imap4test.DefaultPassword)
}

func TestSharedStore(t *testing.T) {
	a := imap4test.NewServer(t)
	b := imap4test.NewUnstartedServer(t)
	b.Store = a.Store
	b.Start()
	b.AddUser("bob@example.org", "pw")
	uid := a.Deliver("bob@example.org", "Subject: shared\n\nx\n")

	c := a.DialTLS(t)
	c.Login("bob@example.org", "pw")
	c.Command("SELECT INBOX")
	c.Command(fmt.Sprintf(`UID STORE %d +FLAGS (\Flagged)`, uid))
	c2 := b.DialTLS(t)
	c2.Login("bob@example.org", "pw")
	c2.Command("SELECT INBOX")
	fetch := c2.Command("FETCH 1 FLAGS")
	assert.Contains(t, fetch[0], `\Flagged`)
}

func TestPlainText(t *testing.T) {
	srv := imap4test.NewUnstartedServer(t)
	srv.PlainText = true
	srv.Start()
	assert.Empty(t, srv.TLSAddr)
	c := srv.Dial(t)
	assert.NotContains(t, c.Greeting(), "STARTTLS")
	assert.NotContains(t, c.Greeting(), "LOGINDISABLED")
	c.Login(imap4test.DefaultUser, imap4test.DefaultPassword)
}

func TestLogLevel(t *testing.T) {
	f := mailtest.NewFakeTB()
	srv := imap4test.NewUnstartedServer(f)
	srv.LogLevel = mailfront.LevelTrace
	srv.Start()
	c := srv.DialTLS(t)
	c.Login(imap4test.DefaultUser, imap4test.DefaultPassword)
	c.Command("SELECT INBOX")
	f.Finish()
	logged := f.Logged()
	assert.Contains(t, logged, "imap4test server: ")
	assert.Contains(t, logged, "SELECT INBOX")
	assert.NotContains(t, logged, `"secret"`, "the trace redacts passwords")
	assert.Empty(t, f.Failures())
}

func TestQuote(t *testing.T) {
	assert.Equal(t, `"alice"`, imap4test.Quote("alice"))
	assert.Equal(t, `"a \"b\" \\c"`, imap4test.Quote(`a "b" \c`))
	assert.Equal(t, "{6+}\r\nnaïve", imap4test.Quote("naïve"))
	assert.Equal(t, "{3+}\r\na\nb", imap4test.Quote("a\nb"))
	assert.Equal(t, `""`, imap4test.Quote(""))
}

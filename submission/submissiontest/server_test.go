package submissiontest_test

import (
	"context"
	"crypto/tls"
	"io"
	"net/smtp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront"
	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/imap4/imap4test"
	"github.com/mailfront/mailfront/internal/mailtest"
	"github.com/mailfront/mailfront/internal/testutil"
	"github.com/mailfront/mailfront/pop3/pop3test"
	"github.com/mailfront/mailfront/submission"
	"github.com/mailfront/mailfront/submission/submissiontest"
)

func TestMain(m *testing.M) { testutil.MainWithLeakCheck(m) }

func TestDefaultsMatchTheOtherPackages(t *testing.T) {
	assert.Equal(t, mailtest.DefaultUser, submissiontest.DefaultUser)
	assert.Equal(t, mailtest.DefaultPassword, submissiontest.DefaultPassword)
}

const msg = "From: alice@example.org\nTo: bob@example.com\nSubject: Hi\n\n.hidden dot\nbody\n"

// Both listeners serve; before STARTTLS the default policy hides AUTH.
func TestNewServerListeners(t *testing.T) {
	srv := submissiontest.NewServer(t)
	require.NotEmpty(t, srv.Addr)
	require.NotEmpty(t, srv.TLSAddr)

	t.Run("plain hides AUTH before STARTTLS", func(t *testing.T) {
		c := srv.Dial(t)
		assert.Contains(t, c.Greeting(), "220 localhost ESMTP")
		ext := c.Hello()
		assert.Contains(t, ext, "STARTTLS")
		for _, e := range ext {
			assert.NotContains(t, e, "AUTH")
		}
		c.Send("AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHNlY3JldA==")
		c.Expect("530 5.7.0 Must issue a STARTTLS command first")
		c.Send("MAIL FROM:<alice@example.org>")
		c.Expect("530")
	})
	t.Run("STARTTLS", func(t *testing.T) {
		c := srv.Dial(t)
		c.Hello()
		c.StartTLS()
		_, isTLS := c.NetConn().(*tls.Conn)
		assert.True(t, isTLS)
		ext := strings.Join(c.Hello(), "\n")
		assert.Regexp(t, `(?m)^AUTH .*\bPLAIN\b`, ext)
		assert.NotContains(t, ext, "STARTTLS")
		c.Login(submissiontest.DefaultUser, submissiontest.DefaultPassword)
		reply := c.SendMail(submissiontest.DefaultUser, []string{"bob@example.com"}, msg)
		assert.Regexp(t, `^250 2\.0\.0 `, reply)
		c.Send("QUIT")
		c.Expect("221")
	})
	t.Run("implicit TLS", func(t *testing.T) {
		c := srv.DialTLS(t)
		c.Hello()
		c.Login(submissiontest.DefaultUser, submissiontest.DefaultPassword)
		c.SendMail(submissiontest.DefaultUser, []string{"bob@example.com"}, msg)
	})

	msgs := srv.WaitForMessages(t, "bob@example.com", 2)
	assert.Equal(t, "Hi", msgs[0].Subject())
	assert.Equal(t, ".hidden dot\r\nbody\r\n", string(msgs[0].Body), "SendMail dot-stuffs")
	assert.Contains(t, msgs[0].Header.Get("Received"), "ESMTPSA")
}

// net/smtp works in a few lines with ClientTLSConfig, on both listeners.
func TestNetSMTP(t *testing.T) {
	srv := submissiontest.NewServer(t)
	a := smtp.PlainAuth("", submissiontest.DefaultUser, submissiontest.DefaultPassword, "127.0.0.1")

	c, err := smtp.Dial(srv.Addr)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.StartTLS(srv.ClientTLSConfig()))
	require.NoError(t, c.Auth(a))
	require.NoError(t, c.Mail(submissiontest.DefaultUser))
	require.NoError(t, c.Rcpt("bob@example.com"))
	w, err := c.Data()
	require.NoError(t, err)
	_, err = w.Write([]byte(msg))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	require.NoError(t, c.Quit())

	conn, err := tls.Dial("tcp", srv.TLSAddr, srv.ClientTLSConfig())
	require.NoError(t, err)
	c2, err := smtp.NewClient(conn, "127.0.0.1")
	require.NoError(t, err)
	defer c2.Close()
	require.NoError(t, c2.Auth(a))
	require.NoError(t, c2.Quit())

	assert.Len(t, srv.WaitForMessages(t, "bob@example.com", 1), 1)
}

// net/smtp.SendMail, which cannot be given a CA, works with PlainText.
func TestPlainTextSendMail(t *testing.T) {
	srv := submissiontest.NewUnstartedServer(t)
	srv.PlainText = true
	srv.Start()
	assert.Empty(t, srv.TLSAddr)

	err := smtp.SendMail(srv.Addr,
		smtp.PlainAuth("", submissiontest.DefaultUser, submissiontest.DefaultPassword, "127.0.0.1"),
		submissiontest.DefaultUser, []string{"bob@example.com"}, []byte(msg))
	require.NoError(t, err)
	assert.Len(t, srv.WaitForMessages(t, "bob@example.com", 1), 1)

	t.Run("and fails without it", func(t *testing.T) {
		secure := submissiontest.NewServer(t)
		err := smtp.SendMail(secure.Addr, nil, submissiontest.DefaultUser, []string{"bob@example.com"}, []byte(msg))
		assert.ErrorContains(t, err, "certificate", "SendMail verifies against the system roots")
	})
}

// AddUser's sendAs decides which senders a user may use; SenderPolicy set
// before Start overrides it.
func TestAddUserSendAs(t *testing.T) {
	srv := submissiontest.NewServer(t)
	srv.AddUser("app@example.org", "pw", "noreply@example.org", "@alerts.example.org")

	c := srv.DialTLS(t)
	c.Hello()
	c.Login("app@example.org", "pw")
	for _, from := range []string{"app@example.org", "noreply@example.org", "pager@alerts.example.org"} {
		c.Send("MAIL FROM:<" + from + ">")
		c.Expect("250")
		c.Send("RSET")
		c.Expect("250")
	}
	c.Send("MAIL FROM:<ceo@example.org>")
	c.Expect("553 5.7.1")

	c = srv.DialTLS(t)
	c.Hello()
	c.Send("AUTH PLAIN AGFwcEBleGFtcGxlLm9yZwB3cm9uZw==") // app@example.org / wrong
	c.Expect("535 5.7.8")

	anyone := submissiontest.NewUnstartedServer(t)
	anyone.Server.SenderPolicy = func(ctx context.Context, id auth.Identity, field submission.SenderField, addr string) error {
		return nil
	}
	anyone.Start()
	c = anyone.DialTLS(t)
	c.Hello()
	c.Login(submissiontest.DefaultUser, submissiontest.DefaultPassword)
	c.SendMail("ceo@example.org", []string{"bob@example.com"}, "From: ceo@example.org\n\nx\n")
}

// Envelopes shows MAIL FROM and every RCPT TO, including Bcc recipients,
// in order; Purge and Reset forget them.
func TestEnvelopes(t *testing.T) {
	srv := submissiontest.NewServer(t)
	assert.Empty(t, srv.Envelopes())
	c := srv.DialTLS(t)
	c.Hello()
	c.Login(submissiontest.DefaultUser, submissiontest.DefaultPassword)
	c.SendMail(submissiontest.DefaultUser, []string{"bob@example.com", "hidden@example.net"}, msg)
	c.SendMail(submissiontest.DefaultUser, []string{"carol@example.com"}, msg)

	envs := srv.Envelopes()
	require.Len(t, envs, 2)
	assert.Equal(t, submissiontest.DefaultUser, envs[0].Identity.Username)
	assert.Equal(t, submissiontest.DefaultUser, envs[0].From)
	require.Len(t, envs[0].Recipients, 2)
	assert.Equal(t, "hidden@example.net", envs[0].Recipients[1].Address)
	assert.Len(t, srv.Messages("hidden@example.net"), 1, "a Bcc recipient gets the message")
	assert.Equal(t, "carol@example.com", envs[1].Recipients[0].Address)

	envs[0].Recipients[0].Address = "changed"
	assert.Equal(t, "bob@example.com", srv.Envelopes()[0].Recipients[0].Address, "Envelopes returns copies")

	srv.Purge()
	assert.Empty(t, srv.Envelopes())
	assert.Empty(t, srv.Messages("bob@example.com"))
	c.SendMail(submissiontest.DefaultUser, []string{"bob@example.com"}, msg)
	assert.Len(t, srv.Envelopes(), 1)
	srv.Deliver("bob@example.com", "Subject: fixture\n\nx\n")
	assert.Equal(t, "fixture", srv.Messages("bob@example.com")[1].Subject(), "Deliver adds to what SMTP delivered")
	assert.Len(t, srv.Envelopes(), 1, "Deliver bypasses SMTP: no envelope")
	srv.Reset()
	assert.Empty(t, srv.Envelopes())
	assert.Equal(t, []string{submissiontest.DefaultUser}, srv.Store.Users())

	custom := submissiontest.NewUnstartedServer(t)
	custom.Server.Backend = submission.BackendFunc(func(ctx context.Context, env *submission.Envelope, r io.Reader) error {
		_, err := io.Copy(io.Discard, r)
		return err
	})
	custom.Start()
	c = custom.DialTLS(t)
	c.Hello()
	c.Login(submissiontest.DefaultUser, submissiontest.DefaultPassword)
	c.SendMail(submissiontest.DefaultUser, []string{"bob@example.com"}, msg)
	assert.Empty(t, custom.Envelopes(), "a custom Backend records nothing")
	assert.Empty(t, custom.Messages("bob@example.com"))
}

// WaitForMessages wakes when code under test sends in the background.
func TestWaitForMessagesInBackground(t *testing.T) {
	srv := submissiontest.NewServer(t)
	errc := make(chan error, 1)
	go func() {
		c, err := smtp.Dial(srv.Addr)
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		if err = c.StartTLS(srv.ClientTLSConfig()); err == nil {
			if err = c.Auth(smtp.PlainAuth("", submissiontest.DefaultUser, submissiontest.DefaultPassword, "127.0.0.1")); err == nil {
				if err = c.Mail(submissiontest.DefaultUser); err == nil {
					if err = c.Rcpt("bob@example.com"); err == nil {
						var w io.WriteCloser
						if w, err = c.Data(); err == nil {
							io.WriteString(w, msg)
							err = w.Close()
						}
					}
				}
			}
		}
		errc <- err
	}()
	msgs := srv.WaitForMessages(t, "bob@example.com", 1)
	require.NoError(t, <-errc)
	assert.Equal(t, "Hi", msgs[0].Subject())
	assert.Len(t, srv.Envelopes(), 1, "the envelope is recorded by the time the message is seen")
}

// A message submitted through submissiontest is read back over IMAP from an
// imap4test server and over POP3 from a pop3test server sharing the store;
// users added on one are known to the others.
func TestSharedStoreAcrossProtocols(t *testing.T) {
	smtpSrv := submissiontest.NewServer(t)
	imapSrv := imap4test.NewUnstartedServer(t)
	imapSrv.Store = smtpSrv.Store
	imapSrv.Start()
	popSrv := pop3test.NewUnstartedServer(t)
	popSrv.Store = smtpSrv.Store
	popSrv.Start()

	imapSrv.AddUser("bob@example.com", "bobpw")
	c := smtpSrv.DialTLS(t)
	c.Hello()
	c.Login(submissiontest.DefaultUser, submissiontest.DefaultPassword)
	c.SendMail(submissiontest.DefaultUser, []string{"bob@example.com"}, msg)

	ic := imapSrv.DialTLS(t)
	ic.Login("bob@example.com", "bobpw")
	ic.Command("SELECT INBOX")
	fetch := ic.Command("UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
	require.Len(t, fetch, 1)
	assert.Contains(t, fetch[0], "Subject: Hi")

	pc := popSrv.DialTLS(t)
	pc.Login("bob@example.com", "bobpw")
	pc.Send("STAT")
	pc.Expect("+OK 1 ")
}

func TestLogLevel(t *testing.T) {
	f := mailtest.NewFakeTB()
	srv := submissiontest.NewUnstartedServer(f)
	srv.LogLevel = mailfront.LevelTrace
	srv.Start()
	c := srv.DialTLS(t)
	c.Hello()
	c.Login(submissiontest.DefaultUser, submissiontest.DefaultPassword)
	c.SendMail(submissiontest.DefaultUser, []string{"bob@example.com"}, msg)
	f.Finish()
	logged := f.Logged()
	assert.Contains(t, logged, "submissiontest server: ")
	assert.Contains(t, logged, "AUTH PLAIN <redacted>")
	assert.NotContains(t, logged, "hidden dot", "message data is summarised")
	assert.Empty(t, f.Failures())
}

package example_test

import (
	"crypto/tls"
	"fmt"
	"net/smtp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/imap4/imap4test"
	"github.com/mailfront/mailfront/submission/submissiontest"
)

const message = "From: alice@example.org\r\n" +
	"To: bob@example.org\r\n" +
	"Subject: Lunch?\r\n" +
	"\r\n" +
	"Noon at the usual place.\r\n"

// sendMail is the code under test: it submits a message the way a Go
// program does with net/smtp, over STARTTLS and with AUTH PLAIN.
func sendMail(addr string, tlsConfig *tls.Config, user, password string) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.StartTLS(tlsConfig); err != nil {
		return err
	}
	if err := c.Auth(smtp.PlainAuth("", user, password, "127.0.0.1")); err != nil {
		return err
	}
	if err := c.Mail(user); err != nil {
		return err
	}
	if err := c.Rcpt("bob@example.org"); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(message)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// TestSendAndReadBack sends a message through a submission server and reads
// it back over IMAP from a server sharing the store.
func TestSendAndReadBack(t *testing.T) {
	smtpSrv := submissiontest.NewServer(t) // both servers close when the test ends
	imapSrv := imap4test.NewUnstartedServer(t)
	imapSrv.Store = smtpSrv.Store // same users, passwords and mailboxes
	imapSrv.Start()
	imapSrv.AddUser("bob@example.org", "bobs-password")

	err := sendMail(smtpSrv.Addr, smtpSrv.ClientTLSConfig(), submissiontest.DefaultUser, submissiontest.DefaultPassword)
	require.NoError(t, err)

	// Bob reads his INBOX, as his mail client would.
	c := imapSrv.Dial(t)
	c.StartTLS()
	c.Login("bob@example.org", "bobs-password")
	c.Command("SELECT INBOX")
	fetch := c.Command("UID FETCH 1:* (ENVELOPE BODY[TEXT])")
	require.Len(t, fetch, 1, "one message")
	assert.Contains(t, fetch[0], `"Lunch?"`, "the ENVELOPE has the subject")
	assert.Equal(t, []string{"Noon at the usual place.\r\n"}, imap4test.Literals(fetch[0]))

	// The same message, parsed, without going through IMAP.
	msgs := smtpSrv.Messages("bob@example.org")
	require.Len(t, msgs, 1)
	assert.Equal(t, "Lunch?", msgs[0].Subject())
	assert.NotEmpty(t, msgs[0].Header.Get("Received"), "the submission server added its trace header")
}

// The same exchange as a runnable example (a nil t makes failures panic and
// leaves closing to the caller).
func Example() {
	smtpSrv := submissiontest.NewServer(nil)
	defer smtpSrv.Close()
	imapSrv := imap4test.NewUnstartedServer(nil)
	defer imapSrv.Close()
	imapSrv.Store = smtpSrv.Store
	imapSrv.Start()
	imapSrv.AddUser("bob@example.org", "bobs-password")

	if err := sendMail(smtpSrv.Addr, smtpSrv.ClientTLSConfig(), submissiontest.DefaultUser, submissiontest.DefaultPassword); err != nil {
		fmt.Println(err)
		return
	}

	c := imapSrv.DialTLS(nil)
	defer c.Close()
	c.Login("bob@example.org", "bobs-password")
	c.Command("SELECT INBOX")
	fetch := c.Command("UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[TEXT])")
	for _, lit := range imap4test.Literals(fetch[0]) {
		fmt.Printf("%q\n", lit)
	}
	// Output:
	// "Subject: Lunch?\r\n\r\n"
	// "Noon at the usual place.\r\n"
}

package submissiontest_test

import (
	"fmt"
	"log"
	"net/smtp"

	"github.com/mailfront/mailfront/submission/submissiontest"
)

// Code under test sends a message with net/smtp, over STARTTLS with the
// server's client configuration; the test reads what the recipient got and
// the envelope. In a test, pass its t instead of nil: the server is then
// closed when the test ends, and a wait that times out fails the test
// instead of panicking.
func ExampleNewServer() {
	srv := submissiontest.NewServer(nil)
	defer srv.Close()

	// The code under test.
	send := func(addr string) error {
		c, err := smtp.Dial(addr)
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.StartTLS(srv.ClientTLSConfig()); err != nil {
			return err
		}
		if err := c.Auth(smtp.PlainAuth("", submissiontest.DefaultUser, submissiontest.DefaultPassword, "127.0.0.1")); err != nil {
			return err
		}
		if err := c.Mail(submissiontest.DefaultUser); err != nil {
			return err
		}
		for _, rcpt := range []string{"bob@example.com", "audit@example.net"} {
			if err := c.Rcpt(rcpt); err != nil {
				return err
			}
		}
		w, err := c.Data()
		if err != nil {
			return err
		}
		fmt.Fprint(w, "From: alice@example.org\r\nTo: bob@example.com\r\nSubject: Lunch\r\n\r\nNoon?\r\n")
		if err := w.Close(); err != nil {
			return err
		}
		return c.Quit()
	}
	if err := send(srv.Addr); err != nil {
		log.Fatal(err)
	}

	msgs := srv.WaitForMessages(nil, "bob@example.com", 1)
	fmt.Printf("%q from %s: %q\n", msgs[0].Subject(), msgs[0].Header.Get("From"), msgs[0].Body)
	fmt.Println("received by the server:", msgs[0].Header.Get("Received") != "")
	env := srv.Envelopes()[0]
	fmt.Println("envelope:", env.Identity.Username, env.From, env.Recipients[0].Address, env.Recipients[1].Address)
	fmt.Println("audit copy:", len(srv.Messages("audit@example.net")))
	// Output:
	// "Lunch" from alice@example.org: "Noon?\r\n"
	// received by the server: true
	// envelope: alice@example.org alice@example.org bob@example.com audit@example.net
	// audit copy: 1
}

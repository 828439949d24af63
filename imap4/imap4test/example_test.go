package imap4test_test

import (
	"fmt"

	"github.com/mailfront/mailfront/imap4/imap4test"
)

// A test delivers a fixture message, logs in after STARTTLS, reads the
// message and marks it deleted, one line per assertion, then checks the
// store. In a test, pass its t instead of nil: the server and the client
// are then closed when the test ends, and a failed expectation fails the
// test with the transcript instead of panicking.
func ExampleNewServer() {
	srv := imap4test.NewServer(nil)
	defer srv.Close()
	uid := srv.Deliver(imap4test.DefaultUser, "From: bob@example.org\nSubject: Hello\n\nHi Alice!\n")

	c := srv.Dial(nil)
	defer c.Close()
	c.StartTLS()
	c.Login(imap4test.DefaultUser, imap4test.DefaultPassword)
	c.Command("SELECT INBOX")
	fetch := c.Command(fmt.Sprintf("UID FETCH %d (FLAGS BODY.PEEK[TEXT])", uid))
	fmt.Printf("%q\n", imap4test.Literals(fetch[0])[0])
	c.Command(fmt.Sprintf(`UID STORE %d +FLAGS (\Deleted)`, uid))
	c.Send("a9 SELECT Nowhere")
	c.ExpectTagged("a9 NO [NONEXISTENT]")

	msgs := srv.Messages(imap4test.DefaultUser)
	fmt.Println(msgs[0].UID, msgs[0].Subject(), msgs[0].Flags)
	// Output:
	// "Hi Alice!\r\n"
	// 1 Hello [\Deleted]
}

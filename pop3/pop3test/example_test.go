package pop3test_test

import (
	"fmt"
	"strings"

	"github.com/mailfront/mailfront/pop3/pop3test"
)

// A test delivers a fixture message, logs in after STLS and reads the
// message back, one line per assertion. In a test, pass its t instead of
// nil: the server and the client are then closed when the test ends, and a
// failed expectation fails the test with the transcript instead of
// panicking.
func ExampleNewServer() {
	srv := pop3test.NewServer(nil)
	defer srv.Close()
	srv.Deliver(pop3test.DefaultUser, "From: bob@example.org\nSubject: Hello\n\nHi Alice!\n")

	c := srv.Dial(nil)
	defer c.Close()
	c.StartTLS()
	c.Login(pop3test.DefaultUser, pop3test.DefaultPassword)
	c.Send("STAT")
	fmt.Println(c.Expect("+OK"))
	c.Send("RETR 1")
	fmt.Println(strings.Join(c.ExpectMultiline("+OK"), "\n"))
	c.Send("DELE 1")
	c.Expect("+OK")
	c.Send("QUIT")
	c.Expect("+OK")

	fmt.Println("left in the INBOX:", len(srv.Messages(pop3test.DefaultUser)))
	// Output:
	// +OK 1 52
	// From: bob@example.org
	// Subject: Hello
	//
	// Hi Alice!
	// left in the INBOX: 0
}

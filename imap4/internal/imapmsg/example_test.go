package imapmsg_test

import (
	"fmt"
	"io"
	"strings"

	"github.com/mailfront/mailfront/imap4/internal/imapmsg"
)

func Example() {
	msg := strings.NewReader("From: Alice <alice@example.org>\r\n" +
		"Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n" +
		"\r\n" +
		"--b\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"\r\n" +
		"Hello!\r\n" +
		"\r\n" +
		"--b\r\n" +
		"Content-Type: application/octet-stream\r\n" +
		"Content-Transfer-Encoding: base64\r\n" +
		"\r\n" +
		"AAEC\r\n" +
		"--b--\r\n")

	s, err := imapmsg.Parse(msg, msg.Size())
	if err != nil {
		panic(err)
	}
	o := imapmsg.RenderOptions{}
	fmt.Printf("ENVELOPE %s\n", s.AppendEnvelope(nil, o))
	fmt.Printf("BODY %s\n", s.AppendBodyStructure(nil, false, o))

	r, n, err := s.SectionReader(msg, imapmsg.Section{Part: []int{1}})
	if err != nil {
		panic(err)
	}
	body, err := io.ReadAll(r)
	if err != nil {
		panic(err)
	}
	fmt.Printf("BODY[1] {%d} %q\n", n, body)

	size, err := s.BinarySize(msg, []int{2})
	if err != nil {
		panic(err)
	}
	fmt.Printf("BINARY.SIZE[2] %d\n", size)

	found, err := s.MatchHeader(msg, "Subject", "GRÜßE")
	if err != nil {
		panic(err)
	}
	fmt.Println("SUBJECT GRÜßE:", found)
	// Output:
	// ENVELOPE (NIL "=?UTF-8?Q?Gr=C3=BC=C3=9Fe?=" (("Alice" NIL "alice" "example.org")) (("Alice" NIL "alice" "example.org")) (("Alice" NIL "alice" "example.org")) NIL NIL NIL NIL NIL)
	// BODY (("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 8 1)("application" "octet-stream" NIL NIL NIL "base64" 4) "mixed")
	// BODY[1] {8} "Hello!\r\n"
	// BINARY.SIZE[2] 3
	// SUBJECT GRÜßE: true
}

func ExampleUnmarshal() {
	msg := strings.NewReader("Subject: cached\r\n\r\nbody\r\n")
	s, err := imapmsg.Parse(msg, msg.Size())
	if err != nil {
		panic(err)
	}
	// A backend stores data with imap4.StructureCache...
	data, _ := s.MarshalBinary()
	// ...and the server decodes it instead of parsing again. On
	// ErrCorrupt (another version, damage), it parses the message.
	c, err := imapmsg.Unmarshal(data)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s\n", c.AppendBodyStructure(nil, true, imapmsg.RenderOptions{}))
	// Output:
	// ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 6 1 NIL NIL NIL NIL)
}

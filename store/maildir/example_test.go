package maildir_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/store/maildir"
	"github.com/mailfront/mailfront/submission"
)

// A Store serves all three servers: here a message is delivered as the
// submission server would, then read as the IMAP server would. In a real
// program the same *Store is the Backend of an imap4.Server, a
// pop3.Server and a submission.Server.
func Example() {
	dir, err := os.MkdirTemp("", "maildir-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	st := &maildir.Store{Root: dir}
	defer st.Close()
	// Make bob a local user before his first login (a host can set
	// Store.IsLocal to consult its user directory instead).
	if err := st.CreateUser(ctx, "bob@example.org"); err != nil {
		log.Fatal(err)
	}

	env := &submission.Envelope{
		Identity:   auth.Identity{Username: "alice@example.org"},
		From:       "alice@example.org",
		Recipients: []submission.Recipient{{Address: "bob@example.org"}},
	}
	if err := st.CheckRecipient(ctx, env, env.Recipients[0]); err != nil {
		log.Fatal(err)
	}
	body := "From: alice@example.org\r\nTo: bob@example.org\r\nSubject: Hello\r\n\r\nHi Bob!\r\n"
	if err := st.Submit(ctx, env, strings.NewReader(body)); err != nil {
		log.Fatal(err)
	}

	user, err := st.OpenUser(ctx, auth.Identity{Username: "bob@example.org"})
	if err != nil {
		log.Fatal(err)
	}
	defer user.Close()
	inbox, err := user.OpenMailbox(ctx, "INBOX")
	if err != nil {
		log.Fatal(err)
	}
	defer inbox.Close()
	sd, err := inbox.Sync(ctx, 0)
	if err != nil {
		log.Fatal(err)
	}
	m, err := inbox.Open(ctx, sd.Messages[0].UID)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	content, _ := io.ReadAll(io.NewSectionReader(m, 0, m.Size()))
	fmt.Printf("%d message, UID %d, %d bytes\n", len(sd.Messages), sd.Messages[0].UID, m.Size())
	fmt.Println(strings.Split(string(content), "\r\n")[2])

	list, _ := user.ListMailboxes(ctx)
	for _, mb := range list {
		if mb.SpecialUse == `\Sent` {
			fmt.Println(mb.Name, mb.SpecialUse, "subscribed:", mb.Subscribed)
		}
	}
	// Output:
	// 1 message, UID 1, 73 bytes
	// Subject: Hello
	// Sent \Sent subscribed: true
}

package memstore_test

import (
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/store/memstore"
	"github.com/mailfront/mailfront/submission"
)

// A test puts a fixture message into a user's INBOX and reads back what the
// user has.
func ExampleStore() {
	s := memstore.New()
	if err := s.AddUser("alice@example.org"); err != nil {
		log.Fatal(err)
	}
	uid, err := s.Deliver("alice@example.org", "", []byte("From: bob@example.org\nSubject: =?utf-8?q?Caf=C3=A9?=\n\nSee you at noon.\n"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("delivered UID", uid)

	msgs, err := s.Messages("alice@example.org", "INBOX")
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range msgs {
		fmt.Printf("%d %q from %s: %q (%d octets)\n", m.UID, m.Subject(), m.Header.Get("From"), m.Body, len(m.Raw))
	}
	// Output:
	// delivered UID 1
	// 1 "Café" from bob@example.org: "See you at noon.\r\n" (75 octets)
}

// WaitForMessages waits, without polling, until a message has arrived, here
// through the submission backend that a submission server would call.
func ExampleStore_WaitForMessages() {
	s := memstore.New()
	s.AddUser("bob@example.org")

	go func() {
		env := &submission.Envelope{
			Identity:   auth.Identity{Username: "alice@example.org"},
			From:       "alice@example.org",
			Recipients: []submission.Recipient{{Address: "Bob@Example.org"}},
		}
		msg := "From: alice@example.org\r\nTo: bob@example.org\r\nSubject: lunch\r\n\r\nNoon?\r\n"
		if err := s.Submit(context.Background(), env, strings.NewReader(msg)); err != nil {
			log.Print(err)
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msgs, err := s.WaitForMessages(ctx, "bob@example.org", "INBOX", 1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(msgs[0].Subject())
	// Output:
	// lunch
}

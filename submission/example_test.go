package submission_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/mail"
	"net/netip"
	"net/smtp"
	"net/textproto"
	"time"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/submission"
)

// exampleUsers is the user directory of the examples.
var exampleUsers = auth.AuthenticatorFunc(func(ctx context.Context, username, password string) (auth.Identity, error) {
	if username == "alice@example.org" && password == "secret" {
		return auth.Identity{Username: username}, nil
	}
	return auth.Identity{}, auth.ErrInvalidCredentials
})

func ExampleServer() {
	// The backend: a host's queue or store. Here it prints what it gets.
	backend := submission.BackendFunc(func(ctx context.Context, env *submission.Envelope, msg io.Reader) error {
		m, err := mail.ReadMessage(msg)
		if err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, m.Body); err != nil {
			return err // the client broke a rule or went away: commit nothing
		}
		fmt.Printf("%s from %s to %s: %s\n", env.Identity.Username, env.From, env.Recipients[0].Address, m.Header.Get("Subject"))
		return nil
	})
	srv := &submission.Server{
		Backend:       backend,
		Authenticator: exampleUsers,
		// In production set TLSConfig (and serve 465 with ServeTLS);
		// this example trusts the loopback network instead.
		TrustedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Logger:          slog.New(slog.DiscardHandler),
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(l)
	defer srv.Close()

	login := smtp.PlainAuth("", "alice@example.org", "secret", "127.0.0.1")
	err = smtp.SendMail(l.Addr().String(), login, "alice@example.org", []string{"bob@example.net"},
		[]byte("From: alice@example.org\r\nSubject: Hello\r\n\r\nHi Bob.\r\n"))
	fmt.Println("sent:", err)

	// Sending as someone else is refused.
	err = smtp.SendMail(l.Addr().String(), login, "bob@example.org", []string{"carol@example.net"},
		[]byte("Subject: Spoof\r\n\r\n"))
	var refusal *textproto.Error
	if errors.As(err, &refusal) {
		fmt.Println("spoof:", refusal.Code, refusal.Msg)
	}
	// Output:
	// alice@example.org from alice@example.org to bob@example.net: Hello
	// sent: <nil>
	// spoof: 553 5.7.1 Sender address <bob@example.org> is not allowed for user alice@example.org
}

func ExampleServer_Shutdown() {
	srv := &submission.Server{
		Backend:         submission.BackendFunc(func(context.Context, *submission.Envelope, io.Reader) error { return nil }),
		Authenticator:   exampleUsers,
		TrustedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Hostname:        "mx.example.org",
		Logger:          slog.New(slog.DiscardHandler),
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()

	// A client that connected and is idle.
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	r.ReadString('\n') // the greeting

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fmt.Println("shutdown:", srv.Shutdown(ctx))
	fmt.Println("serve:", <-served)
	line, _ := r.ReadString('\n')
	fmt.Print("client got: ", line)
	// Output:
	// shutdown: <nil>
	// serve: mailfront: server closed
	// client got: 421 4.3.2 mx.example.org Service shutting down, try again later
}

func ExampleError() {
	// A backend chooses the exact reply with an *Error; 4xx is temporary.
	backend := submission.BackendFunc(func(ctx context.Context, env *submission.Envelope, msg io.Reader) error {
		io.Copy(io.Discard, msg)
		return &submission.Error{Code: 452, Enhanced: "4.2.2", Text: "Mailbox of " + env.Recipients[0].Address + " is full"}
	})
	srv := &submission.Server{
		Backend:         backend,
		Authenticator:   exampleUsers,
		TrustedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Logger:          slog.New(slog.DiscardHandler),
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(l)
	defer srv.Close()
	err = smtp.SendMail(l.Addr().String(), smtp.PlainAuth("", "alice@example.org", "secret", "127.0.0.1"),
		"alice@example.org", []string{"bob@example.net"}, []byte("Subject: x\r\n\r\n"))
	var refusal *textproto.Error
	if errors.As(err, &refusal) {
		fmt.Println(refusal.Code, refusal.Msg)
	}
	// Output:
	// 452 4.2.2 Mailbox of bob@example.net is full
}

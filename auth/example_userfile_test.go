package auth_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/mailfront/mailfront/auth"
)

func ExampleHashPassword() {
	hash, err := auth.HashPassword("correct horse battery staple")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$"))

	ok, err := auth.VerifyPassword(hash, "correct horse battery staple")
	fmt.Println(ok, err)
	ok, err = auth.VerifyPassword(hash, "Tr0ub4dor&3")
	fmt.Println(ok, err)
	// Output:
	// true
	// true <nil>
	// false <nil>
}

func ExampleUsersFile() {
	dir, err := os.MkdirTemp("", "users")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "users")

	// What "mailserver adduser -ntlm alice@example.org" does.
	err = auth.AddUser(path, "alice@example.org", "correct horse battery staple", auth.UserOptions{
		NTLM:   true,
		SendAs: []string{"sales@example.org"},
	})
	if err != nil {
		log.Fatal(err)
	}

	users, err := auth.OpenUsersFile(path)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	id, err := users.Authenticate(ctx, "Alice@Example.org", "correct horse battery staple")
	fmt.Println(id.Username, id.SendAs, err)
	_, err = users.Authenticate(ctx, "alice@example.org", "wrong")
	fmt.Println(errors.Is(err, auth.ErrInvalidCredentials))

	// Mechanisms a server offers over TLS with this directory.
	fmt.Println(auth.SecureLogin.Allowed(users, auth.Transport{Trusted: true}).Mechanisms)
	// Output:
	// alice@example.org [sales@example.org] <nil>
	// true
	// [SCRAM-SHA-256 SCRAM-SHA-1 NTLM PLAIN LOGIN]
}

func ExampleThrottle() {
	var throttle auth.Throttle // shared by every listener
	users := auth.AuthenticatorFunc(func(ctx context.Context, username, password string) (auth.Identity, error) {
		return auth.Identity{}, auth.ErrInvalidCredentials
	})

	client := netip.MustParseAddr("192.0.2.1")
	login := func(username, password string) {
		if err := throttle.Check(client, username); err != nil {
			fmt.Println("refused:", errors.Is(err, auth.ErrThrottled))
			return
		}
		if _, err := users.Authenticate(context.Background(), username, password); err != nil {
			delay := throttle.Failure(client, username)
			fmt.Println("failed, answer after", delay) // a server waits, then answers
			return
		}
		throttle.Success(client, username)
	}
	for range 11 {
		login("alice@example.org", "guess")
	}
	// Output:
	// failed, answer after 2s
	// failed, answer after 4s
	// failed, answer after 8s
	// failed, answer after 15s
	// failed, answer after 15s
	// failed, answer after 15s
	// failed, answer after 15s
	// failed, answer after 15s
	// failed, answer after 15s
	// failed, answer after 15s
	// refused: true
}

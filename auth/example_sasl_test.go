package auth_test

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"fmt"

	"github.com/mailfront/mailfront/auth"
)

// A server carries a PLAIN exchange (RFC 4616): it decodes the client's
// base64 lines, passes them to Next, and sends back what Next returns.
func ExampleNewServerSession() {
	users := auth.AuthenticatorFunc(func(ctx context.Context, username, password string) (auth.Identity, error) {
		// A real directory compares password hashes and does the same
		// work for unknown users.
		if username == "alice@example.org" && subtle.ConstantTimeCompare([]byte(password), []byte("correct horse")) == 1 {
			return auth.Identity{Username: username}, nil
		}
		return auth.Identity{}, auth.ErrInvalidCredentials
	})
	ctx := context.Background()

	s, err := auth.NewServerSession("PLAIN", users, auth.SessionOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	// C: AUTHENTICATE PLAIN (no initial response)
	challenge, done, err := s.Next(ctx, nil)
	fmt.Printf("S: + %s (done=%v, err=%v)\n", base64.StdEncoding.EncodeToString(challenge), done, err)

	// C: AGFsaWNlQGV4YW1wbGUub3JnAGNvcnJlY3QgaG9yc2U=
	resp, _ := base64.StdEncoding.DecodeString("AGFsaWNlQGV4YW1wbGUub3JnAGNvcnJlY3QgaG9yc2U=")
	_, done, err = s.Next(ctx, resp)
	fmt.Printf("done=%v err=%v user=%s\n", done, err, s.Identity().Username)

	// A wrong password fails with ErrInvalidCredentials.
	s, _ = auth.NewServerSession("PLAIN", users, auth.SessionOptions{})
	_, _, err = s.Next(ctx, []byte("\x00alice@example.org\x00wrong"))
	fmt.Println(err)
	// Output:
	// S: +  (done=false, err=<nil>)
	// done=true err=<nil> user=alice@example.org
	// auth: PLAIN: auth: invalid credentials
}

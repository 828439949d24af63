package mailfront_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/netip"

	"github.com/mailfront/mailfront"
	"github.com/mailfront/mailfront/auth"
)

// An Authenticator learns about the connection a login arrives on from the
// context: here, it refuses logins of an administrator from outside the
// office network.
func ExampleConnInfoFromContext() {
	office := netip.MustParsePrefix("192.0.2.0/24")
	users := auth.AuthenticatorFunc(func(ctx context.Context, user, pass string) (auth.Identity, error) {
		if ci, ok := mailfront.ConnInfoFromContext(ctx); ok && user == "admin" {
			ap, err := netip.ParseAddrPort(ci.RemoteAddr.String())
			if err != nil || !office.Contains(ap.Addr()) {
				return auth.Identity{}, auth.ErrInvalidCredentials
			}
		}
		if pass != "secret" {
			return auth.Identity{}, auth.ErrInvalidCredentials
		}
		return auth.Identity{Username: user}, nil
	})

	// Servers put the facts into the context of every call; a test can too.
	ctx := mailfront.ContextWithConnInfo(context.Background(), func() mailfront.ConnInfo {
		return mailfront.ConnInfo{Protocol: "imap4", RemoteAddr: &net.TCPAddr{IP: net.ParseIP("198.51.100.7"), Port: 5000}}
	})
	_, err := users.Authenticate(ctx, "admin", "secret")
	fmt.Println(err)
	id, _ := users.Authenticate(ctx, "alice", "secret")
	fmt.Println(id.Username)
	// Output:
	// auth: invalid credentials
	// alice
}

// Behind HAProxy (or any proxy speaking the PROXY protocol), wrap the
// listener so that limits, throttling and logs see the client's address.
func ExampleProxyListener() {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	l = mailfront.ProxyListener(l, proxies, 0)
	defer l.Close()
	// srv.Serve(l) for any of the pop3, imap4 and submission servers.
	fmt.Println(l.Addr().Network())
	// Output: tcp
}

// A ConnState hook sees every connection's states and why it closed, for
// metrics.
func ExampleConnState() {
	hook := func(ci mailfront.ConnInfo, st mailfront.ConnState) {
		if st == mailfront.StateClosed {
			fmt.Printf("%s connection %s closed: %s\n", ci.Protocol, ci.ID, ci.CloseReason)
		}
	}
	// pop3.Server{ConnState: hook}, imap4.Server{ConnState: hook}, ...
	hook(mailfront.ConnInfo{ID: "a1-7", Protocol: "pop3", CloseReason: mailfront.ClientQuit}, mailfront.StateClosed)
	// Output: pop3 connection a1-7 closed: client quit
}

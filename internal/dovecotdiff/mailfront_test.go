package dovecotdiff_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/pop3"
	"github.com/mailfront/mailfront/store/maildir"
)

// mailfront is our IMAP and POP3 servers over a maildir.Store, in process.
type mailfront struct {
	mailRoot string // the Maildir of testUser is mailRoot/testUser
	imapAddr string
	pop3Addr string
}

// tlogWriter writes the servers' logs to the test log.
type tlogWriter struct{ t *testing.T }

func (w tlogWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

// startMailfront starts our servers as an operator would run them for
// this comparison: plain-text logins allowed (the Dovecot instance has no
// TLS either), over a Maildir store, and closes them at cleanup.
func startMailfront(t *testing.T) *mailfront {
	t.Helper()
	root := filepath.Join(t.TempDir(), "mail")
	st := &maildir.Store{Root: root}
	require.NoError(t, st.CreateUser(context.Background(), testUser))
	users := auth.AuthenticatorFunc(func(ctx context.Context, username, password string) (auth.Identity, error) {
		if username != testUser || password != testPassword {
			return auth.Identity{}, fmt.Errorf("unknown user or wrong password: %w", auth.ErrInvalidCredentials)
		}
		return auth.Identity{Username: username}, nil
	})
	logger := slog.New(slog.NewTextHandler(tlogWriter{t}, &slog.HandlerOptions{Level: slog.LevelError}))
	is := &imap4.Server{
		Backend: st, Authenticator: users, LoginPolicy: auth.PlainTextLogin,
		Hostname: "localhost", Logger: logger, MaxConnsPerUserAddr: 100,
	}
	ps := &pop3.Server{
		Backend: st, Authenticator: users, LoginPolicy: auth.PlainTextLogin,
		Hostname: "localhost", Logger: logger, MaxConnsPerUserAddr: 100,
	}
	li, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	lp, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	di, dp := make(chan error, 1), make(chan error, 1)
	go func() { di <- is.Serve(li) }()
	go func() { dp <- ps.Serve(lp) }()
	t.Cleanup(func() {
		is.Close()
		ps.Close()
		<-di
		<-dp
		st.Close()
	})
	return &mailfront{mailRoot: root, imapAddr: li.Addr().String(), pop3Addr: lp.Addr().String()}
}

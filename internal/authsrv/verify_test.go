package authsrv_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/internal/authsrv"
	"github.com/mailfront/mailfront/internal/netsrv"
	"github.com/mailfront/mailfront/internal/testutil"
)

// verifyProto answers "CHECK user good|bad" with the outcome of
// Session.Verify, so a test sees what the protocol would.
type verifyProto struct {
	srv      netsrv.Server
	cfg      authsrv.Config
	mu       sync.Mutex
	verified []string
	attempts []auth.Attempt
}

func (p *verifyProto) handle(c *netsrv.Conn) {
	sess := authsrv.New(&p.cfg, c)
	for {
		line, err := c.ReadCommand(512, 0)
		if err != nil {
			return
		}
		_, rest, _ := strings.Cut(string(line), " ")
		user, proof, _ := strings.Cut(rest, " ")
		_, err = sess.Verify(c.Ctx, "APOP", user, func(ctx context.Context) (auth.Identity, error) {
			p.mu.Lock()
			p.verified = append(p.verified, user)
			p.mu.Unlock()
			if proof == "good" {
				return auth.Identity{Username: user}, nil
			}
			return auth.Identity{}, fmt.Errorf("digest mismatch: %w", auth.ErrInvalidCredentials)
		})
		switch {
		case err == nil:
			fmt.Fprintf(c.W, "ok\r\n")
		default:
			fmt.Fprintf(c.W, "%v %v\r\n", err, sess.TooManyFailures())
		}
		c.Flush()
	}
}

func startVerify(t *testing.T, policy auth.LoginPolicy) (*verifyProto, *bufio.ReadWriter) {
	p := &verifyProto{}
	p.cfg = authsrv.Config{
		Protocol: "pop3",
		Authenticator: auth.AuthenticatorFunc(func(context.Context, string, string) (auth.Identity, error) {
			return auth.Identity{}, auth.ErrInvalidCredentials
		}),
		Policy:   policy,
		Throttle: &auth.Throttle{FailureDelay: -1, MaxFailuresPerUser: 4},
		OnAttempt: func(_ context.Context, a auth.Attempt) {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.attempts = append(p.attempts, a)
		},
	}
	l := testutil.NewListener()
	done := make(chan error, 1)
	go func() {
		done <- p.srv.Serve(l, netsrv.Config{Protocol: "pop3", Logger: slog.New(slog.DiscardHandler), Handle: p.handle}, false)
	}()
	t.Cleanup(func() { p.srv.Close(); <-done })
	conn, err := l.Dial()
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return p, bufio.NewReadWriter(bufio.NewReader(conn), bufio.NewWriter(conn))
}

func verifyDo(t *testing.T, rw *bufio.ReadWriter, cmd string) string {
	t.Helper()
	fmt.Fprintf(rw, "%s\r\n", cmd)
	require.NoError(t, rw.Flush())
	line, err := rw.ReadString('\n')
	require.NoError(t, err)
	return strings.TrimRight(line, "\r\n")
}

func TestVerifyPolicy(t *testing.T) {
	p, rw := startVerify(t, auth.SecureLogin)
	assert.Equal(t, "auth: encryption required false", verifyDo(t, rw, "CHECK alice good"))
	p.mu.Lock()
	assert.Empty(t, p.verified, "the proof is not checked under SecureLogin without TLS")
	require.Len(t, p.attempts, 1)
	assert.ErrorIs(t, p.attempts[0].Err, auth.ErrEncryptionRequired)
	assert.Equal(t, "APOP", p.attempts[0].Mechanism)
	p.mu.Unlock()

	_, rw = startVerify(t, auth.PlainTextAuthentication)
	assert.Equal(t, "ok", verifyDo(t, rw, "CHECK alice good"), "challenge-response is allowed without TLS under PlainTextAuthentication")
}

func TestVerifyFailuresAndThrottle(t *testing.T) {
	p, rw := startVerify(t, auth.PlainTextLogin)
	assert.Equal(t, "auth: invalid credentials false", verifyDo(t, rw, "CHECK bob bad"))
	assert.Equal(t, "auth: invalid credentials false", verifyDo(t, rw, "CHECK bob bad"))
	assert.Equal(t, "auth: invalid credentials true", verifyDo(t, rw, "CHECK bob bad"), "the third failure uses up the connection's attempts")
	assert.Equal(t, "auth: invalid credentials true", verifyDo(t, rw, "CHECK bob bad"))
	// bob has failed MaxFailuresPerUser times: refused without asking verify.
	assert.Equal(t, "auth: invalid credentials true", verifyDo(t, rw, "CHECK bob good"))
	p.mu.Lock()
	assert.Equal(t, []string{"bob", "bob", "bob", "bob"}, p.verified)
	last := p.attempts[len(p.attempts)-1]
	p.mu.Unlock()
	assert.ErrorIs(t, last.Err, auth.ErrThrottled)
}

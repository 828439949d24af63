package submission_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/submission"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// AUTH LOGIN with the username as initial response and the password after
// a challenge, and without initial response, as clients do it.
func TestAuthLogin(t *testing.T) {
	e := newServer(t, nil)
	c := e.dialGreeted()
	c.ehlo()
	c.cmd("AUTH LOGIN")
	assert.Equal(t, "334 "+b64("Username:"), c.line())
	c.cmd(b64("alice@example.org"))
	assert.Equal(t, "334 "+b64("Password:"), c.line())
	c.cmd(b64("secret"))
	c.expect("235 2.7.0")

	c = e.dialGreeted()
	c.ehlo()
	c.cmd("AUTH LOGIN " + b64("alice@example.org"))
	c.expect("334 ")
	c.cmd(b64("secret"))
	c.expect("235 2.7.0")

	c = e.dialGreeted()
	c.ehlo()
	c.cmd("AUTH PLAIN")
	assert.Equal(t, "334 ", c.line(), "an empty challenge")
	c.cmd(plainIR("alice@example.org", "secret"))
	c.expect("235 2.7.0")
}

// A1: invalid base64 in an initial response or a continuation is a 501;
// only that exchange ends.
func TestA1InvalidBase64(t *testing.T) {
	e := newServer(t, nil)
	c := e.dialGreeted()
	c.ehlo()
	c.run("> AUTH PLAIN !!!notbase64", "< 501 5.5.2")
	c.run("> AUTH LOGIN", "< 334 ", "> ***", "< 501 5.5.2")
	other := e.dialGreeted()
	other.login()
	c.run("> AUTH PLAIN "+plainIR("alice@example.org", "secret"), "< 235 2.7.0")
}

// A2: "*" cancels an exchange with 501; another mechanism then works, and
// cancel loops do not pile up state or count as failures.
func TestA2CancelMidExchange(t *testing.T) {
	e := newServer(t, nil)
	c := e.dialGreeted()
	c.ehlo()
	for range 50 {
		c.run("> AUTH LOGIN", "< 334 ", "> *", "< 501 5.7.0 Authentication cancelled")
	}
	c.run("> AUTH PLAIN "+plainIR("alice@example.org", "secret"), "< 235 2.7.0")
}

// A3: AUTH after AUTH and inside a transaction is 503; an unknown
// mechanism is 504.
func TestA3AuthOrdering(t *testing.T) {
	e := newServer(t, nil)
	c := e.dialGreeted()
	c.ehlo()
	c.run("> AUTH NOSUCH", "< 504 5.5.4")
	c.run("> AUTH PLAIN "+plainIR("alice@example.org", "secret"), "< 235")
	c.run("> AUTH PLAIN "+plainIR("alice@example.org", "secret"), "< 503 5.5.1 Already authenticated")
	c = e.dialGreeted()
	c.run("> AUTH PLAIN "+plainIR("alice@example.org", "secret"), "< 503 5.5.1 Send EHLO first")
}

// A5: oversized SASL data is refused at RFC 4954's 12,288-octet bound, in
// the AUTH line and in a continuation; an 8 KiB OAuth token still works.
func TestA5OversizedSASL(t *testing.T) {
	e := newServer(t, func(s *submission.Server) { s.Authenticator = tokens{} })
	huge := strings.Repeat("QUFB", 256<<10) // 1 MiB of base64
	c := e.dialGreeted()
	c.ehlo()
	go io.WriteString(c.conn, "AUTH PLAIN "+huge+"\r\n")
	c.expect("500 5.5.2 Line too long")
	c.expectEOF()

	c = e.dialGreeted()
	c.ehlo()
	c.run("> AUTH LOGIN", "< 334 ")
	go io.WriteString(c.conn, huge+"\r\n")
	c.expect("500 5.5.6")
	c.expectEOF()

	c = e.dialGreeted()
	c.ehlo()
	token := strings.Repeat("t", 8192)
	ir := b64("user=alice@example.org\x01auth=Bearer " + token + "\x01\x01")
	require.Greater(t, len(ir), 10000)
	c.run("> AUTH XOAUTH2 "+ir, "< 235 2.7.0")
}

// A6: an unknown user and a wrong password get byte-identical replies.
func TestA6IdenticalFailures(t *testing.T) {
	e := newServer(t, nil)
	c := e.dialGreeted()
	c.ehlo()
	c.cmd("AUTH PLAIN " + plainIR("nosuch@example.org", "secret"))
	unknown := c.line()
	c.cmd("AUTH PLAIN " + plainIR("alice@example.org", "wrong"))
	wrong := c.line()
	assert.Equal(t, unknown, wrong)
	assert.Equal(t, "535 5.7.8 Authentication credentials invalid", wrong)
}

// A7: after 3 failures a connection is closed; past the throttle's
// per-address limit attempts are refused without asking the authenticator;
// another address is unaffected.
func TestA7BruteForceThrottling(t *testing.T) {
	a := &countingAuth{}
	var mu sync.Mutex
	var attempts []auth.Attempt
	e := newServer(t, func(s *submission.Server) {
		s.Authenticator = a
		s.OnAuthAttempt = func(_ context.Context, at auth.Attempt) {
			mu.Lock()
			defer mu.Unlock()
			attempts = append(attempts, at)
		}
	})
	for i := range 4 {
		c := e.dialGreeted()
		c.ehlo()
		for j := range 3 {
			c.run(fmt.Sprintf("> AUTH PLAIN %s", plainIR("alice@example.org", fmt.Sprintf("wrong%d%d", i, j))), "< 535 5.7.8")
		}
		c.expect("421 4.7.0 mx.example.org Too many failed authentication attempts")
		c.expectEOF()
	}
	assert.Equal(t, int32(10), a.n.Load(), "attempts past the 10th from one address never reach the authenticator")
	mu.Lock()
	assert.Len(t, attempts, 12, "every attempt is audited")
	assert.Equal(t, "submission", attempts[0].Protocol)
	assert.ErrorIs(t, attempts[11].Err, auth.ErrThrottled)
	mu.Unlock()

	c := e.dialFrom("198.51.100.77:1234")
	c.expect("220")
	c.ehlo()
	c.run("> AUTH PLAIN "+plainIR("bob@example.org", "hunter2"), "< 235 2.7.0")
	assert.Equal(t, []string{"closed:auth failures", "closed:auth failures", "closed:auth failures", "closed:auth failures"}, e.waitClosed(4))
}

// Credentials never reach the log; the trace shows them redacted.
func TestTraceRedaction(t *testing.T) {
	e := newServer(t, nil)
	c := e.dialGreeted()
	c.ehlo()
	c.run("> AUTH LOGIN", "< 334", "> "+b64("alice@example.org"), "< 334", "> "+b64("secret"), "< 235")
	c.sendMessage("alice@example.org", "b@example.net", simpleMsg+".\r\n")
	c.run("> AUTH PLAIN "+plainIR("x", "topsecret"), "< 503")
	logs := e.logs.String()
	for _, secret := range []string{"secret", b64("secret"), plainIR("x", "topsecret"), "Hello."} {
		assert.NotContains(t, logs, secret)
	}
	assert.Contains(t, logs, `line="AUTH PLAIN <redacted>"`)
	assert.Contains(t, logs, `line=<redacted>`)
	assert.Contains(t, logs, `line="{`+fmt.Sprint(len(simpleMsg))+` bytes}"`)
}

// The authentication service being down is a temporary 454, and does not
// count as a failure.
func TestAuthUnavailable(t *testing.T) {
	e := newServer(t, func(s *submission.Server) {
		s.Authenticator = auth.AuthenticatorFunc(func(context.Context, string, string) (auth.Identity, error) {
			return auth.Identity{}, auth.ErrUnavailable
		})
	})
	c := e.dialGreeted()
	c.ehlo()
	for range 5 {
		c.run("> AUTH PLAIN "+plainIR("alice@example.org", "secret"), "< 454 4.7.0")
	}
}

package pop3_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/auth"
)

// A1: invalid base64 in an initial response or a continuation ends only
// that exchange; another connection logs in meanwhile.
func TestA1InvalidBase64(t *testing.T) {
	h := newHarness(t).start(false)
	c := h.dial()
	other := h.dialFrom("198.51.100.1:40001")
	other.cmdOK("USER alice")
	assert.Equal(t, "-ERR Malformed authentication exchange", c.cmd("AUTH PLAIN !!!notbase64"))
	assert.Equal(t, "+ ", c.cmd("AUTH PLAIN"))
	assert.Equal(t, "-ERR Malformed authentication exchange", c.cmd("%%%"))
	assert.Equal(t, "+OK Logged in; maildrop has 3 messages (154 octets)", other.cmd("PASS secret"), "other logins are unaffected")
	assert.Equal(t, "-ERR Command is not valid in this state: log in first", c.cmd("STAT"))
}

// A2: "*" cancels an exchange; a following AUTH with another mechanism
// succeeds; cancel loops end at the bad-command limit.
func TestA2Cancel(t *testing.T) {
	h := newHarness(t).start(false)
	c := h.dial()
	assert.Equal(t, "+ ", c.cmd("AUTH PLAIN"))
	assert.Equal(t, "-ERR Authentication cancelled", c.cmd("*"))
	assert.Equal(t, "+ "+b64("Username:"), c.cmd("AUTH LOGIN"))
	assert.Equal(t, "+ "+b64("Password:"), c.cmd(b64("alice")))
	assert.Equal(t, "+OK Logged in; maildrop has 3 messages (154 octets)", c.cmd(b64("secret")))

	c = h.dial()
	assert.Equal(t, "+ ", c.cmd("AUTH PLAIN"))
	assert.Equal(t, "-ERR Authentication cancelled", c.cmd("*"))
	assert.Equal(t, "-ERR Authentication cancelled", c.cmd("AUTH PLAIN *"), "cancel as the initial response")
	assert.Equal(t, "+ ", c.cmd("AUTH PLAIN"))
	assert.Equal(t, "-ERR Authentication cancelled; too many bad commands, closing connection", c.cmd("*"))
	c.expectEOF()
}

// A3: AUTH out of order or with an unknown mechanism.
func TestA3Ordering(t *testing.T) {
	h := newHarness(t).start(false)
	c := h.dial()
	assert.Equal(t, "-ERR Unsupported authentication mechanism", c.cmd("AUTH GSSAPI"))
	assert.Equal(t, "-ERR Syntax: AUTH mechanism [initial-response]", c.cmd("AUTH PLAIN a b"))
	assert.Equal(t, "+OK Logged in; maildrop has 3 messages (154 octets)", c.cmd("AUTH PLAIN "+b64("\x00alice\x00secret")))
	assert.Equal(t, "-ERR Command is not valid in this state: already logged in", c.cmd("AUTH PLAIN "+b64("\x00alice\x00secret")))
}

// AUTH without an argument lists the mechanisms allowed now.
func TestAuthListing(t *testing.T) {
	h := newHarness(t).start(false)
	c := h.dial()
	assert.Equal(t, "+OK Supported mechanisms follow", c.cmd("AUTH"))
	assert.Equal(t, []string{"CRAM-MD5", "PLAIN", "LOGIN"}, c.multi())
	assert.Equal(t, refusal, h.dialFrom(untrustedAddr).cmd("AUTH"))
}

// tokens adds bearer tokens to the directory: XOAUTH2 and OAUTHBEARER.
type tokens struct{ *directory }

func (tokens) VerifyToken(ctx context.Context, username, token string) (auth.Identity, error) {
	if username == "alice" && token == strings.Repeat("t", 8<<10) {
		return auth.Identity{Username: "alice"}, nil
	}
	return auth.Identity{}, auth.ErrInvalidCredentials
}

// A5: an 8 KiB OAuth token works as a continuation line (RFC 5034 §4 sends
// long initial responses that way); a 1 MiB response is refused at the
// bound and the connection closed; an initial response beyond the command
// line limit is refused as a long line.
func TestA5OversizedSASL(t *testing.T) {
	h := newHarness(t)
	h.srv.Authenticator = tokens{h.dir}
	h.start(false)
	c := h.dial()
	xoauth := b64("user=alice\x01auth=Bearer " + strings.Repeat("t", 8<<10) + "\x01\x01")
	assert.Equal(t, "+ ", c.cmd("AUTH XOAUTH2"))
	assert.Equal(t, "+OK Logged in; maildrop has 3 messages (154 octets)", c.cmd(xoauth))

	c = h.dial()
	assert.Equal(t, "+ ", c.cmd("AUTH PLAIN"))
	go c.conn.Write([]byte(strings.Repeat("A", 1<<20) + "\r\n")) // fails once the server closes
	assert.Equal(t, "-ERR Authentication response too long", c.line())
	c.expectEOF()

	c = h.dial()
	assert.Equal(t, "-ERR Line too long", c.cmd("AUTH XOAUTH2 "+xoauth))
	c.expectEOF()
}

// A6 and P7: USER answers the same for known and unknown users; every
// credential failure gets the same reply, for every login command.
func TestA6Enumeration(t *testing.T) {
	h := newHarness(t)
	h.srv.AllowAPOP = true
	h.srv.MaxAuthFailures = -1
	h.start(false)
	c := h.dial()
	known, unknown := c.cmd("USER alice"), c.cmd("USER nosuchuser")
	assert.Equal(t, "+OK Send your password", known)
	assert.Equal(t, known, unknown)

	failure := "-ERR [AUTH] Authentication failed"
	replies := map[string]string{}
	for _, user := range []string{"alice", "nosuchuser"} {
		c.cmdOK("USER " + user)
		replies["PASS "+user] = c.cmd("PASS wrong")
		replies["PLAIN "+user] = c.cmd("AUTH PLAIN " + b64("\x00"+user+"\x00wrong"))
		replies["APOP "+user] = c.cmd("APOP " + user + " " + md5hex(apopStamp(t, c.greeting)+"wrong"))
	}
	for k, v := range replies {
		assert.Equal(t, failure, v, k)
	}
}

// P7: APOP is off by default (no timestamp, command refused); when on, it
// works for accounts whose directory gives the secret, and an account
// cannot use both APOP and PASS.
func TestP7APOP(t *testing.T) {
	t.Run("off by default", func(t *testing.T) {
		h := newHarness(t).start(false)
		c := h.dial()
		assert.NotContains(t, c.greeting, "<")
		assert.Equal(t, "-ERR APOP is not available", c.cmd("APOP apop 0123456789abcdef0123456789abcdef"))
	})
	t.Run("without a SecretStore", func(t *testing.T) {
		h := newHarness(t)
		h.srv.AllowAPOP = true
		h.srv.Authenticator = plainOnly{h.dir}
		h.start(false)
		c := h.dial()
		assert.NotContains(t, c.greeting, "<")
		assert.Equal(t, "-ERR APOP is not available", c.cmd("APOP apop 0123456789abcdef0123456789abcdef"))
	})
	t.Run("enabled", func(t *testing.T) {
		h := newHarness(t)
		h.srv.AllowAPOP = true
		h.start(false)
		c := h.dial()
		stamp := apopStamp(t, c.greeting)
		assert.Regexp(t, `^<\d+\.\d+@pop\.example\.org>$`, stamp)
		assert.Equal(t, "-ERR Syntax: APOP name digest", c.cmd("APOP apop"))
		assert.Equal(t, "-ERR Syntax: APOP name digest", c.cmd("APOP apop nothex-nothex-nothex-nothex-nothex"))
		assert.Equal(t, "-ERR [AUTH] Authentication failed", c.cmd("APOP alice "+md5hex(stamp+"secret")), "alice is not an APOP account")
		assert.Equal(t, "+OK Logged in; maildrop has 0 messages (0 octets)", c.cmd("APOP apop "+strings.ToUpper(md5hex(stamp+"apop-secret"))))

		c = h.dial()
		c.cmdOK("USER apop")
		assert.Equal(t, "-ERR [AUTH] Authentication failed", c.cmd("PASS apop-secret"), "an APOP account cannot use PASS")
		assert.NotEqual(t, stamp, apopStamp(t, c.greeting), "each greeting has its own timestamp")
	})
}

// A7 and P8: failures are delayed by the throttle, the connection is
// closed after MaxAuthFailures, an address that failed too often is refused
// without asking the Authenticator, and another address is unaffected.
func TestA7Throttling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		h.srv.Throttle = &auth.Throttle{} // the defaults: 2 s, doubling
		h.srv.LoginPolicy = auth.PlainTextLogin
		h.start(false)
		const attacker = "203.0.113.66:1000"

		c := h.dialFrom(attacker)
		c.cmdOK("USER alice")
		start := time.Now()
		assert.Equal(t, "-ERR [AUTH] Authentication failed", c.cmd("PASS wrong"))
		assert.Equal(t, 2*time.Second, time.Since(start), "the first failure is delayed")
		c.cmdOK("USER alice")
		assert.Equal(t, "-ERR [AUTH] Authentication failed", c.cmd("PASS wrong"))
		c.cmdOK("USER alice")
		assert.Equal(t, "-ERR [AUTH] Authentication failed; too many failures, closing connection", c.cmd("PASS wrong"))
		c.expectEOF()

		// Seven more failures within the minute, in parallel as a
		// brute-forcer would (the delays grow per address): ten in all.
		var wg sync.WaitGroup
		for i := range 7 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := h.dialFrom(attacker)
				c.send("USER user"+fmt.Sprint(i), "PASS wrong")
				c.line()
				assert.Equal(t, "-ERR [AUTH] Authentication failed", c.line())
			}()
		}
		wg.Wait()
		require.Less(t, time.Since(start), time.Minute)
		calls := h.dir.callCount()
		c = h.dialFrom(attacker)
		c.cmdOK("USER alice")
		assert.Equal(t, "-ERR [AUTH] Authentication failed", c.cmd("PASS secret"), "locked out, even with the right password")
		assert.Equal(t, calls, h.dir.callCount(), "the Authenticator was not asked")

		other := h.dialFrom("192.0.2.200:1000")
		other.cmdOK("USER carol")
		assert.Equal(t, "+OK Logged in; maildrop has 0 messages (0 octets)", other.cmd("PASS carol-pw"), "another address is unaffected")
	})
}

// P8: a directory that cannot answer gives [SYS/TEMP], not [AUTH], and is
// not counted as a failure.
func TestP8FailedAuthCodes(t *testing.T) {
	h := newHarness(t).start(false)
	h.dir.mu.Lock()
	h.dir.unavailable = true
	h.dir.mu.Unlock()
	c := h.dial()
	for range 4 {
		c.cmdOK("USER alice")
		assert.Equal(t, "-ERR [SYS/TEMP] Authentication service unavailable; try again later", c.cmd("PASS secret"))
	}
	assert.Equal(t, "-ERR [SYS/TEMP] Authentication service unavailable; try again later", c.cmd("AUTH PLAIN "+b64("\x00alice\x00secret")))
	h.dir.mu.Lock()
	h.dir.unavailable = false
	h.dir.mu.Unlock()
	c.cmdOK("USER alice")
	assert.Equal(t, "+OK Logged in; maildrop has 3 messages (154 octets)", c.cmd("PASS secret"))
}

// The audit hook sees every attempt, never a password.
func TestAuthAudit(t *testing.T) {
	h := newHarness(t).start(false)
	c := h.dial()
	c.cmdOK("USER alice")
	c.cmd("PASS wrong")
	c.cmd("AUTH PLAIN " + b64("\x00alice\x00secret"))
	got := h.authAttempts()
	require.Len(t, got, 2)
	assert.Equal(t, "USER", got[0].Mechanism)
	assert.Equal(t, "alice", got[0].Username)
	assert.ErrorIs(t, got[0].Err, auth.ErrInvalidCredentials)
	assert.Equal(t, "PLAIN", got[1].Mechanism)
	assert.NoError(t, got[1].Err)
	assert.Equal(t, "pop3", got[1].Protocol)
	assert.NotContains(t, fmt.Sprintf("%+v", got), "wrong")
}

// Logins on many connections at once are independent.
func TestConcurrentLogins(t *testing.T) {
	h := newHarness(t)
	h.backend.snapshot = true
	h.srv.MaxConnsPerUserAddr = -1
	h.start(false)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := h.l.DialFrom(fmt.Sprintf("198.51.100.1:%d", 41000+i))
			if !assert.NoError(t, err) {
				return
			}
			defer conn.Close()
			c := newClient(t, conn)
			c.line()
			c.send("USER alice", "PASS secret", "STAT", "QUIT")
			c.line()
			assert.Equal(t, "+OK Logged in; maildrop has 3 messages (154 octets)", c.line())
			assert.Equal(t, "+OK 3 154", c.line())
			assert.Equal(t, "+OK Goodbye", c.line())
		}()
	}
	wg.Wait()
}

package pop3_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"io"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/pop3"
)

const refusal = "-ERR [AUTH] Command is not valid in this state: use STLS or the TLS port first"

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// X1: plaintext pipelined after STLS is discarded, never run under TLS.
func TestX1STLSInjection(t *testing.T) {
	h := newHarness(t)
	h.srv.LoginPolicy = auth.PlainTextLogin // the injected USER/PASS would be accepted if run
	h.start(false)
	c := h.dialFrom(untrustedAddr)
	c.send("STLS", "USER alice", "PASS secret")
	assert.Equal(t, "+OK Begin TLS negotiation", c.line())
	tc := c.startTLS()
	assert.Equal(t, "+OK Capability list follows", tc.cmd("CAPA"), "no reply ever arrives for the injected lines")
	tc.multi()
	assert.Equal(t, "-ERR Command is not valid in this state: log in first", tc.cmd("STAT"), "the session is not authenticated")
	assert.Equal(t, "-ERR Send USER first", tc.cmd("PASS secret"), "the injected USER was not remembered either")
	assert.Contains(t, h.logs.String(), "discarded plaintext pipelined after STARTTLS")
	assert.Zero(t, h.dir.callCount(), "no credential was checked")
}

// X2: STLS resets what the client said before TLS, and CAPA reflects TLS.
func TestX2StateResetAfterSTLS(t *testing.T) {
	h := newHarness(t)
	h.srv.LoginPolicy = auth.PlainTextLogin
	h.srv.Authenticator = plainOnly{h.dir}
	h.start(false)
	c := h.dialFrom(untrustedAddr)
	c.cmdOK("USER alice")
	c.cmdOK("UTF8")
	assert.Contains(t, capaOf(c), "STLS")
	c.cmdOK("STLS")
	tc := c.startTLS()
	assert.Equal(t, "-ERR Send USER first", tc.cmd("PASS secret"), "USER given before TLS is forgotten")
	caps := capaOf(tc)
	assert.NotContains(t, caps, "STLS", "STLS is gone after TLS")
	assert.Contains(t, caps, "USER")
	assert.Contains(t, caps, "SASL PLAIN LOGIN")
	tc.cmdOK("USER alice")
	tc.cmdOK("PASS secret")
	assert.Equal(t, "-ERR Command is not valid in this state: already logged in", tc.cmd("STLS"))
}

func capaOf(c *client) []string {
	c.t.Helper()
	require.Equal(c.t, "+OK Capability list follows", c.cmd("CAPA"))
	return c.multi()
}

// X3: STLS when TLS is already active fails and the session stays usable.
func TestX3STLSWhenAlreadyTLS(t *testing.T) {
	t.Run("implicit TLS", func(t *testing.T) {
		h := newHarness(t).start(true)
		c := h.dialTLS(untrustedAddr)
		assert.Equal(t, "-ERR TLS is already active", c.cmd("STLS"))
		c.cmdOK("USER alice")
		c.cmdOK("PASS secret")
	})
	t.Run("second STLS", func(t *testing.T) {
		h := newHarness(t).start(false)
		c := h.dialFrom(untrustedAddr)
		c.cmdOK("STLS")
		tc := c.startTLS()
		assert.Equal(t, "-ERR TLS is already active", tc.cmd("STLS"))
		tc.cmdOK("USER alice")
		tc.cmdOK("PASS secret")
	})
	t.Run("no TLSConfig", func(t *testing.T) {
		h := newHarness(t)
		h.srv.TLSConfig = nil
		h.start(false)
		c := h.dial()
		assert.Equal(t, "-ERR STLS is not available", c.cmd("STLS"))
		assert.NotContains(t, capaOf(c), "STLS")
		c.cmdOK("USER alice")
	})
}

// X4: under SecureLogin, credentials on a plain connection are refused with
// the documented text, without being checked: no Authenticator call, no
// throttle entry.
func TestX4CleartextRefused(t *testing.T) {
	h := newHarness(t)
	h.srv.AllowAPOP = true
	h.srv.MaxBadCommandsBeforeLogin = -1
	h.start(false)
	c := h.dialFrom(untrustedAddr)
	caps := capaOf(c)
	assert.NotContains(t, caps, "USER")
	for _, cp := range caps {
		assert.False(t, strings.HasPrefix(cp, "SASL"), "CAPA offers no SASL before TLS: %q", cp)
	}
	for _, cmd := range []string{
		"USER alice",
		"PASS secret",
		"AUTH",
		"AUTH PLAIN " + b64("\x00alice\x00secret"),
		"AUTH PLAIN",
		"AUTH CRAM-MD5",
		"AUTH NOSUCH",
		"APOP apop 0123456789abcdef0123456789abcdef",
	} {
		assert.Equal(t, refusal, c.cmd(cmd), "reply to %q", strings.Fields(cmd)[0])
	}
	assert.Zero(t, h.dir.callCount(), "the credentials were never checked")
	for _, a := range h.authAttempts() {
		assert.ErrorIs(t, a.Err, auth.ErrEncryptionRequired, "audited as refused by policy: %+v", a)
	}
	// The throttle saw nothing: the same address can log in after STLS.
	c.cmdOK("STLS")
	tc := c.startTLS()
	tc.cmdOK("USER alice")
	tc.cmdOK("PASS secret")
}

// Every policy on plain, STLS and implicit-TLS connections, for the
// cleartext login (USER/PASS, AUTH PLAIN) and a challenge-response one
// (AUTH CRAM-MD5, APOP).
func TestPolicies(t *testing.T) {
	type mode int
	const (
		plain mode = iota
		stls
		implicit
	)
	modes := map[mode]string{plain: "plain", stls: "STLS", implicit: "implicit TLS"}
	for _, policy := range []auth.LoginPolicy{auth.SecureLogin, auth.PlainTextAuthentication, auth.PlainTextLogin} {
		for m := plain; m <= implicit; m++ {
			t.Run(policy.String()+"/"+modes[m], func(t *testing.T) {
				h := newHarness(t)
				h.srv.LoginPolicy = policy
				h.srv.AllowAPOP = true
				h.srv.MaxBadCommandsBeforeLogin = -1
				h.start(m == implicit)
				connect := func() *client {
					switch m {
					case implicit:
						return h.dialTLS(untrustedAddr)
					case stls:
						c := h.dialFrom(untrustedAddr)
						c.cmdOK("STLS")
						return c.startTLS()
					}
					return h.dialFrom(untrustedAddr)
				}
				cleartextOK := m != plain || policy == auth.PlainTextLogin
				challengeOK := m != plain || policy != auth.SecureLogin

				c := connect()
				if cleartextOK {
					c.cmdOK("USER alice")
					assert.Equal(t, "+OK Logged in; maildrop has 3 messages (154 octets)", c.cmd("PASS secret"))
				} else {
					assert.Equal(t, refusal, c.cmd("USER alice"))
					assert.Equal(t, refusal, c.cmd("PASS secret"))
				}
				c.cmd("QUIT")

				c = connect()
				reply := c.cmd("AUTH PLAIN " + b64("\x00alice\x00secret"))
				if cleartextOK {
					assert.Equal(t, "+OK Logged in; maildrop has 3 messages (154 octets)", reply)
				} else {
					assert.Equal(t, refusal, reply)
				}
				c.cmd("QUIT")

				c = connect()
				stamp := apopStamp(t, c.greeting)
				reply = c.cmd("APOP apop " + md5hex(stamp+"apop-secret"))
				if challengeOK {
					assert.Equal(t, "+OK Logged in; maildrop has 0 messages (0 octets)", reply)
				} else {
					assert.Equal(t, refusal, reply)
				}
				c.cmd("QUIT")

				c = connect()
				reply = c.cmd("AUTH CRAM-MD5")
				if challengeOK {
					require.True(t, strings.HasPrefix(reply, "+ "), "got %q", reply)
					challenge, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(reply, "+ "))
					require.NoError(t, err)
					mac := hmac.New(md5.New, []byte("apop-secret"))
					mac.Write(challenge)
					assert.Equal(t, "+OK Logged in; maildrop has 0 messages (0 octets)", c.cmd(b64("apop "+hex.EncodeToString(mac.Sum(nil)))))
				} else {
					assert.Equal(t, refusal, reply)
				}
			})
		}
	}
}

func apopStamp(t testing.TB, greeting string) string {
	i := strings.LastIndex(greeting, "<")
	require.True(t, i >= 0 && strings.HasSuffix(greeting, ">"), "greeting %q has an APOP timestamp", greeting)
	return greeting[i:]
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// X5: TLS 1.1 fails the handshake on the implicit-TLS port and after STLS;
// TLS 1.2 and 1.3 succeed.
func TestX5TLSVersionFloor(t *testing.T) {
	h := newHarness(t).start(true)
	h2 := newHarness(t).start(false)
	for _, v := range []uint16{tls.VersionTLS11, tls.VersionTLS12, tls.VersionTLS13} {
		cfg := clientTLS(t)
		cfg.MinVersion, cfg.MaxVersion = v, v

		conn, err := h.l.DialFrom(untrustedAddr)
		require.NoError(t, err)
		err = tls.Client(conn, cfg).Handshake()
		conn.Close()

		c := h2.dialFrom(untrustedAddr)
		c.cmdOK("STLS")
		err2 := tls.Client(c.conn, cfg).Handshake()
		if v < tls.VersionTLS12 {
			assert.Error(t, err, "implicit TLS %x", v)
			assert.Error(t, err2, "STLS %x", v)
		} else {
			assert.NoError(t, err, "implicit TLS %x", v)
			assert.NoError(t, err2, "STLS %x", v)
		}
	}
}

// X6: a client that opens the TLS port and sends nothing (or half a
// ClientHello), or sends STLS and then nothing, is closed at the handshake
// timeout.
func TestX6HandshakeSlowloris(t *testing.T) {
	for _, tc := range []struct {
		name     string
		implicit bool
		send     string
	}{
		{"implicit, silent", true, ""},
		{"implicit, half a ClientHello", true, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"},
		{"STLS, silent", false, "STLS\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t)
				h.srv.HandshakeTimeout = 20 * time.Second
				h.start(tc.implicit)
				conn, err := h.l.DialFrom(untrustedAddr)
				require.NoError(t, err)
				defer conn.Close()
				start := time.Now()
				io.WriteString(conn, tc.send)
				out, err := io.ReadAll(conn)
				assert.NoError(t, err, "the server closes the connection")
				if !tc.implicit {
					assert.Contains(t, string(out), "+OK Begin TLS negotiation")
				}
				assert.Equal(t, 20*time.Second, time.Since(start))
				synctest.Wait()
				assert.Equal(t, []string{"tls handshake failed"}, h.closeReasons())
			})
		})
	}
}

// X9: an endless line before login is refused at the 512-octet limit and
// the connection closed, with bounded reading; a 512-octet line is fine.
func TestX9EndlessLine(t *testing.T) {
	h := newHarness(t).start(false)
	c := h.dialFrom(untrustedAddr)
	assert.Equal(t, "-ERR Unknown command", c.cmd("X "+strings.Repeat("y", 510)), "512 octets is within the limit")
	assert.Equal(t, "-ERR Line too long", c.cmd("X "+strings.Repeat("y", 511)))
	c.expectEOF()

	c = h.dialFrom(untrustedAddr)
	written := make(chan int64, 1)
	go func() {
		var n int64
		chunk := bytes.Repeat([]byte{'A'}, 64<<10)
		for range 1600 { // 100 MiB, if the server kept reading
			m, err := c.conn.Write(chunk)
			n += int64(m)
			if err != nil {
				break
			}
		}
		written <- n
	}()
	assert.Equal(t, "-ERR Line too long", c.line())
	c.expectEOF()
	assert.Less(t, <-written, int64(1<<20), "the server stopped reading at the limit")
	assert.Eventually(t, func() bool { return len(h.closeReasons()) == 2 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, []string{"protocol error", "protocol error"}, h.closeReasons())
}

// P9: USER/PASS before STLS are refused when TLS is required; STLS after
// login is refused; the injection case is TestX1STLSInjection.
func TestP9STLSDiscipline(t *testing.T) {
	h := newHarness(t).start(false)
	c := h.dialFrom(untrustedAddr)
	assert.Equal(t, refusal, c.cmd("USER alice"))
	assert.Equal(t, refusal, c.cmd("PASS secret"))
	c.cmdOK("STLS")
	tc := c.startTLS()
	tc.cmdOK("USER alice")
	tc.cmdOK("PASS secret")
	assert.Equal(t, "-ERR Command is not valid in this state: already logged in", tc.cmd("STLS"))
	assert.Equal(t, "+OK 3 154", tc.cmd("STAT"), "the session goes on")
}

// Lines are parsed strictly: control characters, empty lines and bad
// keywords are refused; LF alone ends a line as well as CRLF.
func TestMalformedLines(t *testing.T) {
	h := newHarness(t)
	h.srv.MaxBadCommandsBeforeLogin = -1
	h.start(false)
	c := h.dial()
	for _, l := range []string{"", " ", "US\x00ER alice", "USER al\rice", "USÉR x", "\x1b[31m", strings.Repeat("A", 41)} {
		assert.Equal(t, "-ERR Invalid command syntax", c.cmd(l), "line %q", l)
	}
	_, err := io.WriteString(c.conn, "USER alice\nPASS secret\n")
	require.NoError(t, err)
	assert.Equal(t, "+OK Send your password", c.line())
	assert.Equal(t, "+OK Logged in; maildrop has 3 messages (154 octets)", c.line())
	assert.Equal(t, "-ERR Invalid command syntax", c.cmd("RETR\t1\x00"))
	assert.Equal(t, "+OK 32 octets", c.cmd("RETR \t1"))
	c.multi()
}

// Pipelined commands are all answered, in order (RFC 2449 §6.6).
func TestPipelining(t *testing.T) {
	h := newHarness(t).start(false)
	c := h.dial()
	c.send("CAPA", "USER alice", "PASS secret", "STAT", "LIST", "RETR 1", "UIDL 2", "DELE 1", "NOOP", "QUIT")
	assert.Equal(t, "+OK Capability list follows", c.line())
	assert.Contains(t, c.multi(), "PIPELINING")
	assert.Equal(t, "+OK Send your password", c.line())
	assert.Equal(t, "+OK Logged in; maildrop has 3 messages (154 octets)", c.line())
	assert.Equal(t, "+OK 3 154", c.line())
	assert.Equal(t, "+OK 3 messages (154 octets)", c.line())
	assert.Len(t, c.multi(), 3)
	assert.Equal(t, "+OK 32 octets", c.line())
	assert.Equal(t, []string{"Subject: one", "", "First message."}, c.multi())
	assert.Equal(t, "+OK 2 uid-2", c.line())
	assert.Equal(t, "+OK Message 1 deleted", c.line())
	assert.Equal(t, "+OK", c.line())
	assert.Equal(t, "+OK Goodbye; 2 messages left", c.line())
	c.expectEOF()
}

func TestTraceRedaction(t *testing.T) {
	h := newHarness(t).start(false)
	c := h.dial()
	c.cmdOK("USER alice")
	assert.Equal(t, "-ERR [AUTH] Authentication failed", c.cmd("PASS wrong-password-1"))
	assert.Equal(t, "-ERR [AUTH] Authentication failed", c.cmd("AUTH PLAIN "+b64("\x00alice\x00wrong-password-2")))
	assert.Equal(t, "+ ", c.cmd("AUTH PLAIN"))
	c.cmdOK(b64("\x00alice\x00secret"))
	c.cmdOK("RETR 1")
	c.multi()
	logs := h.logs.String()
	for _, secret := range []string{"wrong-password-1", "wrong-password-2", "secret", b64("\x00alice\x00wrong-password-2"), b64("\x00alice\x00secret"), "First message"} {
		assert.NotContains(t, logs, secret)
	}
	assert.Contains(t, logs, `line="PASS <redacted>"`)
	assert.Contains(t, logs, `line="AUTH PLAIN <redacted>"`)
	assert.Contains(t, logs, `line=<redacted>`)
	assert.Contains(t, logs, `line="{32 bytes}"`)
	assert.Contains(t, logs, `line="USER alice"`)
}

func TestUTF8Credentials(t *testing.T) {
	h := newHarness(t).start(false)
	c := h.dial()
	assert.Contains(t, capaOf(c), "UTF8 USER")
	c.cmdOK("UTF8")
	c.cmdOK("USER jörg")
	assert.Equal(t, "+OK Logged in; maildrop has 0 messages (0 octets)", c.cmd("PASS pässwörd"))

	c = h.dial()
	assert.Equal(t, "-ERR User name is not valid UTF-8", c.cmd("USER j\xf6rg"))
	c.cmdOK("USER jörg")
	assert.Equal(t, "-ERR Password is not valid UTF-8", c.cmd("PASS p\xe4ss"))
}

// A password may contain spaces (RFC 1939 §7).
func TestPasswordWithSpaces(t *testing.T) {
	h := newHarness(t).start(false)
	c := h.dial()
	c.cmdOK("USER bob")
	assert.Equal(t, "+OK Logged in; maildrop has 0 messages (0 octets)", c.cmd("PASS hunter2 with spaces"))
}

// Replies are flushed when no whole command is waiting, even if part of the
// next one has arrived.
func TestFlushWithPartialCommandBuffered(t *testing.T) {
	h := newHarness(t).start(false)
	c := h.login()
	_, err := io.WriteString(c.conn, "STAT\r\nLI")
	require.NoError(t, err)
	assert.Equal(t, "+OK 3 154", c.line())
	_, err = io.WriteString(c.conn, "ST 1\r\n")
	require.NoError(t, err)
	assert.Equal(t, "+OK 1 32", c.line())
}

// A parsed command, if it is ever logged, shows no secret.
func TestCommandLogValue(t *testing.T) {
	for line, want := range map[string]string{
		"PASS hunter2":                    "PASS <redacted>",
		"AUTH PLAIN AGFsaWNlAHNlY3JldA==": "AUTH PLAIN <redacted>",
		"APOP apop 0123456789abcdef":      "APOP apop <redacted>",
		"USER alice":                      "USER alice",
		"retr 1":                          "RETR 1",
	} {
		assert.Equal(t, want, pop3.CommandLogValue([]byte(line)).String())
	}
}

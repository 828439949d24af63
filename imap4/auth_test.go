package imap4_test

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/imap4"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestLogin(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		cmd, want string
	}{
		{"LOGIN alice secret", "OK [CAPABILITY "},
		{`LOGIN "alice" "secret"`, "OK [CAPABILITY "},
		{"LOGIN {5}\r\nalice {6}\r\nsecret", "OK [CAPABILITY "},
		{"LOGIN carol \"pw with spaces\"", "OK [CAPABILITY "},
		{"LOGIN alice wrong", "NO [AUTHENTICATIONFAILED] Authentication failed"},
		{"LOGIN alice", "BAD Syntax error: expected a space"},
		{"LOGIN", "BAD Syntax error: expected a space"},
		{"LOGIN alice secret extra", "BAD Syntax error: unexpected characters at the end of the command"},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.cmd, "\r\n", " "), func(t *testing.T) {
			c := e.dial()
			if strings.Contains(tt.cmd, "{") {
				// Synchronizing literals: answer each continuation.
				parts := strings.SplitAfter(tt.cmd, "}")
				c.tag++
				c.write("t1 " + parts[0] + "\r\n")
				for _, p := range parts[1:] {
					c.expect("+ Ready for literal data")
					c.write(strings.TrimPrefix(p, "\r\n"))
					if strings.HasSuffix(p, "}") {
						c.write("\r\n")
					}
				}
				c.write("\r\n")
				out := c.until("t1")
				assert.True(t, strings.HasPrefix(tagged(out), tt.want), "got %q", out)
				return
			}
			out := c.do(tt.cmd)
			assert.True(t, strings.HasPrefix(tagged(out), tt.want), "got %q", out)
		})
	}
}

func TestLoginRedactedInTrace(t *testing.T) {
	e := newEnv(t)
	c := e.dial()
	c.ok("LOGIN alice secret")
	c = e.dial()
	c.ok("AUTHENTICATE PLAIN " + b64("\x00bob\x00hunter2"))
	c = e.dial()
	c.send("a AUTHENTICATE PLAIN")
	c.expect("+ ")
	c.send(b64("\x00carol\x00pw with spaces"))
	c.expect(`~a OK \[CAPABILITY .*\] Logged in`)
	logs := e.logs.String()
	assert.Contains(t, logs, "<redacted>")
	for _, secret := range []string{"secret", "hunter2", "pw with spaces", b64("\x00bob\x00hunter2"), b64("\x00carol\x00pw with spaces")} {
		assert.NotContains(t, logs, secret)
	}
}

func TestAuthenticateSASLIR(t *testing.T) {
	e := newEnv(t)
	c := e.dial()
	out := c.do("AUTHENTICATE PLAIN " + b64("\x00alice\x00secret"))
	assert.Regexp(t, `^OK \[CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL\+ SASL-IR .*\] Logged in$`, tagged(out))
	c.ok("SELECT INBOX")

	c = e.dial()
	c.send("a AUTHENTICATE LOGIN")
	c.expect("+ " + b64("Username:"))
	c.send(b64("bob"))
	c.expect("+ " + b64("Password:"))
	c.send(b64("hunter2"))
	c.expect(`~a OK \[CAPABILITY .*\] Logged in`)

}

// TestA1InvalidBase64: bad base64, in the initial response or a
// continuation, ends only that exchange with BAD.
func TestA1InvalidBase64(t *testing.T) {
	e := newEnv(t)
	other := e.dial()
	c := e.dial()
	assert.Equal(t, "BAD Invalid authentication data", tagged(c.do("AUTHENTICATE PLAIN !!!notbase64")))
	c.send("a AUTHENTICATE PLAIN")
	c.expect("+ ")
	c.send("%%%")
	c.expect("a BAD Invalid authentication data")
	other.ok("LOGIN alice secret")
}

// TestA2CancelledExchange: "*" cancels with BAD; a new exchange with
// another mechanism then succeeds.
func TestA2CancelledExchange(t *testing.T) {
	e := newEnv(t)
	c := e.dial()
	c.send("a AUTHENTICATE LOGIN")
	c.expect("+ " + b64("Username:"))
	c.send("*")
	c.expect("a BAD Authentication cancelled")
	c.ok("AUTHENTICATE PLAIN " + b64("\x00alice\x00secret"))
}

// TestA3OrderingErrors: AUTHENTICATE after login is BAD; an unknown
// mechanism is NO.
func TestA3OrderingErrors(t *testing.T) {
	e := newEnv(t)
	c := e.dial()
	assert.Equal(t, "NO [CANNOT] Unsupported authentication mechanism", tagged(c.do("AUTHENTICATE X-UNKNOWN")))
	c.ok("LOGIN alice secret")
	assert.Equal(t, "BAD Command not valid in this state: already logged in", tagged(c.do("AUTHENTICATE PLAIN "+b64("\x00alice\x00secret"))))
	assert.Equal(t, "BAD Command not valid in this state: already logged in", tagged(c.do("LOGIN alice secret")))
}

// tokenDirectory also verifies OAuth bearer tokens: "token-" + user.
type tokenDirectory struct{ *directory }

func (d tokenDirectory) VerifyToken(ctx context.Context, username, token string) (auth.Identity, error) {
	if !strings.HasPrefix(token, "token-"+username) {
		return auth.Identity{}, auth.ErrInvalidCredentials
	}
	return auth.Identity{Username: username}, nil
}

// TestA5OversizedSASL: a 1 MiB response is refused at the bound and the
// connection closed; an 8 KiB OAuth token works, inline or as a
// continuation.
func TestA5OversizedSASL(t *testing.T) {
	e := newEnv(t, func(s *imap4.Server) { s.Authenticator = tokenDirectory{newDirectory()} })
	token := "token-alice" + strings.Repeat("x", 8<<10)
	ir := b64("user=alice\x01auth=Bearer " + token + "\x01\x01")
	c := e.dial()
	c.ok("AUTHENTICATE XOAUTH2 " + ir)
	c = e.dial()
	c.send("a AUTHENTICATE XOAUTH2")
	c.expect("+ ")
	c.send(ir)
	c.expect(`~a OK \[CAPABILITY .*\] Logged in`)

	c = e.dial()
	c.send("a AUTHENTICATE PLAIN")
	c.expect("+ ")
	go c.nc.Write([]byte(strings.Repeat("QUFB", 1<<18) + "\r\n")) // 1 MiB; fails once the server closes
	c.expect("* BAD [TOOBIG] Authentication response too long", "* BYE Authentication response too long")
	assert.Error(t, c.readErr())
}

// TestA6Enumeration: an unknown user and a wrong password get the same
// bytes.
func TestA6Enumeration(t *testing.T) {
	e := newEnv(t)
	a := tagged(e.dial().do("LOGIN nosuchuser secret"))
	b := tagged(e.dial().do("LOGIN alice wrongpassword"))
	assert.Equal(t, a, b)
	c := tagged(e.dial().do("AUTHENTICATE PLAIN " + b64("\x00nosuchuser\x00x")))
	d := tagged(e.dial().do("AUTHENTICATE PLAIN " + b64("\x00alice\x00x")))
	assert.Equal(t, c, d)
	assert.Equal(t, a, c)
}

// TestA7BruteForce: three failures on a connection end it; past ten from
// one address, attempts are refused without asking the Authenticator; a
// different address is unaffected; a success after failures works.
func TestA7BruteForce(t *testing.T) {
	e := newEnv(t)
	c := e.dial()
	c.do("LOGIN alice x1")
	c.ok("LOGIN alice secret") // a success after a failure
	c = e.dial()
	for i := range 3 {
		assert.Equal(t, "NO [AUTHENTICATIONFAILED] Authentication failed", tagged(c.do("LOGIN bob bad"+string(rune('0'+i)))))
	}
	c.expect("* BYE Too many authentication failures")
	assert.Error(t, c.readErr())

	for range 3 {
		c = e.dial()
		for range 3 {
			c.do("LOGIN carol bad")
		}
	}
	// 1 + 3 + 9 = 13 failures from this address: locked out.
	before := e.dir.calls
	assert.Equal(t, "NO [AUTHENTICATIONFAILED] Authentication failed", tagged(e.dial().do("LOGIN alice secret")))
	assert.Equal(t, before, e.dir.calls, "refused without calling the Authenticator")
	e.dialFrom("203.0.113.7:1").ok("LOGIN alice secret")
}

// scramDirectory serves SCRAM-SHA-256 with stored keys.
type scramDirectory struct {
	*directory
}

func (d scramDirectory) SCRAMHashes() []auth.SCRAMHash { return []auth.SCRAMHash{auth.SCRAMSHA256} }

func (d scramDirectory) SCRAMCredentials(ctx context.Context, h auth.SCRAMHash, username string) (auth.SCRAMCredentials, error) {
	pw, ok := d.users[username]
	if !ok {
		return auth.SCRAMCredentials{}, auth.ErrInvalidCredentials
	}
	cr, err := auth.NewSCRAMCredentials(h, pw, []byte("salt-for-"+username), 4096)
	cr.Identity = auth.Identity{Username: username}
	return cr, err
}

func hmacSHA256(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}

// scramLogin runs a SCRAM-SHA-256 exchange (without channel binding) and
// returns the tagged response.
func scramLogin(t *testing.T, c *client, user, password string, tamper func(string) string) string {
	nonceBytes := make([]byte, 18)
	rand.Read(nonceBytes)
	cnonce := base64.RawStdEncoding.EncodeToString(nonceBytes)
	clientFirstBare := "n=" + user + ",r=" + cnonce
	c.send("a AUTHENTICATE SCRAM-SHA-256 " + b64("n,,"+clientFirstBare))
	ch := c.line()
	require.True(t, strings.HasPrefix(ch, "+ "), ch)
	sf, err := base64.StdEncoding.DecodeString(ch[2:])
	require.NoError(t, err)
	serverFirst := string(sf)
	var nonce, salt string
	iter := 0
	for _, f := range strings.Split(serverFirst, ",") {
		switch {
		case strings.HasPrefix(f, "r="):
			nonce = f[2:]
		case strings.HasPrefix(f, "s="):
			salt = f[2:]
		case strings.HasPrefix(f, "i="):
			for _, d := range f[2:] {
				iter = iter*10 + int(d-'0')
			}
		}
	}
	saltBytes, _ := base64.StdEncoding.DecodeString(salt)
	salted, err := pbkdf2.Key(sha256.New, password, saltBytes, iter, 32)
	require.NoError(t, err)
	clientKey := hmacSHA256(salted, []byte("Client Key"))
	stored := sha256.Sum256(clientKey)
	withoutProof := "c=" + b64("n,,") + ",r=" + nonce
	authMsg := clientFirstBare + "," + serverFirst + "," + withoutProof
	sig := hmacSHA256(stored[:], []byte(authMsg))
	proof := make([]byte, len(clientKey))
	for i := range proof {
		proof[i] = clientKey[i] ^ sig[i]
	}
	final := withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)
	if tamper != nil {
		final = tamper(final)
	}
	c.send(b64(final))
	l := c.line()
	if strings.HasPrefix(l, "+ ") {
		c.send("") // the server-final message, acknowledged empty
		l = c.line()
	}
	return l
}

// TestA8SCRAM: SCRAM-SHA-256 works through AUTHENTICATE; a wrong proof and
// a nonce that does not extend the client's fail alike.
func TestA8SCRAM(t *testing.T) {
	e := newEnv(t, func(s *imap4.Server) { s.Authenticator = scramDirectory{newDirectory()} })
	assert.Contains(t, e.dial().do("CAPABILITY")[0], "AUTH=SCRAM-SHA-256")
	assert.Regexp(t, `^a OK \[CAPABILITY .*\] Logged in$`, scramLogin(t, e.dial(), "alice", "secret", nil))
	assert.Equal(t, "a NO [AUTHENTICATIONFAILED] Authentication failed", scramLogin(t, e.dial(), "alice", "wrong", nil))
	assert.Equal(t, "a NO [AUTHENTICATIONFAILED] Authentication failed", scramLogin(t, e.dial(), "alice", "secret", func(s string) string {
		return strings.Replace(s, ",r=", ",r=X", 1)
	}))
}

package pop3_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/pop3"
)

// A whole session: login, every TRANSACTION command, QUIT with UPDATE.
func TestSession(t *testing.T) {
	h := newHarness(t).start(false)
	c := h.dial()
	assert.Regexp(t, `^\+OK pop\.example\.org POP3 server ready \(conn \w+-\d+\)$`, c.greeting)
	assert.Equal(t, "+OK Send your password", c.cmd("USER alice"))
	assert.Equal(t, "+OK Logged in; maildrop has 3 messages (154 octets)", c.cmd("PASS secret"))

	assert.Equal(t, "+OK 3 154", c.cmd("STAT"))
	assert.Equal(t, "+OK 3 messages (154 octets)", c.cmd("LIST"))
	assert.Equal(t, []string{"1 32", "2 68", "3 54"}, c.multi())
	assert.Equal(t, "+OK 2 68", c.cmd("LIST 2"))
	assert.Equal(t, "+OK 3 messages (154 octets)", c.cmd("UIDL"))
	assert.Equal(t, []string{"1 uid-1", "2 uid-2", "3 uid-3"}, c.multi())
	assert.Equal(t, "+OK 3 uid-3", c.cmd("UIDL 3"))
	assert.Equal(t, "+OK 32 octets", c.cmd("RETR 1"))
	assert.Equal(t, []string{"Subject: one", "", "First message."}, c.multi())
	assert.Equal(t, "+OK Top of message follows", c.cmd("TOP 2 1"))
	assert.Equal(t, []string{"Subject: two", "X: y", "", "Line 1"}, c.multi())
	assert.Equal(t, "+OK", c.cmd("NOOP"))
	assert.Equal(t, "+OK Message 1 deleted", c.cmd("DELE 1"))
	assert.Equal(t, "+OK 2 122", c.cmd("STAT"))
	assert.Equal(t, "-ERR Message 1 is deleted", c.cmd("RETR 1"))
	assert.Equal(t, "-ERR Message 1 is deleted", c.cmd("DELE 1"))
	assert.Equal(t, "+OK 2 messages (122 octets)", c.cmd("LIST"))
	assert.Equal(t, []string{"2 68", "3 54"}, c.multi(), "deleted messages are not listed, numbers do not shift")
	assert.Equal(t, "+OK Maildrop has 3 messages (154 octets)", c.cmd("RSET"))
	assert.Equal(t, "+OK Message 3 deleted", c.cmd("DELE 3"))
	assert.Equal(t, "+OK Goodbye; 2 messages left", c.cmd("QUIT"))
	c.expectEOF()

	msgs := h.backend.messages("alice")
	require.Len(t, msgs, 2)
	assert.Equal(t, "uid-1", msgs[0].uid)
	assert.Equal(t, "uid-2", msgs[1].uid)
	assert.False(t, h.backend.isLocked("alice"), "the lock is released")
	assert.Eventually(t, func() bool { return len(h.closeReasons()) == 1 }, 5e9, 1e6)
	assert.Equal(t, []string{"client quit"}, h.closeReasons())
}

// Every command in every state gets a protocol-correct answer, and the
// connection survives wrong-state and unknown commands.
func TestCommandsInEveryState(t *testing.T) {
	type step struct{ send, want string }
	cases := []struct {
		name  string
		login bool
		steps []step
	}{
		{"authorization", false, []step{
			{"STAT", "-ERR Command is not valid in this state: log in first"},
			{"NOOP", "-ERR Command is not valid in this state: log in first"},
		}},
		{"authorization-2", false, []step{
			{"LIST", "-ERR Command is not valid in this state: log in first"},
			{"CAPA", "+OK Capability list follows"},
		}},
		{"authorization-3", false, []step{
			{"RETR 1", "-ERR Command is not valid in this state: log in first"},
			{"PASS x", "-ERR Send USER first"},
		}},
		{"authorization-4", false, []step{
			{"DELE 1", "-ERR Command is not valid in this state: log in first"},
			{"UIDL", "-ERR Command is not valid in this state: log in first"},
		}},
		{"authorization-5", false, []step{
			{"TOP 1 1", "-ERR Command is not valid in this state: log in first"},
			{"RSET", "-ERR Command is not valid in this state: log in first"},
		}},
		{"authorization-6", false, []step{
			{"XYZZY", "-ERR Unknown command"},
			{"UTF8", "+OK UTF8 enabled"},
			{"USER", "-ERR Syntax: USER name"},
		}},
		{"transaction", true, []step{
			{"USER alice", "-ERR Command is not valid in this state: already logged in"},
			{"PASS secret", "-ERR Command is not valid in this state: already logged in"},
			{"APOP alice 0123456789abcdef0123456789abcdef", "-ERR Command is not valid in this state: already logged in"},
			{"AUTH PLAIN", "-ERR Command is not valid in this state: already logged in"},
			{"STLS", "-ERR Command is not valid in this state: already logged in"},
			{"UTF8", "-ERR Command is not valid in this state: already logged in"},
			{"XYZZY", "-ERR Unknown command"},
			{"LIST 0", "-ERR No such message"},
			{"LIST 4", "-ERR No such message"},
			{"LIST x", "-ERR Syntax: message number expected"},
			{"LIST 1 2", "-ERR Syntax: LIST [msg]"},
			{"UIDL 99999999999999999999", "-ERR Syntax: message number expected"},
			{"RETR", "-ERR Syntax: RETR msg"},
			{"RETR -1", "-ERR Syntax: message number expected"},
			{"TOP 1", "-ERR Syntax: TOP msg lines"},
			{"TOP 1 -1", "-ERR Syntax: TOP msg lines"},
			{"TOP 9 1", "-ERR No such message"},
			{"DELE", "-ERR Syntax: DELE msg"},
			{"STAT 1", "-ERR Syntax: STAT"},
			{"NOOP x", "-ERR Syntax: NOOP"},
			{"RSET x", "-ERR Syntax: RSET"},
			{"CAPA x", "-ERR Syntax: CAPA"},
			{"stat", "+OK 3 154"},
			{"list  2", "+OK 2 68"},
			{"QUIT now", "-ERR Syntax: QUIT"},
			{"NOOP", "+OK"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.srv.MaxBadCommands = -1 // counted in TestX13GarbageFlood
			h.start(false)
			var c *client
			if tc.login {
				c = h.login()
			} else {
				c = h.dial()
			}
			for _, s := range tc.steps {
				assert.Equal(t, s.want, c.cmd(s.send), "reply to %q", s.send)
				if strings.HasPrefix(s.want, "+OK Capability") {
					c.multi()
				}
			}
			assert.Equal(t, "+OK Goodbye", c.cmd("QUIT"))
			c.expectEOF()
		})
	}
}

// QUIT before login touches no maildrop.
func TestQuitInAuthorization(t *testing.T) {
	h := newHarness(t).start(false)
	c := h.dial()
	c.cmdOK("USER alice")
	assert.Equal(t, "+OK Goodbye", c.cmd("QUIT"))
	c.expectEOF()
	h.backend.mu.Lock()
	defer h.backend.mu.Unlock()
	assert.Empty(t, h.backend.ops)
}

func TestCAPA(t *testing.T) {
	cases := []struct {
		name  string
		setup func(h *harness)
		tls   bool
		login bool
		from  string
		want  []string
	}{
		{
			name: "plain secure-login untrusted", from: untrustedAddr,
			want: []string{"TOP", "UIDL", "STLS", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "UTF8 USER", "IMPLEMENTATION mailfront"},
		},
		{
			name: "implicit TLS", tls: true, from: untrustedAddr,
			want: []string{"TOP", "UIDL", "USER", "SASL PLAIN LOGIN", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "UTF8 USER", "IMPLEMENTATION mailfront"},
		},
		{
			name: "trusted network", from: trustedAddr,
			want: []string{"TOP", "UIDL", "USER", "SASL PLAIN LOGIN", "STLS", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "UTF8 USER", "IMPLEMENTATION mailfront"},
		},
		{
			name: "after login", from: trustedAddr, login: true,
			want: []string{"TOP", "UIDL", "USER", "SASL PLAIN LOGIN", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "UTF8 USER", "IMPLEMENTATION mailfront"},
		},
		{
			name: "expire and login-delay before login", from: trustedAddr,
			setup: func(h *harness) {
				h.srv.ExpireDays = 30
				h.srv.LoginDelay = 900e9
				h.srv.Implementation = "-"
				h.srv.TLSConfig = nil
			},
			want: []string{"TOP", "UIDL", "USER", "SASL PLAIN LOGIN", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "UTF8 USER", "EXPIRE 30 USER", "LOGIN-DELAY 900 USER"},
		},
		{
			name: "per-user policy after login", from: trustedAddr, login: true,
			setup: func(h *harness) {
				h.srv.ExpireDays = 30
				h.srv.Implementation = "Example POP 1.0"
				h.backend.policy = &pop3.MaildropPolicy{ExpireDays: pop3.ExpireNever, LoginDelay: 1500e6}
				h.backend.wrap = true
			},
			want: []string{"TOP", "UIDL", "USER", "SASL PLAIN LOGIN", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "UTF8 USER", "EXPIRE NEVER", "LOGIN-DELAY 2", "IMPLEMENTATION Example POP 1.0"},
		},
		{
			name: "expire 0", from: trustedAddr, login: true,
			setup: func(h *harness) { h.srv.ExpireDays = pop3.ExpireOnRetrieval },
			want:  []string{"TOP", "UIDL", "USER", "SASL PLAIN LOGIN", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "UTF8 USER", "EXPIRE 0", "IMPLEMENTATION mailfront"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.srv.Authenticator = plainOnly{h.dir}
			if tc.setup != nil {
				tc.setup(h)
			}
			h.start(tc.tls)
			var c *client
			if tc.tls {
				c = h.dialTLS(tc.from)
			} else {
				c = h.dialFrom(tc.from)
			}
			if tc.login {
				c.cmdOK("USER alice")
				c.cmdOK("PASS secret")
			}
			assert.Equal(t, "+OK Capability list follows", c.cmd("CAPA"))
			assert.Equal(t, tc.want, c.multi())
		})
	}
}

// plainOnly hides the directory's SecretStore, so only PLAIN and LOGIN are
// offered.
type plainOnly struct{ d *directory }

func (p plainOnly) Authenticate(ctx context.Context, u, pw string) (auth.Identity, error) {
	return p.d.Authenticate(ctx, u, pw)
}

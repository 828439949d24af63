package pop3_test

import (
	"context"
	"fmt"
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

// X10: a silent client is closed at the inactivity timeout, 10 minutes by
// default (RFC 1939 §3), before and after login; after login nothing is
// deleted (P1). A client dripping bytes of one command does not extend the
// deadline.
func TestX10IdleTimeout(t *testing.T) {
	t.Run("before login", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := newHarness(t).start(false)
			c := h.dial()
			start := time.Now()
			assert.Equal(t, "-ERR Disconnected for inactivity", c.line())
			assert.Equal(t, 10*time.Minute, time.Since(start))
			c.expectEOF()
		})
	})
	t.Run("after login, with deletions pending", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := newHarness(t).start(false)
			c := h.login()
			c.cmdOK("DELE 1")
			time.Sleep(9*time.Minute + 59*time.Second)
			assert.Equal(t, "+OK", c.cmd("NOOP"), "still there just before the timeout")
			start := time.Now()
			assert.Equal(t, "-ERR Disconnected for inactivity", c.line())
			assert.Equal(t, 10*time.Minute, time.Since(start))
			c.expectEOF()
			synctest.Wait()
			assert.Len(t, h.backend.messages("alice"), 3, "no UPDATE state: nothing deleted")
			assert.False(t, h.backend.isLocked("alice"))
			assert.Equal(t, []string{"idle timeout"}, h.closeReasons())
		})
	})
	t.Run("slow drip", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := newHarness(t).start(false)
			c := h.login()
			start := time.Now()
			dripped := make(chan struct{})
			go func() {
				defer close(dripped)
				for range 100 {
					time.Sleep(20 * time.Second)
					if _, err := io.WriteString(c.conn, "N"); err != nil {
						return
					}
				}
			}()
			assert.Equal(t, "-ERR Disconnected for inactivity", c.line())
			assert.Equal(t, 10*time.Minute, time.Since(start))
			c.conn.Close()
			<-dripped
		})
	})
	t.Run("configured", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := newHarness(t)
			h.srv.ReadTimeout = 30 * time.Minute
			h.start(false)
			c := h.login()
			start := time.Now()
			assert.Equal(t, "-ERR Disconnected for inactivity", c.line())
			assert.Equal(t, 30*time.Minute, time.Since(start))
		})
	})
	t.Run("SASL response", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := newHarness(t).start(false)
			c := h.dial()
			assert.Equal(t, "+ ", c.cmd("AUTH PLAIN"))
			start := time.Now()
			assert.Equal(t, "-ERR Disconnected for inactivity", c.line())
			assert.Equal(t, 10*time.Minute, time.Since(start))
			c.expectEOF()
		})
	})
}

// X11: connection limits per address and in total refuse with
// [SYS/TEMP]; the per-user-and-address limit refuses the login with
// [IN-USE]; the default allows 20 sessions of one user from one address.
func TestX11ConnectionFlood(t *testing.T) {
	t.Run("per address", func(t *testing.T) {
		h := newHarness(t)
		h.srv.MaxConnsPerAddr = 2
		h.start(false)
		h.dial()
		h.dial()
		conn, err := h.l.DialFrom(trustedAddr)
		require.NoError(t, err)
		defer conn.Close()
		c := newClient(t, conn)
		assert.Equal(t, "-ERR [SYS/TEMP] Too many connections; try again later", c.line())
		c.expectEOF()
		h.dialFrom(untrustedAddr) // another address is unaffected
	})
	t.Run("total", func(t *testing.T) {
		h := newHarness(t)
		h.srv.MaxConns = 1
		h.start(false)
		h.dial()
		conn, err := h.l.DialFrom(untrustedAddr)
		require.NoError(t, err)
		defer conn.Close()
		c := newClient(t, conn)
		assert.Equal(t, "-ERR [SYS/TEMP] Too many connections; try again later", c.line())
	})
	t.Run("per user and address", func(t *testing.T) {
		h := newHarness(t)
		h.backend.snapshot = true
		h.start(false)
		for i := range 20 {
			c := h.dial()
			c.cmdOK("USER alice")
			require.Equal(t, "+OK Logged in; maildrop has 3 messages (154 octets)", c.cmd("PASS secret"), "session %d", i+1)
		}
		c := h.dial()
		c.cmdOK("USER alice")
		assert.Equal(t, "-ERR [IN-USE] Too many sessions for this user from this address", c.cmd("PASS secret"))
		assert.Equal(t, "-ERR Command is not valid in this state: log in first", c.cmd("STAT"))
	})
}

// X12: a panic in a backend call ends only that session, with -ERR
// [SYS/TEMP]; it is logged with its stack, the maildrop is closed, and the
// server goes on serving.
func TestX12BackendPanic(t *testing.T) {
	for _, method := range []string{"Authenticate", "OpenMaildrop", "Messages", "Open", "Delete"} {
		t.Run(method, func(t *testing.T) {
			h := newHarness(t)
			if method == "Authenticate" {
				h.srv.Authenticator = auth.AuthenticatorFunc(func(ctx context.Context, u, p string) (auth.Identity, error) {
					if h.dir.callCount() == 0 {
						h.dir.Authenticate(ctx, u, p)
						panic("fake backend panic in Authenticate")
					}
					return h.dir.Authenticate(ctx, u, p)
				})
			}
			h.start(false)
			h.backend.set(func(b *fakeBackend) { b.panics[method] = true })
			c := h.dial()
			c.cmdOK("USER alice")
			reply := c.cmd("PASS secret")
			if strings.HasPrefix(reply, "+OK") {
				c.cmdOK("DELE 1")
				if method == "Open" {
					reply = c.cmd("RETR 2")
				} else {
					reply = c.cmd("QUIT")
				}
			}
			assert.Equal(t, "-ERR [SYS/TEMP] Internal server error; try again later", reply)
			c.expectEOF()
			assert.Eventually(t, func() bool { return len(h.closeReasons()) == 1 }, 5*time.Second, time.Millisecond)
			assert.Equal(t, []string{"internal error"}, h.closeReasons())
			logs := h.logs.String()
			assert.Contains(t, logs, "panic serving connection")
			assert.Contains(t, logs, "fake backend panic in "+method)
			assert.Contains(t, logs, "stack=")
			assert.False(t, h.backend.isLocked("alice"), "the maildrop was closed")
			assert.Len(t, h.backend.messages("alice"), 3, "nothing deleted")

			h.backend.set(func(b *fakeBackend) { b.panics[method] = false })
			c = h.login()
			assert.Equal(t, "+OK 3 154", c.cmd("STAT"), "the server keeps serving")
		})
	}
}

// X13: a flood of unknown commands is cut off at the limit with a final
// -ERR: 3 before login, 20 after.
func TestX13GarbageFlood(t *testing.T) {
	for _, tc := range []struct {
		name  string
		login bool
		limit int
	}{{"before login", false, 3}, {"after login", true, 20}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t).start(false)
			var c *client
			if tc.login {
				c = h.login()
			} else {
				c = h.dialFrom(untrustedAddr)
			}
			garbage := make([]string, 25)
			for i := range garbage {
				garbage[i] = "GARBAGE"
			}
			c.send(garbage...)
			for range tc.limit - 1 {
				assert.Equal(t, "-ERR Unknown command", c.line())
			}
			assert.Equal(t, "-ERR Unknown command; too many bad commands, closing connection", c.line())
			c.expectEOF()
			assert.Eventually(t, func() bool { return len(h.closeReasons()) == 1 }, 5*time.Second, time.Millisecond)
			assert.Equal(t, []string{"too many bad commands"}, h.closeReasons())
		})
	}
	t.Run("refused logins count", func(t *testing.T) {
		h := newHarness(t).start(false)
		c := h.dialFrom(untrustedAddr)
		assert.Equal(t, refusal, c.cmd("USER a"))
		assert.Equal(t, refusal, c.cmd("USER b"))
		assert.Equal(t, refusal+"; too many bad commands, closing connection", c.cmd("USER c"))
		c.expectEOF()
	})
	t.Run("good commands do not reset the count", func(t *testing.T) {
		h := newHarness(t).start(false)
		c := h.dialFrom(untrustedAddr)
		c.cmd("NOPE")
		capaOf(c)
		c.cmd("NOPE")
		capaOf(c)
		assert.Equal(t, "-ERR Unknown command; too many bad commands, closing connection", c.cmd("NOPE"))
	})
}

// X14 and P1: Shutdown closes a session idle in TRANSACTION without the
// UPDATE state: nothing it marked is deleted.
func TestX14ShutdownInTransaction(t *testing.T) {
	h := newHarness(t).start(false)
	c := h.login()
	c.cmdOK("DELE 1")
	c.cmdOK("DELE 2")
	require.NoError(t, h.srv.Shutdown(context.Background()))
	c.expectEOF()
	assert.ErrorIs(t, <-h.done, pop3.ErrServerClosed)
	h.done <- pop3.ErrServerClosed // for the cleanup
	assert.Len(t, h.backend.messages("alice"), 3, "no UPDATE on shutdown")
	assert.False(t, h.backend.isLocked("alice"))
	assert.Equal(t, []string{"shutdown"}, h.closeReasons())
}

// Shutdown lets a RETR in progress finish, terminating line included, and
// then closes the connection; Shutdown returns once it has.
func TestShutdownDuringRETR(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		const size = 1 << 20
		h.backend.source = func(uid string) io.Reader { return &slowReader{remaining: size, every: time.Second} }
		h.backend.set(func(b *fakeBackend) {
			b.boxes["alice"] = []fakeMsg{{uid: "big", size: size}}
		})
		h.start(false)
		c := h.login()
		c.send("RETR 1")
		assert.Equal(t, "+OK 1048576 octets", c.line())
		shut := make(chan error, 1)
		go func() { shut <- h.srv.Shutdown(context.Background()) }()
		synctest.Wait()
		select {
		case <-shut:
			t.Fatal("Shutdown returned while RETR was in progress")
		default:
		}
		body := c.raw()
		assert.Equal(t, size+len(".\r\n"), len(body), "the whole message and the terminating line")
		assert.True(t, strings.HasSuffix(body, "\r\n.\r\n"))
		c.expectEOF()
		assert.NoError(t, <-shut)
		assert.ErrorIs(t, <-h.done, pop3.ErrServerClosed)
		h.done <- pop3.ErrServerClosed
		assert.Equal(t, []string{"shutdown"}, h.closeReasons())
	})
}

// slowReader yields lines of text slowly: 64 KiB every period.
type slowReader struct {
	remaining int
	every     time.Duration
	sent      int
}

func (r *slowReader) Read(p []byte) (int, error) {
	if r.remaining == 0 {
		return 0, io.EOF
	}
	if r.sent >= 64<<10 {
		time.Sleep(r.every)
		r.sent = 0
	}
	n := min(len(p), r.remaining, 64<<10-r.sent)
	for i := range n {
		if (r.remaining-i)%64 == 2 {
			p[i] = '\r'
		} else if (r.remaining-i)%64 == 1 {
			p[i] = '\n'
		} else {
			p[i] = 'x'
		}
	}
	r.remaining -= n
	r.sent += n
	return n, nil
}

// Close cancels the context of a backend call in progress.
func TestCloseCancelsSlowBackend(t *testing.T) {
	for _, method := range []string{"OpenMaildrop", "Open", "Delete"} {
		t.Run(method, func(t *testing.T) {
			h := newHarness(t).start(false)
			h.backend.set(func(b *fakeBackend) { b.block[method] = true })
			c := h.dial()
			c.cmdOK("USER alice")
			switch method {
			case "OpenMaildrop":
				c.send("PASS secret")
			case "Open":
				c.cmdOK("PASS secret")
				c.send("RETR 1")
			case "Delete":
				c.cmdOK("PASS secret")
				c.cmdOK("DELE 1")
				c.send("QUIT")
			}
			assert.Equal(t, method, <-h.backend.blocked)
			require.NoError(t, h.srv.Close())
			assert.ErrorIs(t, <-h.backend.ctxErrs, context.Canceled, "the backend call sees its context cancelled")
			io.ReadAll(c.conn)
			assert.Eventually(t, func() bool { return len(h.closeReasons()) == 1 }, 5*time.Second, time.Millisecond)
			assert.Equal(t, []string{"shutdown"}, h.closeReasons())
			assert.False(t, h.backend.isLocked("alice"))
		})
	}
}

// Shutdown with an expired context returns its error; Close ends the rest.
func TestShutdownTimeout(t *testing.T) {
	h := newHarness(t).start(false)
	h.backend.set(func(b *fakeBackend) { b.block["Open"] = true })
	c := h.login()
	c.send("RETR 1")
	<-h.backend.blocked
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, h.srv.Shutdown(ctx), context.Canceled)
	require.NoError(t, h.srv.Close())
	<-h.backend.ctxErrs
}

// A long reply after a quiet spell longer than the write timeout is sent:
// the write deadline is renewed for each command.
func TestWriteDeadlineRenewedPerCommand(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		h.srv.WriteTimeout = time.Minute
		var msgs []fakeMsg
		for i := range 1000 {
			msgs = append(msgs, fakeMsg{uid: fmt.Sprintf("uid-%04d", i), body: []byte("x\r\n")})
		}
		h.backend.boxes["alice"] = msgs
		h.start(false)
		c := h.login()
		time.Sleep(5 * time.Minute)
		c.cmdOK("UIDL") // about 14 KB, more than the write buffer
		assert.Len(t, c.multi(), 1000)
	})
}

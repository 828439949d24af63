package pop3test_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/mailfront/mailfront"
	"github.com/mailfront/mailfront/internal/mailtest"
	"github.com/mailfront/mailfront/pop3/pop3test"
)

// The scripted client fails its test, with the line received and the
// transcript, instead of hanging or going on.
func TestClientReportsFailures(t *testing.T) {
	srv := pop3test.NewServer(t)
	tests := []struct {
		name   string
		script func(c *pop3test.Client)
		want   []string
	}{
		{
			name: "wrong reply",
			script: func(c *pop3test.Client) {
				c.Send("USER " + pop3test.DefaultUser)
				c.Expect("+OK")
			},
			want: []string{
				`pop3test: Expect("+OK"): got "-ERR [AUTH] Command is not valid in this state: use STLS or the TLS port first"`,
				"transcript (most recent last):",
				"C: USER alice@example.org",
				"S: -ERR [AUTH]",
			},
		},
		{
			name: "regexp",
			script: func(c *pop3test.Client) {
				c.Send("NOOP")
				c.ExpectRegexp(`^\+OK \d+$`)
			},
			want: []string{`pop3test: ExpectRegexp("^\\+OK \\d+$"): got "-ERR`},
		},
		{
			name: "silent server",
			script: func(c *pop3test.Client) {
				c.SetTimeout(50 * time.Millisecond)
				c.Expect("+OK") // nothing was sent: the server waits for a command
			},
			want: []string{`pop3test: Expect("+OK"): no reply within 50ms`},
		},
		{
			name: "closed connection",
			script: func(c *pop3test.Client) {
				c.Send("QUIT")
				c.Expect("+OK")
				c.ReadLine()
			},
			want: []string{"pop3test: ReadLine: the server closed the connection", "S: +OK"},
		},
		{
			name: "bad regexp",
			script: func(c *pop3test.Client) {
				c.Send("NOOP")
				c.ExpectRegexp(`(`)
			},
			want: []string{"pop3test: ExpectRegexp: error parsing regexp"},
		},
		{
			name: "STLS on a TLS connection",
			script: func(c *pop3test.Client) {
				c.StartTLS()
				c.StartTLS()
			},
			want: []string{`pop3test: Expect("+OK"): got "-ERR`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			failure := mailtest.MustFail(t, func(tb testing.TB) { tt.script(srv.Dial(tb)) })
			for _, w := range tt.want {
				assert.Contains(t, failure, w)
			}
		})
	}
}

// The server's logs reach the test's output at LogLevel and above, with
// the protocol trace redacted (the harness's tests cover the rest).
func TestLogLevel(t *testing.T) {
	f := mailtest.NewFakeTB()
	srv := pop3test.NewUnstartedServer(f)
	srv.LogLevel = mailfront.LevelTrace
	srv.Start()

	c := srv.DialTLS(t)
	c.Login(pop3test.DefaultUser, pop3test.DefaultPassword)
	c.Send("QUIT")
	c.Expect("+OK")
	f.Finish()
	logged := f.Logged()
	assert.Contains(t, logged, "pop3test server: ")
	assert.Contains(t, logged, "USER alice@example.org")
	assert.NotContains(t, logged, pop3test.DefaultPassword, "the trace redacts passwords")
	assert.Empty(t, f.Failures())
}

// SendRaw writes exactly what it is given: two pipelined commands get two
// replies; Close ends the session without QUIT.
func TestClientSendRawAndClose(t *testing.T) {
	srv := pop3test.NewServer(t)
	c := srv.Dial(t)
	c.SendRaw("NOOP\r\nNOOP\r\n")
	c.Expect("-ERR") // NOOP before login
	c.Expect("-ERR")
	c.Close()
	c.Close()
	_, err := c.NetConn().Write([]byte("NOOP\r\n"))
	assert.Error(t, err)
}

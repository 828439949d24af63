package pop3test_test

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
			f := mailtest.NewFakeTB()
			defer f.Finish()
			completed := f.Run(func(tb testing.TB) { tt.script(srv.Dial(tb)) })
			assert.False(t, completed, "the script stopped at the failure")
			require.Len(t, f.Failures(), 1)
			for _, w := range tt.want {
				assert.Contains(t, f.Failures()[0], w)
			}
		})
	}
}

// A Client dialled with a fake t is closed by that t's cleanup.
func TestClientClosedAtCleanup(t *testing.T) {
	srv := pop3test.NewServer(t)
	f := mailtest.NewFakeTB()
	var c *pop3test.Client
	require.True(t, f.Run(func(tb testing.TB) { c = srv.Dial(tb) }))
	f.Finish()
	_, err := c.NetConn().Write([]byte("NOOP\r\n"))
	assert.Error(t, err)
}

// The server's logs reach the test's output at LogLevel and above, and
// stop when the server is closed.
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

	n := len(logged)
	if conn, err := net.Dial("tcp", srv.Addr); err == nil { // the listener is closed: nothing more is logged
		conn.Close()
	}
	assert.Len(t, f.Logged(), n)
}

func TestDefaultLogLevelIsQuiet(t *testing.T) {
	f := mailtest.NewFakeTB()
	srv := pop3test.NewServer(f)
	c := srv.DialTLS(t)
	c.Login(pop3test.DefaultUser, pop3test.DefaultPassword)
	f.Finish()
	assert.Empty(t, f.Logged())
}

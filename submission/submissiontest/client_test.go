package submissiontest_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/mailfront/mailfront/internal/mailtest"
	"github.com/mailfront/mailfront/submission/submissiontest"
)

// Expect reads whole replies; ExpectRegexp matches them across lines.
func TestClientReadsWholeReplies(t *testing.T) {
	srv := submissiontest.NewServer(t)
	c := srv.Dial(t)
	c.Send("EHLO client.example")
	m := c.ExpectRegexp(`(?m)^250[ -]SIZE (\d+)$`)
	assert.Equal(t, "36700160", m[1])
	c.Send("NOOP")
	assert.Equal(t, "250 2.0.0 OK", c.Expect("250"))
	c.Send("EHLO client.example")
	assert.Equal(t, "250-localhost greets client.example", c.ReadLine(), "ReadLine reads one line of a reply")
}

// The scripted client fails its test, with the reply received and the
// transcript, instead of hanging or going on.
func TestClientReportsFailures(t *testing.T) {
	srv := submissiontest.NewServer(t)
	tests := []struct {
		name   string
		script func(c *submissiontest.Client)
		want   []string
	}{
		{
			name: "wrong reply",
			script: func(c *submissiontest.Client) {
				c.Hello()
				c.Login(submissiontest.DefaultUser, submissiontest.DefaultPassword)
			},
			want: []string{
				`submissiontest: Expect("235"): got "530 5.7.0 Must issue a STARTTLS command first"`,
				"C: EHLO localhost",
				"S: 250-localhost",
			},
		},
		{
			name: "silent server",
			script: func(c *submissiontest.Client) {
				c.SetTimeout(50 * time.Millisecond)
				c.Expect("250")
			},
			want: []string{`submissiontest: Expect("250"): no reply within 50ms`},
		},
		{
			name: "closed connection",
			script: func(c *submissiontest.Client) {
				c.Send("QUIT")
				c.Expect("221")
				c.Expect("250")
			},
			want: []string{`submissiontest: Expect("250"): the server closed the connection`},
		},
		{
			name: "refused sender",
			script: func(c *submissiontest.Client) {
				c.StartTLS()
				c.Hello()
				c.Login(submissiontest.DefaultUser, submissiontest.DefaultPassword)
				c.SendMail("ceo@example.org", []string{"bob@example.com"}, "x\n")
			},
			want: []string{`submissiontest: Expect("250"): got "553 5.7.1 Sender address <ceo@example.org> is not allowed`},
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

// SendRaw writes exactly what it is given: two pipelined commands get two
// replies; Close ends the session without QUIT.
func TestClientSendRawAndClose(t *testing.T) {
	srv := submissiontest.NewServer(t)
	c := srv.Dial(t)
	c.Hello()
	c.SendRaw("RSET\r\nNOOP\r\n") // pipelined (RFC 2920: NOOP comes last)
	c.Expect("250")
	c.Expect("250")
	c.Close()
	c.Close()
	_, err := c.NetConn().Write([]byte("NOOP\r\n"))
	assert.Error(t, err)
}

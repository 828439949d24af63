package imap4test_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/mailfront/mailfront/imap4/imap4test"
	"github.com/mailfront/mailfront/internal/mailtest"
)

// The scripted client fails its test, with the response received and the
// transcript, instead of hanging or going on.
func TestClientReportsFailures(t *testing.T) {
	srv := imap4test.NewServer(t)
	tests := []struct {
		name   string
		script func(c *imap4test.Client)
		want   []string
	}{
		{
			name: "Command refused",
			script: func(c *imap4test.Client) {
				c.StartTLS()
				c.Login(imap4test.DefaultUser, imap4test.DefaultPassword)
				c.Command("SELECT Nowhere")
			},
			want: []string{
				`imap4test: ExpectTagged("a3 OK"): got "a3 NO [NONEXISTENT]`,
				`C: a3 SELECT Nowhere`,
			},
		},
		{
			name: "untagged response expected",
			script: func(c *imap4test.Client) {
				c.Send("x NOOP")
				c.Expect("* ")
			},
			want: []string{`imap4test: Expect("* "): got "x OK`},
		},
		{
			name: "IDLE without the update",
			script: func(c *imap4test.Client) {
				c.StartTLS()
				c.Login(imap4test.DefaultUser, imap4test.DefaultPassword)
				c.Command("SELECT INBOX")
				c.Send("i IDLE")
				c.Expect("+")
				c.SetTimeout(50 * time.Millisecond)
				c.Expect("* 1 EXISTS") // nothing is delivered
			},
			want: []string{`imap4test: Expect("* 1 EXISTS"): no reply within 50ms`, "S: + idling"},
		},
		{
			name: "logout",
			script: func(c *imap4test.Client) {
				c.Send("z LOGOUT")
				c.ExpectTagged("z OK")
				c.ReadLine()
			},
			want: []string{"imap4test: ReadLine: the server closed the connection", "S: * BYE"},
		},
		{
			name: "a prefix without a tag",
			script: func(c *imap4test.Client) {
				c.ExpectTagged("* OK")
			},
			want: []string{"the prefix must start with a tag"},
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

// NextTag numbers the commands the test sends itself along with Command's.
func TestNextTag(t *testing.T) {
	srv := imap4test.NewServer(t)
	c := srv.Dial(t)
	c.Command("NOOP")
	tag := c.NextTag()
	assert.Equal(t, "a2", tag)
	c.Send(tag + " SELECT INBOX")
	c.ExpectTagged(tag + " BAD") // not logged in
	c.Command("NOOP")
	assert.Equal(t, "a4", c.NextTag())
}

// ExpectRegexp matches one whole response and returns the submatches.
func TestClientExpectRegexp(t *testing.T) {
	srv := imap4test.NewServer(t)
	c := srv.DialTLS(t)
	c.Send("r1 CAPABILITY")
	m := c.ExpectRegexp(`^\* CAPABILITY .*\b(IMAP4rev\d)\b`)
	assert.Equal(t, "IMAP4rev2", m[1])
	c.ExpectTagged("r1 OK")
}

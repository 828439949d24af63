package submission_test

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/submission"
)

// run plays a script: "> line" sends line with CRLF, ">> raw" sends raw
// bytes, "< prefix" expects a reply whose last line starts with prefix,
// "EOF" expects the server to close.
func (c *client) run(steps ...string) {
	c.t.Helper()
	for _, s := range steps {
		switch {
		case strings.HasPrefix(s, ">> "):
			c.send(s[3:])
		case strings.HasPrefix(s, "> "):
			c.cmd(s[2:])
		case strings.HasPrefix(s, "< "):
			c.expect(s[2:])
		case s == "EOF":
			c.expectEOF()
		default:
			c.t.Fatalf("bad script step %q", s)
		}
	}
}

func TestZeroValueServer(t *testing.T) {
	var s submission.Server
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	err = s.Serve(l)
	require.Error(t, err, "a zero Server refuses to serve rather than panic")
	assert.Contains(t, err.Error(), "Backend")
	_, err = net.Dial("tcp", l.Addr().String())
	assert.Error(t, err, "Serve closed the listener")
	assert.Error(t, s.ServeTLS(newListener(t)), "ServeTLS of a zero Server fails too")
	s2 := submission.Server{Backend: &fakeBackend{}, Authenticator: users, LoginPolicy: auth.PlainTextLogin, Logger: slog.New(slog.DiscardHandler)}
	assert.ErrorContains(t, s2.ServeTLS(newListener(t)), "TLS", "ServeTLS without TLSConfig fails")
}

func newListener(t *testing.T) net.Listener {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return l
}

func TestServeValidation(t *testing.T) {
	b := &fakeBackend{}
	quiet := slog.New(slog.DiscardHandler)
	tests := []struct {
		name string
		srv  *submission.Server
		ok   bool
	}{
		{"no authenticator", &submission.Server{Backend: b}, false},
		{"secure login without TLS or trusted networks", &submission.Server{Backend: b, Authenticator: users}, false},
		{"plaintext login", &submission.Server{Backend: b, Authenticator: users, LoginPolicy: auth.PlainTextLogin}, true},
		{"trusted networks", &submission.Server{Backend: b, Authenticator: users, TrustedNetworks: []netip.Prefix{clientNet}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.srv.Logger = quiet
			l := newListener(t)
			done := make(chan error, 1)
			go func() { done <- tt.srv.Serve(l) }()
			if tt.ok {
				conn, err := net.Dial("tcp", l.Addr().String())
				require.NoError(t, err)
				conn.Close()
				tt.srv.Close()
				assert.ErrorIs(t, <-done, submission.ErrServerClosed)
				return
			}
			assert.Error(t, <-done)
		})
	}
}

// TestCommands walks every command through its reply paths.
func TestCommands(t *testing.T) {
	tests := []struct {
		name  string
		login bool
		steps []string
	}{
		{"NOOP", false, []string{"> NOOP", "< 250 2.0.0", "> NOOP anything", "< 250 2.0.0"}},
		{"HELP", false, []string{"> HELP", "< 214 2.0.0", "> HELP MAIL", "< 214 2.0.0"}},
		{"VRFY", false, []string{"> VRFY bob", "< 252 2.5.0", "> VRFY", "< 501 5.5.4"}},
		{"EXPN not implemented", false, []string{"> EXPN list", "< 502 5.5.1"}},
		{"unknown", false, []string{"> XYZZY", "< 500 5.5.2"}},
		{"not a command", false, []string{"> 123", "< 500 5.5.2"}},
		{"RSET", false, []string{"> RSET", "< 250 2.0.0", "> RSET x", "< 501 5.5.4"}},
		{"QUIT", false, []string{"> QUIT", "< 221 2.0.0", "EOF"}},
		{"EHLO syntax", false, []string{"> EHLO", "< 501 5.5.4", "> EHLO a b", "< 501 5.5.4", "> EHLO [300.0.0.1]", "< 501 5.5.4", "> EHLO [192.0.2.9]", "< 250 "}},
		{"HELO", false, []string{"> HELO client.example", "< 250 mx.example.org", "> AUTH PLAIN " + plainIR("alice@example.org", "secret"), "< 503 5.5.1"}},
		{"MAIL before EHLO", false, []string{"> MAIL FROM:<alice@example.org>", "< 503 5.5.1"}},
		{"MAIL before AUTH", false, []string{"> EHLO x", "< 250 ", "> MAIL FROM:<alice@example.org>", "< 530 5.7.0 Authentication required"}},
		{"RCPT before MAIL", true, []string{"> RCPT TO:<bob@example.net>", "< 503 5.5.1"}},
		{"DATA before MAIL", true, []string{"> DATA", "< 503 5.5.1"}},
		{"DATA before RCPT", true, []string{"> MAIL FROM:<alice@example.org>", "< 250 2.1.0", "> DATA", "< 503 5.5.1"}},
		{"DATA arg", true, []string{"> MAIL FROM:<alice@example.org>", "< 250 2.1.0", "> RCPT TO:<b@example.net>", "< 250 2.1.5", "> DATA now", "< 501 5.5.4"}},
		{"nested MAIL", true, []string{"> MAIL FROM:<alice@example.org>", "< 250 2.1.0", "> MAIL FROM:<alice@example.org>", "< 503 5.5.1"}},
		{"MAIL syntax", true, []string{"> MAIL TO:<a@b.example>", "< 501 5.5.4", "> MAIL FROM:alice@example.org", "< 501 5.1.7", "> MAIL FROM:<alice>", "< 501 5.1.7"}},
		{"MAIL null sender", true, []string{"> MAIL FROM:<>", "< 553 5.7.1"}},
		{"MAIL params", true, []string{
			"> MAIL FROM:<alice@example.org> SIZE=abc", "< 501 5.5.4",
			"> MAIL FROM:<alice@example.org> SIZE=-1", "< 501 5.5.4",
			"> MAIL FROM:<alice@example.org> BODY=9BIT", "< 501 5.5.4",
			"> MAIL FROM:<alice@example.org> RET=ALL", "< 501 5.5.4",
			"> MAIL FROM:<alice@example.org> XFOO=1", "< 555 5.5.4",
			"> MAIL FROM:<alice@example.org> REQUIRETLS", "< 555 5.5.4",
			"> MAIL FROM:<alice@example.org> SIZE=1 SIZE=2", "< 501 5.5.4",
			"> MAIL FROM:<alice@example.org> SIZE=1000 BODY=8BITMIME RET=HDRS ENVID=QQ+2Bx AUTH=<> SMTPUTF8", "< 250 2.1.0",
		}},
		{"MAIL size over limit", true, []string{"> MAIL FROM:<alice@example.org> SIZE=99999999999", "< 552 5.3.4", "> MAIL FROM:<alice@example.org> SIZE=100", "< 250 2.1.0"}},
		{"UTF-8 address needs SMTPUTF8", true, []string{
			"> MAIL FROM:<alice@example.org>", "< 250 2.1.0",
			"> RCPT TO:<用户@例子.example>", "< 553 5.6.7",
			"> RSET", "< 250",
			"> MAIL FROM:<alice@example.org> SMTPUTF8", "< 250 2.1.0",
			"> RCPT TO:<用户@例子.example>", "< 250 2.1.5",
		}},
		{"RCPT syntax and params", true, []string{
			"> MAIL FROM:<alice@example.org>", "< 250 2.1.0",
			"> RCPT TO:<>", "< 501 5.1.3",
			"> RCPT TO:bob", "< 501 5.1.3",
			"> RCPT TO:<bob@example.net> NOTIFY=NEVER,SUCCESS", "< 501 5.5.4",
			"> RCPT TO:<bob@example.net> ORCPT=rfc822", "< 501 5.5.4",
			"> RCPT TO:<bob@example.net> FOO=1", "< 555 5.5.4",
			"> RCPT TO:<bob@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob+40example.net", "< 250 2.1.5",
			"> RCPT TO:<postmaster>", "< 250 2.1.5",
		}},
		{"AUTH twice", true, []string{"> AUTH PLAIN " + plainIR("alice@example.org", "secret"), "< 503 5.5.1"}},
		{"AUTH in transaction", false, []string{"> EHLO x", "< 250", "> AUTH PLAIN " + plainIR("alice@example.org", "secret"), "< 235", "> MAIL FROM:<alice@example.org>", "< 250", "> AUTH LOGIN", "< 503 5.5.1"}},
		{"AUTH unknown mechanism", false, []string{"> EHLO x", "< 250", "> AUTH FOO", "< 504 5.5.4"}},
		{"AUTH syntax", false, []string{"> EHLO x", "< 250", "> AUTH", "< 501 5.5.4"}},
		{"STARTTLS unavailable", false, []string{"> STARTTLS", "< 502 5.5.1"}},
		{"BDAT syntax closes", true, []string{"> BDAT x", "< 501 5.5.4", "EOF"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newServer(t, func(s *submission.Server) { s.MaxBadCommands = -1 })
			c := e.dialGreeted()
			if tt.login {
				c.login()
			}
			c.run(tt.steps...)
			if tt.steps[len(tt.steps)-1] != "EOF" {
				c.run("> QUIT", "< 221", "EOF")
			}
		})
	}
}

func TestGreetingAndEHLO(t *testing.T) {
	e := newServer(t, withTLS)
	c := e.dial()
	greeting := c.line()
	assert.Regexp(t, `^220 mx\.example\.org ESMTP ready \(session \w+-\d+\)$`, greeting)
	ext := c.ehlo()
	assert.Equal(t, []string{"PIPELINING", "SIZE 36700160", "8BITMIME", "SMTPUTF8", "CHUNKING", "BINARYMIME", "DSN",
		"ENHANCEDSTATUSCODES", "LIMITS RCPTMAX=100", "STARTTLS", "AUTH PLAIN LOGIN"}, ext,
		"the client network is trusted, so AUTH is offered before TLS")
	c.startTLS()
	ext = c.ehlo()
	assert.NotContains(t, ext, "STARTTLS", "X2: STARTTLS is gone after TLS")
	assert.Contains(t, ext, "AUTH PLAIN LOGIN")
	assert.Contains(t, ext, "REQUIRETLS", "REQUIRETLS is offered over TLS only")
}

func TestEHLOLimitsAdvertised(t *testing.T) {
	e := newServer(t, func(s *submission.Server) {
		s.MaxMessageBytes = -1
		s.MaxRecipients = 7
	})
	ext := e.dialGreeted().ehlo()
	assert.Contains(t, ext, "SIZE", "SIZE without a number when there is no limit")
	assert.Contains(t, ext, "LIMITS RCPTMAX=7")
}

func TestSubmit(t *testing.T) {
	e := newServer(t, nil)
	c := e.dialGreeted()
	c.login()
	c.run(
		"> MAIL FROM:<alice@example.org> SIZE=200 BODY=8BITMIME RET=HDRS ENVID=abc+2Bdef",
		"< 250 2.1.0",
		"> RCPT TO:<bob@example.net> NOTIFY=FAILURE,DELAY ORCPT=rfc822;bob+40example.net",
		"< 250 2.1.5",
		"> RCPT TO:<carol@example.net>",
		"< 250 2.1.5",
		"> DATA",
		"< 354 ",
		">> "+simpleMsg+"..leading dot\r\n.\r\n",
	)
	final := c.expect("250 2.0.0 OK: queued as ")
	msgs := e.backend.got()
	require.Len(t, msgs, 1)
	m := msgs[0]
	assert.Equal(t, simpleMsg+".leading dot\r\n", body(t, m), "the backend gets the message byte for byte after the trace header")
	assert.Equal(t, strings.TrimPrefix(final, "250 2.0.0 OK: queued as "), m.env.ID)
	assert.Equal(t, "alice@example.org", m.env.From)
	assert.Equal(t, "alice@example.org", m.env.Identity.Username)
	assert.Equal(t, submission.Body8BitMIME, m.env.Body)
	assert.Equal(t, int64(200), m.env.Size)
	assert.Equal(t, "HDRS", m.env.Ret)
	assert.Equal(t, "abc+def", m.env.EnvID)
	assert.Equal(t, []submission.Recipient{
		{Address: "bob@example.net", Notify: []string{"FAILURE", "DELAY"}, ORCPT: "rfc822;bob@example.net"},
		{Address: "carol@example.net"},
	}, m.env.Recipients)
	assert.Regexp(t, `^Received: from client\.example \(\[198\.51\.100\.1\]\)\r\n`+
		`\t\(authenticated user alice@example\.org\)\r\n`+
		`\tby mx\.example\.org \(mailfront\) with ESMTPA id \w+-\d+\.1;\r\n`+
		`\t\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\r\n`, m.data)

	// A second message on the same connection.
	assert.Contains(t, c.sendMessage("alias@example.org", "bob@example.net", simpleMsg+".\r\n"), "250 2.0.0")
	require.Len(t, e.backend.got(), 2)
	assert.Regexp(t, `\.2$`, e.backend.got()[1].env.ID)
}

func TestReceivedHeaderOverTLS(t *testing.T) {
	e := newServer(t, func(s *submission.Server) {
		withTLS(s)
		s.TrustedNetworks = nil
	})
	c := e.dialGreeted()
	c.ehlo()
	c.startTLS()
	c.login()
	c.cmd("MAIL FROM:<alice@example.org> SMTPUTF8")
	c.expect("250")
	c.cmd("RCPT TO:<bob@example.net>")
	c.expect("250")
	c.cmd("DATA")
	c.expect("354")
	c.send(simpleMsg + ".\r\n")
	c.expect("250 2.0.0")
	m := e.backend.got()[0]
	assert.Regexp(t, `^Received: from client\.example \(\[198\.51\.100\.1\]\)\r\n`+
		`\t\(authenticated user alice@example\.org; using TLSv1\.3 with cipher TLS_\w+\)\r\n`+
		`\tby mx\.example\.org \(mailfront\) with UTF8SMTPSA id \S+\r\n`+
		`\tfor <bob@example\.net>;\r\n`, m.data)
	assert.True(t, m.env.SMTPUTF8)

	// REQUIRETLS (RFC 8689) reaches the backend.
	c.run("> MAIL FROM:<alice@example.org> REQUIRETLS", "< 250", "> RCPT TO:<bob@example.net>", "< 250", "> DATA", "< 354", ">> "+simpleMsg+".\r\n", "< 250 2.0.0")
	assert.True(t, e.backend.got()[1].env.RequireTLS)
	assert.False(t, m.env.RequireTLS)
}

func TestMissingHeadersAdded(t *testing.T) {
	for _, keep := range []bool{false, true} {
		e := newServer(t, func(s *submission.Server) {
			if keep {
				s.MissingHeaders = submission.KeepMissingHeaders
			}
		})
		c := e.dialGreeted()
		c.login()
		c.sendMessage("alice@example.org", "bob@example.net", "Subject: bare\r\n\r\nbody\r\n.\r\n")
		m := e.backend.got()[0]
		b := body(t, m)
		if keep {
			assert.Equal(t, "Subject: bare\r\n\r\nbody\r\n", b)
			continue
		}
		assert.Regexp(t, `^Subject: bare\r\nFrom: <alice@example\.org>\r\nDate: \w{3}, \d\d \w{3} \d{4} [\d:]{8} [+-]\d{4}\r\n`+
			`Message-ID: <[0-9a-f]{32}@mx\.example\.org>\r\n\r\nbody\r\n$`, b)
	}
}

func TestPostmasterAndRecipientChecker(t *testing.T) {
	e := newServer(t, nil)
	e.backend.rcptErr = func(r submission.Recipient) error {
		switch r.Address {
		case "nobody@example.net":
			return submission.ErrRecipientRejected
		case "full@example.net":
			return submission.ErrQuotaExceeded
		case "later@example.net":
			return submission.ErrTemporary
		case "exact@example.net":
			return &submission.Error{Code: 550, Enhanced: "5.7.1", Text: "Relaying\r\ndenied", Err: errTest}
		case "wrongclass@example.net":
			return &submission.Error{Code: 450, Enhanced: "5.1.1"}
		case "badcode@example.net":
			return &submission.Error{Code: 250}
		case "other@example.net":
			return errTest
		case "canceled@example.net":
			return context.Canceled
		}
		return nil
	}
	c := e.dialGreeted()
	c.login()
	c.run(
		"> MAIL FROM:<alice@example.org>", "< 250",
		"> RCPT TO:<nobody@example.net>", "< 550 5.1.1 Recipient address rejected",
		"> RCPT TO:<full@example.net>", "< 452 4.2.2",
		"> RCPT TO:<later@example.net>", "< 451 4.3.0",
		"> RCPT TO:<exact@example.net>", "< 550 5.7.1 Relayingdenied",
		"> RCPT TO:<wrongclass@example.net>", "< 450 4.0.0 Temporary failure",
		"> RCPT TO:<badcode@example.net>", "< 451 4.3.0",
		"> RCPT TO:<other@example.net>", "< 451 4.3.0 Temporary failure",
		"> DATA", "< 554 5.5.1 No valid recipients",
		"> RCPT TO:<bob@example.net>", "< 250 2.1.5",
		"> RCPT TO:<canceled@example.net>", "< 451 4.3.0",
	)
	assert.Contains(t, e.logs.String(), `msg="backend error"`, "unknown errors are logged, and only logged")
}

func TestSubmitErrors(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{submission.ErrRecipientRejected, "550 5.1.1"},
		{submission.ErrMessageTooLarge, "552 5.3.4"},
		{submission.ErrQuotaExceeded, "452 4.2.2"},
		{submission.ErrTemporary, "451 4.3.0"},
		{&submission.Error{Code: 554, Enhanced: "5.6.0", Text: "Spam"}, "554 5.6.0 Spam"},
		{errTest, "451 4.3.0 Temporary failure"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			e := newServer(t, nil)
			e.backend.submitErr = tt.err
			c := e.dialGreeted()
			c.login()
			assert.True(t, strings.HasPrefix(c.sendMessage("alice@example.org", "bob@example.net", simpleMsg+".\r\n"), tt.want))
			assert.Empty(t, e.backend.got())
			c.run("> NOOP", "< 250", "> QUIT", "< 221")
		})
	}
}

func TestErrorType(t *testing.T) {
	e := &submission.Error{Code: 452, Enhanced: "4.2.2", Text: "Full", Err: errTest}
	assert.True(t, e.Temporary())
	assert.ErrorIs(t, e, errTest)
	assert.Contains(t, e.Error(), "452 4.2.2 Full")
	assert.False(t, (&submission.Error{Code: 550}).Temporary())
}

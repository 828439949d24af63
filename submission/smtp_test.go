package submission_test

import (
	"bufio"
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
	"github.com/mailfront/mailfront/submission"
)

// startData logs in and runs MAIL, RCPT and DATA up to the 354.
func (c *client) startData() {
	c.t.Helper()
	c.login()
	c.run("> MAIL FROM:<alice@example.org>", "< 250", "> RCPT TO:<bob@example.net>", "< 250", "> DATA", "< 354")
}

var smuggled = "MAIL FROM:<spoof@example.org>\r\nRCPT TO:<victim@example.net>\r\nDATA\r\nFrom: spoof@example.org\r\n\r\nevil\r\n"

// S1: none of the smuggling end-of-data variants ends DATA: the result is
// one rejection (default) or one message (normalize), never two.
func TestS1Smuggling(t *testing.T) {
	for _, variant := range []string{"\n.\n", "\n.\r\n", "\r.\r\n", "\r\n.\n", "\r.\r", "\r\n.\r"} {
		for _, policy := range []submission.LineEndingPolicy{submission.RejectBareLineEndings, submission.NormalizeBareLineEndings} {
			t.Run(fmt.Sprintf("%q/%d", variant, policy), func(t *testing.T) {
				e := newServer(t, func(s *submission.Server) { s.BareLineEndings = policy })
				c := e.dialGreeted()
				c.startData()
				c.send(simpleMsg + "body" + variant + smuggled + ".\r\n")
				if policy == submission.RejectBareLineEndings {
					c.expect("550 5.5.2")
					assert.Empty(t, e.backend.got(), "nothing delivered")
				} else {
					c.expect("250 2.0.0")
					msgs := e.backend.got()
					require.Len(t, msgs, 1)
					assert.Contains(t, msgs[0].data, "MAIL FROM:<spoof@example.org>", "the smuggled text stays inside the one message")
					assert.NotContains(t, strings.ReplaceAll(msgs[0].data, "\r\n", ""), "\n", "no bare LF reaches the backend")
				}
				c.run("> QUIT", "< 221", "EOF")
				assert.LessOrEqual(t, e.backend.submitCalls(), 1, "never a second transaction")
			})
		}
	}
}

// S1 over BDAT: the chunk data is length-delimited, and bare line endings
// are refused just the same.
func TestS1SmugglingBDAT(t *testing.T) {
	e := newServer(t, nil)
	c := e.dialGreeted()
	c.login()
	data := simpleMsg + "body\n.\n" + smuggled
	c.run("> MAIL FROM:<alice@example.org>", "< 250", "> RCPT TO:<bob@example.net>", "< 250",
		fmt.Sprintf(">> BDAT %d LAST\r\n%s", len(data), data), "< 550 5.5.2", "> NOOP", "< 250")
	assert.Empty(t, e.backend.got())
}

// S2: bare CR and LF are refused after the end of data by default, and
// turned into CRLF in normalize mode, over DATA and BDAT.
func TestS2BareLineEndings(t *testing.T) {
	msg := "Subject: bare\nX-A: 1\r\n\r\nline one\rline two\n"
	for _, policy := range []submission.LineEndingPolicy{submission.RejectBareLineEndings, submission.NormalizeBareLineEndings} {
		for _, bdat := range []bool{false, true} {
			t.Run(fmt.Sprintf("policy%d/bdat=%v", policy, bdat), func(t *testing.T) {
				e := newServer(t, func(s *submission.Server) {
					s.BareLineEndings = policy
					s.MissingHeaders = submission.KeepMissingHeaders
				})
				c := e.dialGreeted()
				c.login()
				c.run("> MAIL FROM:<alice@example.org>", "< 250", "> RCPT TO:<bob@example.net>", "< 250")
				if bdat {
					c.send(fmt.Sprintf("BDAT %d LAST\r\n%s", len(msg), msg))
				} else {
					c.run("> DATA", "< 354", ">> "+msg+"\r\n.\r\n")
				}
				if policy == submission.RejectBareLineEndings {
					c.expect("550 5.5.2 Message contains bare CR or LF")
					assert.Empty(t, e.backend.got())
					c.run("> RSET", "< 250")
					return
				}
				c.expect("250 2.0.0")
				want := "Subject: bare\r\nX-A: 1\r\n\r\nline one\r\nline two\r\n"
				if !bdat {
					want += "\r\n"
				}
				assert.Equal(t, want, body(t, e.backend.got()[0]))
			})
		}
	}
}

// S4: a client that talks before the greeting is refused and disconnected.
func TestS4EarlyTalker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newServer(t, func(s *submission.Server) { s.GreetingDelay = 2 * time.Second })
		c := e.dial()
		c.cmd("EHLO early.example")
		assert.Equal(t, "554 5.5.0 SMTP protocol synchronization error: data sent before the greeting", c.line(), "no greeting is sent")
		c.expectEOF()

		c = e.dial()
		start := time.Now()
		c.expect("220 ")
		assert.Equal(t, 2*time.Second, time.Since(start), "a patient client is greeted after the delay")
		c.login()
		assert.Equal(t, []string{"closed:protocol error"}, e.waitClosed(1))
	})
}

// S4: everything up to DATA and the body sent before the greeting, or
// pipelined before login where RFC 2920 forbids it, is a synchronization
// error: 554 5.5.0 and close; nothing reaches the backend.
func TestS4UnauthenticatedPipelining(t *testing.T) {
	ir := plainIR("alice@example.org", "secret")
	tests := []struct {
		name   string
		pre    []string // steps before the violation
		blast  string
		expect []string
	}{
		{"everything before the greeting", nil,
			"EHLO x\r\nAUTH PLAIN " + ir + "\r\nMAIL FROM:<alice@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n" + simpleMsg + ".\r\n",
			[]string{"< 220 ", "< 554 5.5.0", "EOF"}},
		{"after HELO", []string{"< 220", "> HELO x", "< 250"}, "NOOP\r\nNOOP\r\n", []string{"< 554 5.5.0", "EOF"}},
		{"after EHLO, AUTH LOGIN with its answers", []string{"< 220", "> EHLO x", "< 250"},
			"AUTH LOGIN\r\n" + b64("alice@example.org") + "\r\n" + b64("secret") + "\r\n", []string{"< 554 5.5.0", "EOF"}},
		{"NOOP must end a group", []string{"< 220", "> EHLO x", "< 250"}, "NOOP\r\nVRFY x\r\n", []string{"< 554 5.5.0", "EOF"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newServer(t, nil)
			c := e.dial()
			if tt.pre == nil {
				c.send(tt.blast)
				c.run(tt.expect...)
			} else {
				c.run(tt.pre...)
				c.send(tt.blast)
				c.run(tt.expect...)
			}
			assert.Zero(t, e.backend.submitCalls())
			assert.Equal(t, []string{"closed:protocol error"}, e.waitClosed(1))
		})
	}
}

// S4: what RFC 2920 and RFC 4954 allow is answered, in order: AUTH PLAIN
// with an initial response may lead a group, and after login a whole
// transaction may be pipelined.
func TestS4AllowedPipelining(t *testing.T) {
	e := newServer(t, nil)
	c := e.dialGreeted()
	c.ehlo()
	c.send("AUTH PLAIN " + plainIR("alice@example.org", "secret") + "\r\nMAIL FROM:<alice@example.org>\r\nRCPT TO:<b@example.net>\r\nRCPT TO:<c@example.net>\r\nDATA\r\n")
	c.run("< 235", "< 250 2.1.0", "< 250 2.1.5", "< 250 2.1.5", "< 354")
	c.send(simpleMsg + ".\r\nRSET\r\nMAIL FROM:<alias@example.org>\r\nRCPT TO:<d@example.net>\r\nNOOP\r\n")
	c.run("< 250 2.0.0", "< 250 2.0.0", "< 250 2.1.0", "< 250 2.1.5", "< 250 2.0.0")
	assert.Len(t, e.backend.got(), 1)
}

// S5: without AUTH nothing is relayed, on either port.
func TestS5OpenRelay(t *testing.T) {
	e := newServer(t, withTLS)
	c := e.dialGreeted()
	c.ehlo()
	c.run("> MAIL FROM:<alice@example.org>", "< 530 5.7.0 Authentication required",
		"> RCPT TO:<victim@example.net>", "< 530 5.7.0")
	c = e.dialGreeted()
	c.ehlo()
	c.run(">> BDAT 4 LAST\r\nabcd", "< 530 5.7.0", "> NOOP", "< 250")
	assert.Zero(t, e.backend.submitCalls())
}

// S6: an authenticated user may send only as the addresses their identity
// allows, in the envelope (553) and in the From and Sender header fields
// (550 after DATA); allow-listed aliases pass; the host can replace the rule.
func TestS6SenderSpoofing(t *testing.T) {
	tests := []struct {
		name, from, header, want string
	}{
		{"own address", "alice@example.org", "From: Alice <alice@example.org>\r\n", "250 2.0.0"},
		{"case-insensitive", "ALICE@example.org", "From: alice@EXAMPLE.org\r\n", "250 2.0.0"},
		{"alias", "alias@example.org", "From: alias@example.org\r\n", "250 2.0.0"},
		{"domain alias", "team@alice.example", "From: \"Team\" <team@alice.example>\r\nSender: alice@example.org\r\n", "250 2.0.0"},
		{"encoded display name", "alice@example.org", "From: =?windows-1252?Q?J=F6rg?= <alice@example.org>\r\n", "250 2.0.0"},
		{"envelope spoof", "bob@example.org", "From: alice@example.org\r\n", "553 5.7.1 Sender address <bob@example.org> is not allowed for user alice@example.org"},
		{"header From spoof", "alice@example.org", "From: Bob <bob@example.org>\r\n", "550 5.7.1 From header address <bob@example.org> is not allowed for user alice@example.org"},
		{"one of several From", "alice@example.org", "From: alice@example.org, bob@example.org\r\n", "550 5.7.1 From header"},
		{"Sender spoof", "alice@example.org", "From: alice@example.org\r\nSender: bob@example.org\r\n", "550 5.7.1 Sender header"},
		{"two From fields", "alice@example.org", "From: alice@example.org\r\nFrom: bob@example.org\r\n", "550 5.6.0"},
		{"malformed From", "alice@example.org", "From: <<<\r\n", "550 5.6.0"},
		{"malformed header", "alice@example.org", "not a header line\r\n", "550 5.6.0"},
		{"resent by the user", "alice@example.org", "Resent-From: alice@example.org\r\nResent-Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nFrom: alice@example.org\r\n", "250 2.0.0"},
		{"Resent-From spoof", "alice@example.org", "Resent-From: Bob <bob@example.org>\r\nResent-Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nFrom: alice@example.org\r\n", "550 5.7.1 Resent-From header address <bob@example.org>"},
		{"Resent-Sender spoof", "alice@example.org", "Resent-Sender: bob@example.org\r\nResent-From: alice@example.org\r\nFrom: alice@example.org\r\n", "550 5.7.1 Resent-Sender header"},
		{"an older resent block is not checked", "alice@example.org", "Resent-From: alice@example.org\r\nResent-Date: Tue, 2 Jan 2024 00:00:00 +0000\r\nResent-From: carol@example.net\r\nResent-Sender:\r\n bob@example.org\r\nFrom: alice@example.org\r\n", "250 2.0.0"},
		{"a resend does not excuse From", "alice@example.org", "Resent-From: alice@example.org\r\nFrom: ceo@example.org\r\n", "550 5.7.1 From header"},
		{"malformed Resent-From", "alice@example.org", "Resent-From: <<<\r\nFrom: alice@example.org\r\n", "550 5.6.0"},
	}
	for _, tt := range tests {
		for _, bdat := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/bdat=%v", tt.name, bdat), func(t *testing.T) {
				e := newServer(t, nil)
				c := e.dialGreeted()
				c.login()
				c.cmd("MAIL FROM:<" + tt.from + ">")
				if strings.HasPrefix(tt.want, "553") {
					c.expect(tt.want)
					return
				}
				c.expect("250")
				c.run("> RCPT TO:<bob@example.net>", "< 250")
				msg := tt.header + "Subject: s\r\n\r\nbody\r\n"
				if bdat {
					c.send(fmt.Sprintf("BDAT %d\r\n%s", 10, msg[:10]))
					c.expect("250 2.0.0 10 octets")
					c.send(fmt.Sprintf("BDAT %d LAST\r\n%s", len(msg)-10, msg[10:]))
				} else {
					c.run("> DATA", "< 354", ">> "+msg+".\r\n")
				}
				c.expect(tt.want)
				if strings.HasPrefix(tt.want, "250") {
					assert.Len(t, e.backend.got(), 1)
				} else {
					assert.Zero(t, e.backend.submitCalls(), "a refused header never reaches the backend")
				}
				c.run("> NOOP", "< 250")
			})
		}
	}
}

// S6: a host SenderPolicy replaces the rule, sees each field, and can fail
// temporarily.
func TestS6SenderPolicyHook(t *testing.T) {
	var seen []string
	e := newServer(t, func(s *submission.Server) {
		s.SenderPolicy = func(ctx context.Context, id auth.Identity, f submission.SenderField, addr string) error {
			seen = append(seen, string(f)+" "+addr)
			switch {
			case addr == "down@example.org":
				return errTest
			case addr == "exact@example.org":
				return &submission.Error{Code: 550, Enhanced: "5.7.1", Text: "Ask your admin"}
			case f == submission.EnvelopeSender || strings.HasSuffix(addr, "@example.org"):
				return nil
			}
			return fmt.Errorf("not ours: %w", submission.ErrSenderNotAllowed)
		}
	})
	c := e.dialGreeted()
	c.login()
	c.run("> MAIL FROM:<down@example.org>", "< 451 4.3.0", "> MAIL FROM:<exact@example.org>", "< 550 5.7.1 Ask your admin")
	assert.Contains(t, c.sendMessage("anyone@else.example", "b@example.net", "From: carol@example.org\r\n\r\n.\r\n"), "250 2.0.0")
	assert.Contains(t, c.sendMessage("anyone@else.example", "b@example.net", "From: carol@else.example\r\n\r\n.\r\n"), "550 5.7.1")
	assert.Contains(t, seen, "From carol@example.org")
	assert.Contains(t, seen, "MAIL FROM anyone@else.example")
}

// S7: SIZE over the limit is refused at once, malformed SIZE is a syntax
// error, and a body over the limit is read to its end and refused with 552;
// the connection stays usable, or closes past MaxSizeExcess.
func TestS7SizeLimits(t *testing.T) {
	e := newServer(t, func(s *submission.Server) {
		s.MaxMessageBytes = 1000
		s.MaxSizeExcess = 10 << 10
	})
	c := e.dialGreeted()
	c.login()
	c.run("> MAIL FROM:<alice@example.org> SIZE=99999999999", "< 552 5.3.4",
		"> MAIL FROM:<alice@example.org> SIZE=-1", "< 501 5.5.4",
		"> MAIL FROM:<alice@example.org> SIZE=abc", "< 501 5.5.4")
	big := simpleMsg + strings.Repeat("0123456789abcdef\r\n", 300) // about 5 KiB
	assert.True(t, strings.HasPrefix(c.sendMessage("alice@example.org", "b@example.net", big+".\r\n"), "552 5.3.4"))
	c.run("> RSET", "< 250", "> NOOP", "< 250")
	assert.Contains(t, c.sendMessage("alice@example.org", "b@example.net", simpleMsg+".\r\n"), "250 2.0.0", "the session goes on")
	require.Len(t, e.backend.got(), 1)

	// Past the excess the server stops reading and closes.
	c = e.dialGreeted()
	c.startData()
	go io.WriteString(c.conn, strings.Repeat("x", 100)+"\r\n"+strings.Repeat("0123456789abcdef\r\n", 10000)+".\r\n")
	c.expect("552 5.3.4")
	c.expect("421 4.7.0")
	c.expectEOF()
	assert.Len(t, e.backend.got(), 1)
}

// S7 over BDAT: chunks past the limit are refused with 552, later chunks
// are discarded, and BDAT 99999999999 is refused without reading (or
// allocating) anything.
func TestS7SizeLimitsBDAT(t *testing.T) {
	e := newServer(t, func(s *submission.Server) {
		s.MaxMessageBytes = 100
		s.MaxSizeExcess = 1000
	})
	c := e.dialGreeted()
	c.login()
	c.run("> MAIL FROM:<alice@example.org>", "< 250", "> RCPT TO:<b@example.net>", "< 250",
		">> BDAT 60\r\n"+strings.Repeat("a", 60), "< 250 2.0.0 60 octets",
		">> BDAT 60\r\n"+strings.Repeat("b", 60), "< 552 5.3.4",
		">> BDAT 10 LAST\r\n"+strings.Repeat("c", 10), "< 552 5.3.4",
		"> NOOP", "< 250",
		"> MAIL FROM:<alice@example.org>", "< 250", "> RCPT TO:<b@example.net>", "< 250",
		"> BDAT 99999999999 LAST", "< 552 5.3.4", "EOF")
	assert.Empty(t, e.backend.got())
	assert.Equal(t, []string{"closed:limit exceeded"}, e.waitClosed(1))
}

// S8: recipients past the limit get 452 4.5.3; memory stays bounded by
// the limit.
func TestS8RecipientFlood(t *testing.T) {
	e := newServer(t, nil)
	c := e.dialGreeted()
	c.login()
	c.run("> MAIL FROM:<alice@example.org>", "< 250")
	const n = 10000
	go func() {
		w := bufio.NewWriter(c.conn)
		for i := range n {
			fmt.Fprintf(w, "RCPT TO:<r%d@example.net>\r\n", i)
		}
		w.WriteString("DATA\r\n")
		w.Flush()
	}()
	for i := range n {
		if i < 100 {
			c.expect("250 2.1.5")
		} else {
			c.expect("452 4.5.3 Too many recipients")
		}
	}
	c.expect("354")
	c.send(simpleMsg + ".\r\n")
	c.expect("250 2.0.0")
	assert.Len(t, e.backend.got()[0].env.Recipients, 100)
}

// S10: commands out of sequence get 503 (or 501), never a panic.
func TestS10CommandSequencing(t *testing.T) {
	e := newServer(t, func(s *submission.Server) {
		withTLS(s)
		s.MaxBadCommands = -1
	})
	c := e.dialGreeted()
	c.login()
	c.run(
		"> RCPT TO:<b@example.net>", "< 503 5.5.1",
		"> DATA", "< 503 5.5.1",
		"> MAIL FROM:<alice@example.org>", "< 250",
		"> DATA", "< 503 5.5.1",
		"> MAIL FROM:<alice@example.org>", "< 503 5.5.1 Nested MAIL",
		"> RCPT TO:<b@example.net>", "< 250",
		"> DATA arg", "< 501 5.5.4",
		">> BDAT 3\r\nX: ", "< 250 2.0.0",
		"> DATA", "< 503 5.5.1 DATA is not permitted after BDAT",
		"> RCPT TO:<c@example.net>", "< 503 5.5.1",
		"> RSET", "< 250",
		"> MAIL FROM:<alice@example.org> BODY=BINARYMIME", "< 250",
		"> RCPT TO:<b@example.net>", "< 250",
		"> DATA", "< 503 5.5.1 BODY=BINARYMIME requires BDAT",
		"> RSET", "< 250",
		">> BDAT 2 LAST\r\nab", "< 503 5.5.1",
	)
	c.startTLS()
	c.run("> MAIL FROM:<alice@example.org>", "< 503 5.5.1 Send EHLO first",
		"> EHLO x", "< 250", ">> BDAT 2\r\nab", "< 530 5.7.0", "> NOOP", "< 250")
	assert.Zero(t, e.backend.submitCalls())
}

// BDAT: chunks, BDAT LAST, BDAT 0 LAST, BINARYMIME bodies, RSET in the
// middle, and a backend that refuses before the last chunk.
func TestBDAT(t *testing.T) {
	e := newServer(t, nil)
	c := e.dialGreeted()
	c.login()
	part1, part2 := "From: alice@example.org\r\nSubject: chunks\r\n", "\r\nbody\r\n"
	c.run("> MAIL FROM:<alice@example.org>", "< 250", "> RCPT TO:<b@example.net>", "< 250")
	c.send(fmt.Sprintf("BDAT %d\r\n%sBDAT %d\r\n%sBDAT 0 LAST\r\n", len(part1), part1, len(part2), part2))
	c.run("< 250 2.0.0", "< 250 2.0.0", "< 250 2.0.0 OK: queued as")
	m := e.backend.got()[0]
	assert.Regexp(t, "^"+part1+"Date: [^\r]+\r\nMessage-ID: <[^>]+>\r\n"+part2+"$", body(t, m))

	// BINARYMIME: any octet in the body.
	bin := "From: alice@example.org\r\nDate: x\r\nMessage-ID: <b@x>\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n\x00\n\r\xff.\n"
	c.run("> MAIL FROM:<alice@example.org> BODY=BINARYMIME", "< 250", "> RCPT TO:<b@example.net>", "< 250",
		fmt.Sprintf(">> BDAT %d LAST\r\n%s", len(bin), bin), "< 250 2.0.0")
	m = e.backend.got()[1]
	assert.Equal(t, bin, body(t, m))
	assert.Equal(t, submission.BodyBinaryMIME, m.env.Body)

	// RSET between chunks: the backend's stream fails and nothing is kept.
	c.run("> MAIL FROM:<alice@example.org>", "< 250", "> RCPT TO:<b@example.net>", "< 250",
		fmt.Sprintf(">> BDAT %d\r\n%s\r\n", len(part1)+2, part1), "< 250", "> RSET", "< 250")
	assert.Len(t, e.backend.got(), 2)
	e.backend.mu.Lock()
	assert.Error(t, e.backend.readErr)
	e.backend.mu.Unlock()

	// The backend refuses after reading part of the message.
	e.backend.stopAfter = 50
	e.backend.submitErr = submission.ErrQuotaExceeded
	c.run("> MAIL FROM:<alice@example.org>", "< 250", "> RCPT TO:<b@example.net>", "< 250",
		">> BDAT 27\r\nFrom: alice@example.org\r\n\r\n", "< 250 2.0.0 27 octets")
	big := strings.Repeat("y", 5000)
	c.run(">> BDAT 5000\r\n"+big, "< 452 4.2.2", ">> BDAT 3 LAST\r\nabc", "< 452 4.2.2", "> NOOP", "< 250")
	assert.Len(t, e.backend.got(), 2)
}

// A backend that returns nil without reading the message is logged as a
// contract violation, but it did accept the message.
func TestBackendReturnsEarly(t *testing.T) {
	e := newServer(t, func(s *submission.Server) {
		s.Backend = submission.BackendFunc(func(ctx context.Context, env *submission.Envelope, msg io.Reader) error { return nil })
	})
	c := e.dialGreeted()
	c.login()
	assert.Contains(t, c.sendMessage("alice@example.org", "b@example.net", simpleMsg+strings.Repeat("line\r\n", 5000)+".\r\n"), "250 2.0.0")
	c.run("> NOOP", "< 250")
	assert.Contains(t, e.logs.String(), "backend returned before reading the whole message")
	// Bare LF in what it skipped is still refused.
	assert.Contains(t, c.sendMessage("alice@example.org", "b@example.net", simpleMsg+strings.Repeat("line\r\n", 5000)+"bare\nmore\r\n.\r\n"), "550 5.5.2")
}

// A header larger than MaxHeaderBytes is refused.
func TestHeaderTooLarge(t *testing.T) {
	e := newServer(t, func(s *submission.Server) { s.MaxHeaderBytes = 1000 })
	c := e.dialGreeted()
	c.login()
	hdr := "From: alice@example.org\r\n" + strings.Repeat("X-Pad: 0123456789\r\n", 100)
	assert.Contains(t, c.sendMessage("alice@example.org", "b@example.net", hdr+"\r\nbody\r\n.\r\n"), "552 5.3.4")
	c.run("> NOOP", "< 250")
	assert.Zero(t, e.backend.submitCalls())
}

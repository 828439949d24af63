package dovecotdiff_test

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// popPair is one logged-in POP3 session on each server.
type popPair struct {
	t      *testing.T
	dc, mf *pop3Client
}

func (s *servers) popPair(t *testing.T) *popPair {
	t.Helper()
	return &popPair{
		t:  t,
		dc: loginPOP3(t, "dovecot", s.dc.pop3Addr),
		mf: loginPOP3(t, "mailfront", s.mf.pop3Addr),
	}
}

// popStatus normalises a POP3 status line: +OK or -ERR and the response
// code (RFC 2449 §8), without the text, which is the server's own. For
// the commands whose +OK line carries data (STAT, LIST n, UIDL n), the
// data is kept: keep is how many words after +OK.
func popStatus(line string, keep int) string {
	line = strings.TrimRight(line, "\r\n")
	words := strings.Fields(line)
	if len(words) == 0 {
		return "?"
	}
	out := words[:1]
	if words[0] == "+OK" {
		out = words[:min(len(words), 1+keep)]
	} else if len(words) > 1 && strings.HasPrefix(words[1], "[") {
		out = append(out, words[1][:strings.IndexByte(words[1], ']')+1])
	}
	return strings.Join(out, " ")
}

// diff sends a command to both servers and compares the replies: the
// status line as popStatus normalises it, and for a multi-line reply
// every following octet, exactly (the message bytes of RETR and TOP,
// dot-stuffing and CRLFs included).
func (p *popPair) diff(command string, multi bool, keep int) {
	p.t.Helper()
	rdc, rmf := p.dc.cmd(command, multi), p.mf.cmd(command, multi)
	norm := func(r string) string {
		first, rest, _ := strings.Cut(r, "\r\n")
		return popStatus(first, keep) + "\r\n" + rest
	}
	assert.Equal(p.t, norm(rdc), norm(rmf), "POP3 %q: want Dovecot's answer (first), got mailfront's (second)", command)
}

// uidlShape checks a UIDL listing: one "n uid" line per message, in
// order, each uid 1 to 70 characters from 0x21 to 0x7E (RFC 1939 §7),
// all different. The uids themselves are the server's choice.
var uidlLine = regexp.MustCompile(`^(\d+) ([\x21-\x7e]{1,70})$`)

func uidlShape(t *testing.T, server, reply string) []string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(reply, "\r\n"), "\r\n")
	require.True(t, strings.HasPrefix(lines[0], "+OK"), "%s UIDL: %q", server, lines[0])
	require.Equal(t, ".", lines[len(lines)-1], "%s UIDL", server)
	seen := map[string]bool{}
	var nums []string
	for _, l := range lines[1 : len(lines)-1] {
		m := uidlLine.FindStringSubmatch(l)
		if !assert.NotNil(t, m, "%s UIDL line %q", server, l) {
			continue
		}
		assert.False(t, seen[m[2]], "%s UIDL: uid %q twice", server, m[2])
		seen[m[2]] = true
		nums = append(nums, m[1])
	}
	return nums
}

func runPOP3(t *testing.T, s *servers) {
	p := s.popPair(t)
	p.diff("STAT", false, 2)
	p.diff("LIST", true, 0)
	n := len(s.fx) + 1
	for i := 1; i <= n; i++ {
		p.diff(fmt.Sprintf("LIST %d", i), false, 2)
		p.diff(fmt.Sprintf("RETR %d", i), true, 0)
		for _, lines := range []int{0, 1, 3, 100} {
			p.diff(fmt.Sprintf("TOP %d %d", i, lines), true, 0)
		}
	}
	for _, bad := range []string{"LIST 0", fmt.Sprintf("LIST %d", n+1), "RETR 99", "TOP 99 0", "DELE 99", "UIDL 99", "LIST x"} {
		p.diff(bad, false, 0)
	}

	// UIDL: the same message numbers, uids of the right shape.
	dcNums := uidlShape(t, "dovecot", p.dc.cmd("UIDL", true))
	mfNums := uidlShape(t, "mailfront", p.mf.cmd("UIDL", true))
	assert.Equal(t, dcNums, mfNums, "UIDL message numbers")
	for i := 1; i <= n; i += 5 {
		dc, mf := p.dc.cmd(fmt.Sprintf("UIDL %d", i), false), p.mf.cmd(fmt.Sprintf("UIDL %d", i), false)
		assert.Equal(t, popStatus(dc, 1), popStatus(mf, 1), "UIDL %d: the message number", i)
		assert.Regexp(t, `^\+OK \d+ [\x21-\x7e]{1,70}\r\n$`, mf, "UIDL %d", i)
	}

	// Deletions are per session until QUIT: marked messages vanish from
	// the listings and RSET brings them back.
	p.diff("DELE 2", false, 0)
	p.diff("DELE 2", false, 0)
	p.diff("STAT", false, 2)
	p.diff("LIST", true, 0)
	p.diff("LIST 2", false, 2)
	p.diff("RETR 2", false, 0)
	p.diff("TOP 2 0", false, 0)
	p.diff("DELE 5", false, 0)
	p.diff("STAT", false, 2)
	p.diff("RSET", false, 0)
	p.diff("STAT", false, 2)
	p.diff("LIST", true, 0)
	p.diff("NOOP", false, 0)

	// CAPA: the capabilities both servers must have; the rest (SASL,
	// IMPLEMENTATION, EXPIRE, LOGIN-DELAY, UTF8, STLS) differs by design.
	for _, c := range []*pop3Client{p.dc, p.mf} {
		capa := c.cmd("CAPA", true)
		var names []string
		for _, l := range strings.Split(capa, "\r\n")[1:] {
			if f := strings.Fields(l); len(f) > 0 && f[0] != "." {
				names = append(names, f[0])
			}
		}
		sort.Strings(names)
		for _, want := range []string{"PIPELINING", "RESP-CODES", "TOP", "UIDL", "AUTH-RESP-CODE"} {
			assert.Contains(t, names, want, "%s CAPA", c.server)
		}
	}
	p.diff("QUIT", false, 0)
}

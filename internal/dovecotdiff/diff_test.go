package dovecotdiff_test

import (
	"bytes"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixture is a message both servers get.
type fixture struct {
	file  string
	flags string // APPEND flags
	date  string // APPEND date-time
	data  []byte // with CRLF line endings
}

// fixtureMeta gives each testdata message its flags and internal date.
// The dates are spread over a few days with various zones, so that the
// date searches have something to tell apart.
var fixtureMeta = map[string]struct{ flags, date string }{
	"01-simple.eml":                {`\Seen`, "02-Jan-2023 10:00:00 +0100"},
	"02-alternative.eml":           {``, "03-Jan-2023 08:15:30 +0000"},
	"03-nested.eml":                {`\Flagged \Answered \Seen`, "04-Jan-2023 12:00:00 -0500"},
	"04-attachments.eml":           {`$Label1`, "05-Jan-2023 23:30:00 -0800"},
	"05-encoded-words.eml":         {`\Seen $Label1 $Label2`, "06-Jan-2023 09:00:00 +0000"},
	"06-eightbit.eml":              {`\Draft`, "07-Jan-2023 14:00:00 +0100"},
	"07-no-content-type.eml":       {`\Deleted \Seen`, "08-Jan-2023 07:07:07 +0000"},
	"08-odd-content-type.eml":      {``, "09-Jan-2023 11:11:11 +0000"},
	"09-multipart-no-boundary.eml": {`\Flagged`, "10-Jan-2023 10:10:10 +0000"},
	"10-dot-lines.eml":             {`\Seen`, "11-Jan-2023 10:00:00 +0000"},
	"11-preamble-unterminated.eml": {``, "12-Jan-2023 10:00:00 +0000"},
	"12-top-level-rfc822.eml":      {`\Answered`, "13-Jan-2023 10:00:00 +0000"},
	"13-headers-only.eml":          {``, "14-Jan-2023 10:00:00 +0000"},
	"14-digest-folded.eml":         {`\Seen \Flagged`, "15-Jan-2023 10:00:00 +0000"},
}

// deliveredFile is dropped into the Maildir with its LF line endings.
const deliveredFile = "90-delivered-lf.eml"

var deliveredTime = time.Date(2023, 1, 16, 10, 0, 0, 0, time.UTC)

func loadFixtures(t *testing.T) []fixture {
	t.Helper()
	var fs []fixture
	for name, meta := range fixtureMeta {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		require.NoError(t, err)
		data = bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n"))
		fs = append(fs, fixture{file: name, flags: meta.flags, date: meta.date, data: data})
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i].file < fs[j].file })
	return fs
}

// servers is the pair under comparison.
type servers struct {
	dc *dovecot
	mf *mailfront
	fx []fixture

	compared, known int // commands compared, and known differences among them
}

// setup starts both servers and gives them the same mail.
func setup(t *testing.T) *servers {
	bin := requireDovecot(t)
	s := &servers{dc: startDovecot(t, bin), mf: startMailfront(t), fx: loadFixtures(t)}
	for _, sv := range []struct {
		name, addr, dir string
		uid, gid        int
	}{
		{"dovecot", s.dc.imapAddr, filepath.Join(s.dc.mailRoot, testUser), s.dc.uid, s.dc.gid},
		{"mailfront", s.mf.imapAddr, filepath.Join(s.mf.mailRoot, testUser), -1, -1},
	} {
		c := loginIMAP(t, sv.name, sv.addr)
		for _, f := range s.fx {
			r := c.cmd(appendCmd("INBOX", f.flags, f.date, f.data))
			require.True(t, statusIs(r.tagged, "OK"), "%s APPEND %s: %s", sv.name, f.file, r.raw())
		}
		for _, m := range []string{"Work", "Work/2024", "Work/Reports", "Private", "Lists", "Lists/go-nuts"} {
			r := c.cmd("CREATE " + quote(m))
			require.True(t, statusIs(r.tagged, "OK"), "%s CREATE %s: %s", sv.name, m, r.raw())
		}
		for _, m := range []string{"Work", "Work/2024", "Lists/go-nuts"} {
			r := c.cmd("SUBSCRIBE " + quote(m))
			require.True(t, statusIs(r.tagged, "OK"), "%s SUBSCRIBE %s: %s", sv.name, m, r.raw())
		}
		c.cmd("LOGOUT")
		data, err := os.ReadFile(filepath.Join("testdata", deliveredFile))
		require.NoError(t, err)
		deliverFile(t, sv.dir, "1673863200.M1P1.diff", data, deliveredTime, sv.uid, sv.gid)
	}
	return s
}

// pair is one logged-in session on each server, driven in lockstep.
type pair struct {
	t      *testing.T
	s      *servers
	dc, mf *imapClient
	ndc    *normalizer
	nmf    *normalizer
}

func (s *servers) imapPair(t *testing.T) *pair {
	t.Helper()
	return &pair{
		t:   t,
		s:   s,
		dc:  loginIMAP(t, "dovecot", s.dc.imapAddr),
		mf:  loginIMAP(t, "mailfront", s.mf.imapAddr),
		ndc: newNormalizer(), nmf: newNormalizer(),
	}
}

// both sends a command to both servers without comparing the replies
// (set-up steps); it requires them to succeed.
func (p *pair) both(command string) {
	p.t.Helper()
	for _, c := range []*imapClient{p.dc, p.mf} {
		r := c.cmd(command)
		require.True(p.t, statusIs(r.tagged, "OK"), "%s: %s -> %s", c.server, command, r.raw())
	}
}

// diff sends a command to both servers and compares the normalised
// replies.
func (p *pair) diff(command string, adjust ...func(*stepOptions)) {
	p.t.Helper()
	opt := optionsFor(command)
	for _, a := range adjust {
		a(&opt)
	}
	rdc, rmf := p.dc.cmd(command), p.mf.cmd(command)
	p.s.compared++
	ndc, err := p.ndc.reply(rdc, opt)
	require.NoError(p.t, err, "dovecot reply to %s", command)
	nmf, err := p.nmf.reply(rmf, opt)
	require.NoError(p.t, err, "mailfront reply to %s", command)
	if q := quirkFor(path.Base(p.t.Name()), command); q != nil && strings.Join(ndc, "\n") != strings.Join(nmf, "\n") {
		// A known difference (quirks_test.go): not compared, but shown
		// with -v.
		p.s.known++
		p.t.Logf("known difference (%s) for %q:\ndovecot:\n%s\nmailfront:\n%s", q.reason, shorten(command),
			shorten(strings.Join(ndc, "\n")), shorten(strings.Join(nmf, "\n")))
		return
	}
	if opt.storeSubset {
		nmf = storeSubset(ndc, nmf)
	}
	if !assert.Equal(p.t, strings.Join(ndc, "\n"), strings.Join(nmf, "\n"),
		"command %q: want Dovecot's answer (first), got mailfront's (second)", shorten(command)) {
		p.t.Logf("raw dovecot:\n%s", rdc.raw())
		p.t.Logf("raw mailfront:\n%s", rmf.raw())
	}
}

// diffEach is diff for a command that differs per server only in values
// each server chose (a UIDVALIDITY, a mod-sequence): cmd makes it from
// what v returns for each side.
func (p *pair) diffEach(v func(c *imapClient) string, cmd func(v string) string, adjust ...func(*stepOptions)) {
	p.t.Helper()
	vdc, vmf := v(p.dc), v(p.mf)
	rdc, rmf := p.dc.cmd(cmd(vdc)), p.mf.cmd(cmd(vmf))
	opt := optionsFor(cmd(vdc))
	for _, a := range adjust {
		a(&opt)
	}
	ndc, err := p.ndc.reply(rdc, opt)
	require.NoError(p.t, err)
	nmf, err := p.nmf.reply(rmf, opt)
	require.NoError(p.t, err)
	if !assert.Equal(p.t, strings.Join(ndc, "\n"), strings.Join(nmf, "\n"),
		"command %q (dovecot) / %q (mailfront): want Dovecot's answer (first), got mailfront's (second)", cmd(vdc), cmd(vmf)) {
		p.t.Logf("raw dovecot:\n%s", rdc.raw())
		p.t.Logf("raw mailfront:\n%s", rmf.raw())
	}
}

// statusValue returns one STATUS item of a mailbox as the server says it.
func statusValue(t *testing.T, c *imapClient, mailbox, item string) string {
	t.Helper()
	r := c.cmd("STATUS " + quote(mailbox) + " (" + item + ")")
	require.Len(t, r.untagged, 1, "%s STATUS: %s", c.server, r.raw())
	nodes, err := parseResponse(r.untagged[0])
	require.NoError(t, err)
	require.Len(t, nodes, 4)
	l := nodes[3].list
	require.Len(t, l, 2, "%s STATUS: %s", c.server, r.raw())
	return l[1].text
}

// storeSubset keeps of mailfront's STORE reply the FETCH responses
// Dovecot also sent (see stepOptions.storeSubset), so that the
// comparison requires Dovecot's to be among mailfront's.
func storeSubset(dc, mf []string) []string {
	in := map[string]bool{}
	for _, l := range dc {
		in[l] = true
	}
	var out []string
	for _, l := range mf {
		if strings.Contains(l, " FETCH ") && !in[l] {
			continue
		}
		out = append(out, l)
	}
	return out
}

func shorten(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// TestDovecotDiff runs the IMAP scripts of imap_test.go, then the POP3
// script of pop3_test.go, against both servers.
func TestDovecotDiff(t *testing.T) {
	s := setup(t)
	for _, sc := range imapScripts {
		t.Run("imap/"+sc.name, func(t *testing.T) { sc.run(t, s) })
	}
	t.Run("pop3", func(t *testing.T) { runPOP3(t, s) })
	t.Logf("IMAP: %d commands compared, %d of them known differences (quirks_test.go)", s.compared, s.known)
}

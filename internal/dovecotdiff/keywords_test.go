package dovecotdiff_test

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var fetchFlagsRE = regexp.MustCompile(`^\* (\d+) FETCH \(.*FLAGS \(([^)]*)\)`)

// flagsBySeq returns the flags of every message of the selected mailbox
// (FETCH 1:* FLAGS), sorted, without \Recent.
func flagsBySeq(t *testing.T, c *imapClient) map[string]string {
	t.Helper()
	r := c.cmd("FETCH 1:* (FLAGS)")
	require.True(t, statusIs(r.tagged, "OK"), "%s: %s", c.server, r.raw())
	out := map[string]string{}
	for _, u := range r.untagged {
		m := fetchFlagsRE.FindStringSubmatch(string(u))
		if m == nil {
			continue
		}
		var flags []string
		for _, f := range strings.Fields(m[2]) {
			if !strings.EqualFold(f, `\Recent`) {
				flags = append(flags, f)
			}
		}
		sort.Strings(flags)
		out[m[1]] = strings.Join(flags, " ")
	}
	return out
}

// copyMaildir copies the INBOX of one server's Maildir (cur/ and
// dovecot-keywords) into another's cur/, owned by uid:gid when uid >= 0.
func copyMaildir(t *testing.T, from, to string, uid, gid int) {
	t.Helper()
	copyFile := func(src, dst string) {
		data, err := os.ReadFile(src)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(dst, data, 0o600))
		if uid >= 0 {
			require.NoError(t, os.Chown(dst, uid, gid))
		}
		old := time.Now().Add(-time.Hour)
		require.NoError(t, os.Chtimes(dst, old, old))
	}
	names, err := os.ReadDir(filepath.Join(from, "cur"))
	require.NoError(t, err)
	require.NotEmpty(t, names)
	for _, n := range names {
		copyFile(filepath.Join(from, "cur", n.Name()), filepath.Join(to, "cur", n.Name()))
	}
	copyFile(filepath.Join(from, "dovecot-keywords"), filepath.Join(to, "dovecot-keywords"))
}

// TestMaildirKeywordsBothWays: the keywords each server writes into a
// Maildir (the letters a-z of file names and dovecot-keywords) are the
// ones the other reads from a copy of it.
func TestMaildirKeywordsBothWays(t *testing.T) {
	bin := requireDovecot(t)
	msg := []byte("From: a@example.org\r\nSubject: k\r\n\r\nbody\r\n")
	fill := func(c *imapClient) {
		for _, flags := range []string{`\Seen $Label1 Work`, `Junk`, ``} {
			r := c.cmd(appendCmd("INBOX", flags, "", msg))
			require.True(t, statusIs(r.tagged, "OK"), "%s: %s", c.server, r.raw())
		}
		for _, cmd := range []string{"SELECT INBOX", `STORE 2 +FLAGS (Later $Forwarded)`, `STORE 1 -FLAGS ($Label1)`, `STORE 3 +FLAGS (Work)`} {
			r := c.cmd(cmd)
			require.True(t, statusIs(r.tagged, "OK"), "%s %s: %s", c.server, cmd, r.raw())
		}
	}
	want := map[string]string{"1": `Work \Seen`, "2": `$Forwarded Junk Later`, "3": `Work`}

	t.Run("mailfront writes, Dovecot reads", func(t *testing.T) {
		mf := startMailfront(t)
		c := loginIMAP(t, "mailfront", mf.imapAddr)
		fill(c)
		require.Equal(t, want, flagsBySeq(t, c))
		c.cmd("LOGOUT")
		dc := startDovecot(t, bin)
		copyMaildir(t, filepath.Join(mf.mailRoot, testUser), filepath.Join(dc.mailRoot, testUser), dc.uid, dc.gid)
		d := loginIMAP(t, "dovecot", dc.imapAddr)
		r := d.cmd("SELECT INBOX")
		require.True(t, statusIs(r.tagged, "OK"), r.raw())
		assert.Equal(t, want, flagsBySeq(t, d))
	})
	t.Run("Dovecot writes, mailfront reads", func(t *testing.T) {
		dc := startDovecot(t, bin)
		d := loginIMAP(t, "dovecot", dc.imapAddr)
		fill(d)
		require.Equal(t, want, flagsBySeq(t, d))
		d.cmd("LOGOUT")
		mf := startMailfront(t)
		copyMaildir(t, filepath.Join(dc.mailRoot, testUser), filepath.Join(mf.mailRoot, testUser), -1, -1)
		c := loginIMAP(t, "mailfront", mf.imapAddr)
		r := c.cmd("SELECT INBOX")
		require.True(t, statusIs(r.tagged, "OK"), r.raw())
		assert.Equal(t, want, flagsBySeq(t, c))
	})
}

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// maildirFiles lists the message files of a local Maildir folder.
func maildirFiles(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	for _, sub := range []string{"cur", "new"} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if os.IsNotExist(err) {
			continue
		}
		require.NoError(t, err)
		for _, e := range entries {
			names = append(names, filepath.Join(dir, sub, e.Name()))
		}
	}
	return names
}

// TestInteropMbsync: a two-way sync with mbsync, then an incremental resync
// after changes on both sides.
func TestInteropMbsync(t *testing.T) {
	mbsync := requireTool(t, "mbsync")
	s := startServer(t)
	s.deliverToMaildir(bob, "1700000001.P1.test", message(alice, bob, "Sync one", "first"))
	s.deliverToMaildir(bob, "1700000002.P1.test", message(alice, bob, "Sync two", "second"))

	local := filepath.Join(t.TempDir(), "mail")
	require.NoError(t, os.MkdirAll(local, 0o700))
	rc := filepath.Join(t.TempDir(), "mbsyncrc")
	require.NoError(t, os.WriteFile(rc, []byte(fmt.Sprintf(`IMAPAccount test
Host localhost
Port %s
User %s
Pass %s
SSLType STARTTLS
CertificateFile %s

IMAPStore remote
Account test

MaildirStore local
Path %s/
Inbox %s/INBOX
SubFolders Verbatim

Channel test
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState *
Sync All
`, s.port("imap"), bob, bobPwd, s.caFile(), local, local)), 0o600))
	sync := func() string {
		t.Helper()
		return mustRun(t, "", mbsync, "-c", rc, "-a")
	}

	// First sync: the server's mailboxes and messages arrive locally.
	sync()
	inbox := filepath.Join(local, "INBOX")
	files := maildirFiles(t, inbox)
	require.Len(t, files, 2, "both messages synced down")
	for _, mb := range []string{"Sent", "Drafts", "Trash", "Junk", "Archive"} {
		assert.DirExists(t, filepath.Join(local, mb), "special-use folder %s created locally", mb)
	}
	var first string
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		if strings.Contains(string(b), "Subject: Sync one") {
			first = f
		}
	}
	require.NotEmpty(t, first)

	// Local changes: flag and read "Sync one"; write a draft.
	base := filepath.Base(first)
	if i := strings.Index(base, ":2,"); i >= 0 {
		base = base[:i]
	}
	require.NoError(t, os.Rename(first, filepath.Join(inbox, "cur", base+":2,FS")))
	draft := message(bob, alice, "Local draft", "written offline")
	require.NoError(t, os.WriteFile(filepath.Join(local, "Drafts", "new", "1700000100.P9.local"), []byte(draft), 0o600))

	// Server changes: a new message by SMTP, and "Sync two" expunged.
	out, err := python(t, pyPrelude+`
s = smtplib.SMTP_SSL(H, port("submissions"), context=ctx)
s.login("alice@example.org", "alice-Secret-1")
s.sendmail("alice@example.org", ["bob@example.org"], sys.argv[3])
s.quit()
m = imaplib.IMAP4_SSL(H, port("imaps"), ssl_context=ctx)
m.login("bob@example.org", "bob-Secret-2")
m.select("INBOX")
typ, data = m.search(None, "SUBJECT", '"Sync two"')
m.store(data[0], "+FLAGS", "\\Deleted")
m.expunge()
m.logout()
`, append(s.pyArgs(), message(alice, bob, "Sync three", "third"))...)
	require.NoError(t, err, out)

	// Incremental resync, both ways.
	sync()
	var subjectsLocal []string
	for _, f := range maildirFiles(t, inbox) {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		subjectsLocal = append(subjectsLocal, subjects(string(b))...)
	}
	assert.ElementsMatch(t, []string{"Sync one", "Sync three"}, subjectsLocal, "the expunge and the new message reached the local side")

	out, err = python(t, pyPrelude+`
m = imaplib.IMAP4_SSL(H, port("imaps"), ssl_context=ctx)
m.login("bob@example.org", "bob-Secret-2")
m.select("INBOX", readonly=True)
typ, data = m.search(None, "SUBJECT", '"Sync one"', "FLAGGED", "SEEN")
check("flagged_seen", len(data[0].split()))
m.select("Drafts", readonly=True)
typ, data = m.search(None, "SUBJECT", '"Local draft"')
ids = data[0].split()
check("draft", len(ids))
typ, data = m.fetch(ids[0], "(BODY.PEEK[])")
# mbsync stores LF locally and adds X-TUID; the upload must come back as CRLF.
raw = data[0][1]
check("draft_exact", raw.replace(b"\r\n", b"\n").replace(b"X-TUID", b"").count(b"written offline") == 1 and b"\n" not in raw.replace(b"\r\n", b""))
m.logout()
`, append(s.pyArgs(), draft)...)
	require.NoError(t, err, out)
	r := results(out)
	assert.Equal(t, "1", r["flagged_seen"], "local flags reached the server: %s", out)
	assert.Equal(t, "1", r["draft"], "the local draft was uploaded: %s", out)
	assert.Equal(t, "True", r["draft_exact"], out)

	// A third sync with no changes changes nothing.
	before := len(maildirFiles(t, inbox))
	sync()
	assert.Len(t, maildirFiles(t, inbox), before)
}

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

// TestInteropOfflineimap: offlineimap syncs the server's folders down over
// IMAPS, then, after a local flag change and a new message on the server,
// syncs both ways.
func TestInteropOfflineimap(t *testing.T) {
	offlineimap := requireTool(t, "offlineimap")
	s := startServer(t)
	s.deliverToMaildir(bob, "1700000301.P1.test", message(alice, bob, "Offline one", "first"))
	s.deliverToMaildir(bob, "1700000302.P1.test", message(alice, bob, "Offline two", "second"))

	dir := t.TempDir()
	local := filepath.Join(dir, "mail")
	rc := filepath.Join(dir, "offlineimaprc")
	require.NoError(t, os.WriteFile(rc, []byte(fmt.Sprintf(`[general]
accounts = test
metadata = %s/meta

[Account test]
localrepository = local
remoterepository = remote

[Repository local]
type = Maildir
localfolders = %s

[Repository remote]
type = IMAP
remotehost = localhost
remoteport = %s
ssl = yes
sslcacertfile = %s
remoteuser = %s
remotepass = %s
`, dir, local, s.port("imaps"), s.caFile(), bob, bobPwd)), 0o600))
	sync := func() { t.Helper(); mustRun(t, "", offlineimap, "-c", rc, "-o", "-u", "basic") }
	localSubjects := func() map[string]string { // subject -> file
		out := map[string]string{}
		for _, f := range maildirFiles(t, filepath.Join(local, "INBOX")) {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			for _, sub := range subjects(string(b)) {
				out[sub] = f
			}
		}
		return out
	}

	sync()
	got := localSubjects()
	require.Len(t, got, 2, "both messages synced down: %v", got)
	for _, mb := range []string{"Sent", "Drafts", "Trash"} {
		assert.DirExists(t, filepath.Join(local, mb), "folder %s synced", mb)
	}

	// A local flag change, and a new message on the server.
	first := got["Offline one"]
	require.NotEmpty(t, first)
	base, _, _ := strings.Cut(filepath.Base(first), ":2,")
	require.NoError(t, os.Rename(first, filepath.Join(local, "INBOX", "cur", base+":2,FS")))
	s.deliverToMaildir(bob, "1700000303.P1.test", message(alice, bob, "Offline three", "third"))

	sync()
	assert.Len(t, localSubjects(), 3, "the new message reached the local side")
	out, err := python(t, pyPrelude+`
m = imaplib.IMAP4_SSL(H, port("imaps"), ssl_context=ctx)
m.login("bob@example.org", "bob-Secret-2")
m.select("INBOX", readonly=True)
typ, data = m.search(None, "SUBJECT", '"Offline one"', "FLAGGED", "SEEN")
check("flagged_seen", len(data[0].split()))
m.logout()
`, s.pyArgs()...)
	require.NoError(t, err, out)
	assert.Equal(t, "1", results(out)["flagged_seen"], "the local flags reached the server")
}

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInteropGetmail: getmail6 retrieves over POP3S (keeping
// the messages, then, run again, fetching only the new one by UIDL, then
// deleting) and over IMAPS (two folders).
func TestInteropGetmail(t *testing.T) {
	getmail := requireTool(t, "getmail")
	s := startServer(t)
	for i := range 3 {
		s.deliverToMaildir(bob, fmt.Sprintf("17000001%02d.P1.test", i), message(alice, bob, fmt.Sprintf("Getmail %d", i), "body"))
	}
	dir := t.TempDir()
	// An external MDA: getmail refuses to write a Maildir itself as root
	// (CI runs as root), and allows commands as root when told to.
	dest := filepath.Join(dir, "fetched")
	require.NoError(t, os.MkdirAll(dest, 0o700))
	gmDir := filepath.Join(dir, "getmail")
	require.NoError(t, os.MkdirAll(gmDir, 0o700))
	rc := filepath.Join(gmDir, "getmailrc")
	writeRC := func(retriever, port, extra string, del bool) {
		require.NoError(t, os.WriteFile(rc, []byte(fmt.Sprintf(
			"[retriever]\ntype = %s\nserver = localhost\nport = %s\nusername = %s\npassword = %s\nca_certs = %s\n%s\n"+
				"[destination]\ntype = MDA_external\npath = /bin/sh\narguments = (\"-c\", \"cat > %s/$$.eml\")\nallow_root_commands = true\n\n"+
				"[options]\nverbose = 0\nread_all = false\ndelete = %v\n",
			retriever, port, bob, bobPwd, s.caFile(), extra, dest, del)), 0o600))
	}
	fetched := func() []string {
		var subs []string
		names, err := os.ReadDir(dest)
		require.NoError(t, err)
		for _, n := range names {
			data, err := os.ReadFile(filepath.Join(dest, n.Name()))
			require.NoError(t, err)
			subs = append(subs, subjects(string(data))...)
		}
		return subs
	}
	run := func() {
		t.Helper()
		out, err := runTool(t, "", getmail, "--getmaildir", gmDir, "--rcfile", "getmailrc")
		require.NoError(t, err, out)
	}

	writeRC("SimplePOP3SSLRetriever", s.port("pop3s"), "", false)
	run()
	assert.ElementsMatch(t, []string{"Getmail 0", "Getmail 1", "Getmail 2"}, fetched())
	assert.Equal(t, "3", s.countIMAP(t, bob, bobPwd, "INBOX"), "delete = false leaves them")

	s.deliverToMaildir(bob, "1700000199.P1.test", message(alice, bob, "Getmail 3", "body"))
	run() // read_all = false: only what UIDL says is new
	assert.ElementsMatch(t, []string{"Getmail 0", "Getmail 1", "Getmail 2", "Getmail 3"}, fetched())

	writeRC("SimplePOP3SSLRetriever", s.port("pop3s"), "", true)
	run()
	assert.Len(t, fetched(), 4, "nothing new, but the old ones are deleted now")
	assert.Equal(t, "0", s.countIMAP(t, bob, bobPwd, "INBOX"))

	// IMAP: INBOX and a folder, left on the server.
	s.deliverToMaildir(bob, "1700000200.P1.test", message(alice, bob, "Imap inbox", "body"))
	s.deliverToMaildir(bob, "1700000201.P1.test", message(alice, bob, "Imap inbox 2", "body"))
	require.NoError(t, os.MkdirAll(filepath.Join(s.data, "mail", bob, ".Lists", "cur"), 0o700))
	for _, sub := range []string{"new", "tmp"} {
		require.NoError(t, os.MkdirAll(filepath.Join(s.data, "mail", bob, ".Lists", sub), 0o700))
	}
	require.NoError(t, os.WriteFile(filepath.Join(s.data, "mail", bob, ".Lists", "new", "1700000202.P1.test"),
		[]byte(message(alice, bob, "Imap list", "body")), 0o600))
	writeRC("SimpleIMAPSSLRetriever", s.port("imaps"), `mailboxes = ("INBOX", "Lists")`, false)
	run()
	got := fetched()
	assert.Contains(t, got, "Imap inbox")
	assert.Contains(t, got, "Imap inbox 2")
	assert.Contains(t, got, "Imap list")
	assert.Len(t, got, 7)
	assert.Equal(t, "2", s.countIMAP(t, bob, bobPwd, "INBOX"), "kept on the server")
}

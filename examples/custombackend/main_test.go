package main

import (
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// script logs in with Python's imaplib and poplib, over implicit TLS and
// over STARTTLS/STLS, and prints what it sees.
const script = `
import imaplib, poplib, ssl, sys
ca, user, password, imap, imaps, pop3, pop3s = sys.argv[1:]
ctx = ssl.create_default_context(cafile=ca)
def hostport(a): h, p = a.rsplit(":", 1); return h, int(p)

m = imaplib.IMAP4_SSL(*hostport(imaps), ssl_context=ctx)
m.login(user, password)
print("select", m.select("INBOX")[1][0].decode())
typ, data = m.fetch("1", "(FLAGS BODY[HEADER.FIELDS (SUBJECT)])")
print("fetch", data[0][1].decode().strip())
print("flags", m.fetch("1", "(FLAGS)")[1][0].decode())
m.logout()

m = imaplib.IMAP4(*hostport(imap))
m.starttls(ssl_context=ctx)
m.login(user, password)
print("append", m.append("Drafts", "(\\Draft)", None, b"Subject: draft\r\n\r\nHello.\r\n")[0])
print("status", m.status("Drafts", "(MESSAGES UNSEEN)")[1][0].decode())
m.logout()

p = poplib.POP3_SSL(*hostport(pop3s), context=ctx)
p.user(user); p.pass_(password)
print("stat", p.stat()[0])
print("retr", [l for l in p.retr(1)[1] if l.startswith(b"Subject:")][0].decode())
p.quit()

p = poplib.POP3(*hostport(pop3))
p.stls(context=ctx)
p.user(user); p.pass_(password)
print("uidl", len(p.uidl()[1]))
p.quit()
`

// TestEndToEnd starts the program's servers on free ports and talks to them
// with Python's imaplib and poplib.
func TestEndToEnd(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("MAILFRONT_REQUIRE_INTEROP") == "1" {
			t.Fatal("python3 is not installed, and MAILFRONT_REQUIRE_INTEROP=1 requires it")
		}
		t.Skip("python3 is not installed; skipping the end-to-end test (set MAILFRONT_REQUIRE_INTEROP=1 to make it fail)")
	}
	d, err := start(config{password: "e2e-Secret"}, slog.New(slog.DiscardHandler))
	require.NoError(t, err, "start")
	t.Cleanup(func() { assert.NoError(t, d.shutdown(), "shutdown") })
	ca := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(ca, d.cert.CAPEM, 0o644))

	cmd := exec.CommandContext(t.Context(), python, "-c", script, ca, demoUser, "e2e-Secret",
		d.addrs["imap"], d.addrs["imaps"], d.addrs["pop3"], d.addrs["pop3s"])
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "python:\n%s", out)
	// The welcome message is written as the server starts: whether it
	// counts as arrived since (\Recent) depends on the clock's second.
	out = []byte(strings.Replace(string(out), `(\Recent `, "(", 1))
	assert.Equal(t, strings.Join([]string{
		"select 1",
		"fetch Subject: Welcome to HostStore",
		`flags 1 (FLAGS (\Seen))`,
		"append OK",
		"status Drafts (MESSAGES 1 UNSEEN 1)",
		"stat 1",
		"retr Subject: Welcome to HostStore",
		"uidl 1",
	}, "\n")+"\n", string(out))
}

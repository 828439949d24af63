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

// countIMAP returns how many messages a user's mailbox holds, asked over
// IMAPS with python (used to check outcomes of other clients).
func (s *mailServer) countIMAP(t *testing.T, user, pass, mailbox string) string {
	t.Helper()
	out, err := python(t, pyPrelude+`
m = imaplib.IMAP4_SSL(H, port("imaps"), ssl_context=ctx)
m.login(sys.argv[3], sys.argv[4])
typ, data = m.select(sys.argv[5])
check("n", data[0].decode())
m.logout()
`, append(s.pyArgs(), user, pass, mailbox)...)
	require.NoError(t, err, out)
	return results(out)["n"]
}

// TestInteropCurl: curl submits over smtp:// (STARTTLS) and smtps://, lists
// and retrieves over pop3(s):// and imap(s)://; plaintext login is refused.
func TestInteropCurl(t *testing.T) {
	curl := requireTool(t, "curl")
	s := startServer(t)
	ca := "--cacert"
	caPath := s.caFile()
	msgFile := filepath.Join(t.TempDir(), "msg.eml")
	body := message(alice, bob, "Curl mail", "sent by curl\r\n..two dots")
	require.NoError(t, os.WriteFile(msgFile, []byte(body), 0o600))
	user := alice + ":" + alicePwd
	send := func(url string, extra ...string) (string, error) {
		args := append([]string{"-sS", ca, caPath, url, "--mail-from", alice, "--mail-rcpt", bob, "--upload-file", msgFile, "--user", user}, extra...)
		return runTool(t, "", curl, args...)
	}
	out, err := send("smtp://localhost:"+s.port("submission"), "--ssl-reqd")
	require.NoError(t, err, out)
	out, err = send("smtps://localhost:" + s.port("submissions"))
	require.NoError(t, err, out)

	// Refusals: no TLS (credentials never sent in clear), wrong sender.
	out, err = send("smtp://localhost:" + s.port("submission"))
	assert.Error(t, err, "AUTH without STARTTLS must fail: %s", out)
	out, err = runTool(t, "", curl, "-sS", ca, caPath, "smtps://localhost:"+s.port("submissions"),
		"--mail-from", bob, "--mail-rcpt", bob, "--upload-file", msgFile, "--user", user)
	assert.Error(t, err, "sending as bob while logged in as alice: %s", out)

	bobUser := bob + ":" + bobPwd
	// POP3 with STLS, and POP3S: LIST then RETR.
	list := mustRun(t, "", curl, "-sS", ca, caPath, "--ssl-reqd", "pop3://localhost:"+s.port("pop3")+"/", "--user", bobUser)
	assert.Len(t, lines(strings.TrimSpace(list)), 2, "two messages listed: %q", list)
	retr := mustRun(t, "", curl, "-sS", ca, caPath, "pop3s://localhost:"+s.port("pop3s")+"/1", "--user", bobUser)
	assert.True(t, strings.HasSuffix(retr, body), "RETR returns the message byte for byte (dot-unstuffed):\n%s", retr)
	out, err = runTool(t, "", curl, "-sS", ca, caPath, "pop3://localhost:"+s.port("pop3")+"/", "--user", bobUser)
	assert.Error(t, err, "POP3 login without STLS is refused: %s", out)

	// IMAP with STARTTLS and IMAPS: fetch by UID, search, list.
	fetched := mustRun(t, "", curl, "-sS", ca, caPath, "--ssl-reqd", "imap://localhost:"+s.port("imap")+"/INBOX;UID=1", "--user", bobUser)
	assert.True(t, strings.HasSuffix(fetched, body), "IMAP fetch byte for byte:\n%s", fetched)
	search := mustRun(t, "", curl, "-sS", ca, caPath, "imaps://localhost:"+s.port("imaps")+"/INBOX?SUBJECT%20curl", "--user", bobUser)
	assert.Contains(t, search, "* SEARCH 1 2")
	mailboxes := mustRun(t, "", curl, "-sS", ca, caPath, "imaps://localhost:"+s.port("imaps")+"/", "--user", bobUser)
	for _, mb := range []string{"INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive"} {
		assert.Contains(t, mailboxes, mb)
	}
	out, err = runTool(t, "", curl, "-sS", ca, caPath, "imap://localhost:"+s.port("imap")+"/INBOX;UID=1", "--user", bobUser)
	assert.Error(t, err, "IMAP login without STARTTLS is refused: %s", out)
}

// TestInteropSwaks: swaks with --tls (STARTTLS) and --tls-on-connect.
func TestInteropSwaks(t *testing.T) {
	swaks := requireTool(t, "swaks")
	s := startServer(t)
	common := []string{"--server", "localhost", "--from", alice, "--to", bob,
		"--auth", "PLAIN", "--auth-user", alice, "--auth-password", alicePwd,
		"--tls-ca-path", s.caFile(), "--tls-verify", "--header", "Subject: swaks test"}
	out := mustRun(t, "", swaks, append([]string{"--port", s.port("submission"), "--tls"}, common...)...)
	assert.Contains(t, out, "250 2.0.0")
	out = mustRun(t, "", swaks, append([]string{"--port", s.port("submissions"), "--tls-on-connect", "--auth", "LOGIN"}, common...)...)
	assert.Contains(t, out, "250 2.0.0")
	assert.Equal(t, "2", s.countIMAP(t, bob, bobPwd, "INBOX"))

	// No TLS: AUTH is not offered, so swaks cannot authenticate.
	out, err := runTool(t, "", swaks, "--server", "localhost", "--port", s.port("submission"), "--from", alice, "--to", bob,
		"--auth", "PLAIN", "--auth-user", alice, "--auth-password", alicePwd)
	assert.Error(t, err, out)
	// No AUTH at all: MAIL is refused with 530.
	out, err = runTool(t, "", swaks, "--server", "localhost", "--port", s.port("submission"), "--from", alice, "--to", bob,
		"--tls", "--tls-ca-path", s.caFile())
	assert.Error(t, err)
	assert.Contains(t, out, "530 5.7.0")
	// Sending as someone else.
	out, err = runTool(t, "", swaks, "--server", "localhost", "--port", s.port("submissions"), "--tls-on-connect",
		"--tls-ca-path", s.caFile(), "--from", bob, "--to", bob, "--auth", "PLAIN", "--auth-user", alice, "--auth-password", alicePwd)
	assert.Error(t, err)
	assert.Contains(t, out, "553 5.7.1")
	assert.Equal(t, "2", s.countIMAP(t, bob, bobPwd, "INBOX"), "nothing more was delivered")
}

// TestInteropMsmtp: msmtp over STARTTLS and implicit TLS.
func TestInteropMsmtp(t *testing.T) {
	msmtp := requireTool(t, "msmtp")
	s := startServer(t)
	conf := filepath.Join(t.TempDir(), "msmtprc")
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(`defaults
auth on
tls on
tls_trust_file %s
host localhost
from %s
user %s
password %s

account starttls
port %s
tls_starttls on

account implicit
port %s
tls_starttls off

account spoof
port %s
tls_starttls off
from %s
`, s.caFile(), alice, alice, alicePwd, s.port("submission"), s.port("submissions"), s.port("submissions"), bob)), 0o600))
	for _, account := range []string{"starttls", "implicit"} {
		out := mustRun(t, message(alice, bob, "msmtp "+account, "via msmtp"), msmtp, "-C", conf, "-a", account, bob)
		assert.Empty(t, strings.TrimSpace(out))
	}
	out, err := runTool(t, message(bob, bob, "spoof", "no"), msmtp, "-C", conf, "-a", "spoof", bob)
	assert.Error(t, err)
	assert.Contains(t, out, "553")
	assert.Equal(t, "2", s.countIMAP(t, bob, bobPwd, "INBOX"))
}

// TestInteropFetchmail: fetchmail over STLS and POP3S, keeping and then
// deleting messages on the server.
func TestInteropFetchmail(t *testing.T) {
	fetchmail := requireTool(t, "fetchmail")
	s := startServer(t)
	for i := range 3 {
		s.deliverToMaildir(bob, fmt.Sprintf("17000000%02d.P1.test", i), message(alice, bob, fmt.Sprintf("Fetch %d", i), "body"))
	}
	dir := t.TempDir()
	mbox := filepath.Join(dir, "fetched")
	rc := filepath.Join(dir, "fetchmailrc")
	writeRC := func(port, ssl string, keep bool) {
		k := "keep"
		if !keep {
			k = "nokeep"
		}
		require.NoError(t, os.WriteFile(rc, []byte(fmt.Sprintf(
			"poll localhost service %s protocol pop3 uidl\n  user %q password %q is %q here\n  %s sslcertck sslcertfile %q %s fetchall\n  mda \"/bin/sh -c 'cat >> %s'\"\n",
			port, bob, bobPwd, "localuser", ssl, s.caFile(), k, mbox)), 0o600))
	}
	env := func() []string {
		return []string{"-f", rc, "--nodetach", "--nosyslog", "-i", filepath.Join(dir, "ids")}
	}

	writeRC(s.port("pop3"), "sslproto tls1.2+", true) // STLS on the plain port
	out, err := runTool(t, "", fetchmail, env()...)
	require.NoError(t, err, out)
	got, err := os.ReadFile(mbox)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"Fetch 0", "Fetch 1", "Fetch 2"}, subjects(string(got)))
	assert.Equal(t, "3", s.countIMAP(t, bob, bobPwd, "INBOX"), "keep leaves them on the server")

	os.Remove(mbox)
	os.Remove(filepath.Join(dir, "ids"))
	writeRC(s.port("pop3s"), "ssl", false) // implicit TLS, delete after fetching
	out, err = runTool(t, "", fetchmail, env()...)
	require.NoError(t, err, out)
	got, err = os.ReadFile(mbox)
	require.NoError(t, err)
	assert.Len(t, subjects(string(got)), 3)
	assert.Equal(t, "0", s.countIMAP(t, bob, bobPwd, "INBOX"), "nokeep deleted them at QUIT")
}

// TestInteropNTLM: curl's NTLM (the mechanism Outlook calls Secure Password
// Authentication) against users created with adduser -ntlm, on all three
// protocols; a wrong password is refused.
func TestInteropNTLM(t *testing.T) {
	curl := requireTool(t, "curl")
	s := startServerUsers(t, true)
	ca := s.caFile()
	msgFile := filepath.Join(t.TempDir(), "msg.eml")
	require.NoError(t, os.WriteFile(msgFile, []byte(message(alice, bob, "NTLM mail", "sent with NTLM")), 0o600))
	ntlm := []string{"--login-options", "AUTH=NTLM"}
	mustRun(t, "", curl, append([]string{"-sS", "--cacert", ca, "smtps://localhost:" + s.port("submissions"),
		"--mail-from", alice, "--mail-rcpt", bob, "--upload-file", msgFile, "--user", alice + ":" + alicePwd}, ntlm...)...)
	list := mustRun(t, "", curl, append([]string{"-sS", "--cacert", ca, "pop3s://localhost:" + s.port("pop3s") + "/", "--user", bob + ":" + bobPwd}, ntlm...)...)
	assert.Len(t, lines(strings.TrimSpace(list)), 1)
	fetched := mustRun(t, "", curl, append([]string{"-sS", "--cacert", ca, "imaps://localhost:" + s.port("imaps") + "/INBOX;UID=1", "--user", bob + ":" + bobPwd}, ntlm...)...)
	assert.Contains(t, fetched, "sent with NTLM")
	out, err := runTool(t, "", curl, append([]string{"-sS", "--cacert", ca, "imaps://localhost:" + s.port("imaps") + "/", "--user", bob + ":wrong"}, ntlm...)...)
	assert.Error(t, err, out)
	assert.Contains(t, s.out.String(), "mech=NTLM", "the logins used NTLM")
}

// TestInteropSCRAM: msmtp's GNU SASL authenticates with SCRAM-SHA-1 and
// SCRAM-SHA-256 against the keys adduser stored (no plaintext password on
// the server), and a wrong password is refused.
func TestInteropSCRAM(t *testing.T) {
	msmtp := requireTool(t, "msmtp")
	s := startServer(t)
	conf := filepath.Join(t.TempDir(), "msmtprc")
	account := func(name, mech, password string) string {
		return fmt.Sprintf("account %s\nhost localhost\nport %s\ntls on\ntls_starttls on\ntls_trust_file %s\nauth %s\nuser %s\npassword %s\nfrom %s\n\n",
			name, s.port("submission"), s.caFile(), mech, alice, password, alice)
	}
	require.NoError(t, os.WriteFile(conf, []byte(account("sha1", "scram-sha-1", alicePwd)+
		account("sha256", "scram-sha-256", alicePwd)+account("wrong", "scram-sha-256", "not-the-password")), 0o600))
	for _, acc := range []string{"sha1", "sha256"} {
		mustRun(t, message(alice, bob, "SCRAM "+acc, "via "+acc), msmtp, "-C", conf, "-a", acc, bob)
	}
	out, err := runTool(t, message(alice, bob, "SCRAM wrong", "no"), msmtp, "-C", conf, "-a", "wrong", bob)
	assert.Error(t, err, out)
	assert.Equal(t, "2", s.countIMAP(t, bob, bobPwd, "INBOX"))
	logs := s.out.String()
	assert.Contains(t, logs, "mech=SCRAM-SHA-1")
	assert.Contains(t, logs, "mech=SCRAM-SHA-256")
}

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A user added while the server runs can log in after SIGHUP, and the
// server keeps serving.
func TestSIGHUPReloadsUsers(t *testing.T) {
	s := startServer(t)
	const carol, carolPwd = "carol@example.org", "carol-Secret-3"
	s.adduser(carol, carolPwd)
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return strings.Contains(s.out.String(), "users file reloaded") },
		10*time.Second, 20*time.Millisecond)
	assert.Equal(t, "0", s.countIMAP(t, carol, carolPwd, "INBOX"), "the new user logs in")
	assert.DirExists(t, filepath.Join(s.data, "mail", carol), "and has a mailbox")
}

// The demo user is created on first start only, and its password is kept
// in DATA/demo-password so the banner can show it again.
func TestDemoUser(t *testing.T) {
	bin := serverBinary(t)
	data := t.TempDir()
	ports := freePorts(t, 1)
	start := func() string {
		out := &syncBuffer{}
		cmd := execServer(bin, "-data", data, "-imap", "0", "-pop3", "0", "-submission", "0", "-submissions", "0", "-pop3s", "0",
			"-imaps", itoa(ports[0]))
		cmd.Stdout, cmd.Stderr = out, out
		require.NoError(t, cmd.Start())
		require.Eventually(t, func() bool { return strings.Contains(out.String(), "Ready.") }, 30*time.Second, 20*time.Millisecond, out.String())
		require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
		require.NoError(t, cmd.Wait(), "SIGINT shuts down cleanly")
		return out.String()
	}
	first := start()
	pass, err := os.ReadFile(filepath.Join(data, "demo-password"))
	require.NoError(t, err)
	assert.Contains(t, first, "demo user:       demo@localhost")
	assert.Contains(t, first, "password:        "+strings.TrimSpace(string(pass)))
	for _, f := range []string{"users", "tls/ca.pem", "tls/cert.pem", "tls/key.pem"} {
		assert.FileExists(t, filepath.Join(data, f), f)
	}
	assert.DirExists(t, filepath.Join(data, "mail", "demo@localhost", "cur"), "the demo user's Maildir")
	second := start()
	assert.Contains(t, second, "password:        "+strings.TrimSpace(string(pass)), "same password on restart")
	assert.NotContains(t, second, "1143", "disabled listeners are not listed")
}

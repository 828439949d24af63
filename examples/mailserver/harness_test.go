package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mailfront/mailfront/internal/testutil"

	"github.com/stretchr/testify/require"
)

// The interop suite runs real third-party mail clients against the example
// server binary, started on free ports with a temporary data directory.
// Clients that are not installed are skipped with a message, unless
// MAILFRONT_REQUIRE_INTEROP=1 (set by .ci/run, which installs them).

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// serverBinary builds the example server once per test run.
func serverBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mailserver-bin")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "mailserver")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, binErr)
	return binPath
}

// requireTool skips the test when a client is missing, or fails it when the
// environment demands every client.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("MAILFRONT_REQUIRE_INTEROP") == "1" {
		t.Fatalf("%s is not installed, and MAILFRONT_REQUIRE_INTEROP=1 (run .ci/run as root to install it)", name)
	}
	t.Skipf("%s is not installed; skipping (apt-get install the client, or run .ci/run)", name)
	return ""
}

// mailServer is a running example server.
type mailServer struct {
	t     *testing.T
	bin   string
	data  string
	ports map[string]int
	cmd   *exec.Cmd
	out   *syncBuffer
}

type syncBuffer = testutil.SyncBuffer

// freePorts returns n distinct free TCP ports on 127.0.0.1.
func freePorts(t *testing.T, n int) []int {
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

const (
	alice    = "alice@example.org"
	alicePwd = "alice-Secret-1"
	bob      = "bob@example.org"
	bobPwd   = "bob-Secret-2"
)

// startServer starts the example server with users alice and bob (alice
// with an NT hash) besides the demo user.
func startServer(t *testing.T, extra ...string) *mailServer {
	t.Helper()
	return startServerUsers(t, false, extra...)
}

// startServerUsers starts the server; with ntlmForAll every user has an NT
// hash, so that NTLM is offered.
func startServerUsers(t *testing.T, ntlmForAll bool, extra ...string) *mailServer {
	t.Helper()
	s := &mailServer{t: t, bin: serverBinary(t), data: t.TempDir(), ports: map[string]int{}, out: &syncBuffer{}}
	s.adduser(alice, alicePwd, "-ntlm")
	if ntlmForAll {
		s.adduser(bob, bobPwd, "-ntlm")
	} else {
		s.adduser(bob, bobPwd)
	}
	ports := freePorts(t, len(listenerNames))
	args := []string{"-data", s.data, "-log-level", "debug"}
	for i, name := range listenerNames {
		s.ports[name] = ports[i]
		args = append(args, "-"+name, fmt.Sprint(ports[i]))
	}
	args = append(args, extra...)
	s.cmd = execServer(s.bin, args...)
	s.cmd.Stdout = s.out
	s.cmd.Stderr = s.out
	require.NoError(t, s.cmd.Start())
	t.Cleanup(s.stop)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(s.out.String(), "Ready.") {
		if time.Now().After(deadline) {
			t.Fatalf("server did not start:\n%s", s.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s
}

func (s *mailServer) adduser(address, password string, flags ...string) {
	s.t.Helper()
	args := append([]string{"adduser", "-data", s.data}, flags...)
	args = append(args, address)
	cmd := exec.Command(s.bin, args...)
	cmd.Stdin = strings.NewReader(password + "\n")
	out, err := cmd.CombinedOutput()
	require.NoError(s.t, err, "adduser: %s", out)
}

// execServer prepares the server command.
func execServer(bin string, args ...string) *exec.Cmd { return exec.Command(bin, args...) }

func itoa(n int) string { return fmt.Sprint(n) }

// stop sends SIGTERM and checks the server exits cleanly.
func (s *mailServer) stop() {
	if s.cmd.Process == nil || s.cmd.ProcessState != nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			s.t.Errorf("server exit: %v\n%s", err, s.out.String())
		}
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		s.t.Errorf("server did not stop within 20s after SIGTERM")
	}
	if s.t.Failed() {
		s.t.Logf("server output:\n%s", s.out.String())
	}
}

func (s *mailServer) caFile() string { return filepath.Join(s.data, "tls", "ca.pem") }

func (s *mailServer) port(name string) string { return fmt.Sprint(s.ports[name]) }

// run runs a client command with a timeout, returning its combined output.
func runTool(t *testing.T, stdin string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// mustRun is run that fails the test on error.
func mustRun(t *testing.T, stdin string, name string, args ...string) string {
	t.Helper()
	out, err := runTool(t, stdin, name, args...)
	require.NoError(t, err, "%s %s:\n%s", name, strings.Join(args, " "), out)
	return out
}

// python runs a python3 script with arguments.
func python(t *testing.T, script string, args ...string) (string, error) {
	t.Helper()
	requireTool(t, "python3")
	return runTool(t, "", "python3", append([]string{"-c", script}, args...)...)
}

// deliverToMaildir drops a message into a user's new/ as another program
// (Postfix, procmail) would.
func (s *mailServer) deliverToMaildir(user, name, msg string) {
	s.t.Helper()
	dir := filepath.Join(s.data, "mail", strings.ToLower(user))
	tmp := filepath.Join(dir, "tmp", name)
	require.NoError(s.t, os.WriteFile(tmp, []byte(msg), 0o600))
	require.NoError(s.t, os.Rename(tmp, filepath.Join(dir, "new", name)))
}

// message builds a small test message.
func message(from, to, subject, body string) string {
	return fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\nMessage-ID: <%s@test>\r\n\r\n%s\r\n",
		from, to, subject, strings.ReplaceAll(strings.ToLower(subject), " ", "."), body)
}

var retrievedSubject = regexp.MustCompile(`(?m)^Subject: (.*)\r?$`)

// subjects returns the Subject lines found in text.
func subjects(text string) []string {
	var out []string
	for _, m := range retrievedSubject.FindAllStringSubmatch(text, -1) {
		out = append(out, strings.TrimSpace(m[1]))
	}
	return out
}

// lines splits output into trimmed lines.
func lines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		out = append(out, strings.TrimRight(sc.Text(), "\r"))
	}
	return out
}

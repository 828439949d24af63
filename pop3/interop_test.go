package pop3_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Interop tests run real clients against the server on 127.0.0.1, with
// the fake backend and a self-signed certificate whose CA is written to a
// file for the clients. A missing client skips its test, unless
// MAILFRONT_REQUIRE_INTEROP=1 (CI), when it fails.

func requireClient(t *testing.T, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		msg := name + " is not installed (apt-get install " + pkg + "); interop test skipped"
		if os.Getenv("MAILFRONT_REQUIRE_INTEROP") == "1" {
			t.Fatal(msg + ", but MAILFRONT_REQUIRE_INTEROP=1")
		}
		t.Skip(msg)
	}
	return path
}

// interop is a server on two loopback ports: plain (with STLS) and
// implicit TLS, under the default SecureLogin policy.
type interop struct {
	h        *harness
	plain    string // host:port
	implicit string
	caFile   string
	dir      string
}

func startInterop(t *testing.T, setup func(h *harness)) *interop {
	h := newHarness(t)
	h.srv.TrustedNetworks = nil // loopback clients must use TLS
	if setup != nil {
		setup(h)
	}
	plain, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	implicit, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 2)
	go func() { done <- h.srv.Serve(plain) }()
	go func() { done <- h.srv.ServeTLS(implicit) }()
	t.Cleanup(func() { h.srv.Close(); <-done; <-done })

	dir := t.TempDir()
	cert, err := testCert()
	require.NoError(t, err)
	ca := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(ca, cert.CAPEM, 0o644))
	return &interop{h: h, plain: plain.Addr().String(), implicit: implicit.Addr().String(), caFile: ca, dir: dir}
}

func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s %s:\n%s", name, strings.Join(args, " "), out)
	return string(out)
}

func hostPort(t *testing.T, addr string) (string, string) {
	host, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	return host, port
}

// pythonPOP is run by python3 with the mode, address and CA file as
// arguments; it prints what it saw, one fact a line.
const pythonPOP = `
import base64, poplib, ssl, sys
mode, host, port, ca = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
if mode in ("pop3s", "apop", "utf8"):
    p = poplib.POP3_SSL(host, port, context=ctx, timeout=30)
else:
    p = poplib.POP3(host, port, timeout=30)
    caps = p.capa()
    print("plain-capa", " ".join(sorted(caps)))
    try:
        p.user("alice")
    except poplib.error_proto as e:
        print("before-tls", e.args[0].decode())
    p.stls(context=ctx)
caps = p.capa()
print("tls-capa", " ".join(sorted(caps)), caps.get("SASL", []))
if mode == "auth-plain":
    p._putcmd("AUTH PLAIN")
    print("continuation", repr(p._getline()[0].decode()))
    p._putcmd(base64.b64encode(b"\0alice\0secret").decode())
    print("auth", p._getresp().decode())
elif mode == "apop":
    print("auth", p.apop("apop", "apop-secret").decode())
elif mode == "utf8":
    print("utf8", p.utf8().decode())
    p.user("jörg")
    print("auth", p.pass_("pässwörd").decode())
else:
    p.user("alice")
    print("auth", p.pass_("secret").decode())
print("stat", p.stat())
print("uidl", [l.decode() for l in p.uidl()[1]])
if mode not in ("apop", "utf8"):
    resp, lines, octets = p.retr(2)
    print("retr", [l.decode() for l in lines], octets)
    print("top", [l.decode() for l in p.top(3, 1)[1]])
    print("dele", p.dele(1).decode())
print("quit", p.quit().decode())
`

func TestInteropPythonPoplib(t *testing.T) {
	python := requireClient(t, "python3", "python3")
	for _, mode := range []string{"stls", "pop3s", "auth-plain", "apop", "utf8"} {
		t.Run(mode, func(t *testing.T) {
			s := startInterop(t, func(h *harness) { h.srv.AllowAPOP = true })
			addr := s.plain
			if mode == "pop3s" || mode == "apop" || mode == "utf8" {
				addr = s.implicit
			}
			host, port := hostPort(t, addr)
			out := run(t, nil, python, "-c", pythonPOP, mode, host, port, s.caFile)
			lines := map[string]string{}
			for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
				k, v, _ := strings.Cut(l, " ")
				lines[k] = v
			}
			if mode == "stls" || mode == "auth-plain" {
				assert.Equal(t, "AUTH-RESP-CODE IMPLEMENTATION PIPELINING RESP-CODES STLS TOP UIDL UTF8", lines["plain-capa"], "no USER or SASL before TLS")
				assert.Equal(t, "-ERR [AUTH] Command is not valid in this state: use STLS or the TLS port first", lines["before-tls"])
			}
			assert.Equal(t, "AUTH-RESP-CODE IMPLEMENTATION PIPELINING RESP-CODES SASL TOP UIDL USER UTF8 ['CRAM-MD5', 'PLAIN', 'LOGIN']", lines["tls-capa"])
			if mode == "utf8" {
				assert.Equal(t, "+OK UTF8 enabled", lines["utf8"])
			}
			if mode == "apop" || mode == "utf8" {
				assert.Equal(t, "+OK Logged in; maildrop has 0 messages (0 octets)", lines["auth"])
				assert.Equal(t, "(0, 0)", lines["stat"])
				return
			}
			assert.Equal(t, "+OK Logged in; maildrop has 3 messages (154 octets)", lines["auth"])
			if mode == "auth-plain" {
				assert.Equal(t, "'+ '", lines["continuation"])
			}
			assert.Equal(t, "(3, 154)", lines["stat"])
			assert.Equal(t, "['1 uid-1', '2 uid-2', '3 uid-3']", lines["uidl"])
			assert.Equal(t, "['Subject: two', 'X: y', '', 'Line 1', '.Line 2 starts with a dot', '.', 'Line 4'] 68", lines["retr"])
			assert.Equal(t, "['Subject: bare LF', '', 'stored with bare LF']", lines["top"])
			assert.Equal(t, "+OK Goodbye; 2 messages left", lines["quit"])
			assert.Len(t, s.h.backend.messages("alice"), 2, "DELE then QUIT removed message 1")
		})
	}
}

func TestInteropCurl(t *testing.T) {
	curl := requireClient(t, "curl", "curl")
	// curl picks the strongest mechanism offered; only PLAIN and LOGIN
	// are offered here, as the test directory has CRAM-MD5 secrets for
	// its APOP account only.
	s := startInterop(t, func(h *harness) { h.srv.Authenticator = plainOnly{h.dir} })
	for _, tc := range []struct {
		name, url string
		args      []string
		want      string
	}{
		{"pop3 STLS LIST", "pop3://" + s.plain + "/", []string{"--ssl-reqd"}, "1 32\r\n2 68\r\n3 54\r\n"},
		{"pop3 STLS RETR", "pop3://" + s.plain + "/2", []string{"--ssl-reqd"}, "Subject: two\r\nX: y\r\n\r\nLine 1\r\n.Line 2 starts with a dot\r\n.\r\nLine 4\r\n"},
		{"pop3s LIST", "pop3s://" + s.implicit + "/", nil, "1 32\r\n2 68\r\n3 54\r\n"},
		{"pop3s RETR bare LF", "pop3s://" + s.implicit + "/3", nil, "Subject: bare LF\r\n\r\nstored with bare LF\r\nsecond line\r\n"},
		{"pop3s AUTH LOGIN", "pop3s://" + s.implicit + "/1", []string{"--login-options", "AUTH=LOGIN"}, "Subject: one\r\n\r\nFirst message.\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"-sS", "--cacert", s.caFile, "-u", "alice:secret", "--max-time", "30"}, tc.args...)
			out := run(t, nil, curl, append(args, tc.url)...)
			assert.Equal(t, tc.want, out)
		})
	}
	// Without TLS, curl cannot log in: the server offers no mechanism.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, curl, "-sS", "-u", "alice:secret", "pop3://"+s.plain+"/").CombinedOutput()
	assert.Error(t, err, "curl without TLS: %s", out)
	assert.Len(t, s.h.backend.messages("alice"), 3)
}

func TestInteropFetchmail(t *testing.T) {
	fetchmail := requireClient(t, "fetchmail", "fetchmail")
	for _, tc := range []struct {
		name string
		ssl  bool
		keep bool
	}{
		{"STLS keep", false, true},
		{"STLS nokeep", false, false},
		{"POP3S keep", true, true},
		{"POP3S nokeep", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startInterop(t, func(h *harness) { h.srv.Authenticator = plainOnly{h.dir} })
			addr := s.plain
			if tc.ssl {
				addr = s.implicit
			}
			host, port := hostPort(t, addr)
			out := filepath.Join(s.dir, "delivered")
			rc := "set no syslog\n" +
				"poll " + host + " with protocol pop3 port " + port + " uidl\n" +
				"  user \"alice\" there with password \"secret\" is \"root\" here\n" +
				"  sslcertck sslcertfile \"" + s.caFile + "\" sslproto \"tls1.2+\" sslcommonname \"localhost\"\n" +
				"  mda \"/bin/sh -c 'cat >> " + out + "'\"\n"
			if tc.ssl {
				rc += "  ssl\n"
			}
			if tc.keep {
				rc += "  keep\n"
			} else {
				rc += "  nokeep\n"
			}
			rcFile := filepath.Join(s.dir, "fetchmailrc")
			require.NoError(t, os.WriteFile(rcFile, []byte(rc), 0o600))
			log := run(t, []string{"HOME=" + s.dir}, fetchmail,
				"-f", rcFile, "--nodetach", "-v", "--idfile", filepath.Join(s.dir, "fetchids"), "--pidfile", filepath.Join(s.dir, "pid"))
			if !tc.ssl {
				assert.Contains(t, log, "STLS", "fetchmail upgraded with STLS")
			}
			got, err := os.ReadFile(out)
			require.NoError(t, err, "fetchmail log:\n%s", log)
			for _, want := range []string{"First message.", "Line 2 starts with a dot", "stored with bare LF"} {
				assert.Contains(t, string(got), want)
			}
			if tc.keep {
				assert.Len(t, s.h.backend.messages("alice"), 3, "keep leaves the messages on the server")
			} else {
				assert.Empty(t, s.h.backend.messages("alice"), "nokeep deletes them at QUIT")
			}
		})
	}
}

package submission_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/submission"
	"github.com/mailfront/mailfront/tlsconfig"
)

// interop is a server on 127.0.0.1 with STARTTLS on one port and implicit
// TLS on another, a self-signed certificate whose CA is in caFile, the
// default SecureLogin policy and no trusted network: what real clients
// meet in production.
type interop struct {
	backend *fakeBackend
	port587 string
	port465 string
	caFile  string
	dir     string
	logs    *syncBuffer
}

// needClient skips the test when a client program is missing, unless
// MAILFRONT_REQUIRE_INTEROP=1 (CI), where it fails.
func needClient(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("MAILFRONT_REQUIRE_INTEROP") == "1" {
			t.Fatalf("interop client %q is not installed and MAILFRONT_REQUIRE_INTEROP=1", name)
		}
		t.Skipf("interop client %q is not installed (apt-get install %s); set MAILFRONT_REQUIRE_INTEROP=1 to make this a failure", name, name)
	}
	return path
}

func startInterop(t *testing.T) *interop {
	t.Helper()
	cert, err := tlsconfig.SelfSigned()
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, cert.WriteFiles(dir))
	it := &interop{backend: &fakeBackend{}, caFile: filepath.Join(dir, tlsconfig.CAFile), dir: dir, logs: &syncBuffer{}}
	srv := &submission.Server{
		Backend:       it.backend,
		Authenticator: users,
		TLSConfig:     tlsconfig.New(cert.GetCertificate),
		Hostname:      "localhost",
		Throttle:      &auth.Throttle{FailureDelay: -1},
		Logger:        slog.New(slog.NewTextHandler(it.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	l587, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	l465, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 2)
	go func() { done <- srv.Serve(l587) }()
	go func() { done <- srv.ServeTLS(l465) }()
	t.Cleanup(func() {
		srv.Close()
		<-done
		<-done
		if t.Failed() {
			t.Logf("server log:\n%s", it.logs.String())
		}
	})
	_, it.port587, _ = net.SplitHostPort(l587.Addr().String())
	_, it.port465, _ = net.SplitHostPort(l465.Addr().String())
	return it
}

// run runs a client program with a safety-net timeout and returns its
// combined output.
func run(t *testing.T, stdin string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	return string(out), err
}

const interopMsg = "From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: interop\r\n" +
	"Date: Mon, 01 Jan 2024 10:00:00 +0000\r\nMessage-ID: <interop@example.org>\r\n\r\nHello.\r\n.leading dot\r\nLast line.\r\n"

func (it *interop) lastMessage(t *testing.T) message {
	t.Helper()
	msgs := it.backend.got()
	require.NotEmpty(t, msgs, "the backend received a message")
	return msgs[len(msgs)-1]
}

const pythonScript = `
import os, smtplib, ssl, sys
host, mode, port, ca = "127.0.0.1", sys.argv[1], int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
msg = sys.stdin.read().replace("\n", "\r\n")
def connect():
    if mode == "smtps":
        return smtplib.SMTP_SSL(host, port, context=ctx, timeout=30)
    s = smtplib.SMTP(host, port, timeout=30)
    s.starttls(context=ctx)
    return s
s = connect()
case = sys.argv[4]
try:
    if case == "plain":
        s.login("alice@example.org", "secret")
    elif case == "login":
        s.ehlo()
        s.user, s.password = "alice@example.org", "secret"
        s.auth("LOGIN", s.auth_login)
    elif case == "noauth":
        pass
    sender = sys.argv[5]
    s.sendmail(sender, ["bob@example.net"], msg)
    print("SENT")
except smtplib.SMTPException as e:
    print("REFUSED", e)
finally:
    try:
        s.quit()
    except Exception:
        pass
`

func TestInteropPythonSmtplib(t *testing.T) {
	py := needClient(t, "python3")
	it := startInterop(t)
	script := filepath.Join(it.dir, "client.py")
	require.NoError(t, os.WriteFile(script, []byte(pythonScript), 0o600))
	msgLF := strings.ReplaceAll(interopMsg, "\r\n", "\n")
	tests := []struct {
		name, mode, port, auth, sender, want string
	}{
		{"STARTTLS AUTH PLAIN", "starttls", it.port587, "plain", "alice@example.org", "SENT"},
		{"STARTTLS AUTH LOGIN", "starttls", it.port587, "login", "alice@example.org", "SENT"},
		{"SMTPS AUTH PLAIN", "smtps", it.port465, "plain", "alice@example.org", "SENT"},
		{"no auth", "starttls", it.port587, "noauth", "alice@example.org", "REFUSED (530"},
		{"wrong sender", "smtps", it.port465, "plain", "bob@example.org", "REFUSED (553"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(it.backend.got())
			out, err := run(t, msgLF, py, script, tt.mode, tt.port, it.caFile, tt.auth, tt.sender)
			require.NoError(t, err, out)
			assert.Contains(t, out, tt.want)
			if tt.want != "SENT" {
				assert.Len(t, it.backend.got(), before, "nothing delivered")
				return
			}
			m := it.lastMessage(t)
			assert.Equal(t, interopMsg, body(t, m), "byte for byte")
			assert.Equal(t, "alice@example.org", m.env.Identity.Username)
			assert.Contains(t, m.data, "with ESMTPSA")
		})
	}
	// The header From is checked too.
	out, err := run(t, strings.Replace(msgLF, "From: Alice <alice@", "From: Bob <bob@", 1), py, script, "smtps", it.port465, it.caFile, "plain", "alice@example.org")
	require.NoError(t, err, out)
	assert.Contains(t, out, "REFUSED (550, b'5.7.1 From header address <bob@example.org>")
}

func TestInteropSwaks(t *testing.T) {
	swaks := needClient(t, "swaks")
	it := startInterop(t)
	base := []string{"--server", "127.0.0.1", "--to", "bob@example.net", "--tls-verify", "--tls-ca-path", it.caFile,
		"--auth", "PLAIN", "--auth-user", "alice@example.org", "--auth-password", "secret",
		"--helo", "swaks.example", "--data", strings.TrimSuffix(strings.ReplaceAll(interopMsg, "\r\n", "\n"), "\n")}
	tests := []struct {
		name string
		args []string
		ok   bool
		want string
	}{
		{"--tls", []string{"--port", it.port587, "--tls", "--from", "alice@example.org"}, true, "250 2.0.0 OK: queued as"},
		{"--tls-on-connect", []string{"--port", it.port465, "--tls-on-connect", "--from", "alice@example.org"}, true, "250 2.0.0 OK: queued as"},
		{"--auth LOGIN", []string{"--port", it.port465, "--tls-on-connect", "--from", "alice@example.org", "--auth", "LOGIN"}, true, "235 2.7.0"},
		{"wrong sender", []string{"--port", it.port465, "--tls-on-connect", "--from", "bob@example.org"}, false, "553 5.7.1"},
		{"no TLS: AUTH is not offered", []string{"--port", it.port587, "--from", "alice@example.org"}, false, "Host did not advertise authentication"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(it.backend.got())
			out, err := run(t, "", swaks, append(append([]string(nil), base...), tt.args...)...)
			assert.Contains(t, out, tt.want)
			if !tt.ok {
				assert.Error(t, err)
				assert.Len(t, it.backend.got(), before)
				return
			}
			require.NoError(t, err, out)
			assert.Equal(t, interopMsg, body(t, it.lastMessage(t)), "byte for byte")
		})
	}
}

func TestInteropCurl(t *testing.T) {
	curl := needClient(t, "curl")
	it := startInterop(t)
	file := filepath.Join(it.dir, "msg.eml")
	require.NoError(t, os.WriteFile(file, []byte(interopMsg), 0o600))
	tests := []struct {
		name, url, user, from string
		ok                    bool
	}{
		{"smtp STARTTLS", "smtp://127.0.0.1:" + it.port587 + "/curl.example", "alice@example.org:secret", "alice@example.org", true},
		{"smtps", "smtps://127.0.0.1:" + it.port465 + "/curl.example", "alice@example.org:secret", "alice@example.org", true},
		{"wrong password", "smtps://127.0.0.1:" + it.port465, "alice@example.org:nope", "alice@example.org", false},
		{"wrong sender", "smtps://127.0.0.1:" + it.port465, "alice@example.org:secret", "bob@example.org", false},
		{"no auth", "smtps://127.0.0.1:" + it.port465, "", "alice@example.org", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(it.backend.got())
			args := []string{"-sS", "--url", tt.url, "--ssl-reqd", "--cacert", it.caFile,
				"--mail-from", tt.from, "--mail-rcpt", "bob@example.net", "--upload-file", file}
			if tt.user != "" {
				args = append(args, "--user", tt.user)
			}
			out, err := run(t, "", curl, args...)
			if !tt.ok {
				assert.Error(t, err, out)
				assert.Len(t, it.backend.got(), before)
				return
			}
			require.NoError(t, err, out)
			m := it.lastMessage(t)
			assert.Equal(t, interopMsg, body(t, m), "byte for byte")
			assert.Equal(t, []submission.Recipient{{Address: "bob@example.net"}}, m.env.Recipients)
		})
	}
}

func TestInteropMsmtp(t *testing.T) {
	msmtp := needClient(t, "msmtp")
	it := startInterop(t)
	msgLF := strings.ReplaceAll(interopMsg, "\r\n", "\n")
	tests := []struct {
		name     string
		port     string
		starttls string
		from     string
		ok       bool
	}{
		{"STARTTLS", it.port587, "on", "alice@example.org", true},
		{"implicit TLS", it.port465, "off", "alice@example.org", true},
		{"wrong sender", it.port465, "off", "bob@example.org", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(it.backend.got())
			out, err := run(t, msgLF, msmtp, "--host=127.0.0.1", "--port="+tt.port, "--tls=on", "--tls-starttls="+tt.starttls,
				"--tls-trust-file="+it.caFile, "--auth=on", "--user=alice@example.org", "--passwordeval=echo secret",
				"--domain=msmtp.example", "--from="+tt.from, "bob@example.net")
			if !tt.ok {
				assert.Error(t, err)
				assert.Contains(t, out, "553")
				assert.Len(t, it.backend.got(), before)
				return
			}
			require.NoError(t, err, out)
			assert.Equal(t, interopMsg, body(t, it.lastMessage(t)), "byte for byte")
		})
	}
}

// A plain client that never gets TLS cannot authenticate at all under the
// default policy: checked with a raw connection, no client needed.
func TestInteropRawPlaintextRefused(t *testing.T) {
	it := startInterop(t)
	conn, err := net.Dial("tcp", "127.0.0.1:"+it.port587)
	require.NoError(t, err)
	defer conn.Close()
	fmt.Fprintf(conn, "EHLO raw.example\r\n")
	buf := make([]byte, 4096)
	var got string
	for !strings.Contains(got, "250 ") {
		n, err := conn.Read(buf)
		require.NoError(t, err)
		got += string(buf[:n])
	}
	assert.NotContains(t, got, "AUTH")
	fmt.Fprintf(conn, "QUIT\r\n")
	io.Copy(io.Discard, conn)
}

package imap4_test

import (
	"context"
	"crypto/tls"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/imap4"
)

// requireClient finds a real client program, or skips the test with a
// clear message (fails it when MAILFRONT_REQUIRE_INTEROP=1, as in CI).
func requireClient(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("MAILFRONT_REQUIRE_INTEROP") == "1" {
			t.Fatalf("%s is not installed, and MAILFRONT_REQUIRE_INTEROP=1 requires it", name)
		}
		t.Skipf("%s is not installed; skipping this interop test (set MAILFRONT_REQUIRE_INTEROP=1 to make it fail)", name)
	}
	return p
}

// tcpEnv is a server on 127.0.0.1 with STARTTLS on one port and implicit
// TLS on another, as real clients see it.
type tcpEnv struct {
	*env
	plain, implicit string // host:port
	caFile          string
	dir             string
}

func newTCPEnv(t *testing.T) *tcpEnv {
	e := newEnv(t, func(s *imap4.Server) {
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{testCert().Certificate}}
		s.LoginPolicy = auth.SecureLogin
		s.MaxConnsPerUserAddr = 50
	})
	te := &tcpEnv{env: e, dir: t.TempDir()}
	lp, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	lt, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	te.plain, te.implicit = lp.Addr().String(), lt.Addr().String()
	d1, d2 := make(chan error, 1), make(chan error, 1)
	go func() { d1 <- e.srv.Serve(lp) }()
	go func() { d2 <- e.srv.ServeTLS(lt) }()
	t.Cleanup(func() {
		e.srv.Close()
		<-d1
		<-d2
	})
	te.caFile = filepath.Join(te.dir, "ca.pem")
	require.NoError(t, os.WriteFile(te.caFile, testCert().CAPEM, 0o600))
	return te
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

func runTool(t *testing.T, timeout time.Duration, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

const pythonScript = `
import imaplib, ssl, sys, time

host, plain, implicit, ca = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)

def check(cond, what):
    if not cond:
        print("FAILED:", what)
        sys.exit(1)

# STARTTLS + LOGIN
M = imaplib.IMAP4(host, plain)
check(b"STARTTLS" in M.capabilities or "STARTTLS" in M.capabilities, "STARTTLS advertised")
check("LOGINDISABLED" in M.capabilities, "LOGINDISABLED before TLS")
M.starttls(ssl_context=ctx)
typ, _ = M.login("alice", "secret")
check(typ == "OK", "login")

msg = b"From: a@example.org\r\nSubject: interop test\r\n\r\nHello from imaplib.\r\n"
typ, data = M.append("INBOX", r"(\Flagged)", imaplib.Time2Internaldate(time.time()), msg)
check(typ == "OK" and b"APPENDUID" in data[0], "append %r" % data)
typ, data = M.select("INBOX")
check(typ == "OK" and data[0] == b"3", "select %r" % data)
typ, data = M.search(None, "SUBJECT", '"interop test"')
check(data == [b"3"], "search %r" % data)
typ, data = M.uid("SEARCH", None, "FLAGGED")
check(data == [b"3"], "uid search %r" % data)
typ, data = M.fetch("3", "(RFC822 FLAGS)")
check(typ == "OK" and data[0][1] == msg, "fetch body %r" % data)
check(b"\\Seen" in data[0][0] or b"\\Seen" in data[1], "implicit \\Seen %r" % data)
typ, data = M.fetch("1:*", "(UID RFC822.SIZE ENVELOPE BODYSTRUCTURE)")
check(typ == "OK" and len([d for d in data if d != b")"]) == 3, "fetch all %r" % data)
typ, data = M.store("1", "+FLAGS", r"(\Deleted)")
check(typ == "OK" and b"\\Deleted" in data[0], "store %r" % data)
typ, data = M.create("Archive")
check(typ == "OK", "create")
typ, data = M.copy("2", "Archive")
check(typ == "OK", "copy")
typ, data = M.uid("MOVE", "3", "Archive")
check(typ == "OK", "move %r" % (data,))
typ, data = M.expunge()
# imaplib also returns the EXPUNGE that MOVE sent (message 3).
check(typ == "OK" and data[-1] == b"1", "expunge %r" % data)
typ, data = M.status("Archive", "(MESSAGES)")
check(data == [b'Archive (MESSAGES 2)'], "status %r" % data)
typ, data = M.list()
check(typ == "OK" and len(data) == 2, "list %r" % data)

# IDLE, with a second connection delivering meanwhile.
tag = M._new_tag()
M.send(tag + b" IDLE\r\n")
check(M.readline().startswith(b"+"), "idle continuation")
N = imaplib.IMAP4_SSL(host, implicit, ssl_context=ctx)
N.login("bob", "hunter2")
N.logout()
N = imaplib.IMAP4_SSL(host, implicit, ssl_context=ctx)
N.login("alice", "secret")
N.append("INBOX", None, None, b"Subject: while idle\r\n\r\nx\r\n")
line = M.readline()
check(line.strip() == b"* 2 EXISTS", "idle update %r" % line)
M.send(b"DONE\r\n")
line = M.readline()
if line.strip() == b"* 1 RECENT":  # new to this session (IMAP4rev1)
    line = M.readline()
check(line.startswith(tag + b" OK"), "idle done %r" % line)
N.logout()
M.logout()

# IMAPS
S = imaplib.IMAP4_SSL(host, implicit, ssl_context=ctx)
S.login("alice", "secret")
typ, data = S.select("Archive", readonly=True)
check(data == [b"2"], "imaps select %r" % data)
typ, data = S.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
check(typ == "OK", "imaps fetch")
S.logout()
print("ALL OK")
`

// TestInteropPythonImaplib runs python3's imaplib: STARTTLS + LOGIN,
// IMAPS, APPEND, FETCH, SEARCH, STORE, COPY, MOVE, EXPUNGE and IDLE.
func TestInteropPythonImaplib(t *testing.T) {
	python := requireClient(t, "python3")
	te := newTCPEnv(t)
	te.b.deliver("alice", "INBOX", msg("first", "one"))
	te.b.deliver("alice", "INBOX", msg("second", "two"))
	script := filepath.Join(te.dir, "interop.py")
	require.NoError(t, os.WriteFile(script, []byte(pythonScript), 0o600))
	out, err := runTool(t, 60*time.Second, python, script, "127.0.0.1", port(te.plain), port(te.implicit), te.caFile)
	require.NoError(t, err, out)
	assert.Contains(t, out, "ALL OK")
}

// TestInteropCurl fetches, lists and uploads with curl over imap:// with
// STARTTLS and imaps://.
func TestInteropCurl(t *testing.T) {
	curl := requireClient(t, "curl")
	te := newTCPEnv(t)
	body := msg("curl test", "Hello curl.")
	te.b.deliver("alice", "INBOX", body)
	common := []string{"-sS", "--cacert", te.caFile, "--user", "alice:secret", "--max-time", "30"}

	out, err := runTool(t, 60*time.Second, curl, append(common, "--ssl-reqd", "imap://127.0.0.1:"+port(te.plain)+"/INBOX;UID=1")...)
	require.NoError(t, err, out)
	assert.Equal(t, toCRLF(body), out)

	out, err = runTool(t, 60*time.Second, curl, append(common, "imaps://127.0.0.1:"+port(te.implicit)+"/")...)
	require.NoError(t, err, out)
	assert.Contains(t, out, `* LIST (\HasNoChildren) "/" INBOX`)

	file := filepath.Join(te.dir, "upload.eml")
	require.NoError(t, os.WriteFile(file, []byte("Subject: uploaded\r\n\r\nvia curl\r\n"), 0o600))
	out, err = runTool(t, 60*time.Second, curl, append(common, "-T", file, "imaps://127.0.0.1:"+port(te.implicit)+"/INBOX")...)
	require.NoError(t, err, out)
	te.b.mu.Lock()
	n := len(te.b.users["alice"].boxes["INBOX"].msgs)
	te.b.mu.Unlock()
	assert.Equal(t, 2, n)

	out, err = runTool(t, 60*time.Second, curl, append(common, "imap://127.0.0.1:"+port(te.plain)+"/INBOX;UID=1")...)
	assert.Error(t, err, "without --ssl-reqd curl tries LOGIN in clear and is refused: %s", out)
}

// TestInteropMbsync runs mbsync: a first two-way sync, then incremental
// resyncs carrying new messages, flag changes and deletions both ways.
func TestInteropMbsync(t *testing.T) {
	mbsync := requireClient(t, "mbsync")
	te := newTCPEnv(t)
	for i := range 5 {
		te.b.deliver("alice", "INBOX", msg("mbsync "+strconv.Itoa(i), "body"))
	}
	te.b.box("alice", "Lists/Go")
	te.b.deliver("alice", "Lists/Go", msg("golang", "gophers"))
	local := filepath.Join(te.dir, "mail")
	require.NoError(t, os.MkdirAll(local, 0o700))
	// mbsync 1.4 matches only DNS names against the host; a certificate
	// listed in CertificateFile itself is trusted as the server's.
	certFile := filepath.Join(te.dir, "server.pem")
	require.NoError(t, os.WriteFile(certFile, testCert().CertPEM, 0o600))
	conf := filepath.Join(te.dir, "mbsyncrc")
	require.NoError(t, os.WriteFile(conf, []byte(`IMAPAccount test
Host 127.0.0.1
Port `+port(te.plain)+`
User alice
Pass secret
SSLType STARTTLS
CertificateFile `+certFile+`

IMAPStore remote
Account test

MaildirStore local
Path `+local+`/
Inbox `+local+`/INBOX
SubFolders Verbatim

Channel test
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState *
`), 0o600))
	sync := func() {
		t.Helper()
		out, err := runTool(t, 120*time.Second, mbsync, "-c", conf, "-a")
		require.NoError(t, err, out)
	}
	files := func(box string) []string {
		var out []string
		for _, sub := range []string{"cur", "new"} {
			entries, _ := os.ReadDir(filepath.Join(local, box, sub))
			for _, e := range entries {
				out = append(out, filepath.Join(local, box, sub, e.Name()))
			}
		}
		return out
	}
	sync()
	require.Len(t, files("INBOX"), 5)
	require.Len(t, files("Lists/Go"), 1)

	// Incremental: nothing changed.
	sync()
	assert.Len(t, files("INBOX"), 5)

	// Server side: a new message, a flag change and a deletion.
	te.b.deliver("alice", "INBOX", msg("arrived later", "x"))
	c := te.dialTLSLogin(t)
	c.ok("SELECT INBOX")
	c.ok(`STORE 1 +FLAGS (\Flagged)`)
	c.ok(`STORE 2 +FLAGS (\Deleted)`)
	c.ok("EXPUNGE")
	sync()
	inbox := files("INBOX")
	assert.Len(t, inbox, 5)
	flagged := 0
	for _, f := range inbox {
		if strings.Contains(f[strings.LastIndex(f, ":2,"):], "F") {
			flagged++
		}
	}
	assert.Equal(t, 1, flagged, "the flag reached the maildir: %v", inbox)

	// Local side: mark one seen, delete one, add one.
	f0 := inbox[0]
	require.NoError(t, os.Rename(f0, strings.Replace(f0, "/new/", "/cur/", 1)+seenSuffix(f0)))
	inbox = files("INBOX")
	require.NoError(t, os.Remove(inbox[len(inbox)-1]))
	require.NoError(t, os.WriteFile(filepath.Join(local, "INBOX", "new", "1700000000.local.test"), []byte(toCRLF(msg("written locally", "y"))), 0o600))
	sync()
	te.b.mu.Lock()
	var subjects []string
	seen := 0
	for _, m := range te.b.users["alice"].boxes["INBOX"].msgs {
		if strings.Contains(string(m.body), "written locally") {
			subjects = append(subjects, "local")
		}
		for _, fl := range m.flags {
			if fl == imap4.FlagSeen {
				seen++
			}
		}
	}
	count := len(te.b.users["alice"].boxes["INBOX"].msgs)
	te.b.mu.Unlock()
	assert.Equal(t, []string{"local"}, subjects, "the local message was appended")
	assert.Equal(t, 5, count, "one deleted, one added")
	assert.GreaterOrEqual(t, seen, 1)
	sync() // and once more, settled
	assert.Len(t, files("INBOX"), 5)
}

func seenSuffix(name string) string {
	if strings.Contains(name, ":2,") {
		return "S"
	}
	return ":2,S"
}

// dialTLSLogin connects over implicit TLS and logs in as alice.
func (te *tcpEnv) dialTLSLogin(t *testing.T) *client {
	cfg := testCert().ClientConfig()
	cfg.ServerName = "127.0.0.1"
	nc, err := tls.Dial("tcp", te.implicit, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	c := newClient(t, nc)
	c.line()
	c.ok("LOGIN alice secret")
	return c
}

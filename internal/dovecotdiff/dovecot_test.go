package dovecotdiff_test

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The account both servers know.
const (
	testUser     = "alice@example.org"
	testPassword = "secret pass"
)

// requireDovecot returns the path of the dovecot binary, or skips the test
// with the reason.
func requireDovecot(t *testing.T) string {
	t.Helper()
	if os.Getenv("MAILFRONT_TEST_DOVECOT") != "1" {
		t.Skip("differential tests against Dovecot are off: set MAILFRONT_TEST_DOVECOT=1 " +
			"(and install dovecot-imapd and dovecot-pop3d) to run them")
	}
	if p, err := exec.LookPath("dovecot"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/dovecot", "/usr/local/sbin/dovecot"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	msg := "MAILFRONT_TEST_DOVECOT=1 but no dovecot binary in PATH or /usr/sbin: " +
		"apt-get install dovecot-imapd dovecot-pop3d"
	if os.Getenv("MAILFRONT_REQUIRE_INTEROP") == "1" {
		t.Fatal(msg + " (MAILFRONT_REQUIRE_INTEROP=1: .ci/run installs it)")
	}
	t.Skip(msg)
	return ""
}

// dovecot is a private Dovecot instance.
type dovecot struct {
	dir      string // everything of the instance lives here
	mailRoot string // the Maildir of testUser is mailRoot/testUser
	imapAddr string
	pop3Addr string
	uid, gid int // owner of the mail files
}

// dovecotUsers chooses the system users the instance runs as. Dovecot
// refuses to run its login processes as root and to give root a mail
// session, so as root the login processes run as dovenull and everything
// else, mail included, as the dovecot user the Debian package creates. As
// another user, everything runs as that user.
func dovecotUsers(t *testing.T) (login, internal *user.User) {
	t.Helper()
	if os.Geteuid() != 0 {
		u, err := user.Current()
		require.NoError(t, err)
		return u, u
	}
	login, err := user.Lookup("dovenull")
	require.NoError(t, err, "running as root needs the dovenull user of the dovecot-core package")
	internal, err = user.Lookup("dovecot")
	require.NoError(t, err, "running as root needs the dovecot user of the dovecot-core package")
	return login, internal
}

const dovecotConf = `# A private instance for mailfront's differential tests.
base_dir = {{dir}}/run
state_dir = {{dir}}/state
log_path = {{dir}}/dovecot.log
info_log_path = {{dir}}/dovecot.log
instance_name = mailfront-dovecotdiff-{{port}}
protocols = imap pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_login_user = {{login}}
default_internal_user = {{internal}}
default_internal_group = {{internalgroup}}
first_valid_uid = 1
first_valid_gid = 0
mail_location = maildir:{{dir}}/mail/%u
mail_max_userip_connections = 100
# Keep \Seen and the other flags unchanged by POP3, so that the order in
# which the POP3 and IMAP tests run does not matter.
pop3_no_flag_updates = yes
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {{dir}}/passwd
}
userdb {
  driver = static
  args = uid={{uid}} gid={{gid}} home={{dir}}/mail/%u
}
# The same folders, separator and special uses as a new mailfront user has.
namespace inbox {
  inbox = yes
  separator = /
  prefix =
  mailbox Drafts {
    auto = subscribe
    special_use = \Drafts
  }
  mailbox Sent {
    auto = subscribe
    special_use = \Sent
  }
  mailbox Trash {
    auto = subscribe
    special_use = \Trash
  }
  mailbox Junk {
    auto = subscribe
    special_use = \Junk
  }
  mailbox Archive {
    auto = subscribe
    special_use = \Archive
  }
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = {{imapport}}
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = {{pop3port}}
  }
  inet_listener pop3s {
    port = 0
  }
}
`

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startDovecot starts a private Dovecot instance and stops it at cleanup.
// The user's Maildir exists (empty) when it returns; deliverFiles writes
// into it.
func startDovecot(t *testing.T, bin string) *dovecot {
	t.Helper()
	login, internal := dovecotUsers(t)
	// Not t.TempDir: its parent is private to root, and Dovecot's
	// unprivileged processes must reach the directory.
	dir, err := os.MkdirTemp("", "dovecotdiff")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))

	uid, _ := strconv.Atoi(internal.Uid)
	gid, _ := strconv.Atoi(internal.Gid)
	group, err := user.LookupGroupId(internal.Gid)
	require.NoError(t, err)
	d := &dovecot{dir: dir, mailRoot: filepath.Join(dir, "mail"), uid: uid, gid: gid}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "passwd"),
		[]byte(testUser+":{PLAIN}"+testPassword+"::::::\n"), 0o644))
	for _, sub := range []string{"mail", "mail/" + testUser, "mail/" + testUser + "/cur",
		"mail/" + testUser + "/new", "mail/" + testUser + "/tmp"} {
		p := filepath.Join(dir, sub)
		require.NoError(t, os.Mkdir(p, 0o700))
		require.NoError(t, os.Chown(p, uid, gid))
	}

	// The ports are chosen free and handed to Dovecot, which may lose a
	// race for one of them to another process: then try again.
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		imapPort, pop3Port := freePort(t), freePort(t)
		conf := strings.NewReplacer(
			"{{dir}}", dir,
			"{{port}}", strconv.Itoa(imapPort),
			"{{login}}", login.Username,
			"{{internal}}", internal.Username,
			"{{internalgroup}}", group.Name,
			"{{uid}}", internal.Uid,
			"{{gid}}", internal.Gid,
			"{{imapport}}", strconv.Itoa(imapPort),
			"{{pop3port}}", strconv.Itoa(pop3Port),
		).Replace(dovecotConf)
		confPath := filepath.Join(dir, "dovecot.conf")
		require.NoError(t, os.WriteFile(confPath, []byte(conf), 0o644))
		d.imapAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(imapPort))
		d.pop3Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(pop3Port))
		if lastErr = d.run(t, bin, confPath); lastErr == nil {
			return d
		}
	}
	t.Fatalf("starting dovecot: %v", lastErr)
	return nil
}

// run starts the master process and waits until both listeners accept.
func (d *dovecot) run(t *testing.T, bin, confPath string) error {
	var out bytes.Buffer
	cmd := exec.Command(bin, "-F", "-c", confPath)
	cmd.Stdout, cmd.Stderr = &out, &out
	// Dovecot shows internal dates in the zone of its processes.
	cmd.Env = append(os.Environ(), "TZ=UTC")
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		// SIGTERM makes the master stop its children and exit.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}

	// The master binds the listeners before it starts serving, so the
	// ports accept as soon as it is up; until then (or if it exits
	// because a port was taken), dialing fails.
	deadline := time.Now().Add(15 * time.Second)
	for _, addr := range []string{d.imapAddr, d.pop3Addr} {
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case err := <-exited:
				exited <- err
				log, _ := os.ReadFile(filepath.Join(d.dir, "dovecot.log"))
				return fmt.Errorf("dovecot exited (%v): %s%s", err, out.String(), log)
			default:
			}
			if time.Now().After(deadline) {
				stop()
				return errors.New("dovecot did not start listening within 15s")
			}
			// Polling an external process for readiness: there is
			// nothing to wait on instead.
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(d.dir, "dovecot.log"))
			t.Logf("dovecot log:\n%s", log)
		}
	})
	return nil
}

// deliverFile puts a message into the INBOX as an MTA writing the Maildir
// directly would: into new/, owned by the mail user, with mtime as its
// modification time (the internal date for both servers).
func deliverFile(t *testing.T, mailDir, name string, data []byte, mtime time.Time, uid, gid int) {
	t.Helper()
	tmp := filepath.Join(mailDir, "tmp", name)
	require.NoError(t, os.WriteFile(tmp, data, 0o600))
	if uid >= 0 {
		require.NoError(t, os.Chown(tmp, uid, gid))
	}
	require.NoError(t, os.Chtimes(tmp, mtime, mtime))
	require.NoError(t, os.Rename(tmp, filepath.Join(mailDir, "new", name)))
}

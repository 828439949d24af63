package submissiontest_test

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/submission/submissiontest"
)

// python3 skips the test when python3 is missing, except under
// MAILFRONT_REQUIRE_INTEROP=1 (CI), where it fails.
func python3(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("MAILFRONT_REQUIRE_INTEROP") == "1" {
			t.Fatal("python3 is not installed and MAILFRONT_REQUIRE_INTEROP=1")
		}
		t.Skip("python3 is not installed; set MAILFRONT_REQUIRE_INTEROP=1 to make this a failure")
	}
	return path
}

// smtplibScript sends one message: argv is host, port, and "starttls" or
// "plain"; the CA comes on stdin.
const smtplibScript = `
import smtplib, ssl, sys
host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = smtplib.SMTP(host, port, timeout=30)
if mode == "starttls":
    s.starttls(context=ssl.create_default_context(cadata=sys.stdin.read()))
s.login("alice@example.org", "secret")
s.sendmail("alice@example.org", ["bob@example.com"], "From: alice@example.org\r\nSubject: from python\r\n\r\nhi\r\n")
s.quit()
`

// Python's smtplib works in a few lines: with STARTTLS and the server's CA,
// or in clear against a PlainText server.
func TestPythonSmtplib(t *testing.T) {
	py := python3(t)
	for _, plain := range []bool{false, true} {
		name, mode := "STARTTLS", "starttls"
		if plain {
			name, mode = "PlainText", "plain"
		}
		t.Run(name, func(t *testing.T) {
			srv := submissiontest.NewUnstartedServer(t)
			srv.PlainText = plain
			srv.Start()
			host, port, err := net.SplitHostPort(srv.Addr)
			require.NoError(t, err)
			cmd := exec.CommandContext(t.Context(), py, "-c", smtplibScript, host, port, mode)
			cmd.Stdin = bytes.NewReader(srv.CAPEM())
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s", out)
			msgs := srv.WaitForMessages(t, "bob@example.com", 1)
			assert.Equal(t, "from python", msgs[0].Subject())
		})
	}
}

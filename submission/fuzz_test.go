package submission_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/netip"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/internal/testutil"
	"github.com/mailfront/mailfront/submission"
)

// errorFlag is a slog handler that remembers whether anything was logged
// at Error level (a panic, a backend contract violation).
type errorFlag struct {
	slog.Handler
	hit *atomic.Value
}

func (h errorFlag) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }

func (h errorFlag) Handle(_ context.Context, r slog.Record) error {
	h.hit.Store(r.Message)
	return nil
}

func (h errorFlag) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h errorFlag) WithGroup(string) slog.Handler      { return h }

var replyLine = regexp.MustCompile(`^[2-5]\d\d[ -]`)

// FuzzSession feeds arbitrary bytes to a whole session, from the greeting
// to the end of the input, and checks that the server never panics or logs
// an internal error, always answers with well-formed reply lines, and
// always ends the session.
func FuzzSession(f *testing.F) {
	ir := plainIR("alice@example.org", "secret")
	seeds := []string{
		"EHLO x\r\nAUTH PLAIN " + ir + "\r\nMAIL FROM:<alice@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n" + simpleMsg + ".\r\nQUIT\r\n",
		"EHLO x\r\nAUTH PLAIN " + ir + "\r\nMAIL FROM:<alice@example.org> BODY=BINARYMIME\r\nRCPT TO:<b@example.net>\r\nBDAT 10\r\n0123456789BDAT 3 LAST\r\nabc",
		"EHLO x\r\nAUTH LOGIN\r\n" + b64("alice@example.org") + "\r\n" + b64("secret") + "\r\nMAIL FROM:<bob@example.org>\r\n",
		"EHLO x\r\nAUTH PLAIN " + ir + "\r\nMAIL FROM:<alice@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nFrom: bob@example.org\r\n\r\nx\n.\nMAIL FROM:<x@y>\r\n.\r\n",
		"EHLO x\r\nAUTH PLAIN " + ir + "\r\nMAIL FROM:<alice@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nResent-From: alice@example.org\r\nResent-Sender:\r\n\talice@example.org\r\nResent-From: x@y\r\nFrom: alice@example.org\r\n\r\nx\r\n.\r\n",
		"HELO x\r\nNOOP\r\n",
		"STARTTLS\r\nRSET\r\nVRFY a\r\nHELP\r\nXYZ\r\n",
		"EHLO x\r\nAUTH PLAIN " + ir + "\r\nBDAT 99999999999 LAST\r\n",
		"\x00\xff\r\n\r\n",
	}
	for _, s := range seeds {
		f.Add(false, []byte(s))
		if i := strings.Index(s, ir+"\r\n"); i >= 0 {
			f.Add(true, []byte(s[i+len(ir)+2:]))
		}
	}
	hit := &atomic.Value{}
	backend := &fakeBackend{}
	srv := &submission.Server{
		Backend:         backend,
		Authenticator:   users,
		TrustedNetworks: []netip.Prefix{clientNet},
		Throttle:        &auth.Throttle{FailureDelay: -1, MaxFailuresPerAddr: -1, MaxFailuresPerUser: -1},
		Hostname:        "mx.example.org",
		Logger:          slog.New(errorFlag{hit: hit}),
		MaxMessageBytes: 4096,
		MaxSizeExcess:   4096,
		MaxHeaderBytes:  1024,
		MaxBadCommands:  50,
	}
	l := testutil.NewListener()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	f.Cleanup(func() {
		srv.Close()
		<-done
	})
	f.Fuzz(func(t *testing.T, authenticated bool, in []byte) {
		conn, err := l.Dial()
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		r := bufio.NewReader(conn)
		if authenticated {
			// Log in step by step, so that the input is fuzzed past the
			// unauthenticated pipelining check.
			for _, step := range []string{"", "EHLO fuzz.example\r\n", "AUTH PLAIN " + ir + "\r\n"} {
				io.WriteString(conn, step)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						t.Fatalf("login: %v", err)
					}
					if len(line) < 4 || line[3] != '-' {
						break
					}
				}
			}
		}
		go func() {
			conn.Write(in)
			conn.(interface{ CloseWrite() error }).CloseWrite()
		}()
		out, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("reading replies: %v", err)
		}
		if msg := hit.Load(); msg != nil {
			t.Fatalf("server logged an error: %v", msg)
		}
		if len(out) == 0 {
			return
		}
		for _, line := range strings.Split(strings.TrimSuffix(string(out), "\r\n"), "\r\n") {
			if !replyLine.MatchString(line) && !strings.HasPrefix(line, "334 ") && !strings.HasPrefix(line, "354 ") {
				t.Fatalf("malformed reply line %q in %q", line, out)
			}
		}
	})
}

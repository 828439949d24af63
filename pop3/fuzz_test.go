package pop3_test

import (
	"bufio"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/pop3"
)

// seedLines are command lines from the tests, for the seed corpora.
var seedLines = []string{
	"USER alice", "PASS secret", "PASS hunter2 with spaces", "APOP apop 0123456789abcdef0123456789abcdef",
	"AUTH", "AUTH PLAIN", "AUTH PLAIN " + b64("\x00alice\x00secret"), "AUTH PLAIN =", "AUTH LOGIN", "*",
	"STLS", "CAPA", "UTF8", "STAT", "LIST", "LIST 1", "UIDL 2", "RETR 1", "TOP 2 0", "DELE 1",
	"RSET", "NOOP", "QUIT", "", " ", "stat", "list  2", "RETR \t1", "US\x00ER x", "X\ry",
	"TOP 1 99999999999999999999", "LIST -1", "USÉR x", strings.Repeat("A", 41),
}

// FuzzParseCommand checks the command splitter: no panic; a keyword is
// 1-40 letters, digits or "-", upper case; no control character survives
// into a parsed command; the trace of a PASS or AUTH line never shows the
// secret part.
func FuzzParseCommand(f *testing.F) {
	for _, l := range seedLines {
		f.Add([]byte(l))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		verb, arg, err := pop3.ParseCommand(line)
		if err != nil {
			return
		}
		if verb == "" || len(verb) > 40 || strings.ToUpper(verb) != verb {
			t.Fatalf("bad keyword %q from %q", verb, line)
		}
		for _, c := range []byte(verb) {
			if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				t.Fatalf("bad keyword %q from %q", verb, line)
			}
		}
		for _, c := range []byte(arg) {
			if c < 0x20 && c != '\t' || c == 0x7f {
				t.Fatalf("control character in argument %q", arg)
			}
		}
		head, rest, spaced := strings.Cut(string(line), " ")
		if strings.ToUpper(head) != verb || rest != arg || (!spaced && arg != "") {
			t.Fatalf("parse of %q lost bytes: %q %q", line, verb, arg)
		}
		tr, ok := pop3.TraceCommand(line)
		if !ok {
			t.Fatal("TraceCommand disagrees with ParseCommand")
		}
		switch verb {
		case "PASS":
			if arg != "" && tr != "PASS <redacted>" {
				t.Fatalf("PASS traced as %q", tr)
			}
		case "AUTH", "APOP":
			if first, _, more := strings.Cut(arg, " "); more && tr != verb+" "+first+" <redacted>" {
				t.Fatalf("%s traced as %q", verb, tr)
			}
		}
	})
}

// fuzzServer is one server shared by the iterations of a fuzz target.
type fuzzServer struct {
	h *harness
}

func newFuzzServer(f *testing.F) *fuzzServer {
	h := newHarness(f)
	h.backend.snapshot = true
	h.srv.LoginPolicy = auth.PlainTextLogin
	h.srv.AllowAPOP = true
	h.srv.MaxConnsPerUserAddr = -1
	h.srv.ReadTimeout = 5 * time.Second
	h.srv.TrustedNetworks = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}
	// Only errors are logged: a panic, which netsrv recovers and answers,
	// shows up there.
	h.srv.Logger = slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelError}))
	h.start(false)
	return &fuzzServer{h: h}
}

// run sends input as a client would and reads until the server closes,
// failing if it does not within the timeout (a hang).
func (s *fuzzServer) run(t *testing.T, input []byte) {
	fresh := newBackend()
	s.h.backend.set(func(b *fakeBackend) { b.boxes = fresh.boxes })
	conn, err := s.h.l.DialFrom("198.51.100.7:1234")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, bufio.NewReader(conn))
		done <- err
	}()
	conn.Write(input)
	conn.(interface{ CloseWrite() error }).CloseWrite()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the server did not end the session for input %q", input)
	}
}

// FuzzSession drives a whole session, login and SASL included, from
// arbitrary client bytes: no panic (a panic would be logged and answered,
// which the fuzzer would not see, so the backend counts them), no hang.
func FuzzSession(f *testing.F) {
	f.Add([]byte("CAPA\r\nUSER alice\r\nPASS secret\r\nSTAT\r\nLIST\r\nUIDL\r\nRETR 2\r\nTOP 3 1\r\nDELE 1\r\nRSET\r\nQUIT\r\n"))
	f.Add([]byte("AUTH PLAIN\r\n" + b64("\x00alice\x00secret") + "\r\nRETR 1\r\nQUIT\r\n"))
	f.Add([]byte("AUTH LOGIN\r\n" + b64("alice") + "\r\n" + b64("secret") + "\r\nLIST 1\r\n"))
	f.Add([]byte("AUTH CRAM-MD5\r\n" + b64("apop 0123456789abcdef0123456789abcdef") + "\r\n"))
	f.Add([]byte("AUTH PLAIN\r\n*\r\nAUTH XOAUTH2 =\r\n"))
	f.Add([]byte("STLS\r\nUSER alice\r\n"))
	f.Add([]byte("USER alice\nPASS secret\nTOP 2 0\nTOP 2 99999999\n"))
	for _, l := range seedLines {
		f.Add([]byte(l + "\r\n"))
	}
	s := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, input []byte) {
		s.run(t, input)
		if strings.Contains(s.h.logs.String(), "panic") {
			t.Fatalf("the session panicked on %q", input)
		}
	})
}

// FuzzSASLExchange drives AUTH with a mechanism name and arbitrary
// continuation lines.
func FuzzSASLExchange(f *testing.F) {
	f.Add("PLAIN", []byte(b64("\x00alice\x00secret")+"\r\n"))
	f.Add("PLAIN", []byte("=\r\n"))
	f.Add("LOGIN", []byte(b64("alice")+"\r\n"+b64("secret")+"\r\n"))
	f.Add("LOGIN", []byte("*\r\n"))
	f.Add("CRAM-MD5", []byte(b64("apop 0123456789abcdef0123456789abcdef")+"\r\n"))
	f.Add("XOAUTH2", []byte(b64("user=alice\x01auth=Bearer x\x01\x01")+"\r\n"))
	f.Add("plain "+b64("\x00alice\x00wrong"), []byte("QUIT\r\n"))
	s := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, mech string, responses []byte) {
		if strings.ContainsAny(mech, "\r\n") {
			return
		}
		s.run(t, append([]byte("AUTH "+mech+"\r\n"), responses...))
		if strings.Contains(s.h.logs.String(), "panic") {
			t.Fatalf("the session panicked on AUTH %q %q", mech, responses)
		}
	})
}

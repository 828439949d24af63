package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/imap4/imap4test"
	"github.com/mailfront/mailfront/pop3/pop3test"
	"github.com/mailfront/mailfront/store/maildir"
	"github.com/mailfront/mailfront/submission/submissiontest"
)

// servers are in-process IMAP, POP3 and submission servers over one
// memstore, the INBOX of the default user holding generated messages.
type servers struct {
	imap *imap4test.Server
	pop  *pop3test.Server
	smtp *submissiontest.Server
	ca   string // a PEM file of the three servers' certificates
}

func startServers(t *testing.T, messages int) *servers {
	t.Helper()
	s := &servers{smtp: submissiontest.NewServer(t)}
	s.imap = imap4test.NewUnstartedServer(t)
	s.imap.Store = s.smtp.Store
	s.imap.Start()
	s.pop = pop3test.NewUnstartedServer(t)
	s.pop.Store = s.smtp.Store
	s.pop.Start()
	s.ca = filepath.Join(t.TempDir(), "ca.pem")
	pem := append(append(s.imap.CAPEM(), s.pop.CAPEM()...), s.smtp.CAPEM()...)
	require.NoError(t, os.WriteFile(s.ca, pem, 0o600))
	for i := range messages {
		msg, _, _ := genMessage(1, i)
		s.imap.Deliver(imap4test.DefaultUser, string(msg))
	}
	return s
}

// args are the flags that point mailload at the servers, over implicit TLS.
func (s *servers) args(extra ...string) []string {
	return append([]string{
		"-imap", s.imap.TLSAddr, "-pop3", s.pop.TLSAddr, "-smtp", s.smtp.TLSAddr, "-ca", s.ca,
		"-user", imap4test.DefaultUser, "-pass", imap4test.DefaultPassword, "-timeout", "30s",
	}, extra...)
}

// starttlsArgs point mailload at the STARTTLS listeners.
func (s *servers) starttlsArgs(extra ...string) []string {
	return append([]string{
		"-tls", "starttls", "-imap", s.imap.Addr, "-pop3", s.pop.Addr, "-smtp", s.smtp.Addr, "-ca", s.ca,
		"-user", imap4test.DefaultUser, "-pass", imap4test.DefaultPassword, "-timeout", "30s",
	}, extra...)
}

// measure runs mailload and returns its result, failing the test on a
// non-zero exit status.
func measure(t *testing.T, args []string) *Result {
	t.Helper()
	jsonFile := filepath.Join(t.TempDir(), "result.json")
	var out, errOut bytes.Buffer
	code := mainArgs(append(args, "-json", jsonFile), &out, &errOut)
	require.Equal(t, 0, code, "exit status; stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
	b, err := os.ReadFile(jsonFile)
	require.NoError(t, err)
	var res Result
	require.NoError(t, json.Unmarshal(b, &res), "JSON: %s", b)
	assert.Contains(t, out.String(), res.Scenario, "the text report names the scenario")
	assert.Contains(t, out.String(), "p99")
	return &res
}

// phase returns the latency of a phase.
func phase(res *Result, name string) Latency {
	for _, l := range res.Latency {
		if l.Phase == name {
			return l
		}
	}
	return Latency{}
}

func TestScenarios(t *testing.T) {
	const messages = 30
	srv := startServers(t, messages)
	tests := []struct {
		name   string
		args   []string
		iters  int64
		phases []string
		info   map[string]int64
	}{
		{"imap-flags", srv.args("-scenario", "imap-flags", "-n", "3", "-c", "2"), 3,
			[]string{"connect", "login", "select", "fetch-flags", "logout", "iteration"}, map[string]int64{"messages": messages}},
		{"imap-flags/starttls/persistent", srv.starttlsArgs("-scenario", "imap-flags", "-n", "3", "-c", "2", "-session", "persistent", "-warmup", "1"), 3,
			[]string{"connect", "login", "select", "fetch-flags", "iteration"}, map[string]int64{"messages": messages}},
		{"imap-sync", srv.args("-scenario", "imap-sync", "-n", "2", "-c", "1", "-tls-curves", "x25519,p256"), 2,
			[]string{"fetch-sync", "iteration"}, map[string]int64{"messages": messages}},
		{"imap-search", srv.args("-scenario", "imap-search", "-n", "3", "-c", "2", "-word", "example"), 3,
			[]string{"search", "iteration"}, map[string]int64{"matches": messages}},
		{"imap-append", srv.args("-scenario", "imap-append", "-n", "3", "-c", "2", "-mailbox", "Load", "-size", "2048"), 3,
			[]string{"append", "iteration"}, nil},
		{"imap-append/starttls", srv.starttlsArgs("-scenario", "imap-append", "-n", "2", "-c", "1", "-mailbox", "Load"), 2,
			[]string{"append"}, nil},
		{"pop3-retr", srv.args("-scenario", "pop3-retr", "-n", "2", "-c", "1", "-max-retr", "10"), 2,
			[]string{"connect", "login", "stat", "retr-all", "quit", "iteration"}, map[string]int64{"messages": 10}},
		{"pop3-retr/starttls/sequential", srv.starttlsArgs("-scenario", "pop3-retr", "-n", "1", "-pipeline=false"), 1,
			[]string{"retr-all"}, map[string]int64{"messages": messages}},
		{"smtp-submit", srv.args("-scenario", "smtp-submit", "-n", "3", "-c", "2", "-rcpt", "sink@example.net"), 3,
			[]string{"connect", "login", "envelope", "data", "iteration"}, nil},
		{"smtp-submit/starttls/unpipelined", srv.starttlsArgs("-scenario", "smtp-submit", "-n", "2", "-rcpt", "sink@example.net", "-pipeline=false"), 2,
			[]string{"envelope", "data"}, nil},
		{"imap-idle/append", srv.args("-scenario", "imap-idle", "-n", "2", "-c", "3", "-mailbox", "Idle"), 2,
			[]string{"deliver", "exists", "all"}, nil},
		{"imap-idle/smtp", srv.args("-scenario", "imap-idle", "-n", "2", "-c", "2", "-deliver", "smtp"), 2,
			[]string{"deliver", "exists", "all"}, nil},
		{"conns", srv.args("-scenario", "conns", "-c", "5", "-p", "2", "-pid", strconv.Itoa(os.Getpid()), "-settle", "0"), 5,
			[]string{"connect", "login", "select", "open"}, map[string]int64{"opened": 5, "attempted": 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "imap-idle/append" {
				srv.imap.Store.Deliver(imap4test.DefaultUser, "Idle", []byte("Subject: x\n\nx\n"))
			}
			res := measure(t, tt.args)
			assert.Equal(t, tt.iters, res.Iterations, "iterations")
			assert.Zero(t, res.Errors, "errors: %v", res.ErrorKinds)
			for _, p := range tt.phases {
				assert.NotZero(t, phase(res, p).N, "phase %s measured", p)
			}
			for k, v := range tt.info {
				assert.Equal(t, v, res.Info[k], "info %s", k)
			}
			assert.Positive(t, res.BytesIn, "bytes received")
			assert.Positive(t, res.BytesOut, "bytes sent")
		})
	}
	// The submissions and appends arrived.
	assert.Len(t, srv.smtp.Messages("sink@example.net"), 5)
	got, err := srv.imap.Store.Messages(imap4test.DefaultUser, "Load")
	require.NoError(t, err)
	assert.Len(t, got, 5)
	for _, m := range got {
		assert.Contains(t, m.Flags, `\Seen`)
	}
	// Idle deliveries: two by APPEND into Idle, two by SMTP into INBOX.
	idle, err := srv.imap.Store.Messages(imap4test.DefaultUser, "Idle")
	require.NoError(t, err)
	assert.Len(t, idle, 3)
	inbox, err := srv.imap.Store.Messages(imap4test.DefaultUser, "")
	require.NoError(t, err)
	assert.Len(t, inbox, messages+2)
}

func TestConnsMemory(t *testing.T) {
	srv := startServers(t, 1)
	res := measure(t, srv.args("-scenario", "conns", "-c", "3", "-pid", strconv.Itoa(os.Getpid()), "-settle", "0", "-mailbox", ""))
	require.NotNil(t, res.Memory)
	assert.Equal(t, [2]int{1, 1}, res.Memory.Processes, "this test has no child process")
	assert.Positive(t, res.Memory.RSSAfterKB)
	assert.Zero(t, phase(res, "select").N, "-mailbox \"\" selects nothing")
}

// TestIdleMaildirDelivery drops files into the Maildir of a maildir store
// behind the IMAP server, as an MDA does, and waits for the EXISTS.
func TestIdleMaildirDelivery(t *testing.T) {
	st := &maildir.Store{Root: t.TempDir(), PollInterval: 5 * time.Millisecond}
	t.Cleanup(func() { st.Close() })
	imap := imap4test.NewUnstartedServer(t)
	imap.Server.Backend = st
	imap.Start()
	require.NoError(t, st.CreateUser(t.Context(), imap4test.DefaultUser))
	dir, err := st.UserDir(imap4test.DefaultUser)
	require.NoError(t, err)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(ca, imap.CAPEM(), 0o600))
	res := measure(t, []string{"-scenario", "imap-idle", "-imap", imap.TLSAddr, "-ca", ca, "-user", imap4test.DefaultUser,
		"-pass", imap4test.DefaultPassword, "-n", "2", "-c", "2", "-deliver", "maildir:" + dir})
	assert.Equal(t, int64(2), res.Iterations)
	assert.Zero(t, res.Errors, "errors: %v", res.ErrorKinds)
	assert.Equal(t, 4, phase(res, "exists").N, "two connections saw two deliveries")
}

func TestErrorsAreCounted(t *testing.T) {
	srv := startServers(t, 0)
	var out, errOut bytes.Buffer
	code := mainArgs(srv.args("-scenario", "imap-flags", "-n", "2", "-c", "1", "-v"), &out, &errOut)
	assert.Equal(t, 0, code, "errors of the server are measured, not fatal")
	assert.Contains(t, out.String(), "errors      2")
	assert.Contains(t, out.String(), "the mailbox is empty")
	assert.Contains(t, errOut.String(), "error: ")

	out.Reset()
	mainArgs([]string{"-scenario", "imap-search", "-n", "1", "-imap", srv.imap.TLSAddr, "-ca", srv.ca,
		"-user", imap4test.DefaultUser, "-pass", "wrong"}, &out, &errOut)
	assert.Contains(t, out.String(), "IMAP LOGIN: NO", "a refused login is reported")
}

func TestParseFlags(t *testing.T) {
	base := []string{"-user", "u", "-pass", "p"}
	tests := []struct {
		name string
		args []string
		want string // error text; "" for success
	}{
		{"no scenario", base, "-scenario"},
		{"unknown scenario", append([]string{"-scenario", "nope"}, base...), "is not one of"},
		{"no user", []string{"-scenario", "imap-flags"}, "no user"},
		{"bad tls", append([]string{"-scenario", "imap-flags", "-tls", "ssl"}, base...), "-tls"},
		{"d and n", append([]string{"-scenario", "imap-flags", "-d", "1s", "-n", "3"}, base...), "exclusive"},
		{"negative", append([]string{"-scenario", "imap-flags", "-c", "-1"}, base...), "negative"},
		{"bad deliver", append([]string{"-scenario", "imap-idle", "-deliver", "pigeon"}, base...), "-deliver"},
		{"bad pid", append([]string{"-scenario", "conns", "-pid", "x"}, base...), "-pid"},
		{"bad bind", append([]string{"-scenario", "conns", "-bind", "127.0.0.9-127.0.0.1"}, base...), "-bind"},
		{"tiny size", append([]string{"-scenario", "imap-append", "-size", "10"}, base...), "-size"},
		{"bad curve", append([]string{"-scenario", "imap-flags", "-tls-curves", "x448"}, base...), "-tls-curves"},
		{"missing ca", append([]string{"-scenario", "imap-flags", "-ca", "/nonexistent"}, base...), "-ca"},
		{"ok", append([]string{"-scenario", "imap-flags"}, base...), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			cfg, err := parseFlags(tt.args, &stderr)
			if tt.want != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.want)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, []string{"127.0.0.1:1993"}, cfg.imapAddrs, "implicit TLS port of examples/mailserver")
			assert.Equal(t, 4, cfg.concurrency)
			assert.Equal(t, 10*time.Second, cfg.duration)
		})
	}
	cfg, err := parseFlags(append([]string{"-scenario", "pop3-retr", "-tls", "starttls"}, base...), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, []string{"127.0.0.1:1110"}, cfg.pop3Addrs)
	assert.Equal(t, 1, cfg.concurrency, "pop3-retr: one client per user")
}

func TestParseBinds(t *testing.T) {
	ips, err := parseBinds("127.0.0.1-127.0.0.3, ::1")
	require.NoError(t, err)
	var got []string
	for _, ip := range ips {
		got = append(got, ip.String())
	}
	assert.Equal(t, []string{"127.0.0.1", "127.0.0.2", "127.0.0.3", "::1"}, got)
	_, err = parseBinds("::1-::2")
	assert.Error(t, err)
}

func TestReadUsers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users")
	require.NoError(t, os.WriteFile(path, []byte("# load users\na@x pass one\n\nb@x:two\n"), 0o600))
	users, err := readUsers(path)
	require.NoError(t, err)
	assert.Equal(t, []credential{{"a@x", "pass one"}, {"b@x", "two"}}, users)
	require.NoError(t, os.WriteFile(path, []byte("lonely\n"), 0o600))
	_, err = readUsers(path)
	assert.Error(t, err)
}

func TestPercentiles(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	l := percentiles("x", d)
	assert.Equal(t, Latency{Phase: "x", N: 100, Min: 1, P50: 50, P90: 90, P99: 99, Max: 100, Mean: 50.5}, l)
	assert.Equal(t, Latency{Phase: "empty"}, percentiles("empty", nil))
}

func TestSizedMessage(t *testing.T) {
	for _, size := range []int{64, 300, 10 << 10, 10<<10 + 1} {
		msg := sizedMessage("a@example.org", "b@example.org", size, "id")
		if size >= 300 {
			assert.Len(t, msg, size)
		}
		assert.True(t, bytes.HasSuffix(msg, []byte("\r\n")))
		assert.NotContains(t, strings.ReplaceAll(string(msg), "\r\n", ""), "\n", "CRLF only")
	}
}

func TestWriteDotStuffed(t *testing.T) {
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	writeDotStuffed(w, []byte(".a\r\nb\r\n..c\r\nlast"))
	w.Flush()
	assert.Equal(t, "..a\r\nb\r\n...c\r\nlast\r\n", b.String())
}

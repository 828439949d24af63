package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// config is the parsed command line of a measurement.
type config struct {
	scenario string
	label    string

	imapAddrs, pop3Addrs, smtpAddrs []string
	tlsMode                         string // plain, starttls or implicit
	tlsConfig                       *tls.Config
	binds                           []net.IP

	users []credential

	concurrency int           // clients (connections for imap-idle and conns)
	duration    time.Duration // zero with iterations
	iterations  int           // total over all clients; zero with duration
	warmup      int           // iterations per client left out of the figures
	timeout     time.Duration // per command
	session     string        // "", "persistent" or "per-iteration"

	mailbox    string
	size       int
	word       string
	deliver    string
	from, rcpt string
	maxRetr    int
	pids       []int
	hold       time.Duration
	parallel   int // connections opened at once by conns and imap-idle
	settle     time.Duration
	pipeline   bool

	jsonFile string
	verbose  bool
}

// A credential is a user name and password.
type credential struct{ user, pass string }

// user returns the credential of client i: the users are taken in turn.
func (c *config) user(i int) credential { return c.users[i%len(c.users)] }

// Default ports of examples/mailserver.
var defaultAddrs = map[string][2]string{ // plain or STARTTLS, implicit TLS
	"imap": {"127.0.0.1:1143", "127.0.0.1:1993"},
	"pop3": {"127.0.0.1:1110", "127.0.0.1:1995"},
	"smtp": {"127.0.0.1:1587", "127.0.0.1:1465"},
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("mailload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := &config{}
	fs.StringVar(&cfg.scenario, "scenario", "", "`name` of the workload: "+strings.Join(scenarioNames(), ", "))
	fs.StringVar(&cfg.label, "label", "", "`name` of the server measured, printed with the figures (mailfront, dovecot...)")
	imapAddr := fs.String("imap", "", "IMAP server `addresses` (host:port, comma-separated, used in turn); default 127.0.0.1:1993 (implicit TLS) or :1143")
	pop3Addr := fs.String("pop3", "", "POP3 server `addresses`; default 127.0.0.1:1995 (implicit TLS) or :1110")
	smtpAddr := fs.String("smtp", "", "submission server `addresses`; default 127.0.0.1:1465 (implicit TLS) or :1587")
	fs.StringVar(&cfg.tlsMode, "tls", "implicit", "connection security: implicit (TLS from the first byte), starttls, or plain (credentials in clear: the server must allow it)")
	caFile := fs.String("ca", "", "PEM `file` of the CA that signed the server's certificate (examples/mailserver: DATA/tls/ca.pem)")
	insecure := fs.Bool("insecure", false, "do not verify the server's certificate")
	curves := fs.String("tls-curves", "", "key exchanges the client offers, in order: x25519mlkem768, x25519, p256 (comma-separated); default Go's (X25519MLKEM768 first, which servers without ML-KEM decline)")
	serverName := fs.String("servername", "", "`name` the certificate is checked against; default the host of the address")
	bind := fs.String("bind", "", "local `addresses` to connect from, in turn: a list (127.0.0.1,127.0.0.2) or range (127.0.0.1-127.0.0.20); spreads connections past per-address limits")
	user := fs.String("user", "", "user `name` to log in as")
	pass := fs.String("pass", "", "`password` of -user")
	usersFile := fs.String("users", "", "`file` of \"user password\" lines (or user:password), used in turn by the clients, instead of -user/-pass")
	fs.IntVar(&cfg.concurrency, "c", 0, "concurrent clients (connections for imap-idle and conns); 0: 4, or one per user for pop3-retr")
	fs.DurationVar(&cfg.duration, "d", 0, "how long to measure (default 10s unless -n is given)")
	fs.IntVar(&cfg.iterations, "n", 0, "iterations to measure, over all clients (instead of -d)")
	fs.IntVar(&cfg.warmup, "warmup", 0, "iterations per client before measuring (not counted)")
	fs.DurationVar(&cfg.timeout, "timeout", 2*time.Minute, "longest wait for one reply (or, for imap-idle, for every EXISTS)")
	fs.StringVar(&cfg.session, "session", "", "persistent (log in once per client) or per-iteration (connect and log in each iteration); default per scenario")
	fs.StringVar(&cfg.mailbox, "mailbox", "INBOX", "mailbox to select, search, append to or watch")
	fs.IntVar(&cfg.size, "size", 10<<10, "message size in octets for imap-append, smtp-submit and imap-idle deliveries")
	fs.StringVar(&cfg.word, "word", "zeppelin", "word of imap-search (populate puts \"zeppelin\" into about 1% of messages)")
	fs.StringVar(&cfg.deliver, "deliver", "append", "how imap-idle delivers: append (IMAP APPEND on another connection), smtp (submission to the user), or maildir:DIR (a file into DIR/new, as an MDA does)")
	fs.StringVar(&cfg.from, "from", "", "envelope and header sender of smtp-submit; default the user")
	fs.StringVar(&cfg.rcpt, "rcpt", "", "recipient of smtp-submit; default the user")
	fs.IntVar(&cfg.maxRetr, "max-retr", 0, "pop3-retr retrieves at most this many messages per iteration (0: all)")
	fs.BoolVar(&cfg.pipeline, "pipeline", true, "pipeline POP3 RETRs and SMTP MAIL/RCPT/DATA when the server offers PIPELINING")
	pids := fs.String("pid", "", "server process `ids` (comma-separated) whose memory conns reports, with their child processes (Dovecot's imap processes)")
	fs.IntVar(&cfg.parallel, "p", 0, "connections conns and imap-idle open at once; 0: 16 for imap-idle, 1 for conns (one password hash at a time, so the server's transient hashing memory is not taken for connection memory)")
	fs.DurationVar(&cfg.settle, "settle", 10*time.Second, "longest wait for the server's memory (-pid) to settle before each reading")
	fs.DurationVar(&cfg.hold, "hold", 0, "how long conns keeps its connections open after measuring")
	fs.StringVar(&cfg.jsonFile, "json", "", "also write the result as JSON to `file` (- for standard output)")
	fs.BoolVar(&cfg.verbose, "v", false, "print each error as it happens")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: mailload -scenario NAME [flags]\n       mailload populate -h\n\nscenarios:\n")
		for _, s := range scenarios {
			fmt.Fprintf(fs.Output(), "  %-12s %s\n", s.name, s.summary)
		}
		fmt.Fprintf(fs.Output(), "\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	sc := findScenario(cfg.scenario)
	if sc == nil {
		return nil, fmt.Errorf("-scenario: %q is not one of %s", cfg.scenario, strings.Join(scenarioNames(), ", "))
	}
	switch cfg.tlsMode {
	case "plain", "starttls", "implicit":
	default:
		return nil, fmt.Errorf("-tls: %q is not plain, starttls or implicit", cfg.tlsMode)
	}
	implicit := 0
	if cfg.tlsMode == "implicit" {
		implicit = 1
	}
	for _, p := range []struct {
		flag string
		dst  *[]string
	}{{*imapAddr, &cfg.imapAddrs}, {*pop3Addr, &cfg.pop3Addrs}, {*smtpAddr, &cfg.smtpAddrs}} {
		*p.dst = splitList(p.flag)
	}
	if len(cfg.imapAddrs) == 0 {
		cfg.imapAddrs = []string{defaultAddrs["imap"][implicit]}
	}
	if len(cfg.pop3Addrs) == 0 {
		cfg.pop3Addrs = []string{defaultAddrs["pop3"][implicit]}
	}
	if len(cfg.smtpAddrs) == 0 {
		cfg.smtpAddrs = []string{defaultAddrs["smtp"][implicit]}
	}
	var err error
	if cfg.tlsConfig, err = clientTLS(*caFile, *insecure, *serverName); err != nil {
		return nil, err
	}
	for _, name := range splitList(*curves) {
		id, ok := curveIDs[strings.ToLower(name)]
		if !ok {
			return nil, fmt.Errorf("-tls-curves: unknown %q", name)
		}
		cfg.tlsConfig.CurvePreferences = append(cfg.tlsConfig.CurvePreferences, id)
	}
	if cfg.binds, err = parseBinds(*bind); err != nil {
		return nil, fmt.Errorf("-bind: %w", err)
	}
	switch {
	case *usersFile != "":
		if *user != "" {
			return nil, errors.New("-users and -user are exclusive")
		}
		if cfg.users, err = readUsers(*usersFile); err != nil {
			return nil, err
		}
	case *user != "":
		cfg.users = []credential{{*user, *pass}}
	default:
		return nil, errors.New("no user: give -user and -pass, or -users FILE")
	}
	if cfg.parallel == 0 {
		cfg.parallel = 16
		if sc.name == "conns" {
			cfg.parallel = 1
		}
	}
	if cfg.concurrency < 0 || cfg.parallel < 0 || cfg.iterations < 0 || cfg.warmup < 0 || cfg.duration < 0 || cfg.maxRetr < 0 {
		return nil, errors.New("-c, -p, -n, -d, -warmup and -max-retr must not be negative")
	}
	if cfg.concurrency == 0 {
		cfg.concurrency = 4
		if sc.name == "pop3-retr" {
			cfg.concurrency = len(cfg.users)
		}
	}
	if cfg.duration == 0 && cfg.iterations == 0 {
		cfg.duration = 10 * time.Second
	}
	if cfg.duration != 0 && cfg.iterations != 0 {
		return nil, errors.New("-d and -n are exclusive")
	}
	if cfg.timeout <= 0 {
		return nil, errors.New("-timeout must be positive")
	}
	if cfg.session != "" && cfg.session != "persistent" && cfg.session != "per-iteration" {
		return nil, fmt.Errorf("-session: %q is not persistent or per-iteration", cfg.session)
	}
	if cfg.size < 64 {
		return nil, errors.New("-size: at least 64 octets")
	}
	if d := cfg.deliver; d != "append" && d != "smtp" && !strings.HasPrefix(d, "maildir:") {
		return nil, fmt.Errorf("-deliver: %q is not append, smtp or maildir:DIR", d)
	}
	for _, p := range splitList(*pids) {
		pid, err := strconv.Atoi(p)
		if err != nil || pid <= 0 {
			return nil, fmt.Errorf("-pid: %q is not a process id", p)
		}
		cfg.pids = append(cfg.pids, pid)
	}
	return cfg, nil
}

// splitList splits a comma-separated list, dropping empty elements.
func splitList(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// clientTLS returns the TLS configuration of the clients.
func clientTLS(caFile string, insecure bool, serverName string) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: serverName, InsecureSkipVerify: insecure}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-ca: no certificate in %s", caFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

var curveIDs = map[string]tls.CurveID{
	"x25519mlkem768": tls.X25519MLKEM768, "x25519": tls.X25519, "p256": tls.CurveP256, "p384": tls.CurveP384,
}

// parseBinds parses "a,b" and "a-b" (IPv4 ranges) into local addresses.
func parseBinds(s string) ([]net.IP, error) {
	var out []net.IP
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(f, "-")
		a := net.ParseIP(lo)
		if a == nil {
			return nil, fmt.Errorf("%q is not an IP address", lo)
		}
		if !isRange {
			out = append(out, a)
			continue
		}
		b := net.ParseIP(hi)
		a4, b4 := a.To4(), b.To4()
		if a4 == nil || b4 == nil {
			return nil, fmt.Errorf("%q: ranges are of IPv4 addresses", f)
		}
		from, to := ipv4Int(a4), ipv4Int(b4)
		if to < from || to-from > 65535 {
			return nil, fmt.Errorf("%q: not a range of at most 65536 addresses", f)
		}
		for v := from; v <= to; v++ {
			out = append(out, net.IPv4(byte(v>>24), byte(v>>16), byte(v>>8), byte(v)))
		}
	}
	return out, nil
}

func ipv4Int(ip net.IP) uint32 {
	return uint32(ip[0])<<24 | uint32(ip[1])<<16 | uint32(ip[2])<<8 | uint32(ip[3])
}

// readUsers reads "user password" or "user:password" lines; blank lines
// and lines starting with # are skipped.
func readUsers(path string) ([]credential, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("-users: %w", err)
	}
	defer f.Close()
	var out []credential
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		u, p, ok := strings.Cut(line, " ")
		if !ok {
			u, p, ok = strings.Cut(line, ":")
		}
		if !ok || u == "" {
			return nil, fmt.Errorf("-users: %s:%d: want \"user password\"", path, n)
		}
		out = append(out, credential{u, strings.TrimSpace(p)})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("-users: %w", err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-users: no user in %s", path)
	}
	return slices.Clip(out), nil
}

// Command mailserver runs every mailfront listener — IMAP, POP3 and SMTP
// submission, each with STARTTLS and with implicit TLS — over one store, for
// trying the library out, for local development, and for the interop tests.
//
//	mailserver [-data DIR] [-store maildir|memory] [-listen 127.0.0.1]
//	           [-imap 1143] [-imaps 1993] [-pop3 1110] [-pop3s 1995]
//	           [-submission 1587] [-submissions 1465]      (0 disables a listener)
//	           [-cert FILE -key FILE | -acme DOMAIN] [-login-policy secure|plaintext-auth|plaintext]
//	           [-pprof 127.0.0.1:6060]
//	mailserver adduser [-data DIR] [-ntlm] ADDRESS   (password read from stdin)
//
// On first start it creates the data directory:
//
//	DIR/users            the users file (auth.UsersFile): argon2id hashes, SCRAM keys, NT hashes
//	DIR/demo-password    the password of the demo user it creates when there is no user
//	DIR/tls/             ca.pem, cert.pem, key.pem: a self-signed certificate for
//	                     localhost, 127.0.0.1, ::1 and the host name, signed by ca.pem
//	DIR/mail/ADDRESS/    that user's Maildir++ root (cur/ new/ tmp/, .Folder/s)
//
// Other programs may deliver into DIR/mail/ADDRESS/new/; clients verify the
// server with DIR/tls/ca.pem. Mail submitted for a local user is delivered to
// that user's INBOX; other recipients are refused. SIGINT and SIGTERM shut
// down gracefully; SIGHUP reloads the users file and the certificates.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "adduser" {
		if err := addUser(os.Args[2:], os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "mailserver adduser:", err)
			os.Exit(1)
		}
		return
	}
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "mailserver:", err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	if err := run(cfg, logger, os.Stdout); err != nil {
		logger.Error("mailserver stopped", "err", err)
		os.Exit(1)
	}
}

// config is the parsed command line.
type config struct {
	dataDir     string
	store       string
	listen      string
	ports       map[string]int // listener name -> port; 0 disables
	certFile    string
	keyFile     string
	acmeDomain  string
	loginPolicy string
	logLevel    slog.Level
	pprof       string // loopback address for net/http/pprof; "" for none
}

// listeners in the order they are printed.
var listenerNames = []string{"imap", "imaps", "pop3", "pop3s", "submission", "submissions"}

var defaultPorts = map[string]int{
	"imap": 1143, "imaps": 1993, "pop3": 1110, "pop3s": 1995, "submission": 1587, "submissions": 1465,
}

func parseFlags(args []string) (*config, error) {
	fs := flag.NewFlagSet("mailserver", flag.ContinueOnError)
	cfg := &config{ports: map[string]int{}}
	fs.StringVar(&cfg.dataDir, "data", "./mailfront-data", "data `directory`: users file, TLS files, mail")
	fs.StringVar(&cfg.store, "store", "maildir", "mail store: maildir (durable, under DIR/mail) or memory")
	fs.StringVar(&cfg.listen, "listen", "127.0.0.1", "`address` to listen on")
	ports := map[string]*int{}
	for _, name := range listenerNames {
		ports[name] = fs.Int(name, defaultPorts[name], "`port` for "+name+" (0 disables it)")
	}
	fs.StringVar(&cfg.certFile, "cert", "", "certificate chain PEM `file` (with -key); reloaded when it changes")
	fs.StringVar(&cfg.keyFile, "key", "", "private key PEM `file` (with -cert)")
	fs.StringVar(&cfg.acmeDomain, "acme", "", "obtain a certificate for `domain` from Let's Encrypt (TLS-ALPN-01 on the implicit-TLS ports)")
	fs.StringVar(&cfg.loginPolicy, "login-policy", "secure", "where credentials are accepted: secure (TLS only), plaintext-auth (challenge-response without TLS), plaintext (anything anywhere; discouraged)")
	fs.StringVar(&cfg.pprof, "pprof", "", "serve net/http/pprof on `address` (loopback only, e.g. 127.0.0.1:6060), for profiling under load")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error, or trace (the protocol exchange, credentials redacted)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: mailserver [flags]\n       mailserver adduser [-data DIR] [-ntlm] ADDRESS   (password read from stdin)\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for name, p := range ports {
		if *p < 0 || *p > 65535 {
			return nil, fmt.Errorf("-%s: port %d out of range", name, *p)
		}
		cfg.ports[name] = *p
	}
	if (cfg.certFile == "") != (cfg.keyFile == "") {
		return nil, errors.New("-cert and -key go together")
	}
	if cfg.certFile != "" && cfg.acmeDomain != "" {
		return nil, errors.New("-cert/-key and -acme are exclusive")
	}
	if cfg.pprof != "" {
		if err := checkLoopback(cfg.pprof); err != nil {
			return nil, fmt.Errorf("-pprof: %w", err)
		}
	}
	if cfg.store != "maildir" && cfg.store != "memory" {
		return nil, fmt.Errorf("-store: %q is neither maildir nor memory", cfg.store)
	}
	switch strings.ToLower(*level) {
	case "trace":
		cfg.logLevel = slog.Level(-8)
	case "debug":
		cfg.logLevel = slog.LevelDebug
	case "info":
		cfg.logLevel = slog.LevelInfo
	case "warn":
		cfg.logLevel = slog.LevelWarn
	case "error":
		cfg.logLevel = slog.LevelError
	default:
		return nil, fmt.Errorf("-log-level: unknown level %q", *level)
	}
	return cfg, nil
}

// run starts the servers and blocks until a signal stops them.
func run(cfg *config, logger *slog.Logger, out io.Writer) error {
	app, err := setup(cfg, logger)
	if err != nil {
		return err
	}
	defer app.close()

	errc := make(chan error, len(listenerNames))
	if err := app.listen(cfg, errc); err != nil {
		return err
	}
	if cfg.pprof != "" {
		stop, err := servePprof(cfg.pprof, logger)
		if err != nil {
			return err
		}
		defer stop()
	}
	// Handle signals before saying "Ready.": a SIGINT right after it
	// must shut down cleanly, not kill the process.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	app.printBanner(cfg, out)
	for {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				app.reload()
				continue
			}
			logger.Info("shutting down", "signal", sig.String())
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := app.shutdown(ctx)
			cancel()
			return err
		case err := <-errc:
			return err
		}
	}
}

// addUser implements "mailserver adduser [-data DIR] [-ntlm] ADDRESS".
func addUser(args []string, stdin io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("mailserver adduser", flag.ContinueOnError)
	dataDir := fs.String("data", "./mailfront-data", "data `directory`")
	ntlm := fs.Bool("ntlm", false, "also store the NT hash, so that NTLM (Outlook's Secure Password Authentication) works for this user")
	sendAs := fs.String("send-as", "", "comma-separated extra `addresses` (or @domain) the user may send as")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: mailserver adduser [-data DIR] [-ntlm] ADDRESS (password read from stdin)")
	}
	address := fs.Arg(0)
	if !strings.Contains(address, "@") {
		return fmt.Errorf("%q is not an email address", address)
	}
	password, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && password != "") {
		return fmt.Errorf("reading the password from stdin: %w", err)
	}
	password = strings.TrimRight(password, "\r\n")
	if password == "" {
		return errors.New("empty password")
	}
	var extra []string
	if *sendAs != "" {
		extra = strings.Split(*sendAs, ",")
	}
	if err := addUserToDir(*dataDir, address, password, *ntlm, extra); err != nil {
		return err
	}
	fmt.Fprintf(out, "added %s to %s\n", address, usersPath(*dataDir))
	return nil
}

// checkLoopback refuses an address whose host is not a loopback address:
// profiles show memory contents and must not be served to the network.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address", host)
	}
	return nil
}

// servePprof serves the net/http/pprof handlers on addr until stop is called.
func servePprof(addr string, logger *slog.Logger) (stop func(), err error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("-pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	logger.Info("pprof listening", "addr", l.Addr().String())
	return func() { srv.Close() }, nil
}

// listenTCP listens on host:port.
func listenTCP(host string, port int) (net.Listener, error) {
	return net.Listen("tcp", net.JoinHostPort(host, fmt.Sprint(port)))
}

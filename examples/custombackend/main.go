// Command custombackend is the model for plugging your own storage into
// mailfront. It serves IMAP and POP3 for one demo user over HostStore, the
// storage of an imaginary host application (hoststore.go), through a small
// adapter that implements imap4.Backend and pop3.Backend (backend.go).
//
//	custombackend [-imap 2143] [-imaps 2993] [-pop3 2110] [-pop3s 2995] [-password PW] [-ca FILE]
//
// It listens on 127.0.0.1 with a self-signed certificate, whose CA -ca
// writes for clients to trust, and accepts logins over TLS only: on the
// implicit-TLS ports, or after STARTTLS (IMAP) or STLS (POP3). SIGINT and
// SIGTERM shut it down gracefully.
package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/pop3"
	"github.com/mailfront/mailfront/tlsconfig"
)

const demoUser = "demo@example.org"

func main() {
	var cfg config
	flag.IntVar(&cfg.imap, "imap", 2143, "IMAP `port` (STARTTLS)")
	flag.IntVar(&cfg.imaps, "imaps", 2993, "IMAP `port` with implicit TLS")
	flag.IntVar(&cfg.pop3, "pop3", 2110, "POP3 `port` (STLS)")
	flag.IntVar(&cfg.pop3s, "pop3s", 2995, "POP3 `port` with implicit TLS")
	flag.StringVar(&cfg.password, "password", "", "the demo user's password (default: a random one, printed)")
	caFile := flag.String("ca", "", "write the CA certificate clients must trust to `file`")
	flag.Parse()
	if cfg.password == "" {
		cfg.password = rand.Text()
	}

	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	d, err := start(cfg, logger)
	if err != nil {
		logger.Error("cannot start", "err", err)
		os.Exit(1)
	}
	if *caFile != "" {
		if err := os.WriteFile(*caFile, d.cert.CAPEM, 0o644); err != nil {
			logger.Error("cannot write the CA certificate", "err", err)
		}
	}
	fmt.Printf("IMAP %s (STARTTLS), IMAPS %s, POP3 %s (STLS), POP3S %s\nuser %s, password %s\n",
		d.addrs["imap"], d.addrs["imaps"], d.addrs["pop3"], d.addrs["pop3s"], demoUser, cfg.password)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case err := <-d.errc:
		logger.Error("a server stopped", "err", err)
	}
	if err := d.shutdown(); err != nil {
		logger.Error("shutdown", "err", err)
		os.Exit(1)
	}
}

// config is the command line. Port 0 picks a free port.
type config struct {
	imap, imaps, pop3, pop3s int
	password                 string
}

// demo is the running program.
type demo struct {
	imap  *imap4.Server
	pop3  *pop3.Server
	cert  *tlsconfig.SelfSignedCert
	addrs map[string]string // "imap", "imaps", "pop3", "pop3s" → host:port
	errc  chan error        // what Serve and ServeTLS return
}

// start fills a HostStore with the demo user's folders and serves it.
func start(cfg config, logger *slog.Logger) (*demo, error) {
	store := new(HostStore)
	if err := seed(context.Background(), store); err != nil {
		return nil, err
	}
	cert, err := tlsconfig.SelfSigned() // names localhost, 127.0.0.1, ::1
	if err != nil {
		return nil, err
	}
	tlsConfig := tlsconfig.New(cert.GetCertificate)

	// The user directory: one user here. A host asks its own directory,
	// with hashed passwords (see auth.UsersFile).
	users := auth.AuthenticatorFunc(func(ctx context.Context, username, password string) (auth.Identity, error) {
		userOK := subtle.ConstantTimeCompare([]byte(username), []byte(demoUser))
		passOK := subtle.ConstantTimeCompare([]byte(password), []byte(cfg.password))
		if userOK&passOK != 1 {
			return auth.Identity{}, auth.ErrInvalidCredentials
		}
		return auth.Identity{Username: demoUser}, nil
	})

	backend := NewBackend(store)
	d := &demo{
		imap:  &imap4.Server{Backend: backend, Authenticator: users, TLSConfig: tlsConfig, Logger: logger},
		pop3:  &pop3.Server{Backend: backend, Authenticator: users, TLSConfig: tlsConfig, Logger: logger},
		cert:  cert,
		addrs: make(map[string]string),
		errc:  make(chan error, 4),
	}
	for _, l := range []struct {
		name  string
		port  int
		serve func(net.Listener) error
	}{
		{"imap", cfg.imap, d.imap.Serve},
		{"imaps", cfg.imaps, d.imap.ServeTLS},
		{"pop3", cfg.pop3, d.pop3.Serve},
		{"pop3s", cfg.pop3s, d.pop3.ServeTLS},
	} {
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(l.port)))
		if err != nil {
			d.imap.Close()
			d.pop3.Close()
			return nil, err
		}
		d.addrs[l.name] = ln.Addr().String()
		go func() { d.errc <- l.serve(ln) }()
	}
	return d, nil
}

// shutdown says goodbye to idle clients and waits up to ten seconds for
// commands in flight, then closes what is left.
func (d *demo) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := errors.Join(d.imap.Shutdown(ctx), d.pop3.Shutdown(ctx))
	if err != nil {
		d.imap.Close()
		d.pop3.Close()
	}
	return err
}

// seed gives the demo user an INBOX with a welcome message, and folders
// for sent mail, drafts and trash. The host's own code writes the store
// directly, as its delivery agent would: IMAP sessions learn of it through
// HostStore.Listen.
func seed(ctx context.Context, store *HostStore) error {
	inbox, err := store.CreateFolder(ctx, demoUser, "INBOX", "")
	if err != nil {
		return err
	}
	for _, f := range []struct{ name, role string }{{"Sent", "sent"}, {"Drafts", "drafts"}, {"Trash", "trash"}} {
		if _, err := store.CreateFolder(ctx, demoUser, f.name, f.role); err != nil {
			return err
		}
	}
	now := time.Now()
	welcome := "From: HostStore <postmaster@example.org>\r\n" +
		"To: " + demoUser + "\r\n" +
		"Subject: Welcome to HostStore\r\n" +
		"Date: " + now.Format(time.RFC1123Z) + "\r\n" +
		"Message-ID: <welcome." + strconv.FormatInt(now.UnixNano(), 36) + "@example.org>\r\n" +
		"\r\n" +
		"This message lives in the host's own store, served over IMAP and POP3.\r\n"
	_, err = store.Insert(ctx, inbox.ID, []byte(welcome), nil, now)
	return err
}

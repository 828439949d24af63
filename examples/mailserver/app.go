package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/pop3"
	"github.com/mailfront/mailfront/store/maildir"
	"github.com/mailfront/mailfront/store/memstore"
	"github.com/mailfront/mailfront/submission"
	"github.com/mailfront/mailfront/tlsconfig"
)

// demoUser is created when the users file has no user.
const demoUser = "demo@localhost"

func usersPath(dataDir string) string    { return filepath.Join(dataDir, "users") }
func demoPassPath(dataDir string) string { return filepath.Join(dataDir, "demo-password") }

// addUserToDir adds a user to the data directory's users file.
func addUserToDir(dataDir, address, password string, ntlm bool, sendAs []string) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	return auth.AddUser(usersPath(dataDir), address, password, auth.UserOptions{NTLM: ntlm, SendAs: sendAs})
}

// backend is what both stores are.
type backend interface {
	imap4.Backend
	pop3.Backend
	submission.Backend
}

// app is the running example server.
type app struct {
	logger   *slog.Logger
	users    *auth.UsersFile
	tls      *tls.Config
	reloader *tlsconfig.Reloader
	caFile   string
	store    backend
	closer   io.Closer
	demoPass string

	imap *imap4.Server
	pop3 *pop3.Server
	smtp *submission.Server

	wg    sync.WaitGroup
	bound map[string]net.Addr
}

func setup(cfg *config, logger *slog.Logger) (*app, error) {
	a := &app{logger: logger, bound: map[string]net.Addr{}}
	if err := os.MkdirAll(cfg.dataDir, 0o700); err != nil {
		return nil, err
	}

	// Users: create the demo user on first start.
	if err := a.setupUsers(cfg.dataDir); err != nil {
		return nil, err
	}

	// TLS.
	switch {
	case cfg.certFile != "":
		r, err := tlsconfig.NewReloader(tlsconfig.KeyPair{CertFile: cfg.certFile, KeyFile: cfg.keyFile})
		if err != nil {
			return nil, err
		}
		r.Logger = logger
		a.reloader = r
		a.tls = tlsconfig.New(r.GetCertificate)
	case cfg.acmeDomain != "":
		m, err := tlsconfig.NewACME(filepath.Join(cfg.dataDir, "acme"), cfg.acmeDomain)
		if err != nil {
			return nil, err
		}
		a.tls = m.TLSConfig()
	default:
		hosts := tlsconfig.DefaultSelfSignedHosts()
		if h, err := os.Hostname(); err == nil && h != "" && h != "localhost" {
			hosts = append(hosts, h)
		}
		dir := filepath.Join(cfg.dataDir, "tls")
		cert, err := tlsconfig.LoadOrCreateSelfSigned(dir, hosts...)
		if err != nil {
			return nil, err
		}
		a.caFile, _ = filepath.Abs(filepath.Join(dir, tlsconfig.CAFile))
		r, err := tlsconfig.NewReloader(tlsconfig.KeyPair{
			CertFile: filepath.Join(dir, tlsconfig.CertFile),
			KeyFile:  filepath.Join(dir, tlsconfig.KeyFile),
		})
		if err != nil {
			return nil, err
		}
		_ = cert
		r.Logger = logger
		a.reloader = r
		a.tls = tlsconfig.New(r.GetCertificate)
	}

	// Store.
	switch cfg.store {
	case "memory":
		st := &memstore.Store{}
		st.LocalRecipient = func(ctx context.Context, address string) (string, bool) {
			return address, a.users.HasUser(address)
		}
		a.store = st
	default:
		st := &maildir.Store{
			Root:   filepath.Join(cfg.dataDir, "mail"),
			Logger: logger,
			IsLocal: func(ctx context.Context, address string) (bool, error) {
				return a.users.HasUser(address), nil
			},
		}
		for _, u := range a.users.Users() {
			if err := st.CreateUser(context.Background(), u); err != nil {
				return nil, fmt.Errorf("creating the mail directory of %s: %w", u, err)
			}
		}
		a.store, a.closer = st, st
	}

	policy, err := auth.ParseLoginPolicy(cfg.loginPolicy)
	if err != nil {
		return nil, err
	}
	throttle := &auth.Throttle{}
	a.imap = &imap4.Server{
		Backend: a.store, Authenticator: a.users, TLSConfig: a.tls, LoginPolicy: policy,
		Throttle: throttle, Logger: logger,
	}
	a.pop3 = &pop3.Server{
		Backend: a.store, Authenticator: a.users, TLSConfig: a.tls, LoginPolicy: policy,
		Throttle: throttle, Logger: logger,
	}
	a.smtp = &submission.Server{
		Backend: a.store, Authenticator: a.users, TLSConfig: a.tls, LoginPolicy: policy,
		Throttle: throttle, Logger: logger,
	}
	return a, nil
}

// setupUsers opens the users file, creating it with a demo user whose
// random password is kept in DIR/demo-password when there is no user.
func (a *app) setupUsers(dataDir string) error {
	path := usersPath(dataDir)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		pass := rand.Text()[:16]
		if err := os.WriteFile(demoPassPath(dataDir), []byte(pass+"\n"), 0o600); err != nil {
			return err
		}
		if err := addUserToDir(dataDir, demoUser, pass, true, nil); err != nil {
			return err
		}
	}
	users, err := auth.OpenUsersFile(path)
	if err != nil {
		return err
	}
	a.users = users
	if b, err := os.ReadFile(demoPassPath(dataDir)); err == nil && users.HasUser(demoUser) {
		a.demoPass = strings.TrimSpace(string(b))
	}
	return nil
}

// listen binds every enabled listener and serves it.
func (a *app) listen(cfg *config, errc chan<- error) error {
	type server interface {
		Serve(net.Listener) error
		ServeTLS(net.Listener) error
	}
	servers := map[string]server{
		"imap": a.imap, "imaps": a.imap, "pop3": a.pop3, "pop3s": a.pop3,
		"submission": a.smtp, "submissions": a.smtp,
	}
	for _, name := range listenerNames {
		port := cfg.ports[name]
		if port == 0 {
			continue
		}
		l, err := listenTCP(cfg.listen, port)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		a.bound[name] = l.Addr()
		srv, implicit := servers[name], strings.HasSuffix(name, "s") && name != "submission"
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			var err error
			if implicit {
				err = srv.ServeTLS(l)
			} else {
				err = srv.Serve(l)
			}
			if err != nil && !errors.Is(err, imap4.ErrServerClosed) {
				errc <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	return nil
}

// printBanner tells a person how to connect.
func (a *app) printBanner(cfg *config, out io.Writer) {
	fmt.Fprintf(out, "mailfront example server\n\n")
	fmt.Fprintf(out, "  data directory:  %s\n", cfg.dataDir)
	fmt.Fprintf(out, "  store:           %s\n", cfg.store)
	if a.caFile != "" {
		fmt.Fprintf(out, "  CA certificate:  %s (trust it in your client, or accept the certificate)\n", a.caFile)
	}
	fmt.Fprintf(out, "  login policy:    %s\n", cfg.loginPolicy)
	if a.demoPass != "" {
		fmt.Fprintf(out, "  demo user:       %s\n  password:        %s\n", demoUser, a.demoPass)
	}
	fmt.Fprintf(out, "  users:           %s\n\n", strings.Join(a.users.Users(), ", "))

	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  protocol\tserver\tport\tconnection security\tauthentication")
	rows := []struct{ name, proto, security string }{
		{"imap", "IMAP", "STARTTLS"},
		{"imaps", "IMAP", "SSL/TLS"},
		{"pop3", "POP3", "STARTTLS"},
		{"pop3s", "POP3", "SSL/TLS"},
		{"submission", "SMTP", "STARTTLS"},
		{"submissions", "SMTP", "SSL/TLS"},
	}
	for _, r := range rows {
		addr, ok := a.bound[r.name]
		if !ok {
			continue
		}
		host, port, _ := net.SplitHostPort(addr.String())
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", r.proto, host, port, r.security, "normal password (or SCRAM, NTLM)")
	}
	tw.Flush()
	fmt.Fprintln(out, "\nReady. SIGHUP reloads users and certificates; SIGINT or SIGTERM stops.")
}

// reload re-reads the users file and the certificates.
func (a *app) reload() {
	if err := a.users.Reload(); err != nil {
		a.logger.Error("reloading the users file", "err", err)
	} else {
		a.logger.Info("users file reloaded", "users", len(a.users.Users()))
	}
	if a.reloader != nil {
		if err := a.reloader.Reload(); err != nil {
			a.logger.Error("reloading certificates", "err", err)
		} else {
			a.logger.Info("certificates reloaded")
		}
	}
}

// shutdown stops every server gracefully, then forcibly once ctx expires.
func (a *app) shutdown(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i, s := range []interface {
		Shutdown(context.Context) error
		Close() error
	}{a.imap, a.pop3, a.smtp} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Shutdown(ctx); err != nil {
				s.Close()
				errs[i] = err
			}
		}()
	}
	wg.Wait()
	a.wg.Wait()
	if err := errors.Join(errs...); err != nil {
		a.logger.Warn("shutdown timed out; remaining connections were closed", "err", err)
	}
	return nil
}

func (a *app) close() {
	a.imap.Close()
	a.pop3.Close()
	a.smtp.Close()
	if a.closer != nil {
		a.closer.Close()
	}
}

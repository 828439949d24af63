package submissiontest

import (
	"crypto/tls"
	"log/slog"
	"testing"

	"github.com/mailfront/mailfront/internal/mailtest"
	"github.com/mailfront/mailfront/store/memstore"
	"github.com/mailfront/mailfront/submission"
)

// The user every Server has from the start (and again after Reset). The
// same values serve in pop3test and imap4test.
const (
	// DefaultUser is the address of the default user, "alice@example.org".
	DefaultUser = "alice@example.org"
	// DefaultPassword is the default user's password, "secret".
	DefaultPassword = "secret"
)

// A Server is an SMTP submission server listening on 127.0.0.1 for a test,
// delivering into an in-memory store, with a self-signed certificate and
// users with known passwords. Create it with NewServer, or
// NewUnstartedServer and Start.
type Server struct {
	// Addr is the address of the plain listener, "127.0.0.1:port", where
	// STARTTLS is offered (unless PlainText): the port 587 of a real host.
	// Start sets it.
	Addr string

	// TLSAddr is the address of the implicit-TLS listener (the port 465 of
	// a real host). Start sets it; it stays empty with PlainText.
	TLSAddr string

	// Server is the submission server. Between NewUnstartedServer and Start
	// a test may set any of its fields (LoginPolicy, SenderPolicy, limits,
	// hooks, its own Backend or Authenticator). Start fills in those left
	// at their zero value: Backend (Store, recording envelopes, see
	// Envelopes), Authenticator (the users of Store, see AddUser),
	// TLSConfig (the self-signed certificate, unless PlainText), Throttle
	// (one that neither delays nor locks out failed logins, so that tests
	// of failures stay fast), MaxConnsPerAddr (unlimited, since every
	// client of a test comes from 127.0.0.1), Hostname ("localhost") and
	// Logger (the test log, see LogLevel). Its fields must not change after
	// Start.
	Server *submission.Server

	// Store receives the mail. NewUnstartedServer sets a new store in which
	// every recipient address is local: a message to anyone lands in an
	// INBOX of that address, so a test can read what its code sent to
	// customer@example.com. To share a store with other test servers (an
	// imap4test or pop3test server, to read the mail back) set this field
	// to theirs before Start and before calling any other method: users,
	// passwords and messages are then common to all of them.
	Store *memstore.Store

	// PlainText, set before Start, makes Addr a cleartext listener: no
	// STARTTLS is offered and Start sets Server.LoginPolicy to
	// auth.PlainTextLogin if it is zero, so that AUTH works without TLS,
	// as on a GreenMail server. No implicit-TLS listener is started.
	// net/smtp.SendMail needs it: it starts TLS whenever STARTTLS is
	// offered and verifies the certificate against the system's roots,
	// with no way to pass ClientTLSConfig. The default (STARTTLS and
	// implicit TLS, logins only over TLS) is what a real server does, and
	// catches code that would send passwords in clear.
	PlainText bool

	// LogLevel is the least level of the server's log records written to
	// the test log (shown for failed tests and with go test -v) when Start
	// sets Server.Logger. Nil means slog.LevelWarn;
	// mailfront.LevelTrace shows the whole protocol exchange, with
	// credentials redacted and message data summarised.
	LogLevel slog.Leveler

	h   *mailtest.Harness
	rec *recorder
}

// NewServer starts and returns a new Server with a new store and the
// default user (DefaultUser, DefaultPassword). It registers t.Cleanup to
// close the server. Setup failures fail the test through t.Fatalf.
//
// t may be nil outside tests (an Example, a program): failures then panic
// and the caller must call Close.
func NewServer(t testing.TB) *Server {
	mailtest.OrPanic(t).Helper()
	s := NewUnstartedServer(t)
	s.Start()
	return s
}

// NewUnstartedServer returns a new Server that is not yet listening, so
// that the test can change Server, Store, PlainText or LogLevel before it
// calls Start. It registers t.Cleanup to close the server. t may be nil,
// as for NewServer.
func NewUnstartedServer(t testing.TB) *Server {
	t = mailtest.OrPanic(t)
	t.Helper()
	s := &Server{
		Server: &submission.Server{},
		Store:  mailtest.NewStore(),
		h:      mailtest.NewHarness(t, "submissiontest"),
	}
	return s
}

// Start fills in the zero fields of Server (see Server), adds the default
// user to Store's users unless one of that address exists, and starts
// serving on two new listeners on 127.0.0.1: Addr and TLSAddr (Addr only
// with PlainText). It panics if the server was already started or closed.
func (s *Server) Start() {
	s.h.T().Helper()
	srv := s.Server
	if srv.Backend == nil {
		s.rec = &recorder{store: s.Store}
		srv.Backend = s.rec
	}
	s.Addr, s.TLSAddr = s.h.Start(s.Store, s.PlainText, s.LogLevel, mailtest.Fields{
		Server:          srv,
		Authenticator:   &srv.Authenticator,
		TLSConfig:       &srv.TLSConfig,
		LoginPolicy:     &srv.LoginPolicy,
		Throttle:        &srv.Throttle,
		MaxConnsPerAddr: &srv.MaxConnsPerAddr,
		Hostname:        &srv.Hostname,
		Logger:          &srv.Logger,
	})
}

// Close closes the listeners and every connection at once, and waits for
// the serving goroutines to return. NewServer and NewUnstartedServer
// register it with t.Cleanup; calling it again does nothing.
func (s *Server) Close() {
	s.h.Close()
}

// ClientTLSConfig returns a new client TLS configuration that trusts the
// server's certificate (and nothing else), with ServerName set so that it
// verifies when dialling 127.0.0.1 or localhost, like httptest's
// Server.Client. Pass it to net/smtp's Client.StartTLS, or to tls.Dial for
// the implicit-TLS listener.
func (s *Server) ClientTLSConfig() *tls.Config { return s.h.ClientTLSConfig() }

// CAPEM returns the PEM encoding of the CA certificate that signed the
// server's certificate, for clients outside Go (python's
// ssl.create_default_context(cadata=...), swaks --tls-ca-path after
// writing it to a file).
func (s *Server) CAPEM() []byte { return s.h.CAPEM() }

// AddUser adds a user who logs in as address with password (every SASL
// mechanism works, see package doc), or changes the password of an existing
// one, and creates the user's mailboxes in Store. The user may send as
// address (if it is an address) and as the addresses, or "@domain" entries,
// in sendAs: the server refuses other senders, in MAIL FROM and in the From
// and Sender header fields, unless the test sets Server.SenderPolicy.
// It panics for an empty address or one with spaces or control characters.
func (s *Server) AddUser(address, password string, sendAs ...string) {
	s.h.AddUser(s.Store, address, password, sendAs...)
}

// Deliver puts msg into the INBOX of user as if it had just arrived,
// without going through SMTP. Bare LF line endings are stored as CRLF, so a
// fixture can be a Go string literal. It panics for an empty user name.
func (s *Server) Deliver(user, msg string) {
	s.h.Deliver(s.Store, user, msg)
}

// Messages returns what the INBOX of user (a recipient address) holds now,
// parsed (header, body, flags) and raw, in arrival order; none for an
// address that has received nothing. Submitted messages carry the
// server's Received header, and the Date, Message-ID and From it adds
// where they are missing.
func (s *Server) Messages(user string) []memstore.StoredMessage {
	msgs, _ := s.Store.Messages(user, "")
	return msgs
}

// WaitForMessages waits until the INBOX of user (a recipient address) holds
// at least n messages and returns them, as Messages does: the way to wait
// for mail that code under test sends in the background. It wakes when the
// store changes, never polls, and fails t if they have not arrived within
// 30 seconds or when t's context ends. Use Store.WaitForMessages to wait
// with a context of your own.
func (s *Server) WaitForMessages(t testing.TB, user string, n int) []memstore.StoredMessage {
	return s.h.WaitForMessages(t, s.Store, user, n)
}

// Purge removes every message of every user of Store, keeping users and
// mailboxes, and forgets the recorded envelopes: a clean slate between the
// subtests of one server.
func (s *Server) Purge() {
	s.Store.Purge()
	s.rec.reset()
}

// Reset removes every user and message from Store and its users, and
// forgets the recorded envelopes, then adds the default user again: Store
// is then as NewServer left it.
func (s *Server) Reset() {
	s.rec.reset()
	s.h.Reset(s.Store)
}

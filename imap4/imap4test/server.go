package imap4test

import (
	"crypto/tls"
	"log/slog"
	"testing"

	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/internal/mailtest"
	"github.com/mailfront/mailfront/store/memstore"
)

// The user every Server has from the start (and again after Reset). The
// same values serve in pop3test and submissiontest.
const (
	// DefaultUser is the address of the default user, "alice@example.org".
	DefaultUser = "alice@example.org"
	// DefaultPassword is the default user's password, "secret".
	DefaultPassword = "secret"
)

// A Server is an IMAP server listening on 127.0.0.1 for a test, over an
// in-memory store, with a self-signed certificate and users with known
// passwords. Create it with NewServer, or NewUnstartedServer and Start.
type Server struct {
	// Addr is the address of the plain listener, "127.0.0.1:port", where
	// STARTTLS is offered (unless PlainText): the port 143 of a real host.
	// Start sets it.
	Addr string

	// TLSAddr is the address of the implicit-TLS listener (the port 993 of
	// a real host). Start sets it; it stays empty with PlainText.
	TLSAddr string

	// Server is the IMAP server. Between NewUnstartedServer and Start a
	// test may set any of its fields (LoginPolicy, limits, timeouts, hooks,
	// its own Backend or Authenticator). Start fills in those left at their
	// zero value: Backend (Store), Authenticator (the users of Store, see
	// AddUser), TLSConfig (the self-signed certificate, unless PlainText),
	// Throttle (one that neither delays nor locks out failed logins, so that
	// tests of failures stay fast), MaxConnsPerAddr (unlimited, since every
	// client of a test comes from 127.0.0.1), Hostname ("localhost") and
	// Logger (the test log, see LogLevel). Its fields must not change after
	// Start.
	Server *imap4.Server

	// Store holds the mail. NewUnstartedServer sets a new store in which
	// every recipient address is local. To share a store with other test
	// servers (a submissiontest server, to submit what is read back here)
	// set this field to theirs before Start and before calling any other
	// method: users, passwords and messages are then common to all of them.
	Store *memstore.Store

	// PlainText, set before Start, makes Addr a cleartext listener: no
	// STARTTLS is offered and Start sets Server.LoginPolicy to
	// auth.PlainTextLogin if it is zero, so that LOGIN works without TLS,
	// as on a GreenMail server. No implicit-TLS listener is started. Use it
	// for code under test that cannot be given a CA to trust; the default
	// (STARTTLS and implicit TLS, logins only over TLS) is what a real
	// server does, and catches code that would send passwords in clear.
	PlainText bool

	// LogLevel is the least level of the server's log records written to
	// the test log (shown for failed tests and with go test -v) when Start
	// sets Server.Logger. Nil means slog.LevelWarn;
	// mailfront.LevelTrace shows the whole protocol exchange, with
	// credentials redacted and literals summarised.
	LogLevel slog.Leveler

	h *mailtest.Harness
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
		Server: &imap4.Server{},
		Store:  mailtest.NewStore(),
		h:      mailtest.NewHarness(t, "imap4test"),
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
		srv.Backend = s.Store
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
// Server.Client. Use it for STARTTLS and for the implicit-TLS listener.
func (s *Server) ClientTLSConfig() *tls.Config { return s.h.ClientTLSConfig() }

// CAPEM returns the PEM encoding of the CA certificate that signed the
// server's certificate, for clients outside Go (python's
// ssl.create_default_context(cadata=...), curl --cacert after writing it to
// a file).
func (s *Server) CAPEM() []byte { return s.h.CAPEM() }

// AddUser adds a user who logs in as address with password (every SASL
// mechanism works, see package doc), or changes the password of an existing
// one, and creates the user's mailboxes in Store: INBOX, Drafts, Sent,
// Trash, Junk and Archive. sendAs lists further addresses, or "@domain"
// entries, the user may send as through a submissiontest server sharing
// the store. It panics for an empty address or one with spaces or control
// characters.
func (s *Server) AddUser(address, password string, sendAs ...string) {
	s.h.AddUser(s.Store, address, password, sendAs...)
}

// Deliver puts msg into the INBOX of user as if it had just arrived, and
// returns its UID: sessions with the INBOX selected see it at their next
// command or in IDLE. Bare LF line endings are stored as CRLF, so a fixture
// can be a Go string literal. It panics for an empty user name. Use
// Store.Deliver for another mailbox.
func (s *Server) Deliver(user, msg string) imap4.UID {
	return s.h.Deliver(s.Store, user, msg)
}

// Messages returns what the INBOX of user holds now, parsed (header, body)
// and raw, with UIDs and flags, in UID order; none for an unknown user. Use
// Store.Messages for another mailbox.
func (s *Server) Messages(user string) []memstore.StoredMessage {
	msgs, _ := s.Store.Messages(user, "")
	return msgs
}

// WaitForMessages waits until the INBOX of user holds at least n messages
// and returns them, as Messages does. It wakes when the store changes,
// never polls, and fails t if they have not arrived within 30 seconds or
// when t's context ends. Use Store.WaitForMessages to wait with a context
// of your own or on another mailbox.
func (s *Server) WaitForMessages(t testing.TB, user string, n int) []memstore.StoredMessage {
	return s.h.WaitForMessages(t, s.Store, user, n)
}

// Purge removes every message of every user of Store, keeping users and
// mailboxes: a clean slate between the subtests of one server. Open
// sessions see the messages expunged.
func (s *Server) Purge() { s.Store.Purge() }

// Reset removes every user and message from Store and its users, then adds
// the default user again: Store is then as NewServer left it. Open sessions
// fail from then on.
func (s *Server) Reset() {
	s.h.Reset(s.Store)
}

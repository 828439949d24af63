package pop3_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/pop3"
	"github.com/mailfront/mailfront/tlsconfig"
)

// memBackend is a Backend over a map of users to messages, with the
// exclusive lock RFC 1939 asks for: a custom backend in a few lines.
type memBackend struct {
	mu     sync.Mutex
	mail   map[string][]string
	locked map[string]bool
}

func (b *memBackend) OpenMaildrop(ctx context.Context, id auth.Identity) (pop3.Maildrop, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.locked[id.Username] {
		return nil, pop3.ErrMaildropLocked
	}
	b.locked[id.Username] = true
	return &memMaildrop{b: b, user: id.Username}, nil
}

type memMaildrop struct {
	b    *memBackend
	user string
}

func (m *memMaildrop) Messages(ctx context.Context) ([]pop3.MessageInfo, error) {
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	var list []pop3.MessageInfo
	for i, msg := range m.b.mail[m.user] {
		if msg != "" { // "" is a deleted message
			list = append(list, pop3.MessageInfo{UID: strconv.Itoa(i), Size: int64(len(msg))})
		}
	}
	return list, nil
}

func (m *memMaildrop) Open(ctx context.Context, uid string) (io.ReadCloser, error) {
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	i, err := strconv.Atoi(uid)
	if err != nil || i >= len(m.b.mail[m.user]) || m.b.mail[m.user][i] == "" {
		return nil, pop3.ErrNoSuchMessage
	}
	return io.NopCloser(strings.NewReader(m.b.mail[m.user][i])), nil
}

func (m *memMaildrop) Delete(ctx context.Context, uids []string) error {
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	for _, uid := range uids {
		i, _ := strconv.Atoi(uid)
		m.b.mail[m.user][i] = "" // keep the numbering: UIDs stay stable
	}
	return nil
}

func (m *memMaildrop) Close() error {
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	delete(m.b.locked, m.user)
	return nil
}

// exampleUsers is an Authenticator for the examples. A real host uses
// auth.UsersFile or its own directory.
var exampleUsers = auth.AuthenticatorFunc(func(ctx context.Context, username, password string) (auth.Identity, error) {
	if username == "alice@example.org" && password == "correct horse" {
		return auth.Identity{Username: username}, nil
	}
	return auth.Identity{}, auth.ErrInvalidCredentials
})

// talk sends each command and prints the reply, with the lines of
// multi-line replies.
func talk(r *bufio.Reader, w io.Writer, cmds ...string) {
	show := func() string {
		line, _ := r.ReadString('\n')
		line = strings.TrimRight(line, "\r\n")
		fmt.Println(strings.TrimSpace("S: " + line))
		return line
	}
	for _, cmd := range cmds {
		fmt.Fprintf(w, "%s\r\n", cmd)
		if line := show(); strings.HasPrefix(line, "+OK") && (strings.HasPrefix(cmd, "RETR") || cmd == "LIST") {
			for show() != "." {
			}
		}
	}
}

// A Server on the implicit-TLS port (995) with a self-signed certificate,
// and a client session.
func ExampleServer() {
	cert, err := tlsconfig.SelfSigned() // a real host: tlsconfig.NewReloader or ACME
	if err != nil {
		log.Fatal(err)
	}
	srv := &pop3.Server{
		Backend: &memBackend{
			mail:   map[string][]string{"alice@example.org": {"Subject: Hello\r\n\r\nHi Alice!\r\n"}},
			locked: map[string]bool{},
		},
		Authenticator: exampleUsers,
		TLSConfig:     tlsconfig.New(cert.GetCertificate),
		Logger:        slog.New(slog.DiscardHandler),
	}
	l, err := net.Listen("tcp", "127.0.0.1:0") // a real host: srv.ListenAndServeTLS()
	if err != nil {
		log.Fatal(err)
	}
	go srv.ServeTLS(l)
	defer srv.Close()

	conn, err := tls.Dial("tcp", l.Addr().String(), cert.ClientConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	r.ReadString('\n') // the greeting names the host and connection
	talk(r, conn, "USER alice@example.org", "PASS correct horse", "LIST", "RETR 1", "DELE 1", "QUIT")
	// Output:
	// S: +OK Send your password
	// S: +OK Logged in; maildrop has 1 message (29 octets)
	// S: +OK 1 message (29 octets)
	// S: 1 29
	// S: .
	// S: +OK 29 octets
	// S: Subject: Hello
	// S:
	// S: Hi Alice!
	// S: .
	// S: +OK Message 1 deleted
	// S: +OK Goodbye; 0 messages left
}

// Shutdown closes the listeners and the sessions waiting for a command
// (without deleting anything: POP3 deletes only at QUIT), waits for commands
// in progress, and makes Serve return ErrServerClosed.
func ExampleServer_Shutdown() {
	cert, err := tlsconfig.SelfSigned()
	if err != nil {
		log.Fatal(err)
	}
	srv := &pop3.Server{
		Backend:       &memBackend{mail: map[string][]string{}, locked: map[string]bool{}},
		Authenticator: exampleUsers,
		TLSConfig:     tlsconfig.New(cert.GetCertificate),
		Logger:        slog.New(slog.DiscardHandler),
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.ServeTLS(l) }()

	conn, err := tls.Dial("tcp", l.Addr().String(), cert.ClientConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	r.ReadString('\n')
	talk(r, conn, "USER alice@example.org", "PASS correct horse")

	// Typically on SIGTERM.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		srv.Close() // ctx expired: end the rest
	}
	_, err = r.ReadString('\n')
	fmt.Println("client:", err)
	fmt.Println("Serve:", <-served)
	// Output:
	// S: +OK Send your password
	// S: +OK Logged in; maildrop has 0 messages (0 octets)
	// client: EOF
	// Serve: mailfront: server closed
}

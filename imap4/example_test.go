package imap4_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/tlsconfig"
)

// A host's backend and user directory; see ExampleBackend.
var (
	myBackend imap4.Backend
	myUsers   auth.Authenticator
)

// ExampleServer serves IMAP with STARTTLS on 143 and implicit TLS on 993.
func ExampleServer() {
	cert, err := tlsconfig.SelfSigned("mail.example.org")
	if err != nil {
		log.Fatal(err)
	}
	srv := &imap4.Server{
		Backend:       myBackend,
		Authenticator: myUsers,
		TLSConfig:     &tls.Config{Certificates: []tls.Certificate{cert.Certificate}},
	}
	go func() { log.Println(srv.ListenAndServeTLS()) }() // :993
	log.Println(srv.ListenAndServe())                    // :143
}

// ExampleServer_Shutdown stops a server gracefully on SIGINT: sessions at
// a command boundary or in IDLE get "* BYE", commands in progress finish.
func ExampleServer_Shutdown() {
	srv := &imap4.Server{Backend: myBackend, Authenticator: myUsers, TLSConfig: &tls.Config{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt)
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			srv.Close() // the deadline passed: end the rest
		}
		close(done)
	}()
	if err := srv.ServeTLS(l); !errors.Is(err, imap4.ErrServerClosed) {
		log.Fatal(err)
	}
	<-done
}

// oneMessage is a read-only backend holding one message for every user: a
// complete, if minimal, custom backend.
type oneMessage struct{}

func (oneMessage) OpenUser(ctx context.Context, id auth.Identity) (imap4.User, error) {
	return oneUser{}, nil
}

type oneUser struct{}

func (oneUser) ListMailboxes(context.Context) ([]imap4.MailboxInfo, error) {
	return []imap4.MailboxInfo{{Name: "INBOX"}}, nil
}
func (oneUser) Status(ctx context.Context, name string) (imap4.MailboxStatus, error) {
	return oneStatus, nil
}
func (oneUser) CreateMailbox(context.Context, string, *imap4.CreateOptions) error {
	return imap4.ErrCannot
}
func (oneUser) DeleteMailbox(context.Context, string) error         { return imap4.ErrCannot }
func (oneUser) RenameMailbox(context.Context, string, string) error { return imap4.ErrCannot }
func (oneUser) SetSubscribed(context.Context, string, bool) error   { return nil }
func (oneUser) Close() error                                        { return nil }
func (oneUser) OpenMailbox(ctx context.Context, name string) (imap4.Mailbox, error) {
	if name != "INBOX" {
		return nil, imap4.ErrNoSuchMailbox
	}
	return oneBox{}, nil
}

var (
	welcome    = []byte("From: postmaster@example.org\r\nSubject: Welcome\r\n\r\nHello!\r\n")
	oneStatus  = imap4.MailboxStatus{UIDValidity: 1, UIDNext: 2, HighestModSeq: 1, Messages: 1, Unseen: 1, Size: int64(len(welcome))}
	neverWatch = make(chan struct{})
)

type oneBox struct{}

func (oneBox) Sync(ctx context.Context, since imap4.ModSeq) (*imap4.SyncData, error) {
	sd := &imap4.SyncData{MailboxStatus: oneStatus}
	if since == 0 {
		sd.Messages = []imap4.MessageMeta{{UID: 1, ModSeq: 1, Size: int64(len(welcome)), InternalDate: time.Unix(0, 0)}}
	}
	return sd, nil
}
func (oneBox) Watch() <-chan struct{} { return neverWatch }
func (oneBox) Open(ctx context.Context, uid imap4.UID) (imap4.Message, error) {
	if uid != 1 {
		return nil, imap4.ErrNoSuchMessage
	}
	return message{bytes.NewReader(welcome)}, nil
}
func (oneBox) Append(context.Context, io.Reader, *imap4.AppendOptions) (imap4.AppendResult, error) {
	return imap4.AppendResult{}, imap4.ErrReadOnly
}
func (oneBox) SetFlags(context.Context, []imap4.UID, imap4.StoreOp, []string, *imap4.StoreOptions) (*imap4.StoreResult, error) {
	return nil, imap4.ErrReadOnly
}
func (oneBox) Expunge(context.Context, []imap4.UID) ([]imap4.UID, error) {
	return nil, imap4.ErrReadOnly
}
func (oneBox) CopyTo(context.Context, []imap4.UID, string) (*imap4.CopyResult, error) {
	return nil, imap4.ErrCannot
}
func (oneBox) Close() error { return nil }

type message struct{ *bytes.Reader }

func (message) Close() error { return nil }

// ExampleBackend serves the smallest useful custom backend (every user
// sees one read-only message in INBOX) and fetches the message's subject.
func ExampleBackend() {
	srv := &imap4.Server{
		Backend: oneMessage{},
		Authenticator: auth.AuthenticatorFunc(func(ctx context.Context, user, pass string) (auth.Identity, error) {
			if pass != "demo" {
				return auth.Identity{}, auth.ErrInvalidCredentials
			}
			return auth.Identity{Username: user}, nil
		}),
		LoginPolicy: auth.PlainTextLogin, // a demo on loopback only
		Logger:      slog.New(slog.DiscardHandler),
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Close()

	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	r.ReadString('\n') // greeting
	fmt.Fprint(conn, "a LOGIN alice demo\r\nb EXAMINE INBOX\r\nc FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]\r\nd LOGOUT\r\n")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			break
		}
		if strings.HasPrefix(line, "c ") || strings.HasPrefix(line, "Subject:") {
			fmt.Print(strings.ReplaceAll(line, "\r", ""))
		}
	}
	// Output:
	// Subject: Welcome
	// c OK FETCH completed
}

package tlsconfig_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/mailfront/mailfront/tlsconfig"
)

// A server configuration with the secure defaults, here with a generated
// certificate, and a client that trusts it.
func ExampleNew() {
	cert, err := tlsconfig.SelfSigned("localhost")
	if err != nil {
		log.Fatal(err)
	}
	cfg := tlsconfig.New(cert.GetCertificate)

	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		fmt.Fprint(c, "* OK IMAP4rev2 ready\r\n")
	}()

	client := cert.ClientConfig()
	client.ServerName = "localhost"
	conn, err := tls.Dial("tcp", ln.Addr().String(), client)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	greeting, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.TrimSpace(greeting))
	fmt.Println(tls.VersionName(conn.ConnectionState().Version))
	// Output:
	// * OK IMAP4rev2 ready
	// TLS 1.3
}

// A development certificate for the local machine, and what a client needs
// to verify it.
func ExampleSelfSigned() {
	cert, err := tlsconfig.SelfSigned() // localhost, 127.0.0.1, ::1
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cert.Certificate.Leaf.DNSNames, cert.Certificate.Leaf.IPAddresses)

	for _, host := range []string{"localhost", "::1", "mail.example.org"} {
		_, err := cert.Certificate.Leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: cert.CAPool()})
		fmt.Println(host, err == nil)
	}
	// Output:
	// [localhost] [127.0.0.1 ::1]
	// localhost true
	// ::1 true
	// mail.example.org false
}

// A host program keeps its development certificate under its data
// directory, so that clients configured with ca.pem keep working across
// restarts.
func ExampleLoadOrCreateSelfSigned() {
	dataDir, err := os.MkdirTemp("", "mailfront-data")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dataDir)

	hosts := tlsconfig.DefaultSelfSignedHosts()
	if name, err := os.Hostname(); err == nil {
		hosts = append(hosts, name)
	}
	cert, err := tlsconfig.LoadOrCreateSelfSigned(filepath.Join(dataDir, "tls"), hosts...)
	if err != nil {
		log.Fatal(err)
	}
	again, err := tlsconfig.LoadOrCreateSelfSigned(filepath.Join(dataDir, "tls"), hosts...)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("reused:", cert.CA.Equal(again.CA))
	// Output:
	// reused: true
}

// Certificates from PEM files, as certbot or another ACME client renews
// them. A renewal is picked up at the next handshake after the files
// change; Reload forces it, for instance on SIGHUP:
//
//	hup := make(chan os.Signal, 1)
//	signal.Notify(hup, syscall.SIGHUP)
//	go func() {
//		for range hup {
//			if err := reloader.Reload(); err != nil {
//				log.Print(err) // the old certificates stay in service
//			}
//		}
//	}()
func ExampleNewReloader() {
	dir, err := os.MkdirTemp("", "certs")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	generated, err := tlsconfig.SelfSigned("mail.example.org")
	if err != nil {
		log.Fatal(err)
	}
	if err := generated.WriteFiles(dir); err != nil {
		log.Fatal(err)
	}

	reloader, err := tlsconfig.NewReloader(tlsconfig.KeyPair{
		CertFile: filepath.Join(dir, "cert.pem"),
		KeyFile:  filepath.Join(dir, "key.pem"),
	})
	if err != nil {
		log.Fatal(err)
	}
	reloader.Logger = slog.New(slog.DiscardHandler)
	cfg := tlsconfig.New(reloader.GetCertificate)

	cert, err := cfg.GetCertificate(&tls.ClientHelloInfo{ServerName: "mail.example.org"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cert.Leaf.DNSNames)
	fmt.Println(reloader.Reload(), reloader.LastError())
	// Output:
	// [mail.example.org]
	// <nil> <nil>
}

// Certificates from Let's Encrypt for an IMAP server on port 993. The
// TLS-ALPN-01 challenge needs the CA to reach this listener on port 443;
// the HTTP-01 challenge needs port 80.
func ExampleNewACME() {
	a, err := tlsconfig.NewACME("/var/lib/mailfront/acme", "mail.example.org", "imap.example.org")
	if err != nil {
		log.Fatal(err)
	}
	a.Manager.Email = "postmaster@example.org"
	go func() {
		log.Print(http.ListenAndServe(":80", a.HTTPHandler(nil)))
	}()

	ln, err := tls.Listen("tcp", ":993", a.TLSConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	// Hand ln to imap4.Server.Serve, or set a.TLSConfig() as the server's
	// TLSConfig and call ServeTLS.
}

// Client certificates for SASL EXTERNAL, optional for clients.
func ExampleVerifyClientCertIfGiven() {
	cert, err := tlsconfig.LoadOrCreateSelfSigned("/var/lib/mailfront/tls")
	if err != nil {
		log.Fatal(err)
	}
	clientCAs, err := tlsconfig.LoadCertPool("/etc/mailfront/client-ca.pem")
	if err != nil {
		log.Fatal(err)
	}
	cfg := tlsconfig.New(cert.GetCertificate)
	tlsconfig.VerifyClientCertIfGiven(cfg, clientCAs)
	_ = cfg // the servers' TLSConfig
}

package tlsconfig

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// File names used by [SelfSignedCert.WriteFiles] and [LoadOrCreateSelfSigned].
const (
	// CAFile is the name of the CA certificate file, which clients trust.
	CAFile = "ca.pem"
	// CertFile is the name of the server's leaf certificate file.
	CertFile = "cert.pem"
	// KeyFile is the name of the server's private key file, mode 0600.
	KeyFile = "key.pem"
)

// SelfSignedValidity is how long a certificate made by [SelfSigned] is valid.
const SelfSignedValidity = 365 * 24 * time.Hour

// selfSignedSkew is how far in the past a generated certificate starts, so
// that clients whose clock is a little behind accept it.
const selfSignedSkew = time.Hour

// selfSignedRenewal is how long before expiry LoadOrCreateSelfSigned replaces
// a certificate rather than reusing it.
const selfSignedRenewal = 30 * 24 * time.Hour

// DefaultSelfSignedHosts returns the names [SelfSigned] uses when it is given
// none: localhost, 127.0.0.1 and ::1.
func DefaultSelfSignedHosts() []string {
	return []string{"localhost", "127.0.0.1", "::1"}
}

// A SelfSignedCert is a server certificate for development, tests and
// private deployments, issued by a throw-away certificate authority (CA)
// made for it. Clients verify it by trusting the CA: [SelfSignedCert.ClientConfig]
// in Go, ca.pem for other programs (curl --cacert, mbsync CertificateFile,
// fetchmail --sslcertfile).
//
// The CA's private key is discarded as soon as the leaf is signed, so
// trusting the CA trusts this one certificate and nothing else.
type SelfSignedCert struct {
	// Certificate is the leaf certificate and its private key, ready for
	// [tls.Config.Certificates]; Leaf is set.
	Certificate tls.Certificate
	// CA is the certificate that signed the leaf.
	CA *x509.Certificate
	// CAPEM, CertPEM and KeyPEM are the PEM encodings of the CA
	// certificate, the leaf certificate and the leaf's private key
	// (PKCS #8), as written by WriteFiles.
	CAPEM, CertPEM, KeyPEM []byte
}

// SelfSigned generates an ECDSA P-256 leaf certificate for hosts, signed by a
// new ECDSA P-256 CA. Each host becomes an IP address or DNS name (a wildcard
// such as *.example.org is allowed) in the certificate; without hosts it
// names [DefaultSelfSignedHosts]. The certificate is valid for
// [SelfSignedValidity], from an hour ago to allow for clock skew.
func SelfSigned(hosts ...string) (*SelfSignedCert, error) {
	if len(hosts) == 0 {
		hosts = DefaultSelfSignedHosts()
	}
	var dnsNames []string
	var ips []net.IP
	for _, h := range hosts {
		h = strings.TrimSuffix(strings.TrimSpace(h), ".")
		if h == "" {
			return nil, errors.New("tlsconfig: SelfSigned: empty host name")
		}
		if a, err := netip.ParseAddr(h); err == nil {
			ips = append(ips, net.IP(a.WithZone("").AsSlice()))
		} else {
			dnsNames = append(dnsNames, h)
		}
	}

	now := time.Now()
	notBefore, notAfter := now.Add(-selfSignedSkew), now.Add(SelfSignedValidity)
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("tlsconfig: %w", err)
	}
	caSerial, err := serialNumber()
	if err != nil {
		return nil, err
	}
	caTemplate := &x509.Certificate{
		SerialNumber: caSerial,
		Subject: pkix.Name{
			Organization: []string{"mailfront development CA"},
			CommonName:   "mailfront development CA " + caSerial.Text(16)[:8],
		},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, caKey.Public(), caKey)
	if err != nil {
		return nil, fmt.Errorf("tlsconfig: creating CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("tlsconfig: %w", err)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("tlsconfig: %w", err)
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, err
	}
	template := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			Organization: []string{"mailfront development certificate"},
			CommonName:   strings.TrimSpace(hosts[0]),
		},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              dnsNames,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, ca, key.Public(), caKey)
	if err != nil {
		return nil, fmt.Errorf("tlsconfig: creating certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("tlsconfig: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("tlsconfig: %w", err)
	}
	return &SelfSignedCert{
		Certificate: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		CA:          ca,
		CAPEM:       pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		CertPEM:     pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:      pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

func serialNumber() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("tlsconfig: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil // never zero
}

// GetCertificate returns the leaf certificate whatever the hello, as the
// [tls.Config.GetCertificate] hook; see [New].
func (c *SelfSignedCert) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return &c.Certificate, nil
}

// CAPool returns a new pool holding the CA certificate.
func (c *SelfSignedCert) CAPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(c.CA)
	return pool
}

// ClientConfig returns a client configuration that trusts the CA and nothing
// else, like httptest.Server.Client: tests and tools use it to dial a server
// using the certificate. ServerName is the certificate's first name, so a
// client dialling by IP address or one that names no server still verifies;
// set it to check another name. Every call returns a new configuration.
func (c *SelfSignedCert) ClientConfig() *tls.Config {
	cfg := &tls.Config{RootCAs: c.CAPool(), MinVersion: MinVersion}
	// A client that names no server (net/smtp's Client.StartTLS with this
	// config, for one) would refuse to verify; default to the first name.
	if leaf := c.Certificate.Leaf; leaf != nil {
		switch {
		case len(leaf.DNSNames) > 0:
			cfg.ServerName = leaf.DNSNames[0]
		case len(leaf.IPAddresses) > 0:
			cfg.ServerName = leaf.IPAddresses[0].String()
		}
	}
	return cfg
}

// WriteFiles writes ca.pem, cert.pem and key.pem (see [CAFile]) into dir,
// creating it with mode 0700 if needed. key.pem gets mode 0600, the
// certificates 0644. Each file is replaced atomically, so a [Reloader]
// watching cert.pem and key.pem never reads half a file.
func (c *SelfSignedCert) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("tlsconfig: %w", err)
	}
	for _, f := range []struct {
		name string
		data []byte
		perm os.FileMode
	}{
		{KeyFile, c.KeyPEM, 0o600},
		{CertFile, c.CertPEM, 0o644},
		{CAFile, c.CAPEM, 0o644},
	} {
		if err := writeFileAtomic(filepath.Join(dir, f.name), f.data, f.perm); err != nil {
			return fmt.Errorf("tlsconfig: %w", err)
		}
	}
	return nil
}

func writeFileAtomic(name string, data []byte, perm os.FileMode) (err error) {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), name)
}

// LoadOrCreateSelfSigned returns the certificate kept in dir (ca.pem,
// cert.pem, key.pem, see [CAFile]) when those files parse, the leaf chains to
// the CA, covers every host (default: [DefaultSelfSignedHosts]) and is valid
// for at least 30 more days. Otherwise it generates a new one with
// [SelfSigned] and writes it there, replacing the old files: clients must then
// trust the new ca.pem.
//
// A host program uses it to keep one development certificate across restarts,
// so that clients configured with ca.pem keep working.
func LoadOrCreateSelfSigned(dir string, hosts ...string) (*SelfSignedCert, error) {
	if len(hosts) == 0 {
		hosts = DefaultSelfSignedHosts()
	}
	if c, err := loadSelfSigned(dir); err == nil && c.covers(time.Now(), hosts) {
		return c, nil
	}
	c, err := SelfSigned(hosts...)
	if err != nil {
		return nil, err
	}
	if err := c.WriteFiles(dir); err != nil {
		return nil, err
	}
	return c, nil
}

func loadSelfSigned(dir string) (*SelfSignedCert, error) {
	read := func(name string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, name)) }
	caPEM, err := read(CAFile)
	if err != nil {
		return nil, err
	}
	certPEM, err := read(CertFile)
	if err != nil {
		return nil, err
	}
	keyPEM, err := read(KeyFile)
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, err
		}
	}
	block, _ := pem.Decode(caPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s: %w", CAFile, errNoCertificate)
	}
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, err
	}
	return &SelfSignedCert{Certificate: cert, CA: ca, CAPEM: caPEM, CertPEM: certPEM, KeyPEM: keyPEM}, nil
}

// covers reports whether c chains to its CA now and 30 days from now and
// names every host.
func (c *SelfSignedCert) covers(now time.Time, hosts []string) bool {
	for _, t := range []time.Time{now, now.Add(selfSignedRenewal)} {
		opts := x509.VerifyOptions{Roots: c.CAPool(), CurrentTime: t}
		if _, err := c.Certificate.Leaf.Verify(opts); err != nil {
			return false
		}
	}
	for _, h := range hosts {
		h = strings.TrimSuffix(strings.TrimSpace(h), ".")
		if a, err := netip.ParseAddr(h); err == nil {
			h = a.WithZone("").String()
		}
		if c.Certificate.Leaf.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

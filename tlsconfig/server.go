package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// MinVersion is the lowest protocol version a configuration from [New]
// accepts: TLS 1.2, as RFC 8314 §4.1 and RFC 9325 require. Clients capped at
// TLS 1.0 or 1.1 fail the handshake with a protocol_version alert.
const MinVersion = tls.VersionTLS12

// New returns a server configuration with the package's secure defaults (see
// the package documentation) that takes its certificates from getCertificate,
// typically [Reloader.GetCertificate], [ACME.GetCertificate] or
// [SelfSignedCert.GetCertificate].
//
// A nil getCertificate leaves the choice to the caller, who then sets
// Certificates or GetCertificate on the result before use. Every call returns
// a new configuration that the caller owns and may change before handing it
// to a server; it must not be changed after that.
func New(getCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)) *tls.Config {
	return &tls.Config{
		// Cipher suites, curves (including the post-quantum hybrid) and the
		// maximum version are left to crypto/tls, whose defaults follow
		// current guidance with every Go release; a list frozen here
		// would only age.
		MinVersion:     MinVersion,
		GetCertificate: getCertificate,
	}
}

// VerifyClientCertIfGiven makes cfg ask TLS clients for a certificate and
// verify any certificate given against pool, for SASL EXTERNAL (RFC 4422
// Appendix A). A client that sends none still connects and can log in with a
// password; a client whose certificate does not chain to pool fails the
// handshake. The verified chains reach the protocol servers in
// [tls.ConnectionState.VerifiedChains] and from there an
// auth.CertificateMapper.
//
// Leaf certificates must carry the client authentication extended key usage
// (or none at all), as crypto/tls requires.
func VerifyClientCertIfGiven(cfg *tls.Config, pool *x509.CertPool) {
	cfg.ClientAuth = tls.VerifyClientCertIfGiven
	cfg.ClientCAs = pool
}

// LoadCertPool reads the PEM-encoded certificates in file into a new pool,
// for [VerifyClientCertIfGiven] or a client's RootCAs. It fails when the file
// holds no certificate.
func LoadCertPool(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("tlsconfig: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("tlsconfig: %s: %w", file, errNoCertificate)
	}
	return pool, nil
}

var errNoCertificate = errors.New("no PEM certificate found")

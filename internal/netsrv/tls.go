package netsrv

import (
	"crypto/tls"
	"crypto/x509"
	"net"
)

// prepareTLS clones the host's TLS configuration for one Serve call and
// arranges to learn which certificate each handshake presents, for the
// tls-server-end-point channel binding of SCRAM-PLUS. crypto/tls does not
// report the local certificate in ConnectionState, so the certificate
// selection is wrapped and its result recorded per connection.
func (s *Server) prepareTLS(base *tls.Config) *tls.Config {
	cfg := base.Clone()
	record := func(hello *tls.ClientHelloInfo, cert *tls.Certificate) {
		if hello != nil && hello.Conn != nil && cert != nil {
			s.localCerts.Store(hello.Conn, cert)
		}
	}
	switch {
	case cfg.GetCertificate != nil:
		get := cfg.GetCertificate
		cfg.GetCertificate = func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			cert, err := get(hello)
			if err == nil {
				record(hello, cert)
			}
			return cert, err
		}
	case len(cfg.Certificates) > 0:
		// Choose as crypto/tls does for a Certificates list: the first
		// certificate the client supports, else the first.
		certs := cfg.Certificates
		cfg.GetCertificate = func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			chosen := &certs[0]
			if len(certs) > 1 {
				for i := range certs {
					if hello.SupportsCertificate(&certs[i]) == nil {
						chosen = &certs[i]
						break
					}
				}
			}
			record(hello, chosen)
			return chosen, nil
		}
	}
	return cfg
}

// takeLocalCert returns and forgets the certificate recorded for raw.
func (s *Server) takeLocalCert(raw net.Conn) *x509.Certificate {
	v, ok := s.localCerts.LoadAndDelete(raw)
	if !ok {
		return nil
	}
	cert := v.(*tls.Certificate)
	if cert.Leaf != nil {
		return cert.Leaf
	}
	if len(cert.Certificate) == 0 {
		return nil
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil
	}
	return leaf
}

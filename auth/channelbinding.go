package auth

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	_ "crypto/sha256" // SHA-256 for tls-server-end-point
	_ "crypto/sha512" // SHA-384 and SHA-512 for tls-server-end-point
)

// Channel binding types (RFC 5929, RFC 9266).
const (
	bindingTLSExporter       = "tls-exporter"
	bindingTLSServerEndPoint = "tls-server-end-point"
)

// exporterLabel and exporterLength are the parameters of tls-exporter
// (RFC 9266 §2). The keying material is exported without a context value,
// as OpenSSL-based servers (Dovecot, Prosody) do; for TLS 1.3 this is the
// same as an empty context.
const (
	exporterLabel  = "EXPORTER-Channel-Binding"
	exporterLength = 32
)

// channelBindingTypes returns the channel binding types the connection t can
// provide, preferred first. tls-exporter needs TLS 1.3, or TLS 1.2 with the
// extended master secret; tls-server-end-point needs the server certificate.
// tls-unique is never offered: it is unsafe with TLS 1.2 resumption and
// undefined for TLS 1.3 (RFC 9266 §3).
func channelBindingTypes(t Transport) []string {
	if t.TLS == nil {
		return nil
	}
	var types []string
	if _, err := exportKeyingMaterial(t.TLS); err == nil {
		types = append(types, bindingTLSExporter)
	}
	if t.LocalCertificate != nil {
		types = append(types, bindingTLSServerEndPoint)
	}
	return types
}

// channelBindingData returns the channel binding data of type typ for the
// connection t (RFC 5929 §4, RFC 9266 §2).
func channelBindingData(t Transport, typ string) ([]byte, error) {
	if t.TLS == nil {
		return nil, errors.New("no TLS connection for channel binding")
	}
	switch typ {
	case bindingTLSExporter:
		return exportKeyingMaterial(t.TLS)
	case bindingTLSServerEndPoint:
		if t.LocalCertificate == nil {
			return nil, errors.New("no server certificate for tls-server-end-point")
		}
		h := serverEndPointHash(t.LocalCertificate.SignatureAlgorithm)
		d := h.New()
		d.Write(t.LocalCertificate.Raw)
		return d.Sum(nil), nil
	}
	return nil, fmt.Errorf("channel binding type %q not supported", typ)
}

// serverEndPointHash returns the hash tls-server-end-point uses for a
// certificate signed with alg: the signature's hash, except that MD5 and
// SHA-1 become SHA-256 (RFC 5929 §4.1). Algorithms without a separate
// hash (Ed25519) use SHA-256 too, as common practice has it.
func serverEndPointHash(alg x509.SignatureAlgorithm) crypto.Hash {
	switch alg {
	case x509.SHA384WithRSA, x509.ECDSAWithSHA384, x509.SHA384WithRSAPSS:
		return crypto.SHA384
	case x509.SHA512WithRSA, x509.ECDSAWithSHA512, x509.SHA512WithRSAPSS:
		return crypto.SHA512
	}
	return crypto.SHA256
}

// exportKeyingMaterial returns the tls-exporter binding data of cs. It
// fails, rather than panics, on a ConnectionState that did not come from a
// handshake (a zero value built by hand has no exporter).
func exportKeyingMaterial(cs *tls.ConnectionState) (b []byte, err error) {
	defer func() {
		if recover() != nil {
			b, err = nil, errors.New("keying material exporter unavailable")
		}
	}()
	return cs.ExportKeyingMaterial(exporterLabel, nil, exporterLength)
}

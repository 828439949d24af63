package tlsconfig_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/tlsconfig"
)

func TestNewDefaults(t *testing.T) {
	ss := selfSigned(t)
	cfg := tlsconfig.New(ss.GetCertificate)
	assert.Equal(t, uint16(tls.VersionTLS12), cfg.MinVersion, "MinVersion")
	assert.Zero(t, cfg.MaxVersion, "MaxVersion: want crypto/tls's maximum")
	assert.Nil(t, cfg.CipherSuites, "CipherSuites: want crypto/tls's defaults")
	assert.Nil(t, cfg.CurvePreferences, "CurvePreferences: want crypto/tls's defaults")
	assert.Empty(t, cfg.NextProtos, "NextProtos: want no ALPN, in particular no HTTP")
	assert.False(t, cfg.SessionTicketsDisabled, "session tickets")
	assert.Equal(t, tls.NoClientCert, cfg.ClientAuth)
	assert.NotNil(t, cfg.GetCertificate)
	assert.NotSame(t, cfg, tlsconfig.New(nil), "each call returns a new config")
	assert.Nil(t, tlsconfig.New(nil).GetCertificate)
}

// TestVersionFloor is ADVERSARIAL X5: a client capped at TLS 1.1 fails the
// handshake; TLS 1.2 and 1.3 succeed.
func TestVersionFloor(t *testing.T) {
	ss := selfSigned(t)
	srv := tlsconfig.New(ss.GetCertificate)
	tests := []struct {
		name     string
		min, max uint16
		ok       bool
	}{
		{"TLS 1.0", tls.VersionTLS10, tls.VersionTLS10, false},
		{"TLS 1.1", tls.VersionTLS10, tls.VersionTLS11, false},
		{"TLS 1.2", tls.VersionTLS12, tls.VersionTLS12, true},
		{"TLS 1.3", tls.VersionTLS13, tls.VersionTLS13, true},
		{"client default", 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cli := ss.ClientConfig()
			cli.MinVersion, cli.MaxVersion = tt.min, tt.max
			r := handshake(t, srv, cli)
			if !tt.ok {
				assert.Error(t, r.serverErr, "server handshake")
				assert.ErrorContains(t, r.clientErr, "protocol version", "client handshake")
				return
			}
			require.NoError(t, r.clientErr)
			require.NoError(t, r.serverErr)
			want := tt.max
			if want == 0 {
				want = tls.VersionTLS13
			}
			assert.Equal(t, tls.VersionName(want), tls.VersionName(r.client.Version))
			assert.Empty(t, r.client.NegotiatedProtocol)
		})
	}
}

func TestSessionResumption(t *testing.T) {
	ss := selfSigned(t)
	srv := tlsconfig.New(ss.GetCertificate)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			cli := ss.ClientConfig()
			cli.MaxVersion = v
			cli.ClientSessionCache = tls.NewLRUClientSessionCache(4)
			first := handshake(t, srv, cli)
			require.NoError(t, first.clientErr)
			require.NoError(t, first.serverErr)
			assert.False(t, first.client.DidResume)
			second := handshake(t, srv, cli)
			require.NoError(t, second.clientErr)
			require.NoError(t, second.serverErr)
			assert.True(t, second.client.DidResume, "second connection resumed the session")
		})
	}
}

// clientPKI is a CA that issues client certificates, as a host's SASL
// EXTERNAL setup would have.
type clientPKI struct {
	ca    *x509.Certificate
	key   *ecdsa.PrivateKey
	caPEM []byte
}

func newClientPKI(t *testing.T, name string) *clientPKI {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &clientPKI{ca: ca, key: key, caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

func (p *clientPKI) issue(t *testing.T, user string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: user},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, key.Public(), p.key)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestVerifyClientCertIfGiven(t *testing.T) {
	ss := selfSigned(t)
	users := newClientPKI(t, "users CA")
	strangers := newClientPKI(t, "other CA")
	caFile := filepath.Join(t.TempDir(), "clients.pem")
	writeFile(t, caFile, users.caPEM)
	pool, err := tlsconfig.LoadCertPool(caFile)
	require.NoError(t, err)

	srv := tlsconfig.New(ss.GetCertificate)
	tlsconfig.VerifyClientCertIfGiven(srv, pool)
	assert.Equal(t, tls.VerifyClientCertIfGiven, srv.ClientAuth)

	tests := []struct {
		name     string
		certs    []tls.Certificate
		ok       bool
		wantUser string
	}{
		{"no certificate", nil, true, ""},
		{"certificate from the CA", []tls.Certificate{users.issue(t, "alice@example.org")}, true, "alice@example.org"},
		{"certificate from another CA", []tls.Certificate{strangers.issue(t, "mallory@example.org")}, false, ""},
	}
	for _, tt := range tests {
		for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			t.Run(tt.name+"/"+tls.VersionName(v), func(t *testing.T) {
				cli := ss.ClientConfig()
				cli.MaxVersion = v
				// GetClientCertificate, unlike Certificates, sends the
				// certificate even when the server's list of acceptable
				// CAs does not name its issuer.
				cli.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
					if len(tt.certs) == 0 {
						return &tls.Certificate{}, nil
					}
					return &tt.certs[0], nil
				}
				r := handshake(t, srv, cli)
				if !tt.ok {
					assert.Error(t, r.serverErr, "server handshake")
					assert.Error(t, r.clientErr, "client sees the refusal")
					return
				}
				require.NoError(t, r.serverErr)
				require.NoError(t, r.clientErr)
				if tt.wantUser == "" {
					assert.Empty(t, r.server.PeerCertificates)
					assert.Empty(t, r.server.VerifiedChains)
					return
				}
				require.Len(t, r.server.VerifiedChains, 1)
				chain := r.server.VerifiedChains[0]
				assert.Equal(t, tt.wantUser, chain[0].Subject.CommonName)
				assert.True(t, chain[len(chain)-1].Equal(users.ca), "chain ends at the client CA")
			})
		}
	}
}

func TestLoadCertPoolErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	writeFile(t, notPEM, []byte("hello\n"))
	keyOnly := filepath.Join(dir, "key.pem")
	writeFile(t, keyOnly, selfSigned(t).KeyPEM)
	for name, file := range map[string]string{
		"missing file":    filepath.Join(dir, "missing.pem"),
		"not PEM":         notPEM,
		"no certificates": keyOnly,
	} {
		t.Run(name, func(t *testing.T) {
			pool, err := tlsconfig.LoadCertPool(file)
			assert.Error(t, err)
			assert.Nil(t, pool)
		})
	}
}

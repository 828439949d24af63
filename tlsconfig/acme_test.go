package tlsconfig_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/acme"

	"github.com/mailfront/mailfront/tlsconfig"
)

// newTestACME returns an ACME for domain whose cache holds cert, in
// autocert's format: the PEM private key, then the certificate chain, in a
// file named after the domain. The Manager's CA is a local server that
// fails the test if anything asks it for a certificate.
func newTestACME(t *testing.T, domain string, cert *tlsconfig.SelfSignedCert) (a *tlsconfig.ACME, cacheDir string) {
	t.Helper()
	dir := t.TempDir()
	a, err := tlsconfig.NewACME(dir, domain)
	require.NoError(t, err)
	ca := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("unexpected request to the ACME CA: %s %s", r.Method, r.URL)
		http.NotFound(w, r)
	}))
	t.Cleanup(ca.Close)
	a.Manager.Client = &acme.Client{DirectoryURL: ca.URL}
	if cert != nil {
		putCache(t, dir, domain, cert)
	}
	return a, dir
}

// putCache stores cert under key in an autocert.DirCache directory.
func putCache(t *testing.T, dir, key string, cert *tlsconfig.SelfSignedCert) {
	t.Helper()
	var buf bytes.Buffer
	buf.Write(cert.KeyPEM)
	buf.Write(cert.CertPEM)
	buf.Write(cert.CAPEM) // the chain, as a CA delivers it
	writeFile(t, filepath.Join(dir, key), buf.Bytes())
}

func TestNewACMEErrors(t *testing.T) {
	dir := t.TempDir()
	tests := map[string]struct {
		dir     string
		domains []string
	}{
		"no domain":       {dir, nil},
		"no cache":        {"", []string{"mail.example.org"}},
		"IP address":      {dir, []string{"mail.example.org", "192.0.2.1"}},
		"single label":    {dir, []string{"localhost"}},
		"empty domain":    {dir, []string{""}},
		"IPv6 address":    {dir, []string{"2001:db8::1"}},
		"dot only domain": {dir, []string{"."}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			a, err := tlsconfig.NewACME(tt.dir, tt.domains...)
			assert.Error(t, err)
			assert.Nil(t, a)
		})
	}
}

func TestACMETLSConfig(t *testing.T) {
	a, err := tlsconfig.NewACME(t.TempDir(), "mail.example.org", "imap.example.org")
	require.NoError(t, err)
	assert.Equal(t, "mail.example.org", a.DefaultName)
	require.NotNil(t, a.Manager)
	assert.NotNil(t, a.Manager.Cache)
	assert.NotNil(t, a.Manager.HostPolicy)
	assert.NoError(t, a.Manager.HostPolicy(t.Context(), "imap.example.org"))
	assert.Error(t, a.Manager.HostPolicy(t.Context(), "evil.example.com"))

	cfg := a.TLSConfig()
	assert.Equal(t, uint16(tls.VersionTLS12), cfg.MinVersion)
	assert.Nil(t, cfg.CipherSuites)
	assert.Empty(t, cfg.NextProtos, "no h2 or http/1.1 for ordinary clients")
	assert.NotNil(t, cfg.GetCertificate)
	assert.False(t, cfg.SessionTicketsDisabled)

	// The CA's TLS-ALPN-01 validation gets acme-tls/1 (RFC 8737 §3).
	require.NotNil(t, cfg.GetConfigForClient)
	ch, err := cfg.GetConfigForClient(&tls.ClientHelloInfo{ServerName: "mail.example.org", SupportedProtos: []string{"acme-tls/1"}})
	require.NoError(t, err)
	require.NotNil(t, ch)
	assert.Equal(t, []string{"acme-tls/1"}, ch.NextProtos)
	assert.Equal(t, uint16(tls.VersionTLS12), ch.MinVersion)
	assert.NotNil(t, ch.GetCertificate)
	for _, protos := range [][]string{nil, {"imap"}, {"imap", "acme-tls/1"}} {
		other, err := cfg.GetConfigForClient(&tls.ClientHelloInfo{ServerName: "mail.example.org", SupportedProtos: protos})
		assert.NoError(t, err)
		assert.Nil(t, other, "client offering %q: the config itself", protos)
	}
}

// TestACMEServesCachedCertificate serves a certificate placed in the
// autocert cache, to clients with and without SNI, without any network.
func TestACMEServesCachedCertificate(t *testing.T) {
	const domain = "mail.example.org"
	cert := selfSigned(t, domain)
	a, _ := newTestACME(t, domain, cert)
	srv := a.TLSConfig()

	verify := func(t *testing.T, s tls.ConnectionState) {
		t.Helper()
		leaf := peerLeaf(t, s)
		assert.True(t, isCert(leaf, cert), "got %v, want the cached certificate", leaf.DNSNames)
		_, err := leaf.Verify(x509.VerifyOptions{DNSName: domain, Roots: cert.CAPool()})
		assert.NoError(t, err)
	}

	tests := []struct {
		name       string
		serverName string // "" and IP literals: no SNI
		nextProtos []string
	}{
		{"SNI", domain, nil},
		{"SNI in other case", "Mail.Example.ORG", nil},
		{"no SNI", "", nil},
		{"no SNI, IP literal", "127.0.0.1", nil},
		{"name outside the host policy", "other.example.com", nil},
		{"single-label name", "mail", nil},
		{"mail client ALPN", domain, []string{"imap"}},
		{"mail client ALPN, no SNI", "", []string{"pop3", "smtp"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cli := &tls.Config{
				ServerName:         tt.serverName,
				NextProtos:         tt.nextProtos,
				InsecureSkipVerify: true, // verified below against domain
			}
			res := handshake(t, srv, cli)
			require.NoError(t, res.clientErr)
			require.NoError(t, res.serverErr)
			verify(t, res.client)
			assert.Empty(t, res.client.NegotiatedProtocol)
		})
	}

	t.Run("direct calls", func(t *testing.T) {
		// A ClientHelloInfo made by hand has no context; a HostPolicy
		// still gets one.
		policy := a.Manager.HostPolicy
		a.Manager.HostPolicy = func(ctx context.Context, host string) error {
			assert.NotNil(t, ctx)
			return policy(ctx, host)
		}
		defer func() { a.Manager.HostPolicy = policy }()
		for _, name := range []string{"", domain, "other.example.com"} {
			c, err := a.GetCertificate(&tls.ClientHelloInfo{
				ServerName:       name,
				SignatureSchemes: []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256},
				CipherSuites:     []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
			})
			require.NoError(t, err, "name %q", name)
			assert.True(t, isCert(leafOf(t, c), cert), "name %q", name)
		}
	})

	// X5 on the ACME configuration too.
	t.Run("TLS 1.1 client", func(t *testing.T) {
		res := handshake(t, srv, &tls.Config{
			ServerName: domain, InsecureSkipVerify: true,
			MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11,
		})
		assert.Error(t, res.serverErr)
		assert.ErrorContains(t, res.clientErr, "protocol version")
	})
}

// TestACMEChallenge checks a TLS-ALPN-01 validation reaching the mail port
// (RFC 8737): the hello offering only acme-tls/1 gets the challenge
// certificate and negotiates the protocol, and no default name is
// substituted for its name.
func TestACMEChallenge(t *testing.T) {
	const domain = "mail.example.org"
	cert, token := selfSigned(t, domain), selfSigned(t, domain)
	a, dir := newTestACME(t, domain, cert)
	srv := a.TLSConfig()

	// autocert keeps challenge certificates in memory and in the cache
	// under "<domain>+token".
	putCache(t, dir, domain+"+token", token)
	res := handshake(t, srv, &tls.Config{
		ServerName: domain, NextProtos: []string{"acme-tls/1"}, InsecureSkipVerify: true,
	})
	require.NoError(t, res.clientErr)
	require.NoError(t, res.serverErr)
	assert.Equal(t, "acme-tls/1", res.client.NegotiatedProtocol)
	assert.True(t, isCert(peerLeaf(t, res.client), token), "the challenge certificate")

	// An ordinary client still gets the ordinary certificate.
	res = handshake(t, srv, &tls.Config{ServerName: domain, InsecureSkipVerify: true})
	require.NoError(t, res.clientErr)
	assert.True(t, isCert(peerLeaf(t, res.client), cert))

	// A challenge for a name without a challenge certificate fails rather
	// than being answered with the default certificate.
	res = handshake(t, srv, &tls.Config{
		ServerName: "other.example.org", NextProtos: []string{"acme-tls/1"}, InsecureSkipVerify: true,
	})
	assert.Error(t, res.serverErr)
	assert.Error(t, res.clientErr)
}

// TestACMEHostNextProtos checks that protocols a host adds to a (cloned)
// configuration are negotiated as usual, and that challenges still work.
func TestACMEHostNextProtos(t *testing.T) {
	const domain = "mail.example.org"
	token := selfSigned(t, domain)
	a, dir := newTestACME(t, domain, selfSigned(t, domain))
	// A server clones its TLSConfig; the host set NextProtos.
	srv := a.TLSConfig().Clone()
	srv.NextProtos = []string{"imap"}
	putCache(t, dir, domain+"+token", token)

	tests := []struct {
		name   string
		client []string
		want   string
		ok     bool
	}{
		{"matching protocol", []string{"imap"}, "imap", true},
		{"no ALPN", nil, "", true},
		{"other protocol", []string{"smtp"}, "", false}, // ALPACA: refused
		{"TLS-ALPN-01 validation", []string{"acme-tls/1"}, "acme-tls/1", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := handshake(t, srv, &tls.Config{ServerName: domain, NextProtos: tt.client, InsecureSkipVerify: true})
			if !tt.ok {
				assert.Error(t, res.serverErr)
				assert.Error(t, res.clientErr)
				return
			}
			require.NoError(t, res.clientErr)
			require.NoError(t, res.serverErr)
			assert.Equal(t, tt.want, res.client.NegotiatedProtocol)
		})
	}
}

func TestACMEWithoutDefaultName(t *testing.T) {
	const domain = "mail.example.org"
	a, _ := newTestACME(t, domain, selfSigned(t, domain))
	a.DefaultName = ""
	res := handshake(t, a.TLSConfig(), &tls.Config{InsecureSkipVerify: true})
	assert.Error(t, res.serverErr, "no SNI and no default: autocert refuses")
	assert.Error(t, res.clientErr)

	var zero tlsconfig.ACME
	_, err := zero.GetCertificate(&tls.ClientHelloInfo{ServerName: domain})
	assert.Error(t, err)
}

func TestACMEHTTPHandler(t *testing.T) {
	const domain = "mail.example.org"
	a, _ := newTestACME(t, domain, nil)
	h := a.HTTPHandler(nil)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://"+domain+"/.well-known/acme-challenge/unknown", nil))
	assert.Equal(t, http.StatusNotFound, rec.Code, "unknown token")

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://evil.example.com/.well-known/acme-challenge/x", nil))
	assert.Equal(t, http.StatusForbidden, rec.Code, "host outside the policy")

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://"+domain+"/", nil))
	assert.Equal(t, http.StatusFound, rec.Code, "other requests redirect to HTTPS")
	assert.Equal(t, "https://"+domain+"/", rec.Header().Get("Location"))
}

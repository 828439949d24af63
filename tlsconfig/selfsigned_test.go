package tlsconfig_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/tlsconfig"
)

func TestSelfSignedDefaultHosts(t *testing.T) {
	ss := selfSigned(t)
	srv := tlsconfig.New(ss.GetCertificate)
	for _, host := range []string{"localhost", "127.0.0.1", "::1", "LocalHost"} {
		t.Run(host, func(t *testing.T) {
			cli := ss.ClientConfig()
			cli.ServerName = host // the connection itself goes to 127.0.0.1
			r := handshake(t, srv, cli)
			require.NoError(t, r.clientErr)
			require.NoError(t, r.serverErr)
			assert.True(t, isCert(peerLeaf(t, r.client), ss))
		})
	}
	t.Run("other name", func(t *testing.T) {
		cli := ss.ClientConfig()
		cli.ServerName = "mail.example.org"
		r := handshake(t, srv, cli)
		var hostErr x509.HostnameError
		assert.ErrorAs(t, r.clientErr, &hostErr)
	})
	t.Run("other CA", func(t *testing.T) {
		r := handshake(t, srv, selfSigned(t).ClientConfig())
		var authErr x509.UnknownAuthorityError
		assert.ErrorAs(t, r.clientErr, &authErr)
	})
}

func TestSelfSignedCertificate(t *testing.T) {
	before := time.Now()
	ss := selfSigned(t, "mail.example.org", "192.0.2.1", "*.example.net", "2001:db8::1", "fe80::1%eth0")
	leaf := ss.Certificate.Leaf
	require.NotNil(t, leaf, "Leaf is set")

	assert.Equal(t, []string{"mail.example.org", "*.example.net"}, leaf.DNSNames)
	wantIPs := []net.IP{net.ParseIP("192.0.2.1"), net.ParseIP("2001:db8::1"), net.ParseIP("fe80::1")}
	require.Len(t, leaf.IPAddresses, len(wantIPs))
	for i, ip := range wantIPs {
		assert.True(t, ip.Equal(leaf.IPAddresses[i]), "IP SAN %d: got %v, want %v", i, leaf.IPAddresses[i], ip)
	}
	assert.Equal(t, "mail.example.org", leaf.Subject.CommonName)

	// Keys: ECDSA P-256 for both.
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	require.True(t, ok, "leaf key: got %T, want ECDSA", leaf.PublicKey)
	assert.Equal(t, elliptic.P256(), pub.Curve)
	caPub, ok := ss.CA.PublicKey.(*ecdsa.PublicKey)
	require.True(t, ok, "CA key: got %T, want ECDSA", ss.CA.PublicKey)
	assert.Equal(t, elliptic.P256(), caPub.Curve)
	_, ok = ss.Certificate.PrivateKey.(*ecdsa.PrivateKey)
	assert.True(t, ok)

	// Validity: from a little before now, for about a year.
	assert.True(t, leaf.NotBefore.Before(before), "NotBefore %v allows for clock skew", leaf.NotBefore)
	assert.WithinDuration(t, before.Add(tlsconfig.SelfSignedValidity), leaf.NotAfter, time.Minute)

	// The CA signs the leaf, is a CA, and can sign nothing below the leaf.
	assert.True(t, ss.CA.IsCA)
	assert.True(t, ss.CA.MaxPathLenZero)
	assert.NoError(t, leaf.CheckSignatureFrom(ss.CA))
	assert.False(t, leaf.IsCA)
	assert.Equal(t, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, leaf.ExtKeyUsage)
	for _, name := range []string{"mail.example.org", "imap.example.net", "192.0.2.1", "2001:db8::1"} {
		_, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: ss.CAPool()})
		assert.NoError(t, err, name)
	}

	// The PEM forms are the same certificate and key.
	pair, err := tls.X509KeyPair(ss.CertPEM, ss.KeyPEM)
	require.NoError(t, err)
	assert.Equal(t, ss.Certificate.Certificate, pair.Certificate)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(ss.CAPEM))
	assert.True(t, pool.Equal(ss.CAPool()))

	// Two calls make two CAs.
	assert.False(t, ss.CA.Equal(selfSigned(t).CA))
}

func TestSelfSignedErrors(t *testing.T) {
	for _, hosts := range [][]string{{""}, {"localhost", " "}} {
		_, err := tlsconfig.SelfSigned(hosts...)
		assert.Error(t, err, "hosts %q", hosts)
	}
}

func TestWriteFiles(t *testing.T) {
	ss := selfSigned(t)
	dir := filepath.Join(t.TempDir(), "tls")
	require.NoError(t, ss.WriteFiles(dir))
	require.NoError(t, ss.WriteFiles(dir), "overwriting")

	for name, want := range map[string][]byte{
		tlsconfig.CAFile: ss.CAPEM, tlsconfig.CertFile: ss.CertPEM, tlsconfig.KeyFile: ss.KeyPEM,
	} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		assert.Equal(t, want, got, name)
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 3, "no temporary files left behind")
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(filepath.Join(dir, tlsconfig.KeyFile))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "key.pem mode")
		fi, err = os.Stat(filepath.Join(dir, tlsconfig.CAFile))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o644), fi.Mode().Perm(), "ca.pem mode")
	}

	// Other programs can use the files: a server loads cert.pem and
	// key.pem, a client trusts ca.pem.
	r, err := tlsconfig.NewReloader(tlsconfig.KeyPair{
		CertFile: filepath.Join(dir, tlsconfig.CertFile),
		KeyFile:  filepath.Join(dir, tlsconfig.KeyFile),
	})
	require.NoError(t, err)
	pool, err := tlsconfig.LoadCertPool(filepath.Join(dir, tlsconfig.CAFile))
	require.NoError(t, err)
	res := handshake(t, tlsconfig.New(r.GetCertificate), &tls.Config{RootCAs: pool, ServerName: "localhost"})
	require.NoError(t, res.clientErr)
	require.NoError(t, res.serverErr)
	assert.True(t, isCert(peerLeaf(t, res.client), ss))
}

func TestLoadOrCreateSelfSigned(t *testing.T) {
	hosts := []string{"localhost", "127.0.0.1", "::1", "mail.example.org"}

	t.Run("creates, then reuses", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data", "tls")
		first, err := tlsconfig.LoadOrCreateSelfSigned(dir, hosts...)
		require.NoError(t, err)
		got, err := os.ReadFile(filepath.Join(dir, tlsconfig.CAFile))
		require.NoError(t, err)
		assert.Equal(t, first.CAPEM, got)

		again, err := tlsconfig.LoadOrCreateSelfSigned(dir, hosts...)
		require.NoError(t, err)
		assert.Equal(t, first.CertPEM, again.CertPEM, "same certificate")
		assert.Equal(t, first.CAPEM, again.CAPEM)
		assert.True(t, first.CA.Equal(again.CA))
		assert.Equal(t, first.Certificate.Certificate, again.Certificate.Certificate)
		require.NotNil(t, again.Certificate.Leaf)

		subset, err := tlsconfig.LoadOrCreateSelfSigned(dir, "mail.example.org")
		require.NoError(t, err)
		assert.Equal(t, first.CertPEM, subset.CertPEM, "a certificate naming more hosts is reused")

		// The reused certificate works with its own client config.
		res := handshake(t, tlsconfig.New(again.GetCertificate), again.ClientConfig())
		require.NoError(t, res.clientErr)
		require.NoError(t, res.serverErr)
	})

	t.Run("default hosts", func(t *testing.T) {
		dir := t.TempDir()
		ss, err := tlsconfig.LoadOrCreateSelfSigned(dir)
		require.NoError(t, err)
		for _, h := range tlsconfig.DefaultSelfSignedHosts() {
			assert.NoError(t, ss.Certificate.Leaf.VerifyHostname(h), h)
		}
	})

	regenerated := []struct {
		name  string
		spoil func(t *testing.T, dir string)
		hosts []string
	}{
		{"host missing", func(*testing.T, string) {}, append(hosts[:len(hosts):len(hosts)], "imap.example.org")},
		{"ca.pem missing", func(t *testing.T, dir string) {
			require.NoError(t, os.Remove(filepath.Join(dir, tlsconfig.CAFile)))
		}, hosts},
		{"key.pem broken", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, tlsconfig.KeyFile), []byte("garbage"))
		}, hosts},
		{"key of another certificate", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, tlsconfig.KeyFile), selfSigned(t, hosts...).KeyPEM)
		}, hosts},
		{"ca.pem of another CA", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, tlsconfig.CAFile), selfSigned(t, hosts...).CAPEM)
		}, hosts},
		{"expired", func(t *testing.T, dir string) {
			// In a synctest bubble the clock starts at 2000-01-01, so
			// this certificate expired long ago.
			synctest.Test(t, func(t *testing.T) {
				old, err := tlsconfig.SelfSigned(hosts...)
				require.NoError(t, err)
				require.True(t, old.Certificate.Leaf.NotAfter.Before(time.Date(2002, 1, 1, 0, 0, 0, 0, time.UTC)))
				require.NoError(t, old.WriteFiles(dir))
			})
		}, hosts},
	}
	for _, tt := range regenerated {
		t.Run("regenerates when "+tt.name, func(t *testing.T) {
			dir := t.TempDir()
			first, err := tlsconfig.LoadOrCreateSelfSigned(dir, hosts...)
			require.NoError(t, err)
			tt.spoil(t, dir)

			got, err := tlsconfig.LoadOrCreateSelfSigned(dir, tt.hosts...)
			require.NoError(t, err)
			assert.NotEqual(t, first.CertPEM, got.CertPEM, "a new certificate")
			assert.False(t, first.CA.Equal(got.CA), "a new CA")
			for _, h := range tt.hosts {
				_, err := got.Certificate.Leaf.Verify(x509.VerifyOptions{DNSName: h, Roots: got.CAPool()})
				assert.NoError(t, err, h)
			}

			// The new files are on disk and reused next time.
			again, err := tlsconfig.LoadOrCreateSelfSigned(dir, tt.hosts...)
			require.NoError(t, err)
			assert.Equal(t, got.CertPEM, again.CertPEM)
			assert.Equal(t, got.CAPEM, again.CAPEM)
		})
	}

	t.Run("not yet valid", func(t *testing.T) {
		dir := t.TempDir()
		first, err := tlsconfig.LoadOrCreateSelfSigned(dir, hosts...)
		require.NoError(t, err)
		// Seen from 2000 (the synctest clock), today's certificate is not
		// valid yet.
		synctest.Test(t, func(t *testing.T) {
			got, err := tlsconfig.LoadOrCreateSelfSigned(dir, hosts...)
			require.NoError(t, err)
			assert.NotEqual(t, first.CertPEM, got.CertPEM)
		})
	})
}

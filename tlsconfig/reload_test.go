package tlsconfig_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/tlsconfig"
)

// overwrite writes c's PEM into the files of pair in place (same inodes) and
// moves their modification time forward, as an editor or `cat >` would,
// without waiting for the file system clock to tick.
func overwrite(t *testing.T, pair tlsconfig.KeyPair, certPEM, keyPEM []byte) {
	t.Helper()
	for _, f := range []struct {
		name string
		data []byte
	}{{pair.CertFile, certPEM}, {pair.KeyFile, keyPEM}} {
		fi, err := os.Stat(f.name)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(f.name, f.data, 0o600))
		mtime := fi.ModTime().Add(time.Minute)
		require.NoError(t, os.Chtimes(f.name, mtime, mtime))
	}
}

// served returns the leaf r serves to a client asking for name.
func served(t *testing.T, r *tlsconfig.Reloader, name string) *x509.Certificate {
	t.Helper()
	c, err := r.GetCertificate(&tls.ClientHelloInfo{ServerName: name})
	require.NoError(t, err)
	return leafOf(t, c)
}

func TestNewReloaderErrors(t *testing.T) {
	dir := t.TempDir()
	good := writePair(t, selfSigned(t), filepath.Join(dir, "good"))
	other := writePair(t, selfSigned(t), filepath.Join(dir, "other"))
	tests := map[string][]tlsconfig.KeyPair{
		"no pair":      nil,
		"missing cert": {{CertFile: filepath.Join(dir, "nope.pem"), KeyFile: good.KeyFile}},
		"missing key":  {{CertFile: good.CertFile, KeyFile: filepath.Join(dir, "nope.pem")}},
		"wrong key":    {{CertFile: good.CertFile, KeyFile: other.KeyFile}},
		"second bad":   {good, {CertFile: other.CertFile, KeyFile: good.KeyFile}},
	}
	for name, pairs := range tests {
		t.Run(name, func(t *testing.T) {
			r, err := tlsconfig.NewReloader(pairs...)
			assert.Error(t, err)
			assert.Nil(t, r)
		})
	}
}

func TestReloaderZeroValue(t *testing.T) {
	var r tlsconfig.Reloader
	c, err := r.GetCertificate(&tls.ClientHelloInfo{})
	assert.Error(t, err)
	assert.Nil(t, c)
	assert.Error(t, r.Reload())
	assert.Nil(t, r.Certificates())
}

// TestReloaderSNI checks the choice among several certificates.
func TestReloaderSNI(t *testing.T) {
	dir := t.TempDir()
	certs := []*tlsconfig.SelfSignedCert{
		selfSigned(t, "default.example.org"),
		selfSigned(t, "mail.example.org", "192.0.2.10"),
		selfSigned(t, "*.example.net"),
		selfSigned(t, "exact.example.net"),
		selfSigned(t, "localhost", "127.0.0.1"),
	}
	var pairs []tlsconfig.KeyPair
	for i, c := range certs {
		pairs = append(pairs, writePair(t, c, filepath.Join(dir, string(rune('a'+i)))))
	}
	r, err := tlsconfig.NewReloader(pairs...)
	require.NoError(t, err)
	require.Len(t, r.Certificates(), len(certs))
	assert.True(t, isCert(leafOf(t, r.Certificates()[0]), certs[0]), "default first")

	tests := []struct {
		serverName string
		want       int
	}{
		{"mail.example.org", 1},
		{"MAIL.Example.ORG.", 1},   // case and trailing dot
		{"imap.example.net", 2},    // wildcard
		{"exact.example.net", 3},   // exact beats the earlier wildcard
		{"a.b.example.net", 0},     // a wildcard covers one label only
		{"example.net", 0},         // and not the bare domain
		{"default.example.org", 0}, // the default by name
		{"unknown.example.com", 0}, // no match: default
		{"", 0},                    // no SNI, no connection: default
		{"192.0.2.10", 1},          // an IP literal sent as SNI anyway
		{"198.51.100.1", 0},        // unknown IP
		{"localhost", 4},
	}
	for _, tt := range tests {
		t.Run("name="+tt.serverName, func(t *testing.T) {
			got := served(t, r, tt.serverName)
			assert.True(t, isCert(got, certs[tt.want]), "got %v %v, want certificate %d",
				got.DNSNames, got.IPAddresses, tt.want)
		})
	}

	// Real handshakes, each client trusting only the CA of the
	// certificate it should get.
	srv := tlsconfig.New(r.GetCertificate)
	handshakes := []struct {
		name, serverName string
		want             int
	}{
		{"SNI", "mail.example.org", 1},
		{"wildcard SNI", "pop.example.net", 2},
		// A client dialling 127.0.0.1 sends no SNI: the certificate naming
		// the local address is chosen.
		{"IP literal", "127.0.0.1", 4},
	}
	for _, tt := range handshakes {
		t.Run("handshake/"+tt.name, func(t *testing.T) {
			cli := certs[tt.want].ClientConfig()
			cli.ServerName = tt.serverName
			res := handshake(t, srv, cli)
			require.NoError(t, res.clientErr)
			require.NoError(t, res.serverErr)
			assert.True(t, isCert(peerLeaf(t, res.client), certs[tt.want]))
		})
	}
}

func TestReloaderReload(t *testing.T) {
	a, b := selfSigned(t, "mail.example.org"), selfSigned(t, "mail.example.org")
	pair := writePair(t, a, t.TempDir())
	var logs bytes.Buffer
	r, err := tlsconfig.NewReloader(pair)
	require.NoError(t, err)
	r.CheckInterval = -1 // only Reload
	r.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	assert.True(t, isCert(served(t, r, "mail.example.org"), a))

	overwrite(t, pair, b.CertPEM, b.KeyPEM)
	assert.True(t, isCert(served(t, r, "mail.example.org"), a), "no automatic check")

	require.NoError(t, r.Reload())
	assert.NoError(t, r.LastError())
	assert.True(t, isCert(served(t, r, "mail.example.org"), b))
	assert.Contains(t, logs.String(), "certificates reloaded")

	// A handshake picks up the new certificate.
	cli := b.ClientConfig()
	cli.ServerName = "mail.example.org"
	res := handshake(t, tlsconfig.New(r.GetCertificate), cli)
	require.NoError(t, res.clientErr)
	require.NoError(t, res.serverErr)
}

// spoilers break the files of a pair in the ways a renewal goes wrong.
var spoilers = []struct {
	name  string
	spoil func(t *testing.T, pair tlsconfig.KeyPair, other *tlsconfig.SelfSignedCert)
}{
	{"garbage certificate", func(t *testing.T, p tlsconfig.KeyPair, o *tlsconfig.SelfSignedCert) {
		overwrite(t, p, []byte("-----BEGIN CERTIFICATE-----\nnot base64\n"), o.KeyPEM)
	}},
	{"empty key", func(t *testing.T, p tlsconfig.KeyPair, o *tlsconfig.SelfSignedCert) {
		overwrite(t, p, o.CertPEM, nil)
	}},
	{"key of another certificate", func(t *testing.T, p tlsconfig.KeyPair, o *tlsconfig.SelfSignedCert) {
		cur, err := os.ReadFile(p.KeyFile)
		require.NoError(t, err)
		overwrite(t, p, o.CertPEM, cur) // new certificate, old key
	}},
	{"certificate file removed", func(t *testing.T, p tlsconfig.KeyPair, _ *tlsconfig.SelfSignedCert) {
		require.NoError(t, os.Remove(p.CertFile))
	}},
}

func TestReloaderKeepsOldOnBrokenFiles(t *testing.T) {
	for _, sp := range spoilers {
		t.Run(sp.name, func(t *testing.T) {
			a, b := selfSigned(t, "mail.example.org"), selfSigned(t, "mail.example.org")
			pair := writePair(t, a, t.TempDir())
			r, err := tlsconfig.NewReloader(pair)
			require.NoError(t, err)
			r.CheckInterval = -1
			r.Logger = slog.New(slog.DiscardHandler)

			sp.spoil(t, pair, b)
			err = r.Reload()
			require.Error(t, err)
			assert.Equal(t, err, r.LastError())
			assert.True(t, isCert(served(t, r, "mail.example.org"), a), "the old certificate stays")

			cli := a.ClientConfig()
			cli.ServerName = "mail.example.org"
			res := handshake(t, tlsconfig.New(r.GetCertificate), cli)
			require.NoError(t, res.clientErr, "handshakes keep working")

			require.NoError(t, b.WriteFiles(filepath.Dir(pair.CertFile)))
			require.NoError(t, r.Reload())
			assert.NoError(t, r.LastError())
			assert.True(t, isCert(served(t, r, "mail.example.org"), b))
		})
	}
}

// TestReloaderAutomatic checks the stat-on-handshake path under a fake
// clock: changes are noticed once CheckInterval has passed, not before.
func TestReloaderAutomatic(t *testing.T) {
	const name = "mail.example.org"
	t.Run("changed files", func(t *testing.T) {
		dir := t.TempDir()
		synctest.Test(t, func(t *testing.T) {
			a, b, c := selfSigned(t, name), selfSigned(t, name), selfSigned(t, name)
			pair := writePair(t, a, dir)
			r, err := tlsconfig.NewReloader(pair)
			require.NoError(t, err)
			r.Logger = slog.New(slog.DiscardHandler)

			overwrite(t, pair, b.CertPEM, b.KeyPEM)
			assert.True(t, isCert(served(t, r, name), a), "within the interval: old certificate")
			time.Sleep(tlsconfig.DefaultCheckInterval - time.Nanosecond)
			assert.True(t, isCert(served(t, r, name), a), "still within the interval")
			time.Sleep(time.Nanosecond)
			assert.True(t, isCert(served(t, r, name), b), "interval passed: new certificate")

			// Files replaced by rename (as WriteFiles does) are noticed too.
			require.NoError(t, c.WriteFiles(dir))
			time.Sleep(tlsconfig.DefaultCheckInterval)
			assert.True(t, isCert(served(t, r, name), c))
			assert.NoError(t, r.LastError())
		})
	})

	t.Run("custom interval", func(t *testing.T) {
		dir := t.TempDir()
		synctest.Test(t, func(t *testing.T) {
			a, b := selfSigned(t, name), selfSigned(t, name)
			pair := writePair(t, a, dir)
			r, err := tlsconfig.NewReloader(pair)
			require.NoError(t, err)
			r.CheckInterval = time.Minute
			r.Logger = slog.New(slog.DiscardHandler)
			overwrite(t, pair, b.CertPEM, b.KeyPEM)
			time.Sleep(tlsconfig.DefaultCheckInterval)
			assert.True(t, isCert(served(t, r, name), a))
			time.Sleep(time.Minute)
			assert.True(t, isCert(served(t, r, name), b))
		})
	})

	t.Run("files moved away and back", func(t *testing.T) {
		dir := t.TempDir()
		synctest.Test(t, func(t *testing.T) {
			a := selfSigned(t, name)
			pair := writePair(t, a, dir)
			r, err := tlsconfig.NewReloader(pair)
			require.NoError(t, err)
			r.Logger = slog.New(slog.DiscardHandler)

			require.NoError(t, os.Rename(pair.KeyFile, pair.KeyFile+".bak"))
			time.Sleep(tlsconfig.DefaultCheckInterval)
			assert.True(t, isCert(served(t, r, name), a))
			assert.ErrorIs(t, r.LastError(), os.ErrNotExist)

			// The same file, same time stamps: healthy again.
			require.NoError(t, os.Rename(pair.KeyFile+".bak", pair.KeyFile))
			time.Sleep(tlsconfig.DefaultCheckInterval)
			assert.True(t, isCert(served(t, r, name), a))
			assert.NoError(t, r.LastError())
		})
	})

	for _, sp := range spoilers {
		t.Run("keeps old on "+sp.name, func(t *testing.T) {
			dir := t.TempDir()
			synctest.Test(t, func(t *testing.T) {
				a, b := selfSigned(t, name), selfSigned(t, name)
				pair := writePair(t, a, dir)
				var logs bytes.Buffer
				r, err := tlsconfig.NewReloader(pair)
				require.NoError(t, err)
				r.Logger = slog.New(slog.NewTextHandler(&logs, nil))

				sp.spoil(t, pair, b)
				for range 3 {
					time.Sleep(tlsconfig.DefaultCheckInterval)
					assert.True(t, isCert(served(t, r, name), a), "old certificate kept")
				}
				assert.Error(t, r.LastError())
				assert.Equal(t, 1, strings.Count(logs.String(), "level=WARN"),
					"one warning for a lasting failure, got:\n%s", logs.String())

				// Fixed files are picked up at the next check.
				require.NoError(t, b.WriteFiles(dir))
				time.Sleep(tlsconfig.DefaultCheckInterval)
				assert.True(t, isCert(served(t, r, name), b))
				assert.NoError(t, r.LastError())
				assert.Contains(t, logs.String(), "certificates reloaded")
			})
		})
	}
}

// TestReloaderConcurrent runs handshakes' GetCertificate calls against
// reloads, for the race detector.
func TestReloaderConcurrent(t *testing.T) {
	a, b := selfSigned(t, "mail.example.org"), selfSigned(t, "mail.example.org")
	dir := t.TempDir()
	pair := writePair(t, a, dir)
	r, err := tlsconfig.NewReloader(pair)
	require.NoError(t, err)
	r.CheckInterval = time.Nanosecond // check at nearly every call
	r.Logger = slog.New(slog.DiscardHandler)

	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				got := served(t, r, "mail.example.org")
				assert.True(t, isCert(got, a) || isCert(got, b))
			}
		})
	}
	for i := range 20 {
		c := a
		if i%2 == 0 {
			c = b
		}
		require.NoError(t, c.WriteFiles(dir))
		_ = r.Reload() // may fail when it reads between two renames
	}
	wg.Wait()
}

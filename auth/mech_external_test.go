package auth_test

import (
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"testing"

	"github.com/mailfront/mailfront/auth"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExternal(t *testing.T) {
	dir := newSASLDirectory()
	_, alice := newTestCert(t, elliptic.P256(), "alice")
	_, mallory := newTestCert(t, elliptic.P256(), "mallory")
	withChain := func(c *x509.Certificate) auth.SessionOptions {
		return auth.SessionOptions{Transport: auth.Transport{TLS: &tls.ConnectionState{
			VerifiedChains: [][]*x509.Certificate{{c}},
		}}}
	}

	t.Run("needs a verified client certificate", func(t *testing.T) {
		_, err := auth.NewServerSession(auth.External, dir, auth.SessionOptions{})
		assert.ErrorIs(t, err, auth.ErrUnsupportedMechanism, "no TLS")
		_, err = auth.NewServerSession(auth.External, dir, auth.SessionOptions{
			Transport: auth.Transport{TLS: &tls.ConnectionState{PeerCertificates: []*x509.Certificate{alice}}},
		})
		assert.ErrorIs(t, err, auth.ErrUnsupportedMechanism, "unverified certificate")
		_, err = auth.NewServerSession(auth.External, auth.AuthenticatorFunc(dir.Authenticate), withChain(alice))
		assert.ErrorIs(t, err, auth.ErrUnsupportedMechanism, "no CertificateMapper")
	})
	tests := []struct {
		name     string
		cert     *x509.Certificate
		authzid  []byte
		wantUser string
	}{
		{"empty authzid", alice, []byte{}, "alice@example.org"},
		{"own authzid", alice, []byte("alice@example.org"), "alice@example.org"},
		{"other authzid", alice, []byte("bob@example.org"), ""},
		{"unmapped certificate", mallory, []byte{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := saslStart(t, "external", dir, withChain(tt.cert))
			c, done, err := s.Next(t.Context(), nil)
			require.NoError(t, err)
			assert.False(t, done)
			assert.Equal(t, []byte{}, c)
			_, done, err = s.Next(t.Context(), tt.authzid)
			if tt.wantUser == "" {
				assert.ErrorIs(t, err, auth.ErrInvalidCredentials)
				assert.False(t, done)
				return
			}
			require.NoError(t, err)
			assert.True(t, done)
			assert.Equal(t, tt.wantUser, s.Identity().Username)
			assert.Equal(t, tt.wantUser, s.Username())
		})
	}
	t.Run("invalid authzid", func(t *testing.T) {
		s := saslStart(t, auth.External, dir, withChain(alice))
		_, _, err := s.Next(t.Context(), []byte("a\x00b"))
		assert.ErrorIs(t, err, auth.ErrMalformed)
	})
}

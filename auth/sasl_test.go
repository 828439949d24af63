package auth_test

import (
	"context"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mailfront/mailfront/auth"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// allMechanisms lists every mechanism with the options that enable it, and
// returns the tls-exporter binding data of the connection the -PLUS
// mechanisms run on, as its client sees it.
func allMechanisms(t testing.TB) (map[string]auth.SessionOptions, []byte) {
	_, alice := newTestCert(t, elliptic.P256(), "alice")
	ext := auth.SessionOptions{Transport: auth.Transport{TLS: &tls.ConnectionState{
		VerifiedChains: [][]*x509.Certificate{{alice}},
	}}}
	pair := handshake(t, tls.VersionTLS13, elliptic.P256())
	plus := auth.SessionOptions{Transport: auth.Transport{TLS: &pair.server, LocalCertificate: pair.cert}}
	m := map[string]auth.SessionOptions{auth.External: ext, auth.SCRAMSHA256Plus: plus, auth.SCRAMSHA1Plus: plus}
	for _, name := range []string{auth.Plain, auth.Login, auth.CRAMMD5, auth.SCRAMSHA1Name, auth.SCRAMSHA256Name,
		auth.OAuthBearer, auth.XOAuth2, auth.NTLM} {
		m[name] = auth.SessionOptions{}
	}
	cb, err := pair.client.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
	require.NoError(t, err)
	return m, cb
}

// saslLogin drives s through a complete, correct exchange for mech and
// returns the first error. cb is the tls-exporter data for -PLUS.
func saslLogin(t testing.TB, s auth.ServerSession, mech string, cb []byte) error {
	t.Helper()
	ctx := context.Background()
	next := func(r []byte) ([]byte, error) {
		c, done, err := s.Next(ctx, r)
		if err == nil && done {
			return nil, errDone
		}
		return c, err
	}
	finish := func(r []byte) error {
		_, done, err := s.Next(ctx, r)
		if err == nil && !done {
			return errors.New("not done")
		}
		return err
	}
	switch mech {
	case auth.Plain:
		return finish([]byte("\x00tim\x00tanstaaftanstaaf"))
	case auth.Login:
		if _, err := next([]byte("tim")); err != nil {
			return err
		}
		return finish([]byte("tanstaaftanstaaf"))
	case auth.CRAMMD5:
		c, err := next(nil)
		if err != nil {
			return err
		}
		return finish([]byte("tim " + cramDigest([]byte("tanstaaftanstaaf"), c)))
	case auth.SCRAMSHA1Name, auth.SCRAMSHA256Name, auth.SCRAMSHA1Plus, auth.SCRAMSHA256Plus:
		c := newSCRAMClient(strings.Contains(mech, "256"), "user", "pencil")
		if strings.HasSuffix(mech, "-PLUS") {
			c.gs2Flag = "p=tls-exporter"
			c.cbData = cb
		}
		sf, err := next(c.first())
		if err != nil {
			return err
		}
		final, err := c.final(sf)
		if err != nil {
			return err
		}
		if _, err := next(final); err != nil {
			return err
		}
		return finish([]byte{})
	case auth.OAuthBearer:
		return finish(oauthBearerMsg("alice@example.org", rfc7628Token))
	case auth.XOAuth2:
		return finish(xoauth2Msg("alice@example.org", rfc7628Token))
	case auth.External:
		return finish([]byte{})
	case auth.NTLM:
		c, err := next(ntlmNegotiateMsg(tDefaults))
		if err != nil {
			return err
		}
		ci := parseChallenge(t, c)
		nt := ntlmv2Response("tanstaaftanstaaf", "tim", "", ci.challenge, ntlmBlob(ci.av[7], []byte("clientch"), ci.targetInfo))
		return finish(ntlmAuthenticateMsg(tDefaults, nil, nt, "", "tim", "WS"))
	}
	return fmt.Errorf("no script for %s", mech)
}

var errDone = errors.New("done too early")

// claimedUser is the user saslLogin claims for each mechanism.
func claimedUser(mech string) string {
	switch {
	case strings.HasPrefix(mech, "SCRAM"):
		return "user"
	case mech == auth.OAuthBearer, mech == auth.XOAuth2:
		return "alice@example.org"
	case mech == auth.External:
		return ""
	}
	return "tim"
}

func TestNewServerSession(t *testing.T) {
	dir := newSASLDirectory()
	for _, name := range []string{"", "FOO", "SCRAM-SHA-512", "GSSAPI", "DIGEST-MD5", "PLAIN "} {
		_, err := auth.NewServerSession(name, dir, auth.SessionOptions{})
		assert.ErrorIs(t, err, auth.ErrUnsupportedMechanism, "%q", name)
	}
	_, err := auth.NewServerSession(auth.Plain, nil, auth.SessionOptions{})
	assert.ErrorIs(t, err, auth.ErrUnsupportedMechanism, "nil Authenticator")

	plainOnly := auth.AuthenticatorFunc(dir.Authenticate)
	for _, name := range []string{auth.CRAMMD5, auth.SCRAMSHA256Name, auth.NTLM, auth.OAuthBearer, auth.XOAuth2, auth.External} {
		_, err := auth.NewServerSession(name, plainOnly, auth.SessionOptions{})
		assert.ErrorIs(t, err, auth.ErrUnsupportedMechanism, "%s without its store", name)
	}
	sha1Only := newSASLDirectory()
	sha1Only.hashes = []auth.SCRAMHash{auth.SCRAMSHA1}
	_, err = auth.NewServerSession(auth.SCRAMSHA256Name, sha1Only, auth.SessionOptions{})
	assert.ErrorIs(t, err, auth.ErrUnsupportedMechanism)

	for _, name := range []string{"plain", "Login", "cram-md5", "scram-sha-1", "ntlm", "xoauth2"} {
		_, err := auth.NewServerSession(name, dir, auth.SessionOptions{})
		assert.NoError(t, err, "%q is case-insensitive", name)
	}
}

func TestEveryMechanism(t *testing.T) {
	mechs, cb := allMechanisms(t)
	for mech, opts := range mechs {
		t.Run(mech, func(t *testing.T) {
			t.Run("login", func(t *testing.T) {
				dir := newSASLDirectory()
				s := saslStart(t, mech, dir, opts)
				require.NoError(t, saslLogin(t, s, mech, cb))
				assert.NotEmpty(t, s.Identity().Username)
				if u := claimedUser(mech); u != "" {
					assert.Equal(t, u, s.Username())
				}
				_, done, err := s.Next(t.Context(), []byte{})
				assert.ErrorIs(t, err, auth.ErrMalformed, "a step after done")
				assert.False(t, done)
				assert.NotEmpty(t, s.Identity().Username, "the identity stays")
			})
			t.Run("admit refuses before the directory is asked", func(t *testing.T) {
				dir := newSASLDirectory()
				var admitted []string
				o := opts
				o.Admit = func(ctx context.Context, user string) error {
					admitted = append(admitted, user)
					return auth.ErrThrottled
				}
				s := saslStart(t, mech, dir, o)
				err := saslLogin(t, s, mech, cb)
				assert.ErrorIs(t, err, auth.ErrThrottled)
				assert.Zero(t, dir.calls.Load(), "the directory was asked")
				assert.Equal(t, []string{claimedUser(mech)}, admitted)
				assert.Equal(t, auth.Identity{}, s.Identity())
				_, _, err = s.Next(t.Context(), []byte{})
				assert.ErrorIs(t, err, auth.ErrMalformed, "a step after the failure")
			})
			t.Run("admit accepts", func(t *testing.T) {
				o := opts
				o.Admit = func(ctx context.Context, user string) error { return nil }
				s := saslStart(t, mech, newSASLDirectory(), o)
				require.NoError(t, saslLogin(t, s, mech, cb))
			})
			t.Run("unavailable passes through", func(t *testing.T) {
				dir := newSASLDirectory()
				dir.unavailable = true
				s := saslStart(t, mech, dir, opts)
				err := saslLogin(t, s, mech, cb)
				assert.ErrorIs(t, err, auth.ErrUnavailable)
				assert.NotErrorIs(t, err, auth.ErrInvalidCredentials)
				assert.Equal(t, auth.Identity{}, s.Identity())
			})
			t.Run("oversized response", func(t *testing.T) {
				dir := newSASLDirectory()
				s := saslStart(t, mech, dir, opts)
				_, done, err := s.Next(t.Context(), make([]byte, 1<<20))
				assert.ErrorIs(t, err, auth.ErrMalformed)
				assert.False(t, done)
				assert.Zero(t, dir.calls.Load())
			})
			t.Run("endless rounds", func(t *testing.T) {
				s := saslStart(t, mech, newSASLDirectory(), opts)
				var err error
				steps := 0
				for ; steps < 10000 && err == nil; steps++ {
					var done bool
					_, done, err = s.Next(t.Context(), []byte{})
					if mech == auth.External && done {
						t.Skip("EXTERNAL with an empty authzid completes at once")
					}
					require.False(t, done)
				}
				assert.Error(t, err)
				assert.LessOrEqual(t, steps, 5)
			})
		})
	}
}

func TestIdentityBeforeDone(t *testing.T) {
	s := saslStart(t, auth.Login, newSASLDirectory(), auth.SessionOptions{})
	_, _, err := s.Next(t.Context(), []byte("tim"))
	require.NoError(t, err)
	assert.Equal(t, auth.Identity{}, s.Identity())
}

func TestIdentityFallsBackToTheClaimedUser(t *testing.T) {
	// An Authenticator that accepts without naming the user.
	a := auth.AuthenticatorFunc(func(ctx context.Context, u, p string) (auth.Identity, error) {
		return auth.Identity{}, nil
	})
	s := saslStart(t, auth.Plain, a, auth.SessionOptions{})
	_, done, err := s.Next(t.Context(), []byte("\x00tim\x00pw"))
	require.NoError(t, err)
	assert.True(t, done)
	assert.Equal(t, "tim", s.Identity().Username)
}

// anonymousVerifier accepts every token without saying whose it is.
type anonymousVerifier struct{ auth.AuthenticatorFunc }

func (anonymousVerifier) VerifyToken(ctx context.Context, username, token string) (auth.Identity, error) {
	return auth.Identity{}, nil
}

func TestNoIdentityRefused(t *testing.T) {
	s := saslStart(t, auth.OAuthBearer, anonymousVerifier{}, auth.SessionOptions{})
	_, done, err := s.Next(t.Context(), oauthBearerMsg("", rfc7628Token))
	assert.ErrorIs(t, err, auth.ErrInvalidCredentials, "never log in as nobody")
	assert.False(t, done)
	assert.Equal(t, auth.Identity{}, s.Identity())
}

package auth_test

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/hex"
	"regexp"
	"testing"

	"github.com/mailfront/mailfront/auth"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// RFC 2195 §2.
const (
	rfc2195Challenge = "<1896.697170952@postoffice.reston.mci.net>"
	rfc2195Response  = "tim b913a602c7eda7a495b4e6e7334d3890"
)

func TestCRAMMD5RFC2195(t *testing.T) {
	s, err := auth.NewServerSessionWithHooks(auth.CRAMMD5, newSASLDirectory(), auth.SessionOptions{},
		auth.SessionHooks{CRAMChallenge: rfc2195Challenge})
	require.NoError(t, err)
	c, done, err := s.Next(t.Context(), nil)
	require.NoError(t, err)
	assert.False(t, done)
	assert.Equal(t, rfc2195Challenge, string(c))
	_, done, err = s.Next(t.Context(), []byte(rfc2195Response))
	require.NoError(t, err)
	assert.True(t, done)
	assert.Equal(t, "tim", s.Identity().Username)
}

func cramDigest(secret, challenge []byte) string {
	m := hmac.New(md5.New, secret)
	m.Write(challenge)
	return hex.EncodeToString(m.Sum(nil))
}

func TestCRAMMD5Challenge(t *testing.T) {
	s := saslStart(t, auth.CRAMMD5, newSASLDirectory(), auth.SessionOptions{
		Transport: auth.Transport{ServerName: "mail.example.org"},
	})
	c, _, err := s.Next(t.Context(), nil)
	require.NoError(t, err)
	assert.Regexp(t, regexp.MustCompile(`^<[0-9]+\.[0-9]+@mail\.example\.org>$`), string(c))

	s2 := saslStart(t, auth.CRAMMD5, newSASLDirectory(), auth.SessionOptions{})
	c2, _, err := s2.Next(t.Context(), nil)
	require.NoError(t, err)
	assert.Regexp(t, `@localhost>$`, string(c2))
	assert.NotEqual(t, c, c2, "challenges are fresh")

	_, done, err := s.Next(t.Context(), []byte("tim "+cramDigest([]byte("tanstaaftanstaaf"), c)))
	require.NoError(t, err)
	assert.True(t, done)
}

func TestCRAMMD5Failures(t *testing.T) {
	hooks := auth.SessionHooks{CRAMChallenge: rfc2195Challenge}
	run := func(t *testing.T, resp string) error {
		s, err := auth.NewServerSessionWithHooks(auth.CRAMMD5, newSASLDirectory(), auth.SessionOptions{}, hooks)
		require.NoError(t, err)
		_, _, err = saslRun(t, s, nil, []byte(resp))
		assert.Equal(t, auth.Identity{}, s.Identity())
		return err
	}
	wrong := run(t, "tim "+cramDigest([]byte("wrong"), []byte(rfc2195Challenge)))
	unknown := run(t, "nosuch "+cramDigest([]byte("tanstaaftanstaaf"), []byte(rfc2195Challenge)))
	assert.ErrorIs(t, wrong, auth.ErrInvalidCredentials)
	assert.ErrorIs(t, unknown, auth.ErrInvalidCredentials)
	assert.Equal(t, wrong.Error(), unknown.Error(), "unknown user and wrong secret alike")

	for name, resp := range map[string]string{
		"no space":     "timb913a602c7eda7a495b4e6e7334d3890",
		"short digest": "tim b913a602",
		"not hex":      "tim z913a602c7eda7a495b4e6e7334d3890",
		"empty user":   " b913a602c7eda7a495b4e6e7334d3890",
		"bad UTF-8":    "t\xffm b913a602c7eda7a495b4e6e7334d3890",
	} {
		t.Run(name, func(t *testing.T) {
			assert.ErrorIs(t, run(t, resp), auth.ErrMalformed)
		})
	}

	t.Run("initial response refused", func(t *testing.T) {
		s := saslStart(t, auth.CRAMMD5, newSASLDirectory(), auth.SessionOptions{})
		_, _, err := s.Next(t.Context(), []byte(rfc2195Response))
		assert.ErrorIs(t, err, auth.ErrMalformed)
	})
}

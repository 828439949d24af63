package auth_test

import (
	"strings"
	"testing"

	"github.com/mailfront/mailfront/auth"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The token of RFC 7628 §4.1.
const rfc7628Token = "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="

func oauthBearerMsg(authzid, token string) []byte {
	gs2 := "n,,"
	if authzid != "" {
		gs2 = "n,a=" + authzid + ","
	}
	return []byte(gs2 + "\x01host=server.example.com\x01port=143\x01auth=Bearer " + token + "\x01\x01")
}

func xoauth2Msg(user, token string) []byte {
	return []byte("user=" + user + "\x01auth=Bearer " + token + "\x01\x01")
}

func TestOAuthBearer(t *testing.T) {
	dir := newSASLDirectory()
	t.Run("RFC 7628 §4.1", func(t *testing.T) {
		s := saslStart(t, auth.OAuthBearer, dir, auth.SessionOptions{})
		msg := "n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer " + rfc7628Token + "\x01\x01"
		_, done, err := s.Next(t.Context(), []byte(msg))
		// The token belongs to alice here, not to user@example.com.
		require.NoError(t, err)
		assert.False(t, done, "error challenge first")
		assert.Equal(t, "user@example.com", s.Username())
	})
	t.Run("success without authzid", func(t *testing.T) {
		s := saslStart(t, auth.OAuthBearer, dir, auth.SessionOptions{})
		_, done, err := s.Next(t.Context(), oauthBearerMsg("", rfc7628Token))
		require.NoError(t, err)
		assert.True(t, done)
		assert.Equal(t, "alice@example.org", s.Identity().Username)
	})
	t.Run("success with authzid, no initial response", func(t *testing.T) {
		s := saslStart(t, auth.OAuthBearer, dir, auth.SessionOptions{})
		c, _, err := s.Next(t.Context(), nil)
		require.NoError(t, err)
		assert.Equal(t, []byte{}, c)
		_, done, err := s.Next(t.Context(), oauthBearerMsg("alice@example.org", rfc7628Token))
		require.NoError(t, err)
		assert.True(t, done)
		assert.Equal(t, "alice@example.org", s.Username())
	})
	t.Run("rejected token: error challenge, then failure", func(t *testing.T) {
		s := saslStart(t, auth.OAuthBearer, dir, auth.SessionOptions{})
		c, done, err := s.Next(t.Context(), oauthBearerMsg("", "expired"))
		require.NoError(t, err)
		assert.False(t, done)
		assert.JSONEq(t, `{"status":"invalid_token","schemes":"bearer"}`, string(c))
		_, done, err = s.Next(t.Context(), []byte{1})
		assert.ErrorIs(t, err, auth.ErrInvalidCredentials)
		assert.False(t, done)
		assert.Equal(t, auth.Identity{}, s.Identity())
		_, _, err = s.Next(t.Context(), []byte{1})
		assert.ErrorIs(t, err, auth.ErrMalformed, "no step after the end")
	})
	t.Run("8 KiB token", func(t *testing.T) {
		d := newSASLDirectory()
		tok := strings.Repeat("A", 8192)
		d.tokens[tok] = "alice@example.org"
		s := saslStart(t, auth.OAuthBearer, d, auth.SessionOptions{})
		_, done, err := s.Next(t.Context(), oauthBearerMsg("", tok))
		require.NoError(t, err)
		assert.True(t, done)
	})
	t.Run("oversized", func(t *testing.T) {
		s := saslStart(t, auth.OAuthBearer, dir, auth.SessionOptions{})
		_, _, err := s.Next(t.Context(), oauthBearerMsg("", strings.Repeat("A", 17<<10)))
		assert.ErrorIs(t, err, auth.ErrMalformed)
	})
	for name, msg := range map[string]string{
		"no gs2 header":    "\x01auth=Bearer x\x01\x01",
		"channel binding":  "p=tls-exporter,,\x01auth=Bearer x\x01\x01",
		"missing auth":     "n,,\x01host=x\x01\x01",
		"basic scheme":     "n,,\x01auth=Basic eDp5\x01\x01",
		"bad token chars":  "n,,\x01auth=Bearer a b\x01\x01",
		"empty token":      "n,,\x01auth=Bearer \x01\x01",
		"unterminated":     "n,,\x01auth=Bearer x\x01",
		"repeated auth":    "n,,\x01auth=Bearer x\x01auth=Bearer y\x01\x01",
		"bad key":          "n,,\x01au th=Bearer x\x01\x01",
		"control in value": "n,,\x01host=a\x00b\x01auth=Bearer x\x01\x01",
		"bad authzid":      "n,u=x,\x01auth=Bearer x\x01\x01",
		"lone kvsep":       "\x01",
	} {
		t.Run("malformed/"+name, func(t *testing.T) {
			d := newSASLDirectory()
			s := saslStart(t, auth.OAuthBearer, d, auth.SessionOptions{})
			_, _, err := s.Next(t.Context(), []byte(msg))
			assert.ErrorIs(t, err, auth.ErrMalformed)
			assert.Zero(t, d.calls.Load())
		})
	}
}

func TestXOAuth2(t *testing.T) {
	dir := newSASLDirectory()
	t.Run("success", func(t *testing.T) {
		s := saslStart(t, auth.XOAuth2, dir, auth.SessionOptions{})
		_, done, err := s.Next(t.Context(), xoauth2Msg("alice@example.org", rfc7628Token))
		require.NoError(t, err)
		assert.True(t, done)
		assert.Equal(t, "alice@example.org", s.Identity().Username)
	})
	t.Run("token of another user", func(t *testing.T) {
		s := saslStart(t, auth.XOAuth2, dir, auth.SessionOptions{})
		c, done, err := s.Next(t.Context(), xoauth2Msg("bob@example.org", rfc7628Token))
		require.NoError(t, err)
		assert.False(t, done)
		assert.JSONEq(t, `{"status":"401","schemes":"Bearer"}`, string(c))
		_, done, err = s.Next(t.Context(), []byte{})
		assert.ErrorIs(t, err, auth.ErrInvalidCredentials)
		assert.False(t, done)
		assert.Equal(t, auth.Identity{}, s.Identity())
	})
	t.Run("8 KiB token", func(t *testing.T) {
		d := newSASLDirectory()
		tok := strings.Repeat("b", 8192)
		d.tokens[tok] = "alice@example.org"
		s := saslStart(t, auth.XOAuth2, d, auth.SessionOptions{})
		_, done, err := s.Next(t.Context(), xoauth2Msg("alice@example.org", tok))
		require.NoError(t, err)
		assert.True(t, done)
	})
	for name, msg := range map[string]string{
		"no terminator":   "user=a\x01auth=Bearer x",
		"missing user":    "auth=Bearer x\x01\x01",
		"empty user":      "user=\x01auth=Bearer x\x01\x01",
		"swapped":         "auth=Bearer x\x01user=a\x01\x01",
		"extra pair":      "user=a\x01auth=Bearer x\x01host=y\x01\x01",
		"not bearer":      "user=a\x01auth=x\x01\x01",
		"invalid UTF-8":   "user=\xff\x01auth=Bearer x\x01\x01",
		"empty":           "",
		"bearer no space": "user=a\x01auth=Bearerx\x01\x01",
	} {
		t.Run("malformed/"+name, func(t *testing.T) {
			d := newSASLDirectory()
			s := saslStart(t, auth.XOAuth2, d, auth.SessionOptions{})
			_, _, err := s.Next(t.Context(), []byte(msg))
			assert.ErrorIs(t, err, auth.ErrMalformed)
			assert.Zero(t, d.calls.Load())
		})
	}
}

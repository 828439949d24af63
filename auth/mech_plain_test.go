package auth_test

import (
	"strings"
	"testing"

	"github.com/mailfront/mailfront/auth"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPlainRFC4616Examples(t *testing.T) {
	dir := newSASLDirectory()
	tests := []struct {
		name     string
		msg      string
		wantUser string
	}{
		// RFC 4616 §4: "tim" logs in with his own identity.
		{"own identity", "\x00tim\x00tanstaaftanstaaf", "tim"},
		// RFC 4616 §4: "Kurt" authenticates and acts as "Ursel".
		{"act as another", "Ursel\x00Kurt\x00xipj3plmq", "Ursel"},
		{"authzid equal to authcid", "tim\x00tim\x00tanstaaftanstaaf", "tim"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := saslStart(t, auth.Plain, dir, auth.SessionOptions{})
			c, done, err := s.Next(t.Context(), []byte(tt.msg))
			require.NoError(t, err)
			assert.True(t, done)
			assert.Nil(t, c)
			assert.Equal(t, tt.wantUser, s.Identity().Username)
		})
	}
}

func TestPlainNoInitialResponse(t *testing.T) {
	s := saslStart(t, "plain", newSASLDirectory(), auth.SessionOptions{})
	c, done, err := s.Next(t.Context(), nil)
	require.NoError(t, err)
	assert.False(t, done)
	assert.Equal(t, []byte{}, c, "empty challenge first")
	assert.Empty(t, s.Username())
	_, done, err = s.Next(t.Context(), []byte("\x00tim\x00tanstaaftanstaaf"))
	require.NoError(t, err)
	assert.True(t, done)
	assert.Equal(t, "tim", s.Username())
}

func TestPlainAuthzidWithoutAuthorizer(t *testing.T) {
	dir := newSASLDirectory()
	noAuthz := auth.AuthenticatorFunc(dir.Authenticate)
	tests := []struct {
		name string
		msg  string
		ok   bool
	}{
		{"empty authzid", "\x00Kurt\x00xipj3plmq", true},
		{"same authzid", "Kurt\x00Kurt\x00xipj3plmq", true},
		{"other authzid", "Ursel\x00Kurt\x00xipj3plmq", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := saslStart(t, auth.Plain, noAuthz, auth.SessionOptions{})
			_, done, err := s.Next(t.Context(), []byte(tt.msg))
			if tt.ok {
				require.NoError(t, err)
				assert.True(t, done)
				assert.Equal(t, "Kurt", s.Identity().Username)
				return
			}
			assert.ErrorIs(t, err, auth.ErrInvalidCredentials)
			assert.False(t, done)
			assert.Empty(t, s.Identity().Username)
		})
	}
}

func TestPlainAuthorizerRefuses(t *testing.T) {
	s := saslStart(t, auth.Plain, newSASLDirectory(), auth.SessionOptions{})
	_, done, err := s.Next(t.Context(), []byte("root\x00Kurt\x00xipj3plmq"))
	assert.ErrorIs(t, err, auth.ErrInvalidCredentials)
	assert.False(t, done)
	assert.Equal(t, auth.Identity{}, s.Identity())
}

func TestPlainWrongPasswordAndUnknownUserAlike(t *testing.T) {
	dir := newSASLDirectory()
	errOf := func(msg string) error {
		s := saslStart(t, auth.Plain, dir, auth.SessionOptions{})
		_, done, err := s.Next(t.Context(), []byte(msg))
		assert.False(t, done)
		return err
	}
	wrong := errOf("\x00tim\x00wrong")
	unknown := errOf("\x00nosuchuser\x00wrong")
	assert.ErrorIs(t, wrong, auth.ErrInvalidCredentials)
	assert.ErrorIs(t, unknown, auth.ErrInvalidCredentials)
	assert.Equal(t, wrong.Error(), unknown.Error())
}

func TestPlainMalformed(t *testing.T) {
	tests := []struct {
		name string
		msg  string
	}{
		{"empty", ""},
		{"no NUL", "timtanstaaftanstaaf"},
		{"one NUL", "tim\x00tanstaaftanstaaf"},
		{"three NULs", "\x00tim\x00tanstaaf\x00tanstaaf"},
		{"empty authcid", "\x00\x00tanstaaftanstaaf"},
		{"empty password", "\x00tim\x00"},
		{"invalid UTF-8 user", "\x00t\xffim\x00tanstaaftanstaaf"},
		{"invalid UTF-8 password", "\x00tim\x00tanstaaf\xc3"},
		{"invalid UTF-8 authzid", "\xfe\x00tim\x00tanstaaftanstaaf"},
		{"control character in user", "\x00ti\nm\x00tanstaaftanstaaf"},
		{"long user", "\x00" + strings.Repeat("u", 1025) + "\x00pw"},
		{"long password", "\x00tim\x00" + strings.Repeat("p", 4097)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := newSASLDirectory()
			s := saslStart(t, auth.Plain, dir, auth.SessionOptions{})
			_, done, err := s.Next(t.Context(), []byte(tt.msg))
			assert.ErrorIs(t, err, auth.ErrMalformed)
			assert.False(t, done)
			assert.Zero(t, dir.calls.Load(), "the directory must not be asked")
		})
	}
}

func TestLoginExchange(t *testing.T) {
	dir := newSASLDirectory()
	t.Run("without initial response", func(t *testing.T) {
		s := saslStart(t, auth.Login, dir, auth.SessionOptions{})
		c, done, err := s.Next(t.Context(), nil)
		require.NoError(t, err)
		assert.False(t, done)
		assert.Equal(t, "Username:", string(c))
		c, done, err = s.Next(t.Context(), []byte("tim"))
		require.NoError(t, err)
		assert.False(t, done)
		assert.Equal(t, "Password:", string(c))
		assert.Equal(t, "tim", s.Username(), "username known before the password")
		_, done, err = s.Next(t.Context(), []byte("tanstaaftanstaaf"))
		require.NoError(t, err)
		assert.True(t, done)
		assert.Equal(t, "tim", s.Identity().Username)
	})
	t.Run("username as initial response", func(t *testing.T) {
		s := saslStart(t, auth.Login, dir, auth.SessionOptions{})
		c, _, err := s.Next(t.Context(), []byte("tim"))
		require.NoError(t, err)
		assert.Equal(t, "Password:", string(c))
		_, done, err := s.Next(t.Context(), []byte("tanstaaftanstaaf"))
		require.NoError(t, err)
		assert.True(t, done)
	})
	t.Run("empty initial response asks for the username", func(t *testing.T) {
		s := saslStart(t, auth.Login, dir, auth.SessionOptions{})
		c, _, err := s.Next(t.Context(), []byte{})
		require.NoError(t, err)
		assert.Equal(t, "Username:", string(c))
	})
	t.Run("wrong password", func(t *testing.T) {
		s := saslStart(t, auth.Login, dir, auth.SessionOptions{})
		_, _, err := saslRun(t, s, []byte("tim"), []byte("nope"))
		assert.ErrorIs(t, err, auth.ErrInvalidCredentials)
		assert.Equal(t, auth.Identity{}, s.Identity())
	})
	t.Run("empty username", func(t *testing.T) {
		s := saslStart(t, auth.Login, dir, auth.SessionOptions{})
		_, _, err := saslRun(t, s, nil, []byte{})
		assert.ErrorIs(t, err, auth.ErrMalformed)
	})
	t.Run("invalid UTF-8 password", func(t *testing.T) {
		s := saslStart(t, auth.Login, dir, auth.SessionOptions{})
		_, _, err := saslRun(t, s, []byte("tim"), []byte("\xff\xfe"))
		assert.ErrorIs(t, err, auth.ErrMalformed)
	})
}

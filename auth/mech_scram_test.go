package auth_test

import (
	"context"
	"crypto/elliptic"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/mailfront/mailfront/auth"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSCRAMPublishedVectors(t *testing.T) {
	tests := []struct {
		name, mech, snonce                                 string
		clientFirst, serverFirst, clientFinal, serverFinal string
	}{
		{
			name: "RFC 5802 §5", mech: auth.SCRAMSHA1Name, snonce: "3rfcNHYJY1ZVvWVs7j",
			clientFirst: "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
			serverFirst: "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
			clientFinal: "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
			serverFinal: "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
		},
		{
			name: "RFC 7677 §3", mech: auth.SCRAMSHA256Name, snonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
			clientFirst: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
			serverFirst: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
			clientFinal: "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
			serverFinal: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := auth.NewServerSessionWithHooks(tt.mech, newSASLDirectory(), auth.SessionOptions{},
				auth.SessionHooks{SCRAMNonce: tt.snonce})
			require.NoError(t, err)
			c, done, err := s.Next(t.Context(), []byte(tt.clientFirst))
			require.NoError(t, err)
			assert.False(t, done)
			assert.Equal(t, tt.serverFirst, string(c))
			assert.Equal(t, "user", s.Username())
			c, done, err = s.Next(t.Context(), []byte(tt.clientFinal))
			require.NoError(t, err)
			assert.False(t, done, "the server signature is a challenge")
			assert.Equal(t, tt.serverFinal, string(c))
			c, done, err = s.Next(t.Context(), []byte{})
			require.NoError(t, err)
			assert.True(t, done)
			assert.Nil(t, c)
			assert.Equal(t, "user", s.Identity().Username)
		})
	}
}

// scramExchange runs a whole exchange with c against a new session and
// returns the error of the first failing step.
func scramExchange(t testing.TB, mech string, a auth.Authenticator, opts auth.SessionOptions, c *scramClient) (auth.ServerSession, error) {
	t.Helper()
	s, err := auth.NewServerSession(mech, a, opts)
	require.NoError(t, err)
	ctx := context.Background()
	sf, _, err := s.Next(ctx, c.first())
	if err != nil {
		return s, err
	}
	final, err := c.final(sf)
	require.NoError(t, err)
	v, done, err := s.Next(ctx, final)
	if err != nil {
		return s, err
	}
	require.False(t, done)
	if !c.verifyServer(v) {
		return s, errors.New("server signature does not verify")
	}
	_, done, err = s.Next(ctx, []byte{})
	if err == nil && !done {
		err = errors.New("not done after the final response")
	}
	return s, err
}

func TestSCRAMExchange(t *testing.T) {
	dir := newSASLDirectory()
	for _, mech := range []string{auth.SCRAMSHA1Name, auth.SCRAMSHA256Name, "scram-sha-256"} {
		t.Run(mech, func(t *testing.T) {
			c := newSCRAMClient(strings.Contains(strings.ToUpper(mech), "256"), "alice@example.org", "correct horse")
			s, err := scramExchange(t, mech, dir, auth.SessionOptions{}, c)
			require.NoError(t, err)
			assert.Equal(t, "alice@example.org", s.Identity().Username)
		})
	}
	t.Run("username with comma and equals", func(t *testing.T) {
		d := newSASLDirectory()
		d.passwords["a,b=c"] = "pw"
		c := newSCRAMClient(true, "a,b=c", "pw")
		assert.Contains(t, string(c.first()), "n=a=2Cb=3Dc,")
		s, err := scramExchange(t, auth.SCRAMSHA256Name, d, auth.SessionOptions{}, c)
		require.NoError(t, err)
		assert.Equal(t, "a,b=c", s.Username())
	})
	t.Run("unknown extension ignored", func(t *testing.T) {
		c := newSCRAMClient(true, "alice@example.org", "correct horse")
		c.firstExt = ",x=future"
		_, err := scramExchange(t, auth.SCRAMSHA256Name, dir, auth.SessionOptions{}, c)
		require.NoError(t, err)
	})
}

func TestSCRAMAuthzid(t *testing.T) {
	dir := newSASLDirectory()
	c := newSCRAMClient(true, "Kurt", "xipj3plmq")
	c.authzid = "Ursel"
	s, err := scramExchange(t, auth.SCRAMSHA256Name, dir, auth.SessionOptions{}, c)
	require.NoError(t, err)
	assert.Equal(t, "Ursel", s.Identity().Username)

	c = newSCRAMClient(true, "Kurt", "xipj3plmq")
	c.authzid = "Ursel"
	_, err = scramExchange(t, auth.SCRAMSHA256Name, scramOnly{dir}, auth.SessionOptions{}, c)
	assert.ErrorIs(t, err, auth.ErrInvalidCredentials, "no Authorizer: only one's own identity")

	c = newSCRAMClient(true, "Kurt", "xipj3plmq")
	c.authzid = "Kurt"
	_, err = scramExchange(t, auth.SCRAMSHA256Name, scramOnly{dir}, auth.SessionOptions{}, c)
	require.NoError(t, err)
}

func TestSCRAMWrongProofAndUnknownUserAlike(t *testing.T) {
	dir := newSASLDirectory()
	wrong, err := func() (auth.ServerSession, error) {
		return scramExchange(t, auth.SCRAMSHA256Name, dir, auth.SessionOptions{}, newSCRAMClient(true, "user", "wrong"))
	}()
	assert.ErrorIs(t, err, auth.ErrInvalidCredentials)
	assert.Equal(t, auth.Identity{}, wrong.Identity())
	_, err2 := scramExchange(t, auth.SCRAMSHA256Name, dir, auth.SessionOptions{}, newSCRAMClient(true, "nosuch", "wrong"))
	assert.ErrorIs(t, err2, auth.ErrInvalidCredentials)
	assert.Equal(t, err.Error(), err2.Error())
}

func serverFirstFields(t testing.TB, sf []byte) (salt []byte, iter string) {
	t.Helper()
	parts := strings.Split(string(sf), ",")
	require.Len(t, parts, 3)
	salt, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(parts[1], "s="))
	require.NoError(t, err)
	return salt, parts[2]
}

func TestSCRAMUnknownUserLooksReal(t *testing.T) {
	dir := newSASLDirectory()
	first := func(user string) []byte {
		s := saslStart(t, auth.SCRAMSHA256Name, dir, auth.SessionOptions{})
		sf, done, err := s.Next(t.Context(), newSCRAMClient(true, user, "x").first())
		require.NoError(t, err)
		require.False(t, done)
		return sf
	}
	salt1, iter := serverFirstFields(t, first("nosuch"))
	salt2, _ := serverFirstFields(t, first("nosuch"))
	salt3, _ := serverFirstFields(t, first("other"))
	assert.Len(t, salt1, 16)
	assert.Equal(t, "i=4096", iter)
	assert.Equal(t, salt1, salt2, "the same unknown user gets the same salt")
	assert.NotEqual(t, salt1, salt3)
}

func TestSCRAMLowIterationsRefused(t *testing.T) {
	dir := newSASLDirectory()
	dir.scramIterations = 1000
	s := saslStart(t, auth.SCRAMSHA256Name, dir, auth.SessionOptions{})
	c := newSCRAMClient(true, "user", "pencil")
	sf, _, err := s.Next(t.Context(), c.first())
	require.NoError(t, err, "refused only at the proof")
	_, iter := serverFirstFields(t, sf)
	assert.Equal(t, "i=4096", iter, "the weak count is not revealed")
	final, err := c.final(sf)
	require.NoError(t, err)
	_, done, err := s.Next(t.Context(), final)
	assert.ErrorIs(t, err, auth.ErrInvalidCredentials)
	assert.ErrorContains(t, err, "iteration count 1000")
	assert.False(t, done)
}

func TestSCRAMReplayAndNonce(t *testing.T) {
	dir := newSASLDirectory()
	c := newSCRAMClient(true, "user", "pencil")
	s := saslStart(t, auth.SCRAMSHA256Name, dir, auth.SessionOptions{})
	sf, _, err := s.Next(t.Context(), c.first())
	require.NoError(t, err)
	final, err := c.final(sf)
	require.NoError(t, err)
	_, _, err = saslRun(t, s, final, []byte{})
	require.NoError(t, err)

	t.Run("replayed client-final", func(t *testing.T) {
		s := saslStart(t, auth.SCRAMSHA256Name, dir, auth.SessionOptions{})
		_, _, err := saslRun(t, s, c.first(), final)
		assert.ErrorIs(t, err, auth.ErrInvalidCredentials)
	})
	t.Run("nonce does not extend the client nonce", func(t *testing.T) {
		s := saslStart(t, auth.SCRAMSHA256Name, dir, auth.SessionOptions{})
		c2 := newSCRAMClient(true, "user", "pencil")
		sf, _, err := s.Next(t.Context(), c2.first())
		require.NoError(t, err)
		snonce := strings.TrimPrefix(strings.Split(string(sf), ",")[0], "r="+c2.cnonce)
		for _, r := range []string{c2.cnonce, "X" + snonce, c2.cnonce + snonce + "x", c2.cnonce[1:] + snonce} {
			s := saslStart(t, auth.SCRAMSHA256Name, dir, auth.SessionOptions{})
			sf, _, err := s.Next(t.Context(), c2.first())
			require.NoError(t, err)
			msg := "c=biws,r=" + r + ",p=" + base64.StdEncoding.EncodeToString(make([]byte, 32))
			_ = sf
			_, _, err = s.Next(t.Context(), []byte(msg))
			assert.ErrorIs(t, err, auth.ErrInvalidCredentials, "r=%s", r)
		}
	})
}

func TestSCRAMMalformed(t *testing.T) {
	dir := newSASLDirectory()
	firsts := map[string]string{
		"empty":                     "",
		"no gs2 header":             "n=user,r=abc",
		"bad flag":                  "x,,n=user,r=abc",
		"bad authzid":               "n,b=x,n=user,r=abc",
		"mandatory extension":       "n,,m=ext,n=user,r=abc",
		"out of order":              "n,,r=abc,n=user",
		"duplicate nonce":           "n,,n=user,r=abc,r=def",
		"missing nonce":             "n,,n=user",
		"empty user":                "n,,n=,r=abc",
		"bad escape":                "n,,n=us=2Xer,r=abc",
		"bare equals":               "n,,n=us=er,r=abc",
		"invalid UTF-8":             "n,,n=us\xffer,r=abc",
		"nonce with control":        "n,,n=user,r=ab\x01c",
		"empty nonce":               "n,,n=user,r=",
		"bad cb name":               "p=tls_exporter,,n=user,r=abc",
		"extension without value":   "n,,n=user,r=abc,x=",
		"NUL in user":               "n,,n=us\x00er,r=abc",
		"oversized":                 "n,,n=user,r=" + strings.Repeat("a", 9000),
		"long nonce":                "n,,n=user,r=" + strings.Repeat("a", 600),
		"authzid escape incomplete": "n,a=x=2,n=user,r=abc",
	}
	for name, msg := range firsts {
		t.Run("client-first/"+name, func(t *testing.T) {
			s := saslStart(t, auth.SCRAMSHA256Name, dir, auth.SessionOptions{})
			_, done, err := s.Next(t.Context(), []byte(msg))
			assert.ErrorIs(t, err, auth.ErrMalformed)
			assert.False(t, done)
		})
	}
	finals := map[string]func(r string) string{
		"empty":           func(r string) string { return "" },
		"out of order":    func(r string) string { return "r=" + r + ",c=biws,p=AAAA" },
		"proof not last":  func(r string) string { return "c=biws,p=AAAA,r=" + r },
		"missing proof":   func(r string) string { return "c=biws,r=" + r },
		"bad base64 c":    func(r string) string { return "c=b!ws,r=" + r + ",p=AAAA" },
		"bad base64 p":    func(r string) string { return "c=biws,r=" + r + ",p=AA" },
		"duplicate c":     func(r string) string { return "c=biws,r=" + r + ",c=biws,p=AAAA" },
		"mext in final":   func(r string) string { return "c=biws,r=" + r + ",m=x,p=AAAA" },
		"empty extension": func(r string) string { return "c=biws,r=" + r + ",,p=AAAA" },
	}
	for name, msg := range finals {
		t.Run("client-final/"+name, func(t *testing.T) {
			s := saslStart(t, auth.SCRAMSHA256Name, dir, auth.SessionOptions{})
			c := newSCRAMClient(true, "user", "pencil")
			sf, _, err := s.Next(t.Context(), c.first())
			require.NoError(t, err)
			r := strings.TrimPrefix(strings.Split(string(sf), ",")[0], "r=")
			_, done, err := s.Next(t.Context(), []byte(msg(r)))
			assert.ErrorIs(t, err, auth.ErrMalformed)
			assert.False(t, done)
		})
	}
	t.Run("data after the server signature", func(t *testing.T) {
		s := saslStart(t, auth.SCRAMSHA256Name, dir, auth.SessionOptions{})
		c := newSCRAMClient(true, "user", "pencil")
		sf, _, err := s.Next(t.Context(), c.first())
		require.NoError(t, err)
		final, err := c.final(sf)
		require.NoError(t, err)
		_, _, err = saslRun(t, s, final, []byte("more"))
		assert.ErrorIs(t, err, auth.ErrMalformed)
		assert.Equal(t, auth.Identity{}, s.Identity())
	})
}

func TestSCRAMChannelBindingWithoutTLS(t *testing.T) {
	dir := newSASLDirectory()
	tests := []struct {
		name string
		flag string
		ok   bool
	}{
		{"n", "n", true},
		{"y: the server cannot bind either", "y", true},
		{"p= on a mechanism without -PLUS", "p=tls-exporter", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newSCRAMClient(true, "user", "pencil")
			c.gs2Flag = tt.flag
			_, err := scramExchange(t, auth.SCRAMSHA256Name, dir, auth.SessionOptions{}, c)
			if tt.ok {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, auth.ErrInvalidCredentials)
			}
		})
	}
	_, err := auth.NewServerSession(auth.SCRAMSHA256Plus, dir, auth.SessionOptions{})
	assert.ErrorIs(t, err, auth.ErrUnsupportedMechanism, "-PLUS needs TLS")
}

func TestSCRAMChannelBindingTLS(t *testing.T) {
	dir := newSASLDirectory()
	versions := []struct {
		name    string
		version uint16
	}{{"TLS 1.3", tls.VersionTLS13}, {"TLS 1.2", tls.VersionTLS12}}
	for _, v := range versions {
		t.Run(v.name, func(t *testing.T) {
			pair := handshake(t, v.version, elliptic.P256())
			other := handshake(t, v.version, elliptic.P384())
			opts := auth.SessionOptions{Transport: auth.Transport{TLS: &pair.server, LocalCertificate: pair.cert}}
			exporter, err := pair.client.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
			require.NoError(t, err)
			otherExporter, err := other.client.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
			require.NoError(t, err)

			mechs := auth.SupportedMechanisms(dir, opts.Transport)
			assert.Contains(t, mechs, auth.SCRAMSHA256Plus)
			assert.Contains(t, mechs, auth.SCRAMSHA1Plus)

			tests := []struct {
				name    string
				mech    string
				flag    string
				data    []byte
				wantErr error
			}{
				{"tls-exporter", auth.SCRAMSHA256Plus, "p=tls-exporter", exporter, nil},
				{"tls-exporter SHA-1", auth.SCRAMSHA1Plus, "p=tls-exporter", exporter, nil},
				{"tls-server-end-point", auth.SCRAMSHA256Plus, "p=tls-server-end-point", clientEndPoint(pair.client), nil},
				{"tls-exporter of another connection", auth.SCRAMSHA256Plus, "p=tls-exporter", otherExporter, auth.ErrInvalidCredentials},
				{"tls-server-end-point of another certificate", auth.SCRAMSHA256Plus, "p=tls-server-end-point", clientEndPoint(other.client), auth.ErrInvalidCredentials},
				{"no binding data", auth.SCRAMSHA256Plus, "p=tls-exporter", nil, auth.ErrInvalidCredentials},
				{"tls-unique refused", auth.SCRAMSHA256Plus, "p=tls-unique", make([]byte, 12), auth.ErrInvalidCredentials},
				{"unknown type", auth.SCRAMSHA256Plus, "p=tls-foo", exporter, auth.ErrInvalidCredentials},
				{"-PLUS without binding", auth.SCRAMSHA256Plus, "n", nil, auth.ErrInvalidCredentials},
				{"-PLUS with y", auth.SCRAMSHA256Plus, "y", nil, auth.ErrInvalidCredentials},
				{"y downgrade", auth.SCRAMSHA256Name, "y", nil, auth.ErrInvalidCredentials},
				{"y downgrade SHA-1", auth.SCRAMSHA1Name, "y", nil, auth.ErrInvalidCredentials},
				{"n over TLS", auth.SCRAMSHA256Name, "n", nil, nil},
				{"p= without -PLUS", auth.SCRAMSHA256Name, "p=tls-exporter", exporter, auth.ErrInvalidCredentials},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					c := newSCRAMClient(strings.Contains(tt.mech, "256"), "user", "pencil")
					c.gs2Flag, c.cbData = tt.flag, tt.data
					s, err := scramExchange(t, tt.mech, dir, opts, c)
					if tt.wantErr != nil {
						assert.ErrorIs(t, err, tt.wantErr)
						assert.Equal(t, auth.Identity{}, s.Identity())
						return
					}
					require.NoError(t, err)
					assert.Equal(t, "user", s.Identity().Username)
				})
			}
		})
	}
	t.Run("tls-server-end-point with a SHA-384 certificate", func(t *testing.T) {
		pair := handshake(t, tls.VersionTLS13, elliptic.P384())
		opts := auth.SessionOptions{Transport: auth.Transport{TLS: &pair.server, LocalCertificate: pair.cert}}
		c := newSCRAMClient(true, "user", "pencil")
		c.gs2Flag, c.cbData = "p=tls-server-end-point", clientEndPoint(pair.client)
		assert.Len(t, c.cbData, 48)
		_, err := scramExchange(t, auth.SCRAMSHA256Plus, dir, opts, c)
		require.NoError(t, err)
	})
	t.Run("y allowed when the store cannot serve -PLUS", func(t *testing.T) {
		// A connection state without an exporter and no certificate: no
		// binding type, so no -PLUS was offered.
		opts := auth.SessionOptions{Transport: auth.Transport{TLS: &tls.ConnectionState{}}}
		assert.NotContains(t, auth.SupportedMechanisms(dir, opts.Transport), auth.SCRAMSHA256Plus)
		c := newSCRAMClient(true, "user", "pencil")
		c.gs2Flag = "y"
		_, err := scramExchange(t, auth.SCRAMSHA256Name, dir, opts, c)
		require.NoError(t, err)
	})
}

func BenchmarkSCRAMSHA256(b *testing.B) {
	dir := newSASLDirectory()
	ctx := context.Background()
	// The client's PBKDF2 is done once, as a client caching its keys
	// would: the benchmark measures the server's cost per login.
	c := newSCRAMClient(true, "user", "pencil")
	_, err := scramExchange(b, auth.SCRAMSHA256Name, dir, auth.SessionOptions{}, c)
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		s, _ := auth.NewServerSession(auth.SCRAMSHA256Name, dir, auth.SessionOptions{})
		sf, _, err := s.Next(ctx, c.first())
		if err != nil {
			b.Fatal(err)
		}
		final, _ := c.final(sf)
		if _, _, err := s.Next(ctx, final); err != nil {
			b.Fatal(err)
		}
		if _, done, err := s.Next(ctx, []byte{}); err != nil || !done {
			b.Fatal(err)
		}
	}
}

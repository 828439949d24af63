package mailtest_test

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/internal/mailtest"
	"github.com/mailfront/mailfront/store/memstore"
)

func TestDirectoryAuthenticate(t *testing.T) {
	ctx := context.Background()
	var d mailtest.Directory
	require.NoError(t, d.Add("Bob@Example.org", "pw", "@example.net"))
	assert.True(t, d.Has("bob@example.org"))

	id, err := d.Authenticate(ctx, "bob@EXAMPLE.org", "pw")
	require.NoError(t, err)
	assert.Equal(t, auth.Identity{Username: "Bob@Example.org", SendAs: []string{"@example.net"}}, id)
	assert.True(t, id.MaySendAs("anyone@example.net"))

	for _, tc := range []struct{ user, pass string }{
		{"bob@example.org", "PW"},
		{"bob@example.org", ""},
		{"nobody@example.org", "pw"},
		{"", ""},
	} {
		_, err := d.Authenticate(ctx, tc.user, tc.pass)
		assert.ErrorIs(t, err, auth.ErrInvalidCredentials, "%q/%q", tc.user, tc.pass)
	}

	require.NoError(t, d.Add("bob@example.org", "new"))
	_, err = d.Authenticate(ctx, "bob@example.org", "pw")
	assert.ErrorIs(t, err, auth.ErrInvalidCredentials, "the password was replaced")

	d.Reset()
	assert.False(t, d.Has("bob@example.org"))

	for _, bad := range []string{"", "a b@example.org", "a\tb", "a\x7f"} {
		assert.Error(t, d.Add(bad, "pw"), "%q", bad)
	}
}

func TestDirectorySecrets(t *testing.T) {
	ctx := context.Background()
	var d mailtest.Directory
	require.NoError(t, d.Add("bob@example.org", "pw"))

	secret, id, err := d.Secret(ctx, "BOB@example.org")
	require.NoError(t, err)
	assert.Equal(t, "pw", secret)
	assert.Equal(t, "bob@example.org", id.Username)
	_, _, err = d.Secret(ctx, "nobody")
	assert.ErrorIs(t, err, auth.ErrInvalidCredentials)

	nt, _, err := d.NTHash(ctx, "bob@example.org", "ANYDOMAIN")
	require.NoError(t, err)
	assert.Equal(t, auth.NTHashOf("pw"), nt)
	_, _, err = d.NTHash(ctx, "nobody", "")
	assert.ErrorIs(t, err, auth.ErrInvalidCredentials)

	_, err = d.VerifyToken(ctx, "bob@example.org", "pw")
	assert.NoError(t, err)
	_, err = d.VerifyToken(ctx, "", "pw")
	assert.ErrorIs(t, err, auth.ErrInvalidCredentials)
	_, err = d.VerifyToken(ctx, "bob@example.org", "bad")
	assert.ErrorIs(t, err, auth.ErrInvalidCredentials)

	assert.ElementsMatch(t, []auth.SCRAMHash{auth.SCRAMSHA1, auth.SCRAMSHA256}, d.SCRAMHashes())
	c1, err := d.SCRAMCredentials(ctx, auth.SCRAMSHA256, "bob@example.org")
	require.NoError(t, err)
	c2, err := d.SCRAMCredentials(ctx, auth.SCRAMSHA256, "bob@example.org")
	require.NoError(t, err)
	assert.Equal(t, c1, c2, "keys are derived once")
	assert.Equal(t, "bob@example.org", c1.Identity.Username)
	_, err = d.SCRAMCredentials(ctx, auth.SCRAMSHA1, "nobody")
	assert.ErrorIs(t, err, auth.ErrInvalidCredentials)
}

// The directory serves every mechanism the servers offer; each exchange
// runs through the auth package's server side.
func TestDirectoryMechanisms(t *testing.T) {
	var d mailtest.Directory
	require.NoError(t, d.Add("bob@example.org", "pw"))
	tr := auth.Transport{ServerName: "localhost"}
	mechs := auth.SupportedMechanisms(&d, tr)
	for _, m := range []string{auth.Plain, auth.Login, auth.CRAMMD5, auth.SCRAMSHA256Name, auth.SCRAMSHA1Name, auth.NTLM, auth.OAuthBearer, auth.XOAuth2} {
		assert.Contains(t, mechs, m)
	}

	run := func(t *testing.T, mech string, client func(challenge []byte) []byte, first []byte) auth.Identity {
		t.Helper()
		s, err := auth.NewServerSession(mech, &d, auth.SessionOptions{Transport: tr})
		require.NoError(t, err)
		resp := first
		for range 5 {
			challenge, done, err := s.Next(context.Background(), resp)
			require.NoError(t, err)
			if done {
				return s.Identity()
			}
			resp = client(challenge)
		}
		t.Fatalf("%s did not finish", mech)
		return auth.Identity{}
	}

	t.Run("CRAM-MD5", func(t *testing.T) {
		id := run(t, auth.CRAMMD5, func(challenge []byte) []byte {
			mac := hmac.New(md5.New, []byte("pw"))
			mac.Write(challenge)
			return []byte("bob@example.org " + hex.EncodeToString(mac.Sum(nil)))
		}, nil)
		assert.Equal(t, "bob@example.org", id.Username)
	})
	t.Run("SCRAM-SHA-256", func(t *testing.T) {
		const cnonce = "fyko+d2lbbFgONRv9qkxdawL"
		bare := "n=bob@example.org,r=" + cnonce
		step := 0
		var serverSig []byte
		id := run(t, auth.SCRAMSHA256Name, func(challenge []byte) []byte {
			step++
			if step == 2 {
				assert.Equal(t, "v="+base64.StdEncoding.EncodeToString(serverSig), string(challenge))
				return []byte{}
			}
			attrs := map[string]string{}
			for _, kv := range strings.Split(string(challenge), ",") {
				k, v, _ := strings.Cut(kv, "=")
				attrs[k] = v
			}
			salt, err := base64.StdEncoding.DecodeString(attrs["s"])
			require.NoError(t, err)
			var iter int
			fmt.Sscan(attrs["i"], &iter)
			salted, err := pbkdf2.Key(sha256.New, "pw", salt, iter, sha256.Size)
			require.NoError(t, err)
			mac := func(key []byte, msg string) []byte {
				m := hmac.New(sha256.New, key)
				m.Write([]byte(msg))
				return m.Sum(nil)
			}
			clientKey := mac(salted, "Client Key")
			stored := sha256.Sum256(clientKey)
			withoutProof := "c=biws,r=" + attrs["r"]
			authMsg := bare + "," + string(challenge) + "," + withoutProof
			sig := mac(stored[:], authMsg)
			proof := make([]byte, len(clientKey))
			for i := range proof {
				proof[i] = clientKey[i] ^ sig[i]
			}
			serverSig = mac(mac(salted, "Server Key"), authMsg)
			return []byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof))
		}, []byte("n,,"+bare))
		assert.Equal(t, "bob@example.org", id.Username)
	})
	t.Run("OAUTHBEARER", func(t *testing.T) {
		id := run(t, auth.OAuthBearer, func([]byte) []byte { return []byte{1} },
			[]byte("n,a=bob@example.org,\x01auth=Bearer pw\x01\x01"))
		assert.Equal(t, "bob@example.org", id.Username)
	})
}

// UsersOf gives each Store its own Directory, the same one every time.
func TestUsersOf(t *testing.T) {
	a, b := memstore.New(), memstore.New()
	da := mailtest.UsersOf(a)
	assert.Same(t, da, mailtest.UsersOf(a))
	assert.NotSame(t, da, mailtest.UsersOf(b))
	require.NoError(t, da.Add("x@example.org", "pw"))
	assert.False(t, mailtest.UsersOf(b).Has("x@example.org"))
	assert.Panics(t, func() { mailtest.UsersOf(nil) })
}

// NewStore accepts every recipient, creating its INBOX on delivery.
func TestNewStoreAcceptsEveryone(t *testing.T) {
	st := mailtest.NewStore()
	user, ok := st.LocalRecipient(context.Background(), "Anyone@Example.com")
	assert.True(t, ok)
	assert.Equal(t, "Anyone@Example.com", user)
	_, ok = st.LocalRecipient(context.Background(), "")
	assert.False(t, ok)
}

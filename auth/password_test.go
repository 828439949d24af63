package auth_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/mailfront/mailfront/auth"
)

// Vectors computed with the reference argon2 implementation (the argon2
// command of Debian's argon2 package), not with this package:
//
//	echo -n "correct horse battery staple" | argon2 saltsaltsaltsalt -id -t 2 -k 19456 -p 1 -l 32 -e
//	echo -n password | argon2 somesalt -id -t 2 -k 65536 -p 4 -l 24 -e
const (
	argon2Vector1 = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$QKHrg5tayLGcN+Y0HVPNaBqykOVLUxlMkZycXE1uWRM"
	argon2Vector2 = "$argon2id$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$F1jG2CV3/Nr+yRuIsPKw0J9r4s7cJHBU"
)

func TestVerifyPasswordArgon2Vectors(t *testing.T) {
	tests := []struct {
		hash, password string
		want           bool
	}{
		{argon2Vector1, "correct horse battery staple", true},
		{argon2Vector1, "correct horse battery stapl", false},
		{argon2Vector1, "Correct horse battery staple", false},
		{argon2Vector1, "", false},
		{argon2Vector2, "password", true},
		{argon2Vector2, "passwore", false},
	}
	for _, tt := range tests {
		t.Run(tt.password, func(t *testing.T) {
			ok, err := auth.VerifyPassword(tt.hash, tt.password)
			require.NoError(t, err)
			assert.Equal(t, tt.want, ok)
		})
	}
}

func TestHashPasswordRoundTrip(t *testing.T) {
	for _, pw := range []string{"secret", "", "päßwörd ✓", strings.Repeat("long", 1000)} {
		h, err := auth.HashPassword(pw)
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$"), "got %q", h)
		parts := strings.Split(h, "$")
		require.Len(t, parts, 6)
		assert.Len(t, parts[4], 22, "16-byte salt, unpadded base64")
		assert.Len(t, parts[5], 43, "32-byte hash, unpadded base64")

		ok, err := auth.VerifyPassword(h, pw)
		require.NoError(t, err)
		assert.True(t, ok, "password %.10q", pw)
		ok, err = auth.VerifyPassword(h, pw+"x")
		require.NoError(t, err)
		assert.False(t, ok)
	}
	a, _ := auth.HashPassword("same")
	b, _ := auth.HashPassword("same")
	assert.NotEqual(t, a, b, "salts are random")
}

func TestVerifyPasswordBcrypt(t *testing.T) {
	ref, err := bcrypt.GenerateFromPassword([]byte("hunter2"), bcrypt.MinCost)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(ref), "$2a$04$"))
	refB := "$2b$" + string(ref[4:])
	refY := "$2y$" + string(ref[4:])
	ours, err := auth.HashPasswordBcrypt("hunter2", 4)
	require.NoError(t, err)
	require.NoError(t, bcrypt.CompareHashAndPassword([]byte(ours), []byte("hunter2")), "x/crypto/bcrypt verifies ours")

	for name, h := range map[string]string{"2a": string(ref), "2b": refB, "2y": refY, "ours": ours} {
		t.Run(name, func(t *testing.T) {
			ok, err := auth.VerifyPassword(h, "hunter2")
			require.NoError(t, err)
			assert.True(t, ok)
			ok, err = auth.VerifyPassword(h, "hunter3")
			require.NoError(t, err)
			assert.False(t, ok)
		})
	}
}

func TestBcryptLongPassword(t *testing.T) {
	long := strings.Repeat("a", 72)
	h, err := auth.HashPasswordBcrypt(long, 4)
	require.NoError(t, err)
	ok, err := auth.VerifyPassword(h, long)
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = auth.VerifyPassword(h, long+"b")
	require.NoError(t, err)
	assert.False(t, ok, "bytes past 72 are not silently ignored")

	_, err = auth.HashPasswordBcrypt(long+"b", 4)
	assert.Error(t, err)
}

func TestHashPasswordBcryptCost(t *testing.T) {
	h, err := auth.HashPasswordBcrypt("x", 0)
	require.NoError(t, err)
	cost, err := bcrypt.Cost([]byte(h))
	require.NoError(t, err)
	assert.Equal(t, bcrypt.DefaultCost, cost)
	for _, c := range []int{-1, 3, 17, 31} {
		_, err := auth.HashPasswordBcrypt("x", c)
		assert.Error(t, err, "cost %d", c)
	}
}

func TestVerifyPasswordMalformed(t *testing.T) {
	const salt, key = "c2FsdHNhbHRzYWx0c2FsdA", "QKHrg5tayLGcN+Y0HVPNaBqykOVLUxlMkZycXE1uWRM"
	bc, err := bcrypt.GenerateFromPassword([]byte("x"), 4)
	require.NoError(t, err)
	tests := []struct{ name, hash, want string }{
		{"empty", "", "empty"},
		{"plain text", "hunter2", "unsupported"},
		{"md5crypt", "$1$abc$def", `"1"`},
		{"sha512crypt", "$6$rounds=5000$abc$def", `"6"`},
		{"dovecot prefix", "{ARGON2ID}$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + key, "unsupported"},
		{"argon2i", "$argon2i$v=19$m=19456,t=2,p=1$" + salt + "$" + key, `"argon2i"`},
		{"argon2 no version", "$argon2id$m=19456,t=2,p=1$" + salt + "$" + key, "malformed"},
		{"argon2 v16", "$argon2id$v=16$m=19456,t=2,p=1$" + salt + "$" + key, "version"},
		{"argon2 params order", "$argon2id$v=19$t=2,m=19456,p=1$" + salt + "$" + key, "parameters"},
		{"argon2 extra param", "$argon2id$v=19$m=19456,t=2,p=1,k=1$" + salt + "$" + key, "parameters"},
		{"argon2 huge memory", "$argon2id$v=19$m=4194304,t=2,p=1$" + salt + "$" + key, "memory"},
		{"argon2 memory overflow", "$argon2id$v=19$m=99999999999,t=2,p=1$" + salt + "$" + key, "bad parameter"},
		{"argon2 tiny memory", "$argon2id$v=19$m=7,t=2,p=1$" + salt + "$" + key, "memory"},
		{"argon2 zero passes", "$argon2id$v=19$m=19456,t=0,p=1$" + salt + "$" + key, "passes"},
		{"argon2 many passes", "$argon2id$v=19$m=19456,t=1000,p=1$" + salt + "$" + key, "passes"},
		{"argon2 zero lanes", "$argon2id$v=19$m=19456,t=2,p=0$" + salt + "$" + key, "parallelism"},
		{"argon2 many lanes", "$argon2id$v=19$m=19456,t=2,p=255$" + salt + "$" + key, "parallelism"},
		{"argon2 negative", "$argon2id$v=19$m=-1,t=2,p=1$" + salt + "$" + key, "bad parameter"},
		{"argon2 leading zero", "$argon2id$v=19$m=019456,t=2,p=1$" + salt + "$" + key, "bad parameter"},
		{"argon2 padded salt", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "==$" + key, "salt"},
		{"argon2 short salt", "$argon2id$v=19$m=19456,t=2,p=1$YWJj$" + key, "salt"},
		{"argon2 short hash", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$YWJj", "hash"},
		{"argon2 bad base64", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + key[:40] + "*!?", "hash"},
		{"argon2 missing hash", "$argon2id$v=19$m=19456,t=2,p=1$" + salt, "malformed"},
		{"argon2 trailing", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + key + "$", "malformed"},
		{"bcrypt 2x", "$2x$" + string(bc[4:]), "unsupported"},
		{"bcrypt truncated", string(bc[:59]), "malformed"},
		{"bcrypt long", string(bc) + "a", "malformed"},
		{"bcrypt cost 31", "$2b$31$" + string(bc[7:]), "cost"},
		{"bcrypt cost 03", "$2b$03$" + string(bc[7:]), "cost"},
		{"bcrypt cost sign", "$2b$+9$" + string(bc[7:]), "cost"},
		{"bcrypt bad char", string(bc[:59]) + "!", "character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := auth.VerifyPassword(tt.hash, "x")
			assert.False(t, ok)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Error(t, auth.CheckPasswordHash(tt.hash))
			if len(tt.hash) > 20 {
				assert.NotContains(t, err.Error(), tt.hash[len(tt.hash)-20:], "the hash is not echoed")
			}
		})
	}
}

// TestVerifyPasswordConcurrent runs more argon2id checks at once than the
// memory budget admits (256 MiB / 64 MiB = 4), so that some queue.
func TestVerifyPasswordConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			hash, pw := argon2Vector1, "correct horse battery staple"
			if i%2 == 0 {
				hash, pw = argon2Vector2, "password"
			}
			ok, err := auth.VerifyPassword(hash, pw)
			assert.NoError(t, err)
			assert.True(t, ok)
		})
	}
	wg.Wait()
}

func FuzzCheckPasswordHash(f *testing.F) {
	f.Add(argon2Vector1)
	f.Add(argon2Vector2)
	f.Add("$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy")
	f.Add("$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$")
	f.Add("$1$x$y")
	f.Add("")
	f.Fuzz(func(t *testing.T, hash string) {
		if auth.CheckPasswordHash(hash) != nil {
			ok, err := auth.VerifyPassword(hash, "x")
			if ok || err == nil {
				t.Fatalf("VerifyPassword(%q) = %v, %v for a hash CheckPasswordHash refuses", hash, ok, err)
			}
		}
	})
}

func BenchmarkVerifyPasswordArgon2id(b *testing.B) {
	h, err := auth.HashPassword("benchmark")
	require.NoError(b, err)
	for b.Loop() {
		auth.VerifyPassword(h, "benchmark")
	}
}

func BenchmarkVerifyPasswordBcrypt10(b *testing.B) {
	h, err := auth.HashPasswordBcrypt("benchmark", 10)
	require.NoError(b, err)
	for b.Loop() {
		auth.VerifyPassword(h, "benchmark")
	}
}

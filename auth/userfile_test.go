package auth_test

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/auth"
)

const alicePassword = "correct horse battery staple" // argon2Vector1

// fastHash returns a bcrypt hash at the minimum cost, to keep tests quick.
func fastHash(t testing.TB, password string) string {
	t.Helper()
	h, err := auth.HashPasswordBcrypt(password, 4)
	require.NoError(t, err)
	return h
}

func scramField(t testing.TB, h auth.SCRAMHash, password string) string {
	t.Helper()
	c, err := auth.NewSCRAMCredentials(h, password, []byte("fixed salt"), 4096)
	require.NoError(t, err)
	enc := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("%d,%s,%s,%s", c.Iterations, enc(c.Salt), enc(c.StoredKey), enc(c.ServerKey))
}

func writeUsers(t testing.TB, path, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
}

func openUsers(t testing.TB, content string) (*auth.UsersFile, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users")
	writeUsers(t, path, content)
	f, err := auth.OpenUsersFile(path)
	require.NoError(t, err)
	return f, path
}

// TestUsersFileEveryField loads a file using every field and syntax
// feature and checks each is served.
func TestUsersFileEveryField(t *testing.T) {
	nt := auth.NTHashOf("bobpw")
	content := "\uFEFF# users\r\n" +
		"\r\n" +
		"Alice@Example.org:" + argon2Vector1 + ":sendas=sales@example.org,@example.net\r\n" +
		"   # indented comment\n" +
		"  bob@example.org:" + fastHash(t, "bobpw") +
		":scram-sha-1=" + scramField(t, auth.SCRAMSHA1, "bobpw") +
		":scram-sha-256=" + scramField(t, auth.SCRAMSHA256, "bobpw") +
		":nt=" + hex.EncodeToString(nt[:]) + "  \n" +
		"carol@example.org::scram-sha-256=" + scramField(t, auth.SCRAMSHA256, "carolpw") + "\n" +
		"dave@example.org:!\n" +
		"erin@example.org:!" + argon2Vector1 + ":nt=" + hex.EncodeToString(nt[:]) // no final newline
	f, _ := openUsers(t, content)
	ctx := context.Background()

	id, err := f.Authenticate(ctx, "alice@example.org", alicePassword)
	require.NoError(t, err)
	assert.Equal(t, auth.Identity{Username: "Alice@Example.org", SendAs: []string{"sales@example.org", "@example.net"}}, id)
	assert.True(t, id.MaySendAs("anyone@example.net"))

	id, err = f.Authenticate(ctx, "bob@example.org", "bobpw")
	require.NoError(t, err)
	assert.Equal(t, "bob@example.org", id.Username)
	assert.Empty(t, id.SendAs)

	for _, h := range []auth.SCRAMHash{auth.SCRAMSHA1, auth.SCRAMSHA256} {
		want, err := auth.NewSCRAMCredentials(h, "bobpw", []byte("fixed salt"), 4096)
		require.NoError(t, err)
		got, err := f.SCRAMCredentials(ctx, h, "BOB@example.org")
		require.NoError(t, err, "hash %s", h)
		want.Identity = auth.Identity{Username: "bob@example.org"}
		assert.Equal(t, want, got)
	}

	gotNT, id, err := f.NTHash(ctx, "bob@example.org", "EXAMPLE")
	require.NoError(t, err)
	assert.Equal(t, nt, gotNT)
	assert.Equal(t, "bob@example.org", id.Username)

	// carol: SCRAM only.
	_, err = f.Authenticate(ctx, "carol@example.org", "")
	assert.ErrorIs(t, err, auth.ErrInvalidCredentials)
	c, err := f.SCRAMCredentials(ctx, auth.SCRAMSHA256, "carol@example.org")
	require.NoError(t, err)
	assert.Equal(t, "carol@example.org", c.Identity.Username)
	_, err = f.SCRAMCredentials(ctx, auth.SCRAMSHA1, "carol@example.org")
	assert.ErrorIs(t, err, auth.ErrUnsupportedMechanism, "no SHA-1 keys")
	_, _, err = f.NTHash(ctx, "carol@example.org", "")
	assert.ErrorIs(t, err, auth.ErrInvalidCredentials, "no NT hash")

	// dave and erin: disabled for every mechanism.
	for _, u := range []string{"dave@example.org", "erin@example.org"} {
		_, err = f.Authenticate(ctx, u, alicePassword)
		assert.ErrorIs(t, err, auth.ErrInvalidCredentials, u)
		_, err = f.SCRAMCredentials(ctx, auth.SCRAMSHA256, u)
		assert.ErrorIs(t, err, auth.ErrInvalidCredentials, u)
		_, _, err = f.NTHash(ctx, u, "")
		assert.ErrorIs(t, err, auth.ErrInvalidCredentials, u)
	}

	_, err = f.SCRAMCredentials(ctx, auth.SCRAMSHA256, "nobody@example.org")
	assert.ErrorIs(t, err, auth.ErrInvalidCredentials)
	_, err = f.SCRAMCredentials(ctx, "SHA-512", "bob@example.org")
	assert.ErrorIs(t, err, auth.ErrUnsupportedMechanism)
	assert.NoError(t, f.LastError())
}

func TestUsersFileCaseInsensitive(t *testing.T) {
	f, _ := openUsers(t, "Alice@Example.ORG:"+argon2Vector1+"\n")
	for _, name := range []string{"alice@example.org", "ALICE@EXAMPLE.ORG", "Alice@Example.ORG"} {
		id, err := f.Authenticate(context.Background(), name, alicePassword)
		require.NoError(t, err, name)
		assert.Equal(t, "Alice@Example.ORG", id.Username, "the file's spelling")
	}
	_, err := f.Authenticate(context.Background(), "alice@example.org", strings.ToUpper(alicePassword))
	assert.ErrorIs(t, err, auth.ErrInvalidCredentials, "passwords are case-sensitive")
}

// TestUsersFileFailuresAlike is ADVERSARIAL A6: an unknown user, a disabled
// user, a user without a password and a wrong password fail with the same
// error (and each checks an argon2id hash of the default parameters).
func TestUsersFileFailuresAlike(t *testing.T) {
	f, _ := openUsers(t, "alice@example.org:"+argon2Vector1+"\n"+
		"dave@example.org:!\n"+
		"carol@example.org::nt=00112233445566778899aabbccddeeff\n")
	ctx := context.Background()
	var msgs []string
	for _, c := range []struct{ user, password string }{
		{"alice@example.org", "wrong"},
		{"nobody@example.org", "wrong"},
		{"dave@example.org", "wrong"},
		{"carol@example.org", ""},
		{"", ""},
	} {
		id, err := f.Authenticate(ctx, c.user, c.password)
		require.ErrorIs(t, err, auth.ErrInvalidCredentials, c.user)
		assert.Zero(t, id)
		msgs = append(msgs, err.Error())
	}
	for _, m := range msgs[1:] {
		assert.Equal(t, msgs[0], m)
	}
}

func TestUsersFileErrors(t *testing.T) {
	good := "ok@example.org:" + argon2Vector1 + "\n"
	sc256 := scramField(t, auth.SCRAMSHA256, "x")
	sc1 := scramField(t, auth.SCRAMSHA1, "x")
	tests := []struct{ name, line, want string }{
		{"no colon", "alice@example.org", "want address:passwordhash"},
		{"empty address", ":" + argon2Vector1, "empty address"},
		{"space in address", "alice smith:" + argon2Vector1, "contains"},
		{"control char", "alice\x01:" + argon2Vector1, "contains"},
		{"invalid utf-8", "al\xffice:" + argon2Vector1, "UTF-8"},
		{"unknown scheme", "alice:{PLAIN}secret", "unsupported"},
		{"malformed argon2", "alice:$argon2id$v=19$m=1,t=1,p=1$x$y", "argon2id"},
		{"malformed disabled hash", "alice:!$2b$10$short", "bcrypt"},
		{"field without =", "alice:" + argon2Vector1 + ":sendas", "key=value"},
		{"unknown field", "alice:" + argon2Vector1 + ":colour=blue", "unknown field"},
		{"duplicate field", "alice:" + argon2Vector1 + ":nt=00112233445566778899aabbccddeeff:nt=00112233445566778899aabbccddeeff", "twice"},
		{"short nt", "alice::nt=0011", "32 hex"},
		{"bad nt", "alice::nt=zz112233445566778899aabbccddeeff", "nt"},
		{"scram parts", "alice::scram-sha-256=4096,c2FsdA==", "ITER,SALT"},
		{"scram low iterations", "alice::scram-sha-256=1000" + sc256[4:], "iteration"},
		{"scram bad base64", "alice::scram-sha-256=4096,%%%," + strings.SplitN(sc256, ",", 3)[2], "base64"},
		{"scram key size", "alice::scram-sha-1=" + sc256, "20 bytes"},
		{"scram sha1 ok sha256 wrong", "alice::scram-sha-1=" + sc1 + ":scram-sha-256=" + sc1, "32 bytes"},
		{"scram empty salt", "alice::scram-sha-256=4096,," + strings.SplitN(sc256, ",", 3)[2], "salt"},
		{"sendas empty", "alice:" + argon2Vector1 + ":sendas=", "empty"},
		{"sendas empty entry", "alice:" + argon2Vector1 + ":sendas=a@b,,c@d", "empty"},
		{"sendas bare at", "alice:" + argon2Vector1 + ":sendas=@", "bad address"},
		{"duplicate user", "OK@example.org:" + argon2Vector1, `already defined on line 3`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			content := "# header\n" + "\n" + good + tt.line + "\n" + "zed@example.org:!\n"
			path := filepath.Join(t.TempDir(), "users")
			writeUsers(t, path, content)
			f, err := auth.OpenUsersFile(path)
			assert.Nil(t, f)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "line 4")
			assert.Contains(t, err.Error(), tt.want)
		})
	}

	t.Run("line too long", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "users")
		writeUsers(t, path, good+"alice::sendas="+strings.Repeat("a", 70000)+"\n")
		_, err := auth.OpenUsersFile(path)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "line 2")
	})
	t.Run("missing file", func(t *testing.T) {
		_, err := auth.OpenUsersFile(filepath.Join(t.TempDir(), "nonexistent"))
		assert.ErrorIs(t, err, os.ErrNotExist)
	})
}

func TestUsersFileZeroValue(t *testing.T) {
	var f auth.UsersFile
	_, err := f.Authenticate(context.Background(), "alice", "x")
	assert.ErrorIs(t, err, auth.ErrInvalidCredentials)
	assert.Empty(t, f.SCRAMHashes())
	assert.False(t, f.AllowMechanism(auth.NTLM))
	assert.True(t, f.AllowMechanism(auth.Plain))
	assert.Error(t, f.Reload())
	assert.Error(t, f.LastError())
}

func TestUsersFileMechanisms(t *testing.T) {
	tls := auth.Transport{Trusted: true}
	tests := []struct {
		name    string
		content string
		want    []string
	}{
		{"password only", "a::\nb:" + argon2Vector1, []string{auth.Plain, auth.Login}},
		{"sha-256 keys", "a::scram-sha-256=" + scramField(t, auth.SCRAMSHA256, "x"),
			[]string{auth.SCRAMSHA256Name, auth.Plain, auth.Login}},
		{"every user has every secret", "a::scram-sha-1=" + scramField(t, auth.SCRAMSHA1, "x") +
			":scram-sha-256=" + scramField(t, auth.SCRAMSHA256, "x") + ":nt=00112233445566778899aabbccddeeff" +
			"\nb::scram-sha-256=" + scramField(t, auth.SCRAMSHA256, "x") + ":scram-sha-1=" + scramField(t, auth.SCRAMSHA1, "x") +
			":nt=00112233445566778899aabbccddeeff",
			[]string{auth.SCRAMSHA256Name, auth.SCRAMSHA1Name, auth.NTLM, auth.Plain, auth.Login}},
		// A mechanism that would fail for one user is not offered: the
		// client chooses before it names the user.
		{"one user lacks keys and nt", "a::scram-sha-1=" + scramField(t, auth.SCRAMSHA1, "x") +
			"\nb::scram-sha-256=" + scramField(t, auth.SCRAMSHA256, "x") + ":nt=00112233445566778899aabbccddeeff",
			[]string{auth.Plain, auth.Login}},
		{"disabled users do not count", "a::scram-sha-256=" + scramField(t, auth.SCRAMSHA256, "x") + "\nb:!",
			[]string{auth.SCRAMSHA256Name, auth.Plain, auth.Login}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _ := openUsers(t, tt.content)
			assert.Equal(t, tt.want, auth.SupportedMechanisms(f, tls))
		})
	}
}

// TestUsersFileReloadsOnChange rewrites the file in place with the same
// size and a later modification time, then replaces it (as AddUser does);
// each change is seen within a second, never sooner.
func TestUsersFileReloadsOnChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		pw := fastHash(t, "pw")
		f, path := openUsers(t, "alice@example.org:"+pw+"\n")

		// In place, same size: only the modification time tells.
		writeUsers(t, path, "alicf@example.org:"+pw+"\n")
		future := time.Now().Add(time.Hour) // the fake clock; any other time will do
		require.NoError(t, os.Chtimes(path, future, future))

		_, err := f.Authenticate(ctx, "alicf@example.org", "pw")
		assert.ErrorIs(t, err, auth.ErrInvalidCredentials, "not checked again within a second")
		time.Sleep(time.Second)
		_, err = f.Authenticate(ctx, "alicf@example.org", "pw")
		assert.NoError(t, err, "reloaded")
		_, err = f.Authenticate(ctx, "alice@example.org", "pw")
		assert.ErrorIs(t, err, auth.ErrInvalidCredentials, "old content gone")

		// Replaced by rename.
		require.NoError(t, auth.AddUser(path, "bob@example.org", "bobpw", auth.UserOptions{}))
		time.Sleep(time.Second)
		_, err = f.Authenticate(ctx, "bob@example.org", "bobpw")
		assert.NoError(t, err)
		assert.NoError(t, f.LastError())
	})
}

// TestUsersFileInvalidReloadKeepsOld breaks the file, removes it, then
// fixes it: the old users keep working until the fix is loaded.
func TestUsersFileInvalidReloadKeepsOld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		pw := fastHash(t, "pw")
		f, path := openUsers(t, "alice@example.org:"+pw+"\n")

		writeUsers(t, path, "alice@example.org:"+pw+"\nbob@example.org:cleartext\n")
		time.Sleep(time.Second)
		_, err := f.Authenticate(ctx, "alice@example.org", "pw")
		assert.NoError(t, err, "old content kept")
		require.Error(t, f.LastError())
		assert.Contains(t, f.LastError().Error(), "line 2")
		err = f.Reload()
		require.Error(t, err)
		assert.Contains(t, err.Error(), "line 2")

		require.NoError(t, os.Remove(path))
		time.Sleep(time.Second)
		_, err = f.Authenticate(ctx, "alice@example.org", "pw")
		assert.NoError(t, err, "old content kept when the file is gone")
		assert.ErrorIs(t, f.LastError(), os.ErrNotExist)

		writeUsers(t, path, "bob@example.org:"+pw+"\n")
		time.Sleep(time.Second)
		_, err = f.Authenticate(ctx, "bob@example.org", "pw")
		assert.NoError(t, err)
		assert.NoError(t, f.LastError())
	})
}

func TestUsersFileReload(t *testing.T) {
	pw := fastHash(t, "pw")
	f, path := openUsers(t, "alice@example.org:"+pw+"\n")
	writeUsers(t, path, "bob@example.org:"+pw+"\n")
	require.NoError(t, f.Reload(), "Reload reads at once")
	_, err := f.Authenticate(context.Background(), "bob@example.org", "pw")
	assert.NoError(t, err)
}

// TestUsersFileConcurrentReload looks users up from several goroutines
// while the file is rewritten and reloaded (run with -race).
func TestUsersFileConcurrentReload(t *testing.T) {
	ctx := context.Background()
	pw := fastHash(t, "pw")
	f, path := openUsers(t, "alice@example.org:"+pw+":scram-sha-256="+scramField(t, auth.SCRAMSHA256, "pw")+"\n")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if i%10 == 0 {
					_, err := f.Authenticate(ctx, "alice@example.org", "pw")
					assert.NoError(t, err)
				}
				_, err := f.SCRAMCredentials(ctx, auth.SCRAMSHA256, "alice@example.org")
				assert.NoError(t, err)
				f.SCRAMHashes()
				f.AllowMechanism(auth.NTLM)
				f.LastError()
			}
		})
	}
	for i := range 20 {
		content := fmt.Sprintf("alice@example.org:%s:scram-sha-256=%s\nuser%d::\n", pw, scramField(t, auth.SCRAMSHA256, "pw"), i)
		writeUsers(t, path, content)
		assert.NoError(t, f.Reload())
	}
	close(stop)
	wg.Wait()
}

func TestAddUser(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "users")
	pw := fastHash(t, "bobpw")
	bobLine := "bob@example.org:" + pw + ":sendas=b@example.org"
	writeUsers(t, path, "# mail users\n"+bobLine+"\n\n# keep me\n")
	require.NoError(t, os.Chmod(path, 0o644))

	require.NoError(t, auth.AddUser(path, "alice@example.org", "first", auth.UserOptions{}))
	require.NoError(t, auth.AddUser(path, "Alice@Example.org", "second", auth.UserOptions{
		NTLM: true, SendAs: []string{"@example.net"},
	}))

	b, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(string(b), "\n")
	require.Len(t, lines, 6, "content:\n%s", b)
	assert.Equal(t, "# mail users", lines[0])
	assert.Equal(t, bobLine, lines[1], "other users kept verbatim")
	assert.Equal(t, "", lines[2])
	assert.Equal(t, "# keep me", lines[3])
	assert.True(t, strings.HasPrefix(lines[4], "Alice@Example.org:$argon2id$v=19$m=19456,t=2,p=1$"), lines[4])
	assert.Contains(t, lines[4], ":scram-sha-1=4096,")
	assert.Contains(t, lines[4], ":scram-sha-256=4096,")
	assert.Contains(t, lines[4], ":nt="+hex.EncodeToString(func() []byte { h := auth.NTHashOf("second"); return h[:] }()))
	assert.True(t, strings.HasSuffix(lines[4], ":sendas=@example.net"), lines[4])
	assert.Equal(t, "", lines[5])

	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file left behind")

	f, err := auth.OpenUsersFile(path)
	require.NoError(t, err)
	id, err := f.Authenticate(ctx, "alice@example.org", "second")
	require.NoError(t, err)
	assert.Equal(t, auth.Identity{Username: "Alice@Example.org", SendAs: []string{"@example.net"}}, id)
	_, err = f.Authenticate(ctx, "alice@example.org", "first")
	assert.ErrorIs(t, err, auth.ErrInvalidCredentials, "replaced")
	_, err = f.Authenticate(ctx, "bob@example.org", "bobpw")
	assert.NoError(t, err)
	nt, _, err := f.NTHash(ctx, "alice@example.org", "")
	require.NoError(t, err)
	assert.Equal(t, auth.NTHashOf("second"), nt)
}

func TestAddUserOptions(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "users")
	require.NoError(t, auth.AddUser(path, "carol@example.org", "carolpw", auth.UserOptions{Bcrypt: true}))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(b), "carol@example.org:$2a$10$"), "%s", b)
	assert.NotContains(t, string(b), ":nt=", "no NT hash without NTLM")

	f, err := auth.OpenUsersFile(path)
	require.NoError(t, err)
	_, err = f.Authenticate(ctx, "carol@example.org", "carolpw")
	assert.NoError(t, err)
	assert.False(t, f.AllowMechanism(auth.NTLM))
	assert.True(t, f.AllowMechanism(auth.SCRAMSHA256Plus))
	assert.ElementsMatch(t, []auth.SCRAMHash{auth.SCRAMSHA1, auth.SCRAMSHA256}, f.SCRAMHashes())
}

func TestAddUserErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "users")
	tests := []struct {
		name, address, password string
		opts                    auth.UserOptions
	}{
		{"empty address", "", "pw", auth.UserOptions{}},
		{"colon", "a:b", "pw", auth.UserOptions{}},
		{"space", "a b", "pw", auth.UserOptions{}},
		{"newline", "a\nb", "pw", auth.UserOptions{}},
		{"comment", "#a", "pw", auth.UserOptions{}},
		{"empty password", "a", "", auth.UserOptions{}},
		{"bad sendas", "a", "pw", auth.UserOptions{SendAs: []string{"x,y"}}},
		{"sendas colon", "a", "pw", auth.UserOptions{SendAs: []string{"x:y"}}},
		{"bcrypt too long", "a", strings.Repeat("x", 73), auth.UserOptions{Bcrypt: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Error(t, auth.AddUser(path, tt.address, tt.password, tt.opts))
			_, err := os.Stat(path)
			assert.ErrorIs(t, err, os.ErrNotExist, "nothing written")
		})
	}

	t.Run("invalid existing file", func(t *testing.T) {
		writeUsers(t, path, "ok::\nbroken\n")
		err := auth.AddUser(path, "new", "pw", auth.UserOptions{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "line 2")
		b, _ := os.ReadFile(path)
		assert.Equal(t, "ok::\nbroken\n", string(b), "left alone")
	})
}

// TestAddUserSCRAMKeys checks the keys AddUser stores against a SCRAM
// exchange computed here from the password (RFC 5802 §3): the server,
// knowing only StoredKey and ServerKey, accepts the client's proof, and the
// client accepts the server's signature.
func TestAddUserSCRAMKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users")
	const password = "pencil"
	require.NoError(t, auth.AddUser(path, "user", password, auth.UserOptions{}))
	f, err := auth.OpenUsersFile(path)
	require.NoError(t, err)

	for _, tc := range []struct {
		h       auth.SCRAMHash
		newHash func() hash.Hash
	}{{auth.SCRAMSHA1, sha1.New}, {auth.SCRAMSHA256, sha256.New}} {
		t.Run(string(tc.h), func(t *testing.T) {
			creds, err := f.SCRAMCredentials(context.Background(), tc.h, "user")
			require.NoError(t, err)
			assert.Equal(t, 4096, creds.Iterations)
			assert.Len(t, creds.Salt, 16)

			mac := func(key []byte, msg string) []byte {
				m := hmac.New(tc.newHash, key)
				m.Write([]byte(msg))
				return m.Sum(nil)
			}
			sum := func(b []byte) []byte { h := tc.newHash(); h.Write(b); return h.Sum(nil) }
			authMessage := "n=user,r=fyko+d2lbbFgONRv9qkxdawL," +
				"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=" + base64.StdEncoding.EncodeToString(creds.Salt) +
				",i=4096,c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j"

			proof := func(pw string) []byte {
				salted, err := pbkdf2.Key(tc.newHash, pw, creds.Salt, creds.Iterations, tc.newHash().Size())
				require.NoError(t, err)
				clientKey := mac(salted, "Client Key")
				sig := mac(sum(clientKey), authMessage)
				p := make([]byte, len(clientKey))
				for i := range p {
					p[i] = clientKey[i] ^ sig[i]
				}
				return p
			}
			serverAccepts := func(p []byte) bool {
				sig := mac(creds.StoredKey, authMessage)
				clientKey := make([]byte, len(p))
				for i := range p {
					clientKey[i] = p[i] ^ sig[i]
				}
				return hmac.Equal(sum(clientKey), creds.StoredKey)
			}
			assert.True(t, serverAccepts(proof(password)))
			assert.False(t, serverAccepts(proof("pencil2")))

			salted, err := pbkdf2.Key(tc.newHash, password, creds.Salt, creds.Iterations, tc.newHash().Size())
			require.NoError(t, err)
			assert.Equal(t, mac(mac(salted, "Server Key"), authMessage), mac(creds.ServerKey, authMessage),
				"server signature the client expects")
		})
	}
}

func FuzzParseUsers(f *testing.F) {
	f.Add("# c\n\nalice@example.org:" + argon2Vector1 + ":sendas=a@b,@c\n")
	f.Add("bob::nt=00112233445566778899aabbccddeeff:scram-sha-1=4096,c2FsdA==,AAAAAAAAAAAAAAAAAAAAAAAAAAA=,AAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")
	f.Add("\uFEFFdave:!\r\nerin:!$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy\n")
	f.Add("x:y:z")
	f.Fuzz(func(t *testing.T, content string) {
		lines, err := auth.ParseAndFormatUsers(content)
		if err != nil {
			return
		}
		// What was accepted formats to lines that parse to the same thing.
		again, err := auth.ParseAndFormatUsers(strings.Join(lines, "\n"))
		if err != nil {
			t.Fatalf("formatted lines do not parse: %v\n%q", err, lines)
		}
		if strings.Join(again, "\n") != strings.Join(lines, "\n") {
			t.Fatalf("round trip changed:\n%q\n%q", lines, again)
		}
	})
}

// BenchmarkUsersFileAuthenticate compares the cost of the failure cases
// (ADVERSARIAL A6): each should take as long as a wrong password.
func BenchmarkUsersFileAuthenticate(b *testing.B) {
	path := filepath.Join(b.TempDir(), "users")
	require.NoError(b, auth.AddUser(path, "alice@example.org", "pw", auth.UserOptions{}))
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(b, err)
	_, err = f.WriteString("dave@example.org:!\ncarol@example.org::nt=00112233445566778899aabbccddeeff\n")
	require.NoError(b, err)
	require.NoError(b, f.Close())
	users, err := auth.OpenUsersFile(path)
	require.NoError(b, err)
	for _, c := range []struct{ name, user, password string }{
		{"success", "alice@example.org", "pw"},
		{"wrong-password", "alice@example.org", "wrong"},
		{"unknown-user", "nobody@example.org", "wrong"},
		{"disabled-user", "dave@example.org", "wrong"},
		{"no-password", "carol@example.org", "wrong"},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				users.Authenticate(context.Background(), c.user, c.password)
			}
		})
	}
}

func TestUsersFileHasUser(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users")
	require.NoError(t, auth.AddUser(path, "Bob@Example.org", "pw", auth.UserOptions{}))
	require.NoError(t, auth.AddUser(path, "alice@example.org", "pw", auth.UserOptions{}))
	f, err := auth.OpenUsersFile(path)
	require.NoError(t, err)
	assert.True(t, f.HasUser("bob@example.org"), "case-insensitive")
	assert.False(t, f.HasUser("carol@example.org"))
	assert.Equal(t, []string{"Bob@Example.org", "alice@example.org"}, f.Users())
}

// TestUsersFileHalfWritten: a file caught half written in place (here:
// truncated, as "cat > users" leaves it for a moment) is not loaded by the
// automatic check while it was changed less than UsersFileSettle ago, so
// the users do not vanish meanwhile; once left alone, it is loaded.
// File times are set explicitly, so that the outcome does not depend on
// how fast the test runs.
func TestUsersFileHalfWritten(t *testing.T) {
	ctx := context.Background()
	pw := fastHash(t, "pw")
	f, path := openUsers(t, "alice@example.org:"+pw+"\n")
	time.Sleep(auth.UsersFileCheckInterval + 10*time.Millisecond)
	require.NoError(t, os.Truncate(path, 0))
	now := time.Now()
	require.NoError(t, os.Chtimes(path, now, now)) // written "just now"
	_, err := f.Authenticate(ctx, "alice@example.org", "pw")
	assert.NoError(t, err, "a file changed a moment ago is not loaded yet")

	writeUsers(t, path, "alice@example.org:"+pw+"\nbob@example.org:"+pw+"\n")
	old := time.Now().Add(-2 * auth.UsersFileSettle)
	require.NoError(t, os.Chtimes(path, old, old)) // left alone since
	time.Sleep(auth.UsersFileCheckInterval + 10*time.Millisecond)
	_, err = f.Authenticate(ctx, "bob@example.org", "pw")
	assert.NoError(t, err, "once left alone, it is loaded")
	_, err = f.Authenticate(ctx, "alice@example.org", "pw")
	assert.NoError(t, err)
}

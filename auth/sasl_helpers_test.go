package auth_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mailfront/mailfront/auth"
	"github.com/stretchr/testify/require"
)

// saslDirectory is a fake user directory implementing the Authenticator
// and every optional interface, with knobs for the error paths.
type saslDirectory struct {
	passwords map[string]string // user → password
	tokens    map[string]string // bearer token → user
	certUsers map[string]string // client certificate CN → user
	proxies   map[string]string // authcid → the one authzid it may act as

	// unavailable makes every method fail with auth.ErrUnavailable.
	unavailable bool
	// scramIterations overrides the iteration count of the stored keys.
	scramIterations int
	// hashes restricts SCRAMHashes; nil means both.
	hashes []auth.SCRAMHash

	calls atomic.Int64 // calls into the directory

	mu    sync.Mutex
	scram map[string]auth.SCRAMCredentials
}

var (
	_ auth.SCRAMKeyStore     = (*saslDirectory)(nil)
	_ auth.SecretStore       = (*saslDirectory)(nil)
	_ auth.NTHashStore       = (*saslDirectory)(nil)
	_ auth.TokenVerifier     = (*saslDirectory)(nil)
	_ auth.CertificateMapper = (*saslDirectory)(nil)
	_ auth.Authorizer        = (*saslDirectory)(nil)
)

// The published SCRAM salts of RFC 5802 §5 and RFC 7677 §3, for "user".
var rfcSalts = map[auth.SCRAMHash]string{
	auth.SCRAMSHA1:   "QSXCR+Q6sek8bf92",
	auth.SCRAMSHA256: "W22ZaJ0SNY7soEsUEjb6gQ==",
}

func newSASLDirectory() *saslDirectory {
	return &saslDirectory{
		passwords: map[string]string{
			"tim":               "tanstaaftanstaaf", // RFC 4616, RFC 2195
			"Kurt":              "xipj3plmq",        // RFC 4616
			"user":              "pencil",           // RFC 5802, RFC 7677
			"User":              "Password",         // MS-NLMP §4.2.4
			"alice@example.org": "correct horse",
		},
		tokens:    map[string]string{"vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==": "alice@example.org"},
		certUsers: map[string]string{"alice": "alice@example.org"},
		proxies:   map[string]string{"Kurt": "Ursel"},
	}
}

var errDirectoryDown = fmt.Errorf("directory down: %w", auth.ErrUnavailable)

func (d *saslDirectory) enter() error {
	d.calls.Add(1)
	if d.unavailable {
		return errDirectoryDown
	}
	return nil
}

func (d *saslDirectory) Authenticate(ctx context.Context, username, password string) (auth.Identity, error) {
	if err := d.enter(); err != nil {
		return auth.Identity{}, err
	}
	if p, ok := d.passwords[username]; ok && p == password {
		return auth.Identity{Username: username}, nil
	}
	return auth.Identity{}, auth.ErrInvalidCredentials
}

func (d *saslDirectory) SCRAMHashes() []auth.SCRAMHash {
	if d.hashes != nil {
		return d.hashes
	}
	return []auth.SCRAMHash{auth.SCRAMSHA256, auth.SCRAMSHA1}
}

func (d *saslDirectory) SCRAMCredentials(ctx context.Context, h auth.SCRAMHash, username string) (auth.SCRAMCredentials, error) {
	if err := d.enter(); err != nil {
		return auth.SCRAMCredentials{}, err
	}
	p, ok := d.passwords[username]
	if !ok {
		return auth.SCRAMCredentials{}, fmt.Errorf("no such user: %w", auth.ErrInvalidCredentials)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	key := string(h) + "\x00" + username
	if c, ok := d.scram[key]; ok {
		return d.adjust(c), nil
	}
	var salt []byte
	if username == "user" {
		salt, _ = base64.StdEncoding.DecodeString(rfcSalts[h])
	}
	c, err := auth.NewSCRAMCredentials(h, p, salt, 4096)
	if err != nil {
		return auth.SCRAMCredentials{}, err
	}
	c.Identity = auth.Identity{Username: username}
	if d.scram == nil {
		d.scram = map[string]auth.SCRAMCredentials{}
	}
	d.scram[key] = c
	return d.adjust(c), nil
}

func (d *saslDirectory) adjust(c auth.SCRAMCredentials) auth.SCRAMCredentials {
	if d.scramIterations != 0 {
		c.Iterations = d.scramIterations
	}
	return c
}

func (d *saslDirectory) Secret(ctx context.Context, username string) (string, auth.Identity, error) {
	if err := d.enter(); err != nil {
		return "", auth.Identity{}, err
	}
	p, ok := d.passwords[username]
	if !ok {
		return "", auth.Identity{}, auth.ErrInvalidCredentials
	}
	return p, auth.Identity{Username: username}, nil
}

func (d *saslDirectory) NTHash(ctx context.Context, username, domain string) ([16]byte, auth.Identity, error) {
	if err := d.enter(); err != nil {
		return [16]byte{}, auth.Identity{}, err
	}
	p, ok := d.passwords[username]
	if !ok {
		return [16]byte{}, auth.Identity{}, auth.ErrInvalidCredentials
	}
	return auth.NTHashOf(p), auth.Identity{Username: username}, nil
}

func (d *saslDirectory) VerifyToken(ctx context.Context, username, token string) (auth.Identity, error) {
	if err := d.enter(); err != nil {
		return auth.Identity{}, err
	}
	u, ok := d.tokens[token]
	if !ok || (username != "" && username != u) {
		return auth.Identity{}, fmt.Errorf("bad token: %w", auth.ErrInvalidCredentials)
	}
	return auth.Identity{Username: u}, nil
}

func (d *saslDirectory) MapCertificate(ctx context.Context, chain []*x509.Certificate, authzid string) (auth.Identity, error) {
	if err := d.enter(); err != nil {
		return auth.Identity{}, err
	}
	u, ok := d.certUsers[chain[0].Subject.CommonName]
	if !ok || (authzid != "" && authzid != u) {
		return auth.Identity{}, auth.ErrInvalidCredentials
	}
	return auth.Identity{Username: u}, nil
}

func (d *saslDirectory) Authorize(ctx context.Context, id auth.Identity, authzid string) (auth.Identity, error) {
	if d.proxies[id.Username] == authzid {
		return auth.Identity{Username: authzid}, nil
	}
	return auth.Identity{}, fmt.Errorf("%s may not act as %s: %w", id.Username, authzid, auth.ErrInvalidCredentials)
}

// scramOnly exposes only the SCRAM store of a directory: no Authorizer.
type scramOnly struct{ d *saslDirectory }

func (s scramOnly) Authenticate(ctx context.Context, u, p string) (auth.Identity, error) {
	return s.d.Authenticate(ctx, u, p)
}
func (s scramOnly) SCRAMHashes() []auth.SCRAMHash { return s.d.SCRAMHashes() }
func (s scramOnly) SCRAMCredentials(ctx context.Context, h auth.SCRAMHash, u string) (auth.SCRAMCredentials, error) {
	return s.d.SCRAMCredentials(ctx, h, u)
}

// saslRun drives a session: each response in turn, stopping at the first
// error or at done. It returns the challenges received.
func saslRun(t testing.TB, s auth.ServerSession, responses ...[]byte) (challenges [][]byte, done bool, err error) {
	t.Helper()
	for _, r := range responses {
		var c []byte
		c, done, err = s.Next(context.Background(), r)
		if err != nil || done {
			return challenges, done, err
		}
		challenges = append(challenges, c)
	}
	return challenges, false, nil
}

// saslStart starts a session or fails the test.
func saslStart(t testing.TB, mech string, a auth.Authenticator, opts auth.SessionOptions) auth.ServerSession {
	t.Helper()
	s, err := auth.NewServerSession(mech, a, opts)
	require.NoError(t, err, "NewServerSession(%q)", mech)
	return s
}

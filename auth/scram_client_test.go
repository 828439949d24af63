package auth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"hash"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// scramClient is an independent client side of SCRAM, for the tests.
type scramClient struct {
	newHash  func() hash.Hash
	user     string
	password string
	authzid  string
	gs2Flag  string // "n", "y" or "p=<type>"
	cbData   []byte // channel binding data for p=
	cnonce   string
	firstExt string // appended to client-first-message-bare, e.g. ",x=y"

	// cached client key and server key (to skip PBKDF2 in benchmarks)
	clientKey, serverKey []byte

	bare, serverFirst, withoutProof string
}

func newSCRAMClient(sha256Hash bool, user, password string) *scramClient {
	c := &scramClient{newHash: sha1.New, user: user, password: password, gs2Flag: "n"}
	if sha256Hash {
		c.newHash = sha256.New
	}
	nonce := make([]byte, 18)
	rand.Read(nonce)
	c.cnonce = base64.RawStdEncoding.EncodeToString(nonce)
	return c
}

func scramEscape(s string) string {
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(s)
}

func (c *scramClient) gs2Header() string {
	h := c.gs2Flag + ","
	if c.authzid != "" {
		h += "a=" + scramEscape(c.authzid)
	}
	return h + ","
}

func (c *scramClient) first() []byte {
	c.bare = "n=" + scramEscape(c.user) + ",r=" + c.cnonce + c.firstExt
	return []byte(c.gs2Header() + c.bare)
}

func (c *scramClient) mac(key []byte, msg string) []byte {
	m := hmac.New(c.newHash, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// final answers the server-first message.
func (c *scramClient) final(serverFirst []byte) ([]byte, error) {
	c.serverFirst = string(serverFirst)
	var nonce, salt string
	iter := 0
	for _, f := range strings.Split(c.serverFirst, ",") {
		switch {
		case strings.HasPrefix(f, "r="):
			nonce = f[2:]
		case strings.HasPrefix(f, "s="):
			salt = f[2:]
		case strings.HasPrefix(f, "i="):
			fmt.Sscanf(f[2:], "%d", &iter)
		}
	}
	if !strings.HasPrefix(nonce, c.cnonce) {
		return nil, fmt.Errorf("server nonce %q does not extend ours", nonce)
	}
	if c.clientKey == nil {
		s, err := base64.StdEncoding.DecodeString(salt)
		if err != nil {
			return nil, err
		}
		salted, err := pbkdf2.Key(c.newHash, c.password, s, iter, c.newHash().Size())
		if err != nil {
			return nil, err
		}
		c.clientKey = c.mac(salted, "Client Key")
		c.serverKey = c.mac(salted, "Server Key")
	}
	cbind := append([]byte(c.gs2Header()), c.cbData...)
	c.withoutProof = "c=" + base64.StdEncoding.EncodeToString(cbind) + ",r=" + nonce
	h := c.newHash()
	h.Write(c.clientKey)
	sig := c.mac(h.Sum(nil), c.authMessage())
	proof := make([]byte, len(sig))
	for i := range proof {
		proof[i] = c.clientKey[i] ^ sig[i]
	}
	return []byte(c.withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)), nil
}

func (c *scramClient) authMessage() string {
	return c.bare + "," + c.serverFirst + "," + c.withoutProof
}

// verifyServer checks the server-final message.
func (c *scramClient) verifyServer(serverFinal []byte) bool {
	want := "v=" + base64.StdEncoding.EncodeToString(c.mac(c.serverKey, c.authMessage()))
	return hmac.Equal([]byte(want), serverFinal)
}

// tlsPair is the two ends of a completed TLS handshake.
type tlsPair struct {
	server, client tls.ConnectionState
	cert           *x509.Certificate
}

// newTestCert makes a self-signed certificate; P-384 keys are signed with
// ECDSA-SHA384, which changes the tls-server-end-point hash.
func newTestCert(t testing.TB, curve elliptic.Curve, cn string) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(curve, rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn},
		DNSNames:              []string{cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, leaf
}

// handshake runs a real TLS handshake over net.Pipe with the given
// version.
func handshake(t testing.TB, version uint16, curve elliptic.Curve) tlsPair {
	t.Helper()
	cert, leaf := newTestCert(t, curve, "mail.example.org")
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	srv := tls.Server(c1, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: version, MaxVersion: version})
	cli := tls.Client(c2, &tls.Config{RootCAs: pool, ServerName: "mail.example.org", MinVersion: version, MaxVersion: version})
	errc := make(chan error, 1)
	go func() { errc <- srv.Handshake() }()
	require.NoError(t, cli.Handshake())
	require.NoError(t, <-errc)
	return tlsPair{server: srv.ConnectionState(), client: cli.ConnectionState(), cert: leaf}
}

// clientEndPoint computes tls-server-end-point data as a client does,
// from the certificate it received.
func clientEndPoint(cs tls.ConnectionState) []byte {
	leaf := cs.PeerCertificates[0]
	var h hash.Hash
	switch leaf.SignatureAlgorithm {
	case x509.ECDSAWithSHA384, x509.SHA384WithRSA:
		h = sha512.New384()
	default:
		h = sha256.New()
	}
	h.Write(leaf.Raw)
	return h.Sum(nil)
}

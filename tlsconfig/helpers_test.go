package tlsconfig_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/tlsconfig"
)

// result is what both ends of a handshake saw.
type result struct {
	client, server       tls.ConnectionState
	clientErr, serverErr error
}

// handshake connects a client using cli to a server using srv over a
// 127.0.0.1 listener. After a successful handshake the server writes one
// byte, which the client reads: that makes the client process TLS 1.3
// session tickets, and report a client certificate the server refused
// (TLS 1.3 servers check it after the client's handshake completed).
// Without ServerName in cli, the client sends no SNI and verifies
// 127.0.0.1, as tls.Dial would.
func handshake(t *testing.T, srv, cli *tls.Config) result {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()

	type serverResult struct {
		state tls.ConnectionState
		err   error
	}
	done := make(chan serverResult, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- serverResult{err: err}
			return
		}
		defer c.Close()
		tc := tls.Server(c, srv)
		err = tc.Handshake()
		if err == nil {
			_, err = tc.Write([]byte("x"))
		}
		done <- serverResult{tc.ConnectionState(), err}
	}()

	var r result
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	if cli.ServerName == "" {
		cli = cli.Clone()
		cli.ServerName = "127.0.0.1"
	}
	tc := tls.Client(c, cli)
	r.clientErr = tc.Handshake()
	if r.clientErr == nil {
		_, r.clientErr = tc.Read(make([]byte, 1))
	}
	r.client = tc.ConnectionState()
	c.Close()
	s := <-done
	r.server, r.serverErr = s.state, s.err
	return r
}

// selfSigned returns a new certificate for hosts or fails the test.
func selfSigned(t *testing.T, hosts ...string) *tlsconfig.SelfSignedCert {
	t.Helper()
	c, err := tlsconfig.SelfSigned(hosts...)
	require.NoError(t, err)
	return c
}

// writePair writes c into dir and returns the pair naming its files.
func writePair(t *testing.T, c *tlsconfig.SelfSignedCert, dir string) tlsconfig.KeyPair {
	t.Helper()
	require.NoError(t, c.WriteFiles(dir))
	return tlsconfig.KeyPair{
		CertFile: filepath.Join(dir, tlsconfig.CertFile),
		KeyFile:  filepath.Join(dir, tlsconfig.KeyFile),
	}
}

// isCert reports whether got is the leaf of want.
func isCert(got *x509.Certificate, want *tlsconfig.SelfSignedCert) bool {
	return got != nil && bytes.Equal(got.Raw, want.Certificate.Certificate[0])
}

// leafOf returns the parsed leaf of a tls.Certificate.
func leafOf(t *testing.T, c *tls.Certificate) *x509.Certificate {
	t.Helper()
	require.NotNil(t, c)
	if c.Leaf != nil {
		return c.Leaf
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	require.NoError(t, err)
	return leaf
}

// peerLeaf returns the certificate the server presented.
func peerLeaf(t *testing.T, s tls.ConnectionState) *x509.Certificate {
	t.Helper()
	require.NotEmpty(t, s.PeerCertificates, "no server certificate")
	return s.PeerCertificates[0]
}

// writeFile writes data into name, failing the test on error.
func writeFile(t *testing.T, name string, data []byte) {
	t.Helper()
	require.NoError(t, os.WriteFile(name, data, 0o600))
}

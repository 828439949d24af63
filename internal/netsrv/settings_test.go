package netsrv_test

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/internal/netsrv"
)

// Zero is the default, negative is none (0), positive is itself.
func TestLimitAndTimeout(t *testing.T) {
	for _, tt := range []struct {
		name    string
		v, want int
	}{
		{"zero is the default", 0, 7},
		{"negative is unlimited", -1, 0},
		{"positive is kept", 3, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, netsrv.Limit(tt.v, 7))
			assert.Equal(t, int64(tt.want), netsrv.Limit(int64(tt.v), 7))
			assert.Equal(t, time.Duration(tt.want)*time.Second, netsrv.Timeout(time.Duration(tt.v)*time.Second, 7*time.Second))
		})
	}
}

func TestHostname(t *testing.T) {
	assert.Equal(t, "mx.example.org", netsrv.Hostname("mx.example.org"))
	want := "localhost"
	if h, err := os.Hostname(); err == nil && h != "" {
		want = h
	}
	assert.Equal(t, want, netsrv.Hostname(""))
}

func TestHasCertificate(t *testing.T) {
	cfg, _ := selfSigned(t)
	getCert := func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return nil, nil }
	getConfig := func(*tls.ClientHelloInfo) (*tls.Config, error) { return nil, nil }
	for _, tt := range []struct {
		name string
		cfg  *tls.Config
		want bool
	}{
		{"nil", nil, false},
		{"no certificate", &tls.Config{}, false},
		{"Certificates", cfg, true},
		{"GetCertificate", &tls.Config{GetCertificate: getCert}, true},
		{"GetConfigForClient", &tls.Config{GetConfigForClient: getConfig}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, netsrv.HasCertificate(tt.cfg))
		})
	}
}

// ListenAndServe hands serve a TCP listener on addr, and returns the error
// of net.Listen without calling serve.
func TestListenAndServe(t *testing.T) {
	var srv netsrv.Server
	errServed := errors.New("served")
	var got net.Addr
	err := srv.ListenAndServe("127.0.0.1:0", ":1", func(l net.Listener) error {
		got = l.Addr()
		return errors.Join(errServed, l.Close())
	})
	assert.ErrorIs(t, err, errServed)
	require.NotNil(t, got)
	assert.Equal(t, "127.0.0.1", got.(*net.TCPAddr).IP.String())

	called := false
	err = srv.ListenAndServe("", "127.0.0.1:99999", func(net.Listener) error { called = true; return nil })
	assert.Error(t, err, "an empty addr uses the default")
	assert.False(t, called)
}

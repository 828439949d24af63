package mailfront_test

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront"
)

func TestConnInfoFromContext(t *testing.T) {
	_, ok := mailfront.ConnInfoFromContext(context.Background())
	assert.False(t, ok, "empty context carries no ConnInfo")

	user := ""
	ctx := mailfront.ContextWithConnInfo(context.Background(), func() mailfront.ConnInfo {
		return mailfront.ConnInfo{ID: "c1", Protocol: "pop3", Username: user}
	})
	ci, ok := mailfront.ConnInfoFromContext(ctx)
	require.True(t, ok)
	assert.Equal(t, "c1", ci.ID)
	assert.Empty(t, ci.Username)

	user = "alice"
	ci, _ = mailfront.ConnInfoFromContext(ctx)
	assert.Equal(t, "alice", ci.Username, "ConnInfoFromContext sees the current state")
}

func TestStateAndReasonNames(t *testing.T) {
	assert.Equal(t, "idle", mailfront.StateIdle.String())
	assert.Equal(t, "closed", mailfront.StateClosed.String())
	assert.Equal(t, "unknown", mailfront.ConnState(99).String())
	assert.Equal(t, "auth failures", mailfront.AuthFailures.String())
	assert.Equal(t, "internal error", mailfront.InternalError.String())
	assert.Equal(t, "unknown", mailfront.CloseReason(-1).String())
}

func TestProxyListener(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	l := mailfront.ProxyListener(inner, trusted, time.Second)
	defer l.Close()

	go func() {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			return
		}
		defer c.Close()
		c.Write([]byte("PROXY TCP4 192.0.2.7 127.0.0.1 40000 110\r\nhello"))
		time.Sleep(100 * time.Millisecond)
	}()
	c, err := l.Accept()
	require.NoError(t, err)
	defer c.Close()
	assert.Equal(t, "192.0.2.7:40000", c.RemoteAddr().String(), "address from the PROXY header")
	buf := make([]byte, 5)
	_, err = c.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(buf))
}

func TestProxyListenerUntrustedPeer(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	l := mailfront.ProxyListener(inner, trusted, time.Second)
	defer l.Close()

	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			return
		}
		defer c.Close()
		c.Write([]byte("PROXY TCP4 192.0.2.7 127.0.0.1 40000 110\r\n"))
		<-time.After(100 * time.Millisecond)
	}()
	c, err := l.Accept()
	require.NoError(t, err)
	defer c.Close()
	host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
	assert.Equal(t, "127.0.0.1", host, "an untrusted peer cannot choose its address")
	buf := make([]byte, 5)
	_, err = c.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "PROXY", string(buf), "the header reaches the protocol as input")
	<-done
}

package mailfront

import (
	"net"
	"net/netip"
	"time"

	"github.com/pires/go-proxyproto"
)

// ProxyListener wraps l for use behind a load balancer or proxy that speaks
// the PROXY protocol (versions 1 and 2, as HAProxy defines them).
//
// A connection whose peer address is in trusted must begin with a PROXY
// header; the address in that header becomes the connection's RemoteAddr, so
// per-address connection limits, login throttling and logs see the real
// client. A trusted peer that sends no valid header within headerTimeout
// (zero: 5 seconds) fails its first read and is closed. Connections from any
// other address are served unchanged, and a PROXY header they send is treated
// as protocol input (and refused as an unknown command): a client can never
// choose its own address.
//
// The header is read in the connection's goroutine, never in the accept loop,
// so a slow proxy cannot stall other clients. Parsing is done by
// github.com/pires/go-proxyproto.
func ProxyListener(l net.Listener, trusted []netip.Prefix, headerTimeout time.Duration) net.Listener {
	if headerTimeout <= 0 {
		headerTimeout = 5 * time.Second
	}
	return &proxyproto.Listener{
		Listener:          l,
		ReadHeaderTimeout: headerTimeout,
		ConnPolicy: func(opts proxyproto.ConnPolicyOptions) (proxyproto.Policy, error) {
			if addrInPrefixes(opts.Upstream, trusted) {
				return proxyproto.REQUIRE, nil
			}
			return proxyproto.SKIP, nil
		},
	}
}

func addrInPrefixes(a net.Addr, prefixes []netip.Prefix) bool {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return false
	}
	ip := ap.Addr().Unmap()
	for _, p := range prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

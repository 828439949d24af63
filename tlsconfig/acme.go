package tlsconfig

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/netip"
	"strings"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// ACMEProto is the ALPN protocol name of the TLS-ALPN-01 challenge (RFC
// 8737), which configurations from [ACME.TLSConfig] accept.
const ACMEProto = acme.ALPNProto

// ACME serves certificates obtained from an ACME certificate authority such
// as Let's Encrypt through an [autocert.Manager], adapted to mail listeners:
//
//   - Many mail clients send no server name (SNI), for instance when set up
//     with an IP address; autocert refuses those hellos. ACME answers them,
//     and names its HostPolicy refuses, with the certificate for DefaultName.
//   - [autocert.Manager.TLSConfig] offers the HTTP protocols h2 and http/1.1
//     by ALPN, and its single NextProtos list would make Go refuse mail
//     clients that offer other protocols. [ACME.TLSConfig] offers no protocol
//     to ordinary clients and the TLS-ALPN-01 challenge protocol to the CA's
//     validation, so certificates can be validated on the mail port itself
//     (which the CA must then reach on port 443, for instance through a port
//     forward). [ACME.HTTPHandler] serves the HTTP-01 challenge on port 80
//     instead.
//
// The Manager must have a Cache (see [autocert.DirCache]) or every restart
// requests new certificates and soon hits the CA's rate limits.
type ACME struct {
	// Manager obtains, caches and renews the certificates.
	Manager *autocert.Manager

	// DefaultName is the name whose certificate answers hellos without a
	// server name, or with one the Manager's HostPolicy refuses. Empty
	// means such hellos fail, as they do with autocert alone.
	DefaultName string
}

// NewACME returns an ACME for the given domains, caching account and
// certificates in cacheDir (created with mode 0700) and asking the CA only
// for certificates of those domains. The first domain is the DefaultName.
//
// The Manager accepts the CA's terms of service on the caller's behalf
// (autocert.AcceptTOS); set Manager.Prompt to decide otherwise, and
// Manager.Email to give the CA a contact address. Without further settings
// it talks to Let's Encrypt's production directory.
func NewACME(cacheDir string, domains ...string) (*ACME, error) {
	if len(domains) == 0 {
		return nil, errors.New("tlsconfig: NewACME needs at least one domain")
	}
	if cacheDir == "" {
		return nil, errors.New("tlsconfig: NewACME needs a cache directory")
	}
	for _, d := range domains {
		if _, err := netip.ParseAddr(d); err == nil || !strings.Contains(strings.Trim(d, "."), ".") {
			return nil, errors.New("tlsconfig: NewACME: " + d + " is not a fully qualified domain name")
		}
	}
	return &ACME{
		Manager: &autocert.Manager{
			Prompt:     autocert.AcceptTOS,
			Cache:      autocert.DirCache(cacheDir),
			HostPolicy: autocert.HostWhitelist(domains...),
		},
		DefaultName: domains[0],
	}, nil
}

// GetCertificate returns the certificate for hello, as the
// [tls.Config.GetCertificate] hook: the Manager's certificate for the
// requested name, or for DefaultName when there is none or the HostPolicy
// refuses it. The first hello for a name whose certificate is not cached
// waits while the Manager obtains it.
func (a *ACME) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if a.Manager == nil {
		return nil, errors.New("tlsconfig: ACME has no Manager")
	}
	if a.DefaultName != "" && !isACMEChallenge(hello) && !a.allowed(hello) {
		h := *hello
		h.ServerName = a.DefaultName
		hello = &h
	}
	return a.Manager.GetCertificate(hello)
}

// allowed reports whether hello names a host the Manager will serve.
func (a *ACME) allowed(hello *tls.ClientHelloInfo) bool {
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	if name == "" || !strings.Contains(name, ".") {
		return false
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return false
	}
	if a.Manager.HostPolicy == nil {
		return true
	}
	ctx := hello.Context()
	if ctx == nil { // a ClientHelloInfo not made by crypto/tls
		ctx = context.Background()
	}
	return a.Manager.HostPolicy(ctx, name) == nil
}

// isACMEChallenge reports whether hello is a CA validating a TLS-ALPN-01
// challenge: it offers that protocol alone (RFC 8737 §3).
func isACMEChallenge(hello *tls.ClientHelloInfo) bool {
	return len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == ACMEProto
}

// TLSConfig returns a server configuration for mail listeners: the defaults
// of [New] with GetCertificate, and no ALPN protocols of its own, so mail
// clients connect whatever protocols they offer and the port cannot pass for
// an HTTPS server. Hellos of a TLS-ALPN-01 validation get, through
// GetConfigForClient, a configuration that negotiates [ACMEProto] (RFC 8737
// requires it), so certificates can be validated on the mail port itself.
//
// Callers may add NextProtos (say "imap", for ALPACA protection) and change
// or clone the configuration; they must keep GetConfigForClient, or
// TLS-ALPN-01 validation fails. Every call returns a new configuration.
func (a *ACME) TLSConfig() *tls.Config {
	challenge := New(a.GetCertificate)
	challenge.NextProtos = []string{ACMEProto}
	cfg := New(a.GetCertificate)
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		if isACMEChallenge(hello) {
			return challenge, nil
		}
		return nil, nil
	}
	return cfg
}

// HTTPHandler returns the Manager's handler for HTTP-01 challenges (RFC 8555
// §8.3), to serve on port 80 when the CA cannot reach a TLS port on 443.
// Other requests go to fallback; nil redirects them to HTTPS. See
// [autocert.Manager.HTTPHandler].
func (a *ACME) HTTPHandler(fallback http.Handler) http.Handler {
	return a.Manager.HTTPHandler(fallback)
}

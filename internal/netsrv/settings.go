package netsrv

import (
	"crypto/tls"
	"net"
	"os"
	"time"
)

// The protocol servers' fields follow one convention (x/crypto/ssh style):
// zero means a safe default, negative means no limit. The helpers below
// resolve a field under it, so that each server's accessors state only
// their defaults.

// Limit resolves a count or size field: zero gives def, a negative value
// gives 0, which [Config] and the protocols' counters read as unlimited.
func Limit[T ~int | ~int64](v, def T) T {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// Timeout resolves a duration field as [Limit] does: zero gives def, a
// negative value gives 0, which [Conn.ReadCommand], [Conn.ReadLine],
// [Conn.SetReadTimeout], [Conn.SetWriteTimeout] and [Config] read as no
// timeout.
func Timeout(v, def time.Duration) time.Duration { return Limit(v, def) }

// Hostname returns name, or if it is empty the machine's host name, or
// "localhost" if that is unknown: the default of a server's Hostname field.
func Hostname(name string) string {
	if name != "" {
		return name
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "localhost"
}

// HasCertificate reports whether cfg can serve TLS: it has Certificates,
// GetCertificate or GetConfigForClient. Implicit TLS and STARTTLS need it.
func HasCertificate(cfg *tls.Config) bool {
	return cfg != nil && (len(cfg.Certificates) > 0 || cfg.GetCertificate != nil || cfg.GetConfigForClient != nil)
}

// ListenAndServe listens on the TCP address addr, or def if addr is empty,
// and passes the listener to serve: the body of a server's ListenAndServe
// and ListenAndServeTLS methods, whose serve closes the listener. After
// Shutdown or Close it returns [ErrServerClosed] without listening, as
// net/http does.
func (s *Server) ListenAndServe(addr, def string, serve func(net.Listener) error) error {
	if s.ShuttingDown() {
		return ErrServerClosed
	}
	if addr == "" {
		addr = def
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return serve(l)
}

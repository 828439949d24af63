package tlsconfig

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultCheckInterval is how often, at most, a [Reloader] looks at its files
// when its CheckInterval is zero.
const DefaultCheckInterval = 5 * time.Second

// A KeyPair names the PEM files of one certificate and its private key.
type KeyPair struct {
	// CertFile holds the leaf certificate followed by any intermediates
	// (a "fullchain" file).
	CertFile string
	// KeyFile holds the private key, in PKCS #1, PKCS #8 or SEC 1 form.
	KeyFile string
}

// A Reloader serves certificates from PEM files and picks them up again when
// the files change, so that a renewed certificate (certbot, an ACME client,
// an operator) takes effect without a restart. Use its GetCertificate method
// in a [tls.Config], for instance through [New].
//
// The files are looked at lazily: a handshake stats them at most once per
// CheckInterval and reloads them when a file was replaced or its modification
// time or size changed. No goroutine is started, so there is nothing to stop.
// [Reloader.Reload] reloads on demand, for SIGHUP. A load that fails (a
// missing or broken file, a key that does not match its certificate) keeps
// every previous certificate in service and is reported by Reload,
// [Reloader.LastError] and the Logger; the files are tried again once they
// change.
//
// With several pairs, the certificate is chosen by the server name the client
// sent (SNI), matched case-insensitively against each leaf's DNS names,
// including wildcards such as *.example.org for exactly one label; an exact
// name wins over a wildcard. A client that connects to an IP literal sends no
// name and gets the certificate naming the local address the client reached,
// if any. Otherwise the first pair is the default.
//
// A Reloader is made by [NewReloader]; its zero value serves no certificate.
// Its methods are safe for concurrent use. The exported fields must be set
// before the first handshake and not changed afterwards.
type Reloader struct {
	// CheckInterval is the least time between two looks at the files
	// during handshakes. Zero means DefaultCheckInterval (5s); a negative
	// value disables the automatic check, leaving only Reload.
	CheckInterval time.Duration

	// Logger receives a line when the certificates are reloaded (Info) and
	// when a reload fails (Warn). Nil means slog.Default().
	Logger *slog.Logger

	pairs     []KeyPair
	certs     atomic.Pointer[certSet]
	lastCheck atomic.Int64 // wall clock, Unix nanoseconds

	mu      sync.Mutex // serialises loads; guards the fields below
	stamps  []os.FileInfo
	lastErr error
}

// NewReloader loads the given pairs and returns a Reloader serving them. The
// first pair is the default certificate. It fails when no pair is given or a
// pair does not load.
func NewReloader(pairs ...KeyPair) (*Reloader, error) {
	if len(pairs) == 0 {
		return nil, errors.New("tlsconfig: NewReloader needs at least one key pair")
	}
	r := &Reloader{pairs: append([]KeyPair(nil), pairs...)}
	stamps, err := r.statFiles()
	if err != nil {
		return nil, err
	}
	set, err := r.load()
	if err != nil {
		return nil, err
	}
	r.stamps = stamps
	r.certs.Store(set)
	r.lastCheck.Store(time.Now().UnixNano())
	return r, nil
}

// GetCertificate returns the certificate for hello, as the
// [tls.Config.GetCertificate] hook. It first looks at the files when
// CheckInterval has passed since the last look.
func (r *Reloader) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.maybeCheck(hello)
	set := r.certs.Load()
	if set == nil {
		return nil, errors.New("tlsconfig: Reloader has no certificate (use NewReloader)")
	}
	return set.pick(hello), nil
}

// Reload reads every pair again and, when all of them load, puts them in
// service together. On failure the previous certificates stay in service and
// the error is returned (and kept for LastError).
func (r *Reloader) Reload() error {
	if len(r.pairs) == 0 {
		return errors.New("tlsconfig: Reloader has no key pair (use NewReloader)")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lastCheck.Store(time.Now().UnixNano())
	stamps, err := r.statFiles()
	if err != nil {
		r.failLocked(context.Background(), err)
		return err
	}
	return r.reloadLocked(context.Background(), stamps)
}

// LastError returns the error of the latest failed reload, or nil when the
// latest load succeeded. It lets a host export the health of its
// certificate files.
func (r *Reloader) LastError() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastErr
}

// Certificates returns the certificates in service, default first. The
// caller must not modify them.
func (r *Reloader) Certificates() []*tls.Certificate {
	set := r.certs.Load()
	if set == nil {
		return nil
	}
	out := make([]*tls.Certificate, len(set.entries))
	for i, e := range set.entries {
		out[i] = e.cert
	}
	return out
}

func (r *Reloader) checkInterval() time.Duration {
	if r.CheckInterval == 0 {
		return DefaultCheckInterval
	}
	return r.CheckInterval
}

func (r *Reloader) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.Default()
	}
	return r.Logger
}

// maybeCheck looks at the files if the interval has passed; of the
// handshakes that notice it concurrently, only one does the work.
func (r *Reloader) maybeCheck(hello *tls.ClientHelloInfo) {
	interval := r.checkInterval()
	if interval < 0 || len(r.pairs) == 0 {
		return
	}
	now := time.Now().UnixNano()
	last := r.lastCheck.Load()
	// A clock stepped backwards counts as due, or checks would stop.
	if now-last < int64(interval) && now >= last {
		return
	}
	if !r.lastCheck.CompareAndSwap(last, now) {
		return
	}
	ctx := context.Background()
	if hello != nil && hello.Context() != nil {
		ctx = hello.Context()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	stamps, err := r.statFiles()
	if err != nil {
		// Forget the stamps: once the files are back, even unchanged,
		// they are loaded again and LastError is cleared.
		r.stamps = nil
		r.failLocked(ctx, err)
		return
	}
	if stampsEqual(stamps, r.stamps) {
		return
	}
	_ = r.reloadLocked(ctx, stamps) // reported through LastError and the log
}

// reloadLocked loads the files whose stamps were just taken. The stamps are
// kept even when the load fails, so that a broken file is not parsed again
// at every check, but is as soon as it changes.
func (r *Reloader) reloadLocked(ctx context.Context, stamps []os.FileInfo) error {
	r.stamps = stamps
	set, err := r.load()
	if err != nil {
		r.failLocked(ctx, err)
		return err
	}
	r.certs.Store(set)
	r.lastErr = nil
	attrs := make([]slog.Attr, 0, 2)
	attrs = append(attrs, slog.Int("certificates", len(set.entries)))
	if leaf := set.entries[0].leaf; leaf != nil {
		attrs = append(attrs, slog.Time("not_after", leaf.NotAfter))
	}
	r.logger().LogAttrs(ctx, slog.LevelInfo, "tlsconfig: certificates reloaded", attrs...)
	return nil
}

// failLocked records err, logging it once rather than at every check.
func (r *Reloader) failLocked(ctx context.Context, err error) {
	if r.lastErr == nil || r.lastErr.Error() != err.Error() {
		r.logger().LogAttrs(ctx, slog.LevelWarn, "tlsconfig: certificate reload failed; keeping the previous certificates",
			slog.String("error", err.Error()))
	}
	r.lastErr = err
}

// load reads and parses every pair.
func (r *Reloader) load() (*certSet, error) {
	set := &certSet{entries: make([]certEntry, 0, len(r.pairs))}
	for _, p := range r.pairs {
		cert, err := tls.LoadX509KeyPair(p.CertFile, p.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tlsconfig: loading %s and %s: %w", p.CertFile, p.KeyFile, err)
		}
		e, err := newCertEntry(&cert)
		if err != nil {
			return nil, fmt.Errorf("tlsconfig: loading %s: %w", p.CertFile, err)
		}
		set.entries = append(set.entries, e)
	}
	return set, nil
}

func (r *Reloader) statFiles() ([]os.FileInfo, error) {
	stamps := make([]os.FileInfo, 0, 2*len(r.pairs))
	for _, p := range r.pairs {
		for _, name := range [2]string{p.CertFile, p.KeyFile} {
			fi, err := os.Stat(name)
			if err != nil {
				return nil, fmt.Errorf("tlsconfig: %w", err)
			}
			stamps = append(stamps, fi)
		}
	}
	return stamps, nil
}

func stampsEqual(a, b []os.FileInfo) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		// SameFile notices a file renamed into place even when a copy kept
		// the old modification time (cp -p, rsync -a).
		if !os.SameFile(x, y) || !x.ModTime().Equal(y.ModTime()) || x.Size() != y.Size() {
			return false
		}
	}
	return true
}

// A certSet is an immutable list of certificates, the default first.
type certSet struct {
	entries []certEntry
}

type certEntry struct {
	cert *tls.Certificate
	leaf *x509.Certificate
	dns  []string // lower case
	ips  []net.IP
}

func newCertEntry(cert *tls.Certificate) (certEntry, error) {
	leaf := cert.Leaf
	if leaf == nil {
		if len(cert.Certificate) == 0 {
			return certEntry{}, errors.New("no certificate")
		}
		var err error
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return certEntry{}, err
		}
		cert.Leaf = leaf
	}
	e := certEntry{cert: cert, leaf: leaf, ips: leaf.IPAddresses}
	for _, n := range leaf.DNSNames {
		e.dns = append(e.dns, strings.ToLower(strings.TrimSuffix(n, ".")))
	}
	return e, nil
}

// pick chooses the certificate for hello: by IP address for IP literals and
// hellos without a name, by exact then wildcard DNS name otherwise, and the
// first certificate when nothing matches. Among several matches it prefers
// one the client can use (key type, signature schemes).
func (s *certSet) pick(hello *tls.ClientHelloInfo) *tls.Certificate {
	var candidates []*tls.Certificate
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	if ip := helloIP(hello, name); ip != nil {
		for _, e := range s.entries {
			for _, a := range e.ips {
				if a.Equal(ip) {
					candidates = append(candidates, e.cert)
					break
				}
			}
		}
	} else if name != "" {
		for _, e := range s.entries {
			if slices.Contains(e.dns, name) {
				candidates = append(candidates, e.cert)
			}
		}
		if i := strings.IndexByte(name, '.'); i > 0 {
			wildcard := "*" + name[i:]
			for _, e := range s.entries {
				if slices.Contains(e.dns, wildcard) {
					candidates = append(candidates, e.cert)
				}
			}
		}
	}
	if len(candidates) > 1 {
		for _, c := range candidates {
			if hello.SupportsCertificate(c) == nil {
				return c
			}
		}
	}
	if len(candidates) > 0 {
		return candidates[0]
	}
	return s.entries[0].cert
}

// helloIP returns the IP address to match: the server name when a client
// sent an IP literal (RFC 6066 forbids it, some do it anyway), or the local
// address of the connection when there is no name.
func helloIP(hello *tls.ClientHelloInfo, name string) net.IP {
	if name != "" {
		if a, err := netip.ParseAddr(name); err == nil {
			return net.IP(a.WithZone("").AsSlice())
		}
		return nil
	}
	if hello.Conn == nil {
		return nil
	}
	switch a := hello.Conn.LocalAddr().(type) {
	case *net.TCPAddr:
		return a.IP
	case *net.UDPAddr:
		return a.IP
	}
	return nil
}

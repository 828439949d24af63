package submission

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"strings"
	"time"
)

// dateLayout is the RFC 5322 §3.3 date-time format.
const dateLayout = "Mon, 02 Jan 2006 15:04:05 -0700"

func (cfg *config) now() time.Time { return time.Now() }

// newMessageID returns a new msg-id (RFC 5322 §3.6.4) in the server's
// domain.
func (cfg *config) newMessageID() string {
	var b [16]byte
	rand.Read(b[:])
	return "<" + hex.EncodeToString(b[:]) + "@" + cfg.hostname + ">"
}

// receivedHeader returns the trace header field the server prepends (RFC
// 5321 §4.4, RFC 6409 §8): who connected, from where, as which
// authenticated user (RFC 4954 §7), over which TLS version and cipher
// (RFC 8314 §4.3 asks that TLS use be recorded), with which protocol
// (RFC 3848: ESMTPA, ESMTPSA; RFC 6531 §3.7.3: UTF8SMTPA, UTF8SMTPSA) and
// under which transaction id, which is also in the 250 reply. The "for"
// clause names the recipient only when there is exactly one, so that Bcc
// recipients are not revealed to each other.
func (c *conn) receivedHeader(env *Envelope) []byte {
	var b strings.Builder
	b.Grow(256)
	b.WriteString("Received: from ")
	b.WriteString(c.helo) // checked by smtpwire.ValidHelo: no spaces, no specials
	b.WriteString(" (")
	if a := c.nc.Addr(); a.IsValid() {
		if a.Is4() {
			b.WriteString("[" + a.String() + "]")
		} else {
			b.WriteString("[IPv6:" + a.String() + "]")
		}
	} else {
		b.WriteString("unknown")
	}
	b.WriteString(")\r\n\t(authenticated user ")
	b.WriteString(commentText(env.Identity.Username))
	cs := c.nc.TLS()
	if cs != nil {
		b.WriteString("; using " + tlsVersion(cs.Version) + " with cipher " + tls.CipherSuiteName(cs.CipherSuite))
	}
	b.WriteString(")\r\n\tby ")
	b.WriteString(c.cfg.hostname)
	b.WriteString(" (mailfront) with ")
	switch {
	case env.SMTPUTF8 && cs != nil:
		b.WriteString("UTF8SMTPSA")
	case env.SMTPUTF8:
		b.WriteString("UTF8SMTPA")
	case cs != nil:
		b.WriteString("ESMTPSA")
	default:
		b.WriteString("ESMTPA")
	}
	b.WriteString(" id ")
	b.WriteString(env.ID)
	if len(env.Recipients) == 1 {
		b.WriteString("\r\n\tfor <" + env.Recipients[0].Address + ">")
	}
	b.WriteString(";\r\n\t")
	b.WriteString(c.cfg.now().Format(dateLayout))
	b.WriteString("\r\n")
	return []byte(b.String())
}

// tlsVersion names a TLS version as OpenSSL-based servers do in their
// Received headers ("TLSv1.3"), which header parsers recognise.
func tlsVersion(v uint16) string {
	switch v {
	case tls.VersionTLS13:
		return "TLSv1.3"
	case tls.VersionTLS12:
		return "TLSv1.2"
	}
	return tls.VersionName(v)
}

// commentText makes s safe inside a header comment: printable ASCII, with
// parentheses and backslashes quoted (RFC 5322 §3.2.2).
func commentText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '(' || r == ')' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < ' ' || r >= 0x7f:
			b.WriteByte('?')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

package submission

import (
	"github.com/mailfront/mailfront"
)

// cmdStartTLS upgrades the connection (RFC 3207). Whatever the client sent
// after STARTTLS in the same segment is discarded before the handshake
// (netsrv.Conn.StartTLS), so no plaintext injected by a man in the middle
// is ever taken as a command (CVE-2011-0411). Afterwards the session starts
// over: a new EHLO is needed, and any login or transaction is forgotten.
func (c *conn) cmdStartTLS(arg string) action {
	switch {
	case arg != "":
		return c.refused(reply{501, "5.5.4", "Syntax: STARTTLS (no parameters)"})
	case c.nc.TLS() != nil:
		return c.refused(reply{502, "5.5.1", "TLS is already active"})
	case !c.nc.CanStartTLS():
		return c.refused(reply{502, "5.5.1", "STARTTLS is not available"})
	}
	c.abortTx()
	c.reply(reply{220, "2.0.0", "Ready to start TLS"})
	if err := c.nc.Flush(); err != nil {
		c.nc.SetCloseReason(mailfront.ReadError)
		return closeConn
	}
	if err := c.nc.StartTLS(); err != nil {
		c.nc.SetCloseReason(mailfront.TLSHandshakeFailed)
		return closeConn
	}
	c.helo, c.ehlo, c.id = "", false, nil
	return proceed
}

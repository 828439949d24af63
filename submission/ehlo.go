package submission

import (
	"strconv"
	"strings"

	"github.com/mailfront/mailfront"
	"github.com/mailfront/mailfront/submission/internal/smtpwire"
)

// cmdEHLO greets the client and lists the extensions (RFC 5321 §4.1.1.1,
// RFC 1869). Like RSET it ends any transaction.
func (c *conn) cmdEHLO(arg string) action {
	if !smtpwire.ValidHelo(arg) {
		return c.refused(reply{501, "5.5.4", "Syntax: EHLO domain-or-address-literal"})
	}
	c.abortTx()
	c.helo, c.ehlo = arg, true
	c.writeLines(250, c.extensions(arg))
	return proceed
}

// extensions returns the EHLO reply lines, derived from the configuration
// and the connection's state (never from flags).
func (c *conn) extensions(name string) []string {
	lines := []string{c.cfg.hostname + " greets " + name, "PIPELINING"}
	if c.cfg.maxMessage > 0 {
		lines = append(lines, "SIZE "+strconv.FormatInt(c.cfg.maxMessage, 10))
	} else {
		lines = append(lines, "SIZE")
	}
	lines = append(lines, "8BITMIME", "SMTPUTF8", "CHUNKING", "BINARYMIME", "DSN", "ENHANCEDSTATUSCODES")
	if c.cfg.maxRcpts > 0 {
		lines = append(lines, "LIMITS RCPTMAX="+strconv.Itoa(c.cfg.maxRcpts))
	}
	if c.nc.CanStartTLS() {
		lines = append(lines, "STARTTLS")
	}
	if c.id == nil {
		if mechs := c.auth.Allowed().Mechanisms; len(mechs) > 0 {
			lines = append(lines, "AUTH "+strings.Join(mechs, " "))
		}
	}
	if c.nc.TLS() != nil {
		// RFC 8689 §4: only on a TLS session.
		lines = append(lines, "REQUIRETLS")
	}
	return lines
}

// cmdHELO is the RFC 821 greeting: no extensions, so no AUTH, which leaves
// a HELO client unable to send; it is kept for protocol completeness.
func (c *conn) cmdHELO(arg string) action {
	if !smtpwire.ValidHelo(arg) {
		return c.refused(reply{501, "5.5.4", "Syntax: HELO domain"})
	}
	c.abortTx()
	c.helo, c.ehlo = arg, false
	c.writeReply(250, "", c.cfg.hostname)
	return proceed
}

func (c *conn) cmdRSET(arg string) action {
	if arg != "" {
		return c.refused(reply{501, "5.5.4", "Syntax: RSET (no parameters)"})
	}
	c.abortTx()
	c.reply(reply{250, "2.0.0", "OK"})
	return proceed
}

func (c *conn) cmdNOOP(string) action {
	c.reply(reply{250, "2.0.0", "OK"})
	return proceed
}

func (c *conn) cmdQUIT(string) action {
	c.abortTx()
	c.writeReply(221, "2.0.0", c.cfg.hostname+" closing connection")
	c.nc.Flush()
	c.nc.SetCloseReason(mailfront.ClientQuit)
	return closeConn
}

// cmdVRFY never confirms an address (that would let anyone enumerate
// users) but, as RFC 5321 §3.5.3 asks, answers 252.
func (c *conn) cmdVRFY(arg string) action {
	if arg == "" {
		return c.refused(reply{501, "5.5.4", "Syntax: VRFY address"})
	}
	c.reply(reply{252, "2.5.0", "Cannot verify the address, but will accept the message and attempt delivery"})
	return proceed
}

func (c *conn) cmdHELP(string) action {
	c.reply(reply{214, "2.0.0", "Commands: EHLO HELO STARTTLS AUTH MAIL RCPT DATA BDAT RSET NOOP VRFY HELP QUIT"})
	return proceed
}

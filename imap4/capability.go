package imap4

import (
	"log/slog"
	"strconv"
	"strings"
)

// extensions are the capabilities advertised in every state, after the
// IMAP versions and the login-related ones.
const extensions = "SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE CHILDREN " +
	"LIST-EXTENDED LIST-STATUS SPECIAL-USE CREATE-SPECIAL-USE ESEARCH SEARCHRES STATUS=SIZE " +
	"BINARY UTF8=ACCEPT CONDSTORE QRESYNC MULTIAPPEND"

// capabilities returns the capability list for the session's current state
// and connection: STARTTLS, LOGINDISABLED and AUTH= only before login, and
// derived from the login policy.
func (c *conn) capabilities() string {
	var b strings.Builder
	b.WriteString("IMAP4rev1 IMAP4rev2")
	if c.state == stateNotAuth {
		if c.nc.CanStartTLS() {
			b.WriteString(" STARTTLS")
		}
		allowed := c.auth.Allowed()
		if !allowed.PlainLogin {
			b.WriteString(" LOGINDISABLED")
		}
		for _, m := range allowed.Mechanisms {
			b.WriteString(" AUTH=")
			b.WriteString(m)
		}
	}
	if c.s.DisableLiteralPlus {
		b.WriteString(" LITERAL-")
	} else {
		b.WriteString(" LITERAL+")
	}
	b.WriteByte(' ')
	b.WriteString(extensions)
	b.WriteString(" APPENDLIMIT")
	if max := c.s.appendLimit(); max > 0 {
		b.WriteByte('=')
		b.WriteString(strconv.FormatInt(max, 10))
	}
	return b.String()
}

// cmdEnable runs ENABLE (RFC 5161).
func (c *conn) cmdEnable(cmd *command) error {
	d := cmd.d
	var enabled []string
	for {
		d.SP()
		name := d.Keyword()
		if d.Err() != nil {
			return d.Err()
		}
		switch name {
		case "CONDSTORE":
			if !c.condstore {
				c.condstore = true
				enabled = append(enabled, "CONDSTORE")
			}
		case "QRESYNC":
			if !c.qresync {
				c.qresync = true
				enabled = append(enabled, "QRESYNC")
			}
			c.condstore = true // QRESYNC implies CONDSTORE (RFC 7162 §3.2.3)
		case "IMAP4REV2":
			if !c.rev2 {
				c.rev2 = true
				enabled = append(enabled, "IMAP4rev2")
			}
		case "UTF8=ACCEPT":
			if !c.utf8 {
				c.utf8 = true
				enabled = append(enabled, "UTF8=ACCEPT")
			}
		}
		if d.AtEnd() {
			break
		}
	}
	c.enc.Raw("* ENABLED")
	for _, e := range enabled {
		c.enc.SP().Raw(e)
	}
	c.enc.CRLF()
	return nil
}

// maxIDFields bounds the client's ID parameters (RFC 2971 §3.3: 30).
const maxIDFields = 30

// cmdID runs ID (RFC 2971): the client's identification is logged, and
// the server names itself.
func (c *conn) cmdID(cmd *command) error {
	d := cmd.d
	d.SP()
	var attrs []slog.Attr
	if d.PeekString("NIL") {
		d.NString()
	} else {
		n := 0
		d.List(func() {
			field := d.String()
			d.SP()
			value, _ := d.NString()
			if n++; n > maxIDFields {
				d.Failf("too many ID fields")
				return
			}
			attrs = append(attrs, slog.String(truncateText(cleanText(field), 30), truncateText(cleanText(value), 256)))
		})
	}
	if err := cmd.end(); err != nil {
		return err
	}
	if len(attrs) > 0 {
		c.log(slog.LevelDebug, "client ID", slog.GroupAttrs("id", attrs...))
	}
	c.enc.Raw(`* ID ("name" "mailfront")`).CRLF()
	return nil
}

func truncateText(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

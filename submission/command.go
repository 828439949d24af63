package submission

import (
	"log/slog"
	"strconv"
	"strings"

	"github.com/mailfront/mailfront"
	"github.com/mailfront/mailfront/submission/internal/smtpwire"
)

// A command is one entry of the dispatch table: the whole state machine is
// visible here.
type command struct {
	run func(c *conn, arg string) action
	// needHelo: EHLO or HELO must have been sent (RFC 5321 §4.1.4).
	needHelo bool
	// needEHLO: EHLO (not HELO) must have been sent: the extension
	// commands.
	needEHLO bool
	// needAuth: refused with 530 before AUTH (RFC 6409 §4.3).
	needAuth bool
	// lastInGroup: the command must end a pipelined group (RFC 2920 §3.1,
	// RFC 4954 §4); before authentication, more input after it is a
	// synchronization error.
	lastInGroup bool
	// secret: only the first word of the argument is traced (AUTH's
	// initial response is a credential).
	secret bool
	// lineExtra: how much longer than MaxLineLength the line may be.
	lineExtra int
}

var commands map[string]*command

// notImplemented are verbs of RFC 5321 and old extensions that are known
// but not offered.
var notImplemented = map[string]bool{"EXPN": true, "TURN": true, "ETRN": true, "ATRN": true, "SEND": true, "SOML": true, "SAML": true}

func init() {
	commands = map[string]*command{
		"EHLO":     {run: (*conn).cmdEHLO, lastInGroup: true},
		"HELO":     {run: (*conn).cmdHELO, lastInGroup: true},
		"MAIL":     {run: (*conn).cmdMail, needHelo: true, needAuth: true, lineExtra: mailLineExtra},
		"RCPT":     {run: (*conn).cmdRcpt, needHelo: true, needAuth: true, lineExtra: mailLineExtra},
		"DATA":     {run: (*conn).cmdData, needHelo: true, needAuth: true, lastInGroup: true},
		"BDAT":     {run: (*conn).cmdBDAT}, // checks its own state: the chunk must be consumed
		"RSET":     {run: (*conn).cmdRSET},
		"NOOP":     {run: (*conn).cmdNOOP, lastInGroup: true},
		"QUIT":     {run: (*conn).cmdQUIT},
		"VRFY":     {run: (*conn).cmdVRFY, lastInGroup: true},
		"HELP":     {run: (*conn).cmdHELP},
		"AUTH":     {run: (*conn).cmdAuth, needEHLO: true, lastInGroup: true, secret: true, lineExtra: authLineMax},
		"STARTTLS": {run: (*conn).cmdStartTLS},
	}
}

// command parses and runs one command line.
func (c *conn) command(line []byte) action {
	verb, arg, err := smtpwire.ParseCommand(line)
	if err != nil {
		c.nc.Trace("C", "{"+strconv.Itoa(len(line))+" bytes, not a command}")
		if c.syncViolation("", "", nil) {
			return c.syncError()
		}
		return c.refused(reply{500, "5.5.2", "Syntax error, command unrecognized"})
	}
	cmd := commands[verb]
	if c.nc.TraceEnabled() {
		c.nc.Trace("C", traceLine(verb, arg, cmd))
	}
	if c.syncViolation(verb, arg, cmd) {
		return c.syncError()
	}
	if cmd == nil {
		if notImplemented[verb] {
			return c.refused(reply{502, "5.5.1", "Command not implemented"})
		}
		return c.refused(reply{500, "5.5.2", "Syntax error, command unrecognized"})
	}
	if c.cfg.maxLine > 0 {
		limit := c.cfg.maxLine + cmd.lineExtra
		if verb == "AUTH" {
			limit = max(c.cfg.maxLine, authLineMax)
		}
		if len(line)+2 > limit {
			return c.refused(replyLineTooLong)
		}
	}
	switch {
	case cmd.needEHLO && !c.ehlo, cmd.needHelo && c.helo == "":
		return c.refused(replyNeedEHLO)
	case cmd.needAuth && c.id == nil:
		return c.refused(replyNeedAuth)
	}
	return cmd.run(c, arg)
}

// traceLine is the line as the trace shows it: secrets replaced at parse
// time, unknown verbs without their argument (a confused client may send a
// password as a command).
func traceLine(verb, arg string, cmd *command) string {
	switch {
	case arg == "":
		return verb
	case cmd == nil:
		return verb + " {" + strconv.Itoa(len(arg)) + " bytes}"
	case cmd.secret:
		first, rest, _ := strings.Cut(arg, " ")
		if rest != "" {
			return verb + " " + first + " <redacted>"
		}
		return verb + " " + first
	}
	return verb + " " + arg
}

// syncViolation reports an unauthenticated client that sends commands
// ahead of the replies where that is not allowed: before EHLO (so without
// PIPELINING), or after a command that must end a pipelined group. It is
// the signature of bots and of the early-talker and smuggling attacks
// (Postfix smtpd_forbid_unauth_pipelining). STARTTLS discards what follows
// it instead, and QUIT ends the session anyway.
func (c *conn) syncViolation(verb, arg string, cmd *command) bool {
	if c.id != nil || c.nc.R.Buffered() == 0 {
		return false
	}
	switch verb {
	case "STARTTLS", "QUIT":
		return false
	}
	if !c.ehlo {
		return true
	}
	if cmd == nil || !cmd.lastInGroup {
		return false
	}
	if verb == "AUTH" {
		// RFC 4954 §4: AUTH with an initial response for a mechanism that
		// completes in one round trip may be followed by more commands.
		mech, ir, _ := strings.Cut(arg, " ")
		mech = strings.ToUpper(mech)
		if ir != "" && (mech == "PLAIN" || mech == "EXTERNAL") {
			return false
		}
	}
	return true
}

func (c *conn) syncError() action {
	c.nc.Logger.LogAttrs(c.nc.Ctx, slog.LevelDebug, "unauthenticated client pipelined commands without waiting for replies",
		slog.Int("buffered", c.nc.R.Buffered()))
	c.reply(replySync)
	c.nc.Flush()
	c.nc.SetCloseReason(mailfront.ProtocolError)
	return closeConn
}

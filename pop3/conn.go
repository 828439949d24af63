package pop3

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/mailfront/mailfront"
	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/internal/authsrv"
	"github.com/mailfront/mailfront/internal/netsrv"
	"github.com/mailfront/mailfront/internal/wire"
)

// handler is what one Serve call resolved from the Server's fields.
type handler struct {
	s        *Server
	hostname string
	apop     auth.SecretStore // nil unless APOP is enabled and possible
	auth     authsrv.Config
}

// state is a session's RFC 1939 state. UPDATE is not a state the session
// waits in: it is the work QUIT does in TRANSACTION.
type state uint8

const (
	stateAuthorization state = 1 << iota
	stateTransaction
)

// conn is one POP3 session.
type conn struct {
	h    *handler
	s    *Server
	nc   *netsrv.Conn
	auth *authsrv.Session

	state      state
	user       string // from USER, waiting for PASS
	apopStamp  string // the greeting's timestamp; empty without APOP
	bad        int    // bad commands in the current state
	end        bool   // the session is over once the reply is flushed
	maildrop   maildropSession
	copyBuffer []byte
}

func (h *handler) handle(nc *netsrv.Conn) {
	c := &conn{h: h, s: h.s, nc: nc, auth: authsrv.New(&h.auth, nc), state: stateAuthorization}
	defer c.closeMaildrop()
	c.greet()
	for !c.end {
		// Replies to pipelined commands are written together: flush only
		// once no complete command is waiting (RFC 2449 §6.6).
		if !c.commandWaiting() {
			if err := c.nc.Flush(); err != nil {
				c.nc.SetCloseReason(mailfront.ReadError)
				return
			}
		}
		line, err := c.nc.ReadCommand(c.s.maxLineLength(), c.s.readTimeout())
		if err != nil {
			c.readFailed(err)
			return
		}
		// A reply larger than the write buffer reaches the network before
		// the next Flush: give it a fresh deadline, not the one left by
		// the Flush before the client went quiet.
		c.nc.SetWriteTimeout(c.s.writeTimeout())
		c.dispatch(line)
	}
	// Release the lock before the last reply reaches the client, so that a
	// client that reconnects at once after QUIT finds the maildrop free.
	c.closeMaildrop()
	c.nc.Flush()
}

// commandWaiting reports whether a whole command line has already been
// received. A partial line does not count: the client may be waiting for
// the replies before it sends the rest.
func (c *conn) commandWaiting() bool {
	n := c.nc.R.Buffered()
	if n == 0 {
		return false
	}
	buf, _ := c.nc.R.Peek(n)
	return bytes.IndexByte(buf, '\n') >= 0
}

func (c *conn) greet() {
	text := fmt.Sprintf("%s POP3 server ready (conn %s)", c.h.hostname, c.nc.ID())
	if c.h.apop != nil {
		var b [8]byte
		rand.Read(b[:])
		c.apopStamp = fmt.Sprintf("<%d.%d@%s>", binary.BigEndian.Uint64(b[:])>>1, time.Now().Unix(), c.h.hostname)
		text += " " + c.apopStamp
	}
	c.ok(text)
}

// readFailed ends the session after ReadCommand failed.
func (c *conn) readFailed(err error) {
	switch {
	case errors.Is(err, netsrv.ErrShutdown):
		// No unsolicited reply in POP3: just close, without UPDATE.
		c.nc.SetCloseReason(mailfront.Shutdown)
	case errors.Is(err, netsrv.ErrTimeout):
		c.nc.SetCloseReason(mailfront.IdleTimeout)
		c.err("", "Disconnected for inactivity")
	case errors.Is(err, wire.ErrLineTooLong):
		c.nc.SetCloseReason(mailfront.ProtocolError)
		c.log(slog.LevelDebug, "command line too long")
		c.err("", "Line too long")
	default:
		c.nc.SetCloseReason(netsrv.CloseReasonFor(err))
	}
	c.nc.Flush()
}

// dispatch runs one command line.
func (c *conn) dispatch(line []byte) {
	cmd, err := parseCommand(line)
	if err != nil {
		c.trace("C", fmt.Sprintf("{%d bytes, malformed}", len(line)))
		c.badCommand("Invalid command syntax")
		return
	}
	spec, known := commands[cmd.verb]
	c.trace("C", cmd.traceString(spec.secret))
	switch {
	case !known:
		c.badCommand("Unknown command")
	case spec.states&c.state == 0:
		if c.state == stateAuthorization {
			c.badCommand("Command is not valid in this state: log in first")
		} else {
			c.badCommand("Command is not valid in this state: already logged in")
		}
	default:
		spec.run(c, cmd.arg)
	}
}

// badCommand answers a command the client should not have sent and counts
// it; the one that reaches the limit ends the connection.
func (c *conn) badCommand(text string) { c.badCommandCode("", text) }

func (c *conn) badCommandCode(code ResponseCode, text string) {
	c.bad++
	if max := c.s.maxBadCommands(c.state == stateTransaction); max > 0 && c.bad >= max {
		c.log(slog.LevelWarn, "too many bad commands; closing connection", slog.Int("count", c.bad))
		c.closeWith(mailfront.TooManyBadCommands, code, text+"; too many bad commands, closing connection")
		return
	}
	c.log(slog.LevelDebug, "bad command", slog.String("reply", text))
	c.err(code, text)
}

// syntaxError is a bad command with a hint of the expected syntax.
func (c *conn) syntaxError(usage string) { c.badCommand("Syntax: " + usage) }

// closeWith sends a final -ERR and ends the session.
func (c *conn) closeWith(reason mailfront.CloseReason, code ResponseCode, text string) {
	c.nc.SetCloseReason(reason)
	c.err(code, text)
	c.end = true
}

// ok writes a +OK reply.
func (c *conn) ok(text string) {
	line := "+OK"
	if text != "" {
		line += " " + text
	}
	c.writeLine(line)
}

// err writes a -ERR reply with an optional response code.
func (c *conn) err(code ResponseCode, text string) {
	line := "-ERR "
	if code != "" {
		line += "[" + string(code) + "] "
	}
	c.writeLine(line + text)
}

// writeLine writes one reply line and traces it.
func (c *conn) writeLine(line string) {
	c.trace("S", line)
	c.nc.W.WriteString(line)
	c.nc.W.WriteString("\r\n")
}

// multiLine writes the lines of a multi-line reply after its +OK line, and
// the terminating ".". Lines beginning with "." are stuffed.
func (c *conn) multiLine(lines []string) {
	for _, l := range lines {
		if len(l) > 0 && l[0] == '.' {
			l = "." + l
		}
		c.nc.W.WriteString(l)
		c.nc.W.WriteString("\r\n")
	}
	c.nc.W.WriteString(".\r\n")
	if c.nc.TraceEnabled() {
		c.trace("S", "{"+strconv.Itoa(len(lines))+" lines}")
	}
}

func (c *conn) trace(dir, line string) { c.nc.Trace(dir, line) }

// log writes a record with the connection's attributes.
func (c *conn) log(level slog.Level, msg string, attrs ...slog.Attr) {
	c.nc.Logger.LogAttrs(c.nc.Ctx, level, msg, attrs...)
}

// refuseCredentials answers a login command the policy does not allow on
// this connection, without looking at the credentials. The wording is the
// one Exchange users know, made actionable; RFC 3206 §5 defines [AUTH] for
// it. It counts as a bad command, so a client cannot loop on it.
func (c *conn) refuseCredentials() {
	c.badCommandCode(CodeAuth, refusalText)
}

// refusalText is the reply to credentials offered where the policy needs
// TLS.
const refusalText = "Command is not valid in this state: use STLS or the TLS port first"

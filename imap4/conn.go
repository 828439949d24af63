package imap4

import (
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/mailfront/mailfront"
	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/imap4/internal/imapwire"
	"github.com/mailfront/mailfront/internal/authsrv"
	"github.com/mailfront/mailfront/internal/netsrv"
	"github.com/mailfront/mailfront/internal/wire"
)

// handler is what one Serve call resolved from the Server's fields.
type handler struct {
	s        *Server
	hostname string
	auth     authsrv.Config
}

// state is a session's state (RFC 9051 §3); a command's table entry lists
// the states it is valid in.
type state uint8

const (
	stateNotAuth state = 1 << iota
	stateAuth
	stateSelected
	stateAny = stateNotAuth | stateAuth | stateSelected
)

// conn is one IMAP session. Everything runs on the connection's goroutine,
// except the reader of IDLE (see idle.go).
type conn struct {
	h    *handler
	s    *Server
	nc   *netsrv.Conn
	auth *authsrv.Session
	enc  imapwire.Encoder
	dec  imapwire.Decoder

	state state
	id    auth.Identity
	user  User
	sel   *selected // the selected mailbox, nil outside stateSelected

	// Extensions the client enabled (ENABLE, or implicitly for CONDSTORE).
	rev2, utf8, condstore, qresync bool

	cmd    *command // the command being run
	secret bool     // the current command's continuation lines are secrets
	bad    int      // bad commands (before login: in total; after: in a row)
	end    bool     // the session is over once the responses are flushed

	// byeAfter, when set, is the BYE text to send after the tagged
	// response (too many failed logins), with its close reason.
	byeAfter       string
	byeAfterReason mailfront.CloseReason
}

// command is one command being run.
type command struct {
	tag  string
	name string // "FETCH", "UID FETCH"...
	uid  bool   // a UID command
	spec *cmdSpec
	d    *imapwire.Decoder
}

// maxLiteralMinus is the largest non-synchronizing literal under
// LITERAL- (RFC 7888 §4).
const maxLiteralMinus = 4096

// Response buffers: a session between commands keeps at most
// maxIdleBuffer; larger buffers go back to a pool shared by sessions.
const (
	maxIdleBuffer   = 4 << 10
	pooledBufferCap = 64 << 10
)

var bufferPool = sync.Pool{New: func() any { b := make([]byte, 0, pooledBufferCap); return &b }}

// takeBuffer gives the encoder a large buffer for a command.
func (c *conn) takeBuffer() {
	if cap(c.enc.Buf) < maxIdleBuffer {
		// Keep what pipelined commands left to be flushed.
		c.enc.Buf = append((*bufferPool.Get().(*[]byte))[:0], c.enc.Buf...)
	}
}

// releaseBuffer returns a large, flushed buffer to the pool.
func (c *conn) releaseBuffer() {
	if b := c.enc.Buf; cap(b) > maxIdleBuffer && len(b) == 0 {
		if cap(b) <= pooledBufferCap {
			bufferPool.Put(&b)
		}
		c.enc.Buf = nil
	}
}

// connWriter writes responses through the connection's buffered writer,
// refreshing the write deadline for each chunk, so that a large response
// bounds each stall of a client that stops reading.
type connWriter struct{ c *conn }

func (w connWriter) Write(p []byte) (int, error) {
	w.c.nc.SetWriteTimeout(w.c.s.writeTimeout())
	return w.c.nc.W.Write(p)
}

func (h *handler) handle(nc *netsrv.Conn) {
	c := &conn{h: h, s: h.s, nc: nc, auth: authsrv.New(&h.auth, nc), state: stateNotAuth}
	c.enc.W = connWriter{c}
	if nc.TraceEnabled() {
		c.enc.Trace = c.traceOut
	}
	c.dec.CheckLiteral = c.checkLiteral
	c.dec.Continue = c.continueRequest
	c.dec.MaxCommandSize = c.s.maxCommandSize()
	defer c.cleanup()

	c.enc.Raw("* OK [CAPABILITY ").Raw(c.capabilities()).Raw("] ").Raw(cleanText(h.hostname)).
		Raw(" IMAP4rev2 server ready (conn ").Raw(nc.ID()).Raw(")").CRLF()
	for !c.end {
		// Responses to pipelined commands go out together: flush only
		// once the client has nothing more waiting.
		if c.nc.R.Buffered() == 0 {
			if err := c.flush(); err != nil {
				c.nc.SetCloseReason(mailfront.ReadError)
				return
			}
			c.releaseBuffer()
		}
		line, err := c.nc.ReadCommand(c.s.maxLineLength(), c.timeout())
		if err != nil {
			c.readFailed(err)
			return
		}
		c.execute(line)
	}
	c.flush()
}

// cleanup releases the backend handles when the session ends.
func (c *conn) cleanup() {
	c.closeMailbox()
	if c.user != nil {
		if err := c.user.Close(); err != nil {
			c.log(slog.LevelDebug, "closing the user's store", slog.Any("err", err))
		}
		c.user = nil
	}
}

// timeout is the inactivity timeout in the current state.
func (c *conn) timeout() time.Duration {
	if c.state == stateNotAuth {
		return c.s.preAuthTimeout()
	}
	return c.s.readTimeout()
}

// flush writes the pending responses to the client.
func (c *conn) flush() error {
	if err := c.enc.Flush(); err != nil {
		return err
	}
	return c.nc.Flush()
}

// readFailed ends the session after ReadCommand (or a read inside a
// command) failed.
func (c *conn) readFailed(err error) {
	switch {
	case errors.Is(err, netsrv.ErrShutdown), errors.Is(err, errShutdown):
		c.bye(mailfront.Shutdown, "[UNAVAILABLE] Server shutting down")
	case errors.Is(err, netsrv.ErrTimeout):
		c.bye(mailfront.IdleTimeout, "Autologout: idle for too long")
	case errors.Is(err, wire.ErrLineTooLong):
		c.log(slog.LevelDebug, "command line too long")
		c.enc.Raw("* BAD [TOOBIG] Line too long").CRLF()
		c.bye(mailfront.ProtocolError, "Line too long")
	default:
		c.nc.SetCloseReason(netsrv.CloseReasonFor(err))
		c.end = true
	}
	c.flush()
}

// bye ends the session with an untagged BYE.
func (c *conn) bye(reason mailfront.CloseReason, text string) {
	c.nc.SetCloseReason(reason)
	c.enc.Raw("* BYE ").Raw(text).CRLF()
	c.end = true
}

// execute runs one command whose first line is line.
func (c *conn) execute(line []byte) {
	c.takeBuffer()
	d := &c.dec
	d.Reset(line, c)
	c.secret = false
	tag := d.Tag()
	if d.Err() != nil {
		c.trace("C", string(line))
		c.enc.Raw("* BAD Missing or invalid tag").CRLF()
		c.discard()
		c.countBad()
		return
	}
	d.SP()
	name := d.Keyword()
	if name == "UID" && d.Accept(' ') {
		name += " " + d.Keyword()
	}
	spec := commands[name]
	if spec != nil && spec.secret {
		c.trace("C", tag+" "+name+" <redacted>")
		c.secret = true
	} else {
		c.trace("C", string(line))
	}
	if d.Err() != nil {
		c.tagged(tag, bad("", "Missing or invalid command name"))
		c.discard()
		c.countBad()
		return
	}
	var st error
	switch {
	case spec == nil:
		st = bad("", "Unknown command")
	case spec.states&c.state == 0:
		st = bad("", c.wrongState(spec))
	}
	cmd := &command{tag: tag, name: name, uid: len(name) > 4 && name[:4] == "UID ", spec: spec, d: d}
	if st == nil {
		c.cmd = cmd
		if c.preSync(); c.end {
			return
		}
		st = spec.run(c, cmd)
		c.cmd = nil
	}
	c.finish(cmd, st)
}

func (c *conn) wrongState(spec *cmdSpec) string {
	switch {
	case c.state == stateNotAuth:
		return "Command not valid in this state: log in first"
	case spec.states == stateNotAuth:
		return "Command not valid in this state: already logged in"
	case spec.states == stateSelected:
		return "Command not valid in this state: no mailbox selected"
	}
	return "Command not valid in this state"
}

// finish sends the tagged response of a command: the handler's result, or
// the decoder's error, after any pending unilateral responses; then it
// skips what the command left unread.
func (c *conn) finish(cmd *command, err error) {
	skip := false
	if derr := cmd.d.Err(); derr != nil {
		st := syntaxStatus(derr)
		if st == nil {
			st, _ = errors.AsType[*status](derr)
		}
		if st == nil {
			// A read failed inside the command: line too long, timeout,
			// the client gone.
			c.readFailed(derr)
			return
		}
		err, skip = st, true
	} else if !cmd.d.AtEnd() {
		// The command failed before reading all its arguments.
		skip = true
	}
	if errors.Is(err, errSent) {
		return
	}
	st := ok("", cmd.name+" completed")
	if err != nil {
		if st = c.mapError(err); st == nil {
			c.bye(mailfront.Shutdown, "[UNAVAILABLE] Server shutting down")
			return
		}
	}
	if c.sel != nil && !c.end {
		c.update(cmd)
	}
	c.tagged(cmd.tag, st)
	if skip {
		// The rest of the command, literals included, must not be taken
		// for commands.
		if c.discard(); c.end {
			return
		}
	}
	if c.byeAfter != "" {
		c.bye(c.byeAfterReason, c.byeAfter)
		return
	}
	if st.typ == "BAD" {
		c.countBad()
	} else if c.state != stateNotAuth {
		c.bad = 0
	}
}

// discard skips the rest of a failed command; when that is impossible the
// connection is closed.
func (c *conn) discard() {
	max := int64(1 << 20)
	if c.state == stateNotAuth {
		max = 64 << 10
	}
	if err := c.dec.Discard(max); err != nil {
		if errors.Is(err, imapwire.ErrUnframed) {
			c.log(slog.LevelWarn, "cannot skip the literal of a rejected command; closing connection")
			c.bye(mailfront.LimitExceeded, "[TOOBIG] Literal too large; closing connection")
			return
		}
		c.readFailed(err)
	}
}

// countBad counts a bad command; the one that reaches the limit ends the
// session.
func (c *conn) countBad() {
	c.bad++
	max := c.s.maxBadCommands(c.state != stateNotAuth)
	if max > 0 && c.bad >= max && !c.end {
		c.log(slog.LevelWarn, "too many bad commands; closing connection", slog.Int("count", c.bad))
		c.bye(mailfront.TooManyBadCommands, "Too many invalid commands")
	}
}

// tagged writes a tagged status response.
func (c *conn) tagged(tag string, st *status) {
	c.enc.Raw(tag).SP().Raw(st.typ).SP()
	if st.code != "" {
		c.enc.Byte('[').Raw(st.code).Raw("] ")
	}
	c.enc.Raw(st.text).CRLF()
}

// untaggedStatus writes "* OK [code] text" (or NO, BAD).
func (c *conn) untaggedStatus(st *status) { c.tagged("*", st) }

// continueRequest asks the client for a synchronizing literal.
func (c *conn) continueRequest() error {
	c.enc.Raw("+ Ready for literal data").CRLF()
	return c.flush()
}

// checkLiteral applies per-state literal limits before the client is asked
// for the literal.
func (c *conn) checkLiteral(l imapwire.Literal) error {
	if l.NonSync && c.s.DisableLiteralPlus && l.Size > maxLiteralMinus {
		c.log(slog.LevelDebug, "non-synchronizing literal over the LITERAL- limit", slog.Int64("size", l.Size))
		return bad(string(CodeTooBig), "Non-synchronizing literals are limited to 4096 octets (LITERAL-)")
	}
	if l.Message {
		if max := c.s.appendLimit(); max > 0 && l.Size > max {
			c.log(slog.LevelDebug, "APPEND over APPENDLIMIT refused", slog.Int64("size", l.Size))
			return no(string(CodeTooBig), "Message larger than APPENDLIMIT "+strconv.FormatInt(max, 10))
		}
	} else if c.state == stateNotAuth && l.Size > preAuthLiteralMax {
		c.log(slog.LevelWarn, "oversize literal before login refused", slog.Int64("size", l.Size))
		return no(string(CodeTooBig), "Literal too large")
	}
	c.nc.SetReadTimeout(c.timeout())
	if c.nc.TraceEnabled() {
		c.trace("C", "{"+strconv.FormatInt(l.Size, 10)+" bytes}")
	}
	return nil
}

// ReadLine reads a continuation line of the current command (the
// imapwire.Source of the decoder).
func (c *conn) ReadLine() ([]byte, error) {
	line, err := c.nc.ReadLine(c.s.maxLineLength(), c.timeout())
	if err == nil {
		if c.secret {
			c.trace("C", "<redacted>")
		} else {
			c.trace("C", string(line))
		}
	}
	return line, err
}

// Read reads literal bytes.
func (c *conn) Read(p []byte) (int, error) { return c.nc.R.Read(p) }

// trace logs a protocol line at LevelTrace.
func (c *conn) trace(dir, line string) {
	if c.nc.TraceEnabled() {
		c.nc.Trace(dir, line)
	}
}

func (c *conn) traceOut(line []byte) {
	if c.nc.TraceEnabled() {
		c.nc.Trace("S", string(line))
	}
}

func (c *conn) log(level slog.Level, msg string, attrs ...slog.Attr) {
	c.nc.Logger.LogAttrs(c.nc.Ctx, level, msg, attrs...)
}

// end checks that the command has no more arguments and reports the
// decoder's error.
func (cmd *command) end() error {
	cmd.d.End()
	return cmd.d.Err()
}

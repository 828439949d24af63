package submission

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/mailfront/mailfront"
	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/internal/authsrv"
	"github.com/mailfront/mailfront/internal/netsrv"
	"github.com/mailfront/mailfront/internal/wire"
)

// action says what the command loop does after a command.
type action bool

const (
	proceed   action = false
	closeConn action = true
)

// conn is the state of one SMTP session.
type conn struct {
	cfg  *config
	nc   *netsrv.Conn
	auth *authsrv.Session

	helo string         // the EHLO/HELO argument; empty before either
	ehlo bool           // EHLO (not HELO): extensions, PIPELINING
	id   *auth.Identity // nil before AUTH
	tx   *transaction   // nil outside a mail transaction
	bad  int            // refused commands so far
	ntx  int            // transactions started, for their IDs

	copyBuf   []byte        // BDAT chunk copies
	msgReader *bufio.Reader // message header reads; one delivery at a time
}

// transaction is one mail transaction, from MAIL to the end of its data.
type transaction struct {
	env       Envelope
	rcptTried bool
	bdat      *bdatState // non-nil once BDAT has started
}

// handle serves one connection (netsrv.Config.Handle).
func (cfg *config) handle(nc *netsrv.Conn) {
	c := &conn{cfg: cfg, nc: nc, auth: authsrv.New(&cfg.auth, nc)}
	defer c.nc.Flush()
	defer c.abortTx()
	if !c.greet() {
		return
	}
	for {
		line, err := c.nc.ReadCommand(c.cfg.physLine, c.cfg.readTimeout)
		if err != nil {
			c.readFailed(err)
			return
		}
		// Replies may reach the network before the next Flush, when a
		// pipelined burst fills the write buffer: bound those writes too.
		c.nc.SetWriteTimeout(c.cfg.writeTimeout)
		if c.command(line) == closeConn {
			return
		}
		// Replies to pipelined commands are sent together, when the
		// client's input is used up (RFC 2920 §3.2).
		if c.nc.R.Buffered() == 0 {
			if err := c.nc.Flush(); err != nil {
				c.nc.SetCloseReason(mailfront.ReadError)
				return
			}
		}
	}
}

// refuse writes the last words when netsrv ends a connection on its own
// (netsrv.Config.Refuse).
func (cfg *config) refuse(nc *netsrv.Conn, reason mailfront.CloseReason) {
	r := replyInternal
	switch reason {
	case mailfront.LimitExceeded:
		r = reply{421, "4.7.0", "Too many connections, try again later"}
	case mailfront.Shutdown:
		r = replyShutdown
	}
	line := fmt.Sprintf("%d %s %s %s", r.code, r.enh, cfg.hostname, r.text)
	nc.W.WriteString(line + "\r\n")
	nc.Trace("S", line)
}

// greet sends the greeting, after watching for an early talker during the
// greeting delay.
func (c *conn) greet() bool {
	if d := c.cfg.greetingDelay; d > 0 {
		c.nc.SetReadTimeout(d)
		_, err := c.nc.R.Peek(1)
		if err == nil {
			c.nc.Logger.LogAttrs(c.nc.Ctx, slog.LevelDebug, "client talked before the greeting")
			c.writeReply(554, "5.5.0", "SMTP protocol synchronization error: data sent before the greeting")
			c.nc.SetCloseReason(mailfront.ProtocolError)
			return false
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			c.nc.SetCloseReason(mailfront.ReadError)
			return false
		}
	}
	c.writeReply(220, "", c.cfg.hostname+" ESMTP ready (session "+c.nc.ID()+")")
	if err := c.nc.Flush(); err != nil {
		c.nc.SetCloseReason(mailfront.ReadError)
		return false
	}
	return true
}

// readFailed answers a failed ReadCommand and records why the connection
// ends.
func (c *conn) readFailed(err error) {
	c.nc.SetCloseReason(netsrv.CloseReasonFor(err))
	switch {
	case errors.Is(err, netsrv.ErrShutdown):
		c.replyClosing(replyShutdown)
	case errors.Is(err, netsrv.ErrTimeout):
		c.replyClosing(replyTimeout)
	case errors.Is(err, wire.ErrLineTooLong):
		c.nc.Logger.LogAttrs(c.nc.Ctx, slog.LevelDebug, "command line too long")
		c.reply(replyLineTooLong)
	}
}

// writeReply writes one reply line. enh may be empty (greeting, EHLO, 354,
// 334).
func (c *conn) writeReply(code int, enh EnhancedCode, text string) {
	w := c.nc.W
	var num [3]byte
	w.Write(strconv.AppendInt(num[:0], int64(code), 10))
	w.WriteByte(' ')
	if enh != "" {
		w.WriteString(string(enh))
		w.WriteByte(' ')
	}
	w.WriteString(text)
	w.WriteString("\r\n")
	if c.nc.TraceEnabled() {
		if enh != "" {
			text = string(enh) + " " + text
		}
		c.nc.Trace("S", strconv.Itoa(code)+" "+text)
	}
}

// writeLines writes a multi-line reply.
func (c *conn) writeLines(code int, lines []string) {
	for i, l := range lines {
		sep := "-"
		if i == len(lines)-1 {
			sep = " "
		}
		line := strconv.Itoa(code) + sep + l
		c.nc.W.WriteString(line + "\r\n")
		c.nc.Trace("S", line)
	}
}

func (c *conn) reply(r reply) { c.writeReply(r.code, r.enh, r.text) }

// replyClosing writes a 421 reply, which names the server (RFC 5321
// §3.8), and makes sure it leaves before the connection closes.
func (c *conn) replyClosing(r reply) {
	c.writeReply(r.code, r.enh, c.cfg.hostname+" "+r.text)
	c.nc.Flush()
}

// refused answers a refused command and counts it toward the bad-command
// limit; past the limit the connection is closed.
func (c *conn) refused(r reply) action {
	c.reply(r)
	return c.badCommand()
}

func (c *conn) badCommand() action {
	c.bad++
	limit := c.cfg.maxBadPost
	if c.id == nil {
		limit = c.cfg.maxBadPre
	}
	if limit > 0 && c.bad >= limit {
		c.nc.Logger.LogAttrs(c.nc.Ctx, slog.LevelDebug, "too many bad commands", slog.Int("count", c.bad))
		c.replyClosing(replyTooManyErrs)
		c.nc.SetCloseReason(mailfront.TooManyBadCommands)
		return closeConn
	}
	return proceed
}

// fatal sends a 421 and ends the connection with reason.
func (c *conn) fatal(r reply, reason mailfront.CloseReason) action {
	c.replyClosing(r)
	c.nc.SetCloseReason(reason)
	return closeConn
}

// readDataFailed ends a connection whose message data could not be read:
// a timeout gets a 421, a vanished client nothing.
func (c *conn) readDataFailed(err error) action {
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, netsrv.ErrTimeout) {
		return c.fatal(replyTimeout, mailfront.IdleTimeout)
	}
	c.nc.Logger.LogAttrs(c.nc.Ctx, slog.LevelDebug, "reading message data failed", slog.Any("err", err))
	c.nc.SetCloseReason(mailfront.ReadError)
	return closeConn
}

// abortTx ends the current transaction without delivering it.
func (c *conn) abortTx() {
	if c.tx == nil {
		return
	}
	if b := c.tx.bdat; b != nil {
		b.abort()
	}
	c.tx = nil
}

// timedReader refreshes the read deadline before each read that may block,
// so that ReadTimeout bounds every stall of a message upload rather than
// the whole upload; and, with a minimum rate, it brings the deadline
// forward to when the upload's average rate, after DataGrace, would fall
// below it (a client dripping bytes within ReadTimeout gains nothing).
type timedReader struct {
	r     io.Reader
	nc    *netsrv.Conn
	d     time.Duration
	br    *bufio.Reader
	rate  int       // octets per second; 0: no minimum
	start time.Time // of the upload
	n     int64     // octets read
}

func (c *conn) timed(r io.Reader) *timedReader {
	return &timedReader{r: r, nc: c.nc, d: c.cfg.readTimeout, br: c.nc.R, rate: c.cfg.minDataRate, start: time.Now()}
}

func (t *timedReader) Read(p []byte) (int, error) {
	if t.br.Buffered() == 0 {
		d := t.d
		if t.rate > 0 {
			// The latest moment the upload may still be going on.
			until := t.start.Add(DataGrace + time.Duration(t.n/int64(t.rate))*time.Second)
			if left := time.Until(until); d <= 0 || left < d {
				d = max(left, time.Nanosecond) // <= 0 would mean no deadline
			}
		}
		t.nc.SetReadTimeout(d)
	}
	n, err := t.r.Read(p)
	t.n += int64(n)
	return n, err
}

package submission

import (
	"errors"
	"strconv"

	"github.com/mailfront/mailfront"
	"github.com/mailfront/mailfront/internal/wire"
)

// drainStep is how much data is discarded between refreshes of the read
// deadline while draining a refused message.
const drainStep = 64 << 10

// checkDataStart checks the transaction can receive its data.
func (c *conn) checkDataStart(tx *transaction) *reply {
	switch {
	case tx == nil:
		return &replyNeedMail
	case len(tx.env.Recipients) == 0 && tx.rcptTried:
		return &reply{554, "5.5.1", "No valid recipients"}
	case len(tx.env.Recipients) == 0:
		return &replyNeedRcpt
	}
	return nil
}

// cmdData receives a message (RFC 5321 §4.1.1.4) and streams it to the
// backend. Only <CRLF>.<CRLF> ends it; bare CR and LF are refused or
// repaired; the size limit is enforced as the data arrives, and an
// oversized message is read to its end (within MaxSizeExcess) so that the
// session can go on. The reply is 250 only once the data is complete and
// the backend has returned nil.
func (c *conn) cmdData(arg string) action {
	tx := c.tx
	if arg != "" {
		return c.refused(reply{501, "5.5.4", "Syntax: DATA (no parameters)"})
	}
	if r := c.checkDataStart(tx); r != nil {
		return c.refused(*r)
	}
	switch {
	case tx.bdat != nil:
		return c.refused(reply{503, "5.5.1", "DATA is not permitted after BDAT"})
	case tx.env.Body == BodyBinaryMIME:
		return c.refused(reply{503, "5.5.1", "BODY=BINARYMIME requires BDAT"})
	}
	c.writeReply(354, "", "End data with <CR><LF>.<CR><LF>")
	if err := c.nc.Flush(); err != nil {
		c.nc.SetCloseReason(mailfront.ReadError)
		return closeConn
	}
	policy := wire.RejectBareLineEndings
	if c.cfg.normalize {
		policy = wire.NormalizeBareLineEndings
	}
	dot := wire.NewDotReader(c.nc.R, c.cfg.maxMessage, policy)
	d := c.newDelivery(tx)
	berr := d.run(c.timed(dot))
	c.tx = nil
	if d.panicked {
		return c.finish(d, berr, nil)
	}
	if d.srcErr != nil && !isPolicyError(d.srcErr) {
		// The client's data failed (timeout, disconnect) in the backend's
		// hands; the connection cannot go on.
		return c.readDataFailed(d.srcErr)
	}

	// Read what the backend or the server left unread, so that the
	// session stays in step.
	var restErr error
	if !dot.Done() {
		tooBig := errors.Is(d.srcErr, wire.ErrMessageTooLarge)
		var allowance int64 // 0: unbounded
		if c.cfg.maxExcess > 0 {
			switch {
			case tooBig:
				allowance = c.cfg.maxExcess
			case c.cfg.maxMessage > 0:
				allowance = max(c.cfg.maxMessage-dot.Size(), 0) + c.cfg.maxExcess
			}
		}
		if err := c.drain(dot, allowance); err != nil {
			if errors.Is(err, wire.ErrDrainLimit) {
				c.nc.Trace("C", "{"+strconv.FormatInt(dot.Size(), 10)+"+ bytes, cut off}")
				r, _ := c.verdict(d, berr, wire.ErrMessageTooLarge)
				c.reply(r)
				return c.fatal(reply{421, "4.7.0", "Too much data after the message was refused, closing connection"}, mailfront.LimitExceeded)
			}
			return c.readDataFailed(err)
		}
		if d.srcErr == nil {
			// The backend stopped reading early: check what it skipped.
			if c.cfg.maxMessage > 0 && dot.Size() > c.cfg.maxMessage {
				restErr = wire.ErrMessageTooLarge
			} else {
				restErr = dot.Err()
			}
		}
	}
	c.nc.Trace("C", "{"+strconv.FormatInt(dot.Size(), 10)+" bytes}")
	return c.finish(d, berr, restErr)
}

// isPolicyError reports the data errors after which the session goes on.
func isPolicyError(err error) bool {
	return errors.Is(err, wire.ErrMessageTooLarge) || errors.Is(err, wire.ErrBareLineEnding)
}

// drain discards the rest of the data up to the terminator, refreshing the
// read deadline every drainStep octets, and fails with wire.ErrDrainLimit
// past allowance octets (0: no bound).
func (c *conn) drain(dot *wire.DotReader, allowance int64) error {
	var used int64
	for {
		c.nc.SetReadTimeout(c.cfg.readTimeout)
		err := dot.Drain(drainStep)
		if !errors.Is(err, wire.ErrDrainLimit) {
			return err
		}
		used += drainStep
		if allowance > 0 && used >= allowance {
			return wire.ErrDrainLimit
		}
	}
}

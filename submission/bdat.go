package submission

import (
	"errors"
	"io"
	"log/slog"
	"strconv"

	"github.com/mailfront/mailfront"
	"github.com/mailfront/mailfront/submission/internal/smtpwire"
)

// errChunkTooBig: a refused BDAT chunk is too large to read and discard.
var errChunkTooBig = errors.New("submission: refused chunk exceeds MaxSizeExcess")

// bdatState is a message arriving in BDAT chunks (RFC 3030). The backend
// reads it on its own goroutine through a pipe that each chunk is copied
// into, so the message streams across commands without being buffered.
type bdatState struct {
	pw     *io.PipeWriter
	done   chan error
	d      *delivery
	size   int64  // octets announced so far
	failed *reply // once set, further chunks are discarded and answered with it
	ended  bool   // the backend has returned; result holds its error
	result error
}

// startBDAT starts the backend on the message of tx.
func (c *conn) startBDAT(tx *transaction) *bdatState {
	d := c.newDelivery(tx)
	pr, pw := io.Pipe()
	var src io.Reader = pr
	if tx.env.Body != BodyBinaryMIME {
		// A BINARYMIME body may hold any octet; its header is still
		// checked (delivery.fixLineEndings).
		src = smtpwire.NewLineEndingReader(pr, c.cfg.normalize)
	}
	b := &bdatState{pw: pw, done: make(chan error, 1), d: d}
	go func() {
		err := d.run(src)
		pr.CloseWithError(errAborted) // later chunk writes fail at once
		b.done <- err
	}()
	return b
}

// wait collects the backend's result.
func (b *bdatState) wait() {
	if !b.ended {
		b.result = <-b.done
		b.ended = true
	}
}

// abort ends the message without delivering it: the backend's stream fails
// and nothing may be committed.
func (b *bdatState) abort() {
	if !b.ended {
		b.pw.CloseWithError(errAborted)
		b.wait()
	}
}

// cmdBDAT receives one chunk (RFC 3030 §2). The chunk follows the command
// line at once, so every refusal still reads (and drops) it to stay in
// step, up to MaxSizeExcess; a larger refused chunk closes the connection
// without being read, and nothing is allocated for its announced size.
func (c *conn) cmdBDAT(arg string) action {
	size, last, err := smtpwire.ParseBDAT(arg)
	if err != nil {
		// Where the chunk ends is unknown: the session cannot go on.
		c.reply(reply{501, "5.5.4", "Syntax: BDAT size [LAST]"})
		c.nc.Flush()
		c.nc.SetCloseReason(mailfront.ProtocolError)
		return closeConn
	}
	tx := c.tx
	var refusal *reply
	switch {
	case !c.ehlo:
		refusal = &replyNeedEHLO
	case c.id == nil:
		refusal = &replyNeedAuth
	default:
		refusal = c.checkDataStart(tx)
	}
	if refusal != nil {
		if act, ok := c.skipChunk(size, *refusal); !ok {
			return act
		}
		return c.refused(*refusal)
	}

	b := tx.bdat
	if b == nil {
		b = c.startBDAT(tx)
		tx.bdat = b
	}
	if b.failed == nil && c.cfg.maxMessage > 0 && size > c.cfg.maxMessage-b.size {
		b.failed = &replyTooBig
		b.pw.CloseWithError(ErrMessageTooLarge)
		b.wait()
	}
	if b.failed != nil {
		// RFC 3030 §4.2: chunks pipelined after a failed one are read
		// and discarded.
		if act, ok := c.skipChunk(size, *b.failed); !ok {
			return act
		}
		c.reply(*b.failed)
		if last {
			c.tx = nil
		}
		return proceed
	}

	b.size += size
	if err := c.copyChunk(b, size); err != nil {
		c.abortTx()
		return c.readDataFailed(err)
	}
	c.nc.Trace("C", "{"+strconv.FormatInt(size, 10)+" bytes}")
	if !last {
		if b.ended && (b.result != nil || b.d.srcErr != nil || b.d.refusal != nil || b.d.senderErr != nil || b.d.panicked) {
			// The backend (or a header check) refused the message
			// before its end.
			r, reason := c.verdict(b.d, b.result, nil)
			if reason != mailfront.NotClosed {
				c.abortTx()
				return c.fatal(r, reason)
			}
			b.failed = &r
			c.reply(r)
			return proceed
		}
		c.reply(reply{250, "2.0.0", strconv.FormatInt(size, 10) + " octets received"})
		return proceed
	}
	b.pw.Close()
	b.wait()
	c.tx = nil
	return c.finish(b.d, b.result, nil)
}

// copyChunk copies n octets of chunk data from the client into the pipe.
// If the backend stops reading, the rest of the chunk is discarded.
func (c *conn) copyChunk(b *bdatState, n int64) error {
	if c.copyBuf == nil {
		c.copyBuf = make([]byte, 32<<10)
	}
	src := c.timed(c.nc.R)
	for n > 0 {
		k, err := src.Read(c.copyBuf[:min(int64(len(c.copyBuf)), n)])
		n -= int64(k)
		if k > 0 && !b.ended {
			if _, werr := b.pw.Write(c.copyBuf[:k]); werr != nil {
				b.wait()
			}
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// skipChunk reads and drops a chunk that will not be used. When it cannot
// (too large, or the client went away) it answers with refusal, ends the
// connection and returns ok false.
func (c *conn) skipChunk(size int64, refusal reply) (act action, ok bool) {
	err := errChunkTooBig
	if c.cfg.maxExcess <= 0 || size <= c.cfg.maxExcess {
		_, err = io.CopyN(io.Discard, c.timed(c.nc.R), size)
	}
	if err == nil {
		c.nc.Trace("C", "{"+strconv.FormatInt(size, 10)+" bytes, discarded}")
		return proceed, true
	}
	c.abortTx()
	if errors.Is(err, errChunkTooBig) {
		c.nc.Logger.LogAttrs(c.nc.Ctx, slog.LevelDebug, "refused BDAT chunk too large to discard", slog.Int64("size", size))
		c.reply(refusal)
		c.nc.Flush()
		c.nc.SetCloseReason(mailfront.LimitExceeded)
		return closeConn, false
	}
	return c.readDataFailed(err), false
}

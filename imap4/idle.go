package imap4

import (
	"strings"
	"time"
)

// cmdIdle runs IDLE (RFC 2177, RFC 9051 §6.3.13): changes to the selected
// mailbox are reported as they happen, "* OK Still here" keeps quiet
// connections open, and the client ends it with DONE. The session is
// StateIdle meanwhile, so Shutdown ends it with "* BYE"; the autologout
// timer runs as at a command boundary.
func (c *conn) cmdIdle(cmd *command) error {
	if err := cmd.end(); err != nil {
		return err
	}
	c.enc.Raw("+ idling").CRLF()
	if c.sel != nil {
		c.refresh(true, true)
	}
	if err := c.flush(); err != nil {
		c.readFailed(err)
		return errSent
	}

	// The client's next line (DONE) is read on its own goroutine so that
	// changes can be written meanwhile. It ends when a line arrives or the
	// connection closes; the handler returns only after it, or when the
	// connection is about to be closed.
	type result struct {
		line string
		err  error
	}
	lines := make(chan result, 1)
	go func() {
		line, err := c.nc.ReadCommand(c.s.maxLineLength(), c.s.readTimeout())
		lines <- result{string(line), err}
	}()

	var keepalive <-chan time.Time
	if d := c.s.idleNotifyInterval(); d > 0 {
		t := time.NewTicker(d)
		defer t.Stop()
		keepalive = t.C
	}
	var watch <-chan struct{}
	if c.sel != nil {
		watch = c.sel.watch
	}
	for {
		select {
		case r := <-lines:
			if r.err != nil {
				c.readFailed(r.err)
				return errSent
			}
			c.trace("C", r.line)
			if !strings.EqualFold(r.line, "DONE") {
				return bad("", "Expected DONE; IDLE ended")
			}
			return ok("", "IDLE terminated")
		case _, open := <-watch:
			if !open {
				watch = nil
				c.sel.watch = nil
			}
			c.refresh(true, true)
		case <-keepalive:
			c.enc.Raw("* OK Still here").CRLF()
		}
		if c.end {
			c.flush()
			return errSent
		}
		if err := c.flush(); err != nil {
			c.readFailed(err)
			return errSent
		}
	}
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// popConn is a minimal POP3 client.
type popConn struct {
	*textConn
	long []byte
}

// ok reads a status line and fails unless it is +OK.
func (c *popConn) ok(what string) ([]byte, error) {
	line, err := c.readLine(&c.long)
	if err != nil {
		return nil, fmt.Errorf("POP3 %s: %w", what, err)
	}
	if !bytes.HasPrefix(line, []byte("+OK")) {
		return nil, protoErr("POP3 "+what, line)
	}
	return line, nil
}

// cmd sends one command and reads its status line.
func (c *popConn) cmd(line, what string) ([]byte, error) {
	c.deadline()
	c.w.WriteString(line + "\r\n")
	if err := c.w.Flush(); err != nil {
		return nil, err
	}
	return c.ok(what)
}

// multiline reads the lines of a multi-line response up to its ".",
// returning the number of lines.
func (c *popConn) multiline() (int, error) {
	n := 0
	atStart := true
	for {
		line, err := c.r.ReadSlice('\n')
		if err == nil {
			if atStart && len(line) == 3 && line[0] == '.' && line[1] == '\r' {
				return n, nil
			}
			n++
			atStart = true
			continue
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return n, err
		}
		atStart = false
	}
}

// retrClient is pop3-retr.
type retrClient struct {
	cfg *config
	env *runEnv
	i   int
	c   *popConn
}

func newRetrClient(cfg *config, env *runEnv, i int) client {
	return &retrClient{cfg: cfg, env: env, i: i}
}

func (p *retrClient) open(ctx context.Context, rec *recorder) error {
	t0 := time.Now()
	tc, err := p.env.pop.dialText(ctx, p.i)
	if err != nil {
		return err
	}
	c := &popConn{textConn: tc}
	c.deadline()
	if _, err := c.ok("greeting"); err != nil {
		c.close()
		return err
	}
	if p.env.pop.tlsMode == "starttls" {
		if _, err := c.cmd("STLS", "STLS"); err != nil {
			c.close()
			return err
		}
		if err := c.startTLS(ctx); err != nil {
			c.close()
			return err
		}
	}
	rec.add("connect", time.Since(t0))
	t0 = time.Now()
	cr := p.cfg.user(p.i)
	if strings.ContainsAny(cr.user+cr.pass, "\r\n") {
		c.close()
		return fmt.Errorf("POP3: user names and passwords with CR or LF are not supported")
	}
	c.deadline()
	// USER and PASS in one write: both servers take them pipelined.
	c.w.WriteString("USER " + cr.user + "\r\nPASS " + cr.pass + "\r\n")
	if err := c.w.Flush(); err != nil {
		c.close()
		return err
	}
	if _, err := c.ok("USER"); err != nil {
		c.close()
		return err
	}
	if _, err := c.ok("PASS"); err != nil {
		c.close()
		return err
	}
	rec.add("login", time.Since(t0))
	p.c = c
	return nil
}

func (p *retrClient) op(ctx context.Context, rec *recorder) error {
	c := p.c
	t0 := time.Now()
	pipelining := false
	if p.cfg.pipeline {
		if _, err := c.cmd("CAPA", "CAPA"); err != nil {
			return err
		}
		c.deadline()
		for {
			line, err := c.readLine(&c.long)
			if err != nil {
				return fmt.Errorf("POP3 CAPA: %w", err)
			}
			if string(line) == ".\r\n" {
				break
			}
			if strings.EqualFold(strings.TrimSpace(string(line)), "PIPELINING") {
				pipelining = true
			}
		}
	}
	line, err := c.cmd("STAT", "STAT")
	if err != nil {
		return err
	}
	f := strings.Fields(string(line))
	if len(f) < 3 {
		return protoErr("POP3 STAT", line)
	}
	count, err := strconv.Atoi(f[1])
	if err != nil {
		return protoErr("POP3 STAT", line)
	}
	rec.add("stat", time.Since(t0))
	if count == 0 {
		return fmt.Errorf("the maildrop is empty: populate it first")
	}
	if p.cfg.maxRetr > 0 {
		count = min(count, p.cfg.maxRetr)
	}
	t0 = time.Now()
	errc := make(chan error, 1)
	if pipelining {
		// Send every RETR while the responses are read: a window of
		// the whole maildrop, as BenchmarkRETR's pipelined mode does.
		go func() {
			var err error
			for k := 1; k <= count && err == nil; k++ {
				c.w.WriteString("RETR " + strconv.Itoa(k) + "\r\n")
				if c.w.Buffered() > 8<<10 {
					err = c.w.Flush()
				}
			}
			if err == nil {
				err = c.w.Flush()
			}
			errc <- err
		}()
	}
	for k := 1; k <= count; k++ {
		c.deadline()
		if !pipelining {
			c.w.WriteString("RETR " + strconv.Itoa(k) + "\r\n")
			if err := c.w.Flush(); err != nil {
				return err
			}
		}
		if _, err := c.ok("RETR"); err != nil {
			return err
		}
		if _, err := c.multiline(); err != nil {
			return fmt.Errorf("POP3 RETR %d: %w", k, err)
		}
	}
	if pipelining {
		if err := <-errc; err != nil {
			return err
		}
	}
	rec.add("retr-all", time.Since(t0))
	rec.info["messages"] = int64(count)
	return nil
}

func (p *retrClient) close(rec *recorder) {
	if p.c == nil {
		return
	}
	if rec != nil {
		t0 := time.Now()
		if _, err := p.c.cmd("QUIT", "QUIT"); err == nil {
			rec.add("quit", time.Since(t0))
		}
	}
	p.c.close()
	p.c = nil
}

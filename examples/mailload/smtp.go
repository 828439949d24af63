package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
)

// smtpConn is a minimal SMTP submission client.
type smtpConn struct {
	*textConn
	ext  map[string]string // EHLO keywords, upper case, and their parameters
	long []byte
}

// reply reads a (multi-line) reply and fails unless its code starts with
// want's first digit and equals want when want has three digits.
func (c *smtpConn) reply(what, want string) (string, error) {
	var text strings.Builder
	for {
		line, err := c.readLine(&c.long)
		if err != nil {
			return "", fmt.Errorf("SMTP %s: %w", what, err)
		}
		if len(line) < 4 {
			return "", protoErr("SMTP "+what, line)
		}
		text.Write(bytes.TrimRight(line[4:], "\r\n"))
		text.WriteByte('\n')
		if line[3] == '-' {
			continue
		}
		if string(line[:len(want)]) != want {
			return "", protoErr("SMTP "+what, line)
		}
		return text.String(), nil
	}
}

func (c *smtpConn) cmd(line, what, want string) (string, error) {
	c.deadline()
	c.w.WriteString(line + "\r\n")
	if err := c.w.Flush(); err != nil {
		return "", err
	}
	return c.reply(what, want)
}

func (c *smtpConn) ehlo() error {
	text, err := c.cmd("EHLO mailload.example", "EHLO", "250")
	if err != nil {
		return err
	}
	c.ext = map[string]string{}
	lines := strings.Split(strings.TrimSpace(text), "\n")
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(l, " ")
		c.ext[strings.ToUpper(k)] = v
	}
	return nil
}

// dialSMTP connects client i, says EHLO (again after STARTTLS) and logs in
// with AUTH PLAIN, recording "connect" and "login".
func dialSMTP(ctx context.Context, d *dialer, i int, cr credential, rec *recorder) (*smtpConn, error) {
	t0 := time.Now()
	tc, err := d.dialText(ctx, i)
	if err != nil {
		return nil, err
	}
	c := &smtpConn{textConn: tc}
	fail := func(err error) (*smtpConn, error) { c.close(); return nil, err }
	c.deadline()
	if _, err := c.reply("greeting", "220"); err != nil {
		return fail(err)
	}
	if err := c.ehlo(); err != nil {
		return fail(err)
	}
	if d.tlsMode == "starttls" {
		if _, err := c.cmd("STARTTLS", "STARTTLS", "220"); err != nil {
			return fail(err)
		}
		if err := c.startTLS(ctx); err != nil {
			return fail(err)
		}
		if err := c.ehlo(); err != nil {
			return fail(err)
		}
	}
	if rec != nil {
		rec.add("connect", time.Since(t0))
	}
	t0 = time.Now()
	ir := base64.StdEncoding.EncodeToString([]byte("\x00" + cr.user + "\x00" + cr.pass))
	if _, err := c.cmd("AUTH PLAIN "+ir, "AUTH", "235"); err != nil {
		return fail(err)
	}
	if rec != nil {
		rec.add("login", time.Since(t0))
	}
	return c, nil
}

// send submits msg (CRLF line endings) from from to rcpt, with MAIL, RCPT
// and DATA in one write when the server offers PIPELINING and pipeline is
// set, recording "envelope" (up to the 354) and "data" (the message up to
// its 250).
func (c *smtpConn) send(from, rcpt string, msg []byte, pipeline bool, rec *recorder) error {
	t0 := time.Now()
	mail := fmt.Sprintf("MAIL FROM:<%s>", from)
	if _, ok := c.ext["SIZE"]; ok {
		mail += fmt.Sprintf(" SIZE=%d", len(msg))
	}
	rcptCmd := fmt.Sprintf("RCPT TO:<%s>", rcpt)
	if _, ok := c.ext["PIPELINING"]; ok && pipeline {
		c.deadline()
		c.w.WriteString(mail + "\r\n" + rcptCmd + "\r\nDATA\r\n")
		if err := c.w.Flush(); err != nil {
			return err
		}
		if _, err := c.reply("MAIL", "250"); err != nil {
			return err
		}
		if _, err := c.reply("RCPT", "25"); err != nil {
			return err
		}
		if _, err := c.reply("DATA", "354"); err != nil {
			return err
		}
	} else {
		if _, err := c.cmd(mail, "MAIL", "250"); err != nil {
			return err
		}
		if _, err := c.cmd(rcptCmd, "RCPT", "25"); err != nil {
			return err
		}
		if _, err := c.cmd("DATA", "DATA", "354"); err != nil {
			return err
		}
	}
	if rec != nil {
		rec.add("envelope", time.Since(t0))
	}
	t0 = time.Now()
	c.deadline()
	writeDotStuffed(c.w, msg)
	c.w.WriteString(".\r\n")
	if err := c.w.Flush(); err != nil {
		return err
	}
	if _, err := c.reply("end of data", "250"); err != nil {
		return err
	}
	if rec != nil {
		rec.add("data", time.Since(t0))
	}
	return nil
}

// writeDotStuffed writes msg with a dot doubled at the start of each line.
func writeDotStuffed(w interface{ Write([]byte) (int, error) }, msg []byte) {
	for len(msg) > 0 { // at the start of a line
		if msg[0] == '.' {
			w.Write([]byte{'.'})
		}
		i := bytes.IndexByte(msg, '\n')
		if i < 0 {
			w.Write(msg)
			w.Write([]byte("\r\n"))
			return
		}
		w.Write(msg[:i+1])
		msg = msg[i+1:]
	}
}

// submitClient is smtp-submit.
type submitClient struct {
	cfg *config
	env *runEnv
	i   int
	c   *smtpConn
}

var submitSeq atomic.Int64

func newSubmitClient(cfg *config, env *runEnv, i int) client {
	return &submitClient{cfg: cfg, env: env, i: i}
}

func (s *submitClient) open(ctx context.Context, rec *recorder) error {
	c, err := dialSMTP(ctx, s.env.smtp, s.i, s.cfg.user(s.i), rec)
	if err != nil {
		return err
	}
	s.c = c
	return nil
}

// submitAddrs returns the sender and recipient of client i.
func submitAddrs(cfg *config, i int) (from, rcpt string) {
	u := cfg.user(i).user
	from, rcpt = cfg.from, cfg.rcpt
	if from == "" {
		from = u
	}
	if rcpt == "" {
		rcpt = u
	}
	return from, rcpt
}

func (s *submitClient) op(ctx context.Context, rec *recorder) error {
	from, rcpt := submitAddrs(s.cfg, s.i)
	msg := sizedMessage(from, rcpt, s.cfg.size, fmt.Sprintf("submit-%d-%d", time.Now().UnixNano(), submitSeq.Add(1)))
	return s.c.send(from, rcpt, msg, s.cfg.pipeline, rec)
}

func (s *submitClient) close(rec *recorder) {
	if s.c == nil {
		return
	}
	if rec != nil {
		t0 := time.Now()
		if _, err := s.c.cmd("QUIT", "QUIT", "221"); err == nil {
			rec.add("quit", time.Since(t0))
		}
	}
	s.c.close()
	s.c = nil
}

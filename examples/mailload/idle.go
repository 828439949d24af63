package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// idleEvent is what a watcher reports: a new message count, or its end.
type idleEvent struct {
	w      int
	exists int64
	at     time.Time
	err    error
}

// watcher is one connection in IDLE.
type watcher struct {
	c    *imapConn
	tag  string
	done chan struct{} // closed when its reader returns
}

// startIdle opens watcher w: connect, log in, select, IDLE.
func startIdle(ctx context.Context, cfg *config, env *runEnv, w int, rec *recorder) (*watcher, int64, error) {
	c, err := dialIMAP(ctx, env.imap, w, rec)
	if err != nil {
		return nil, 0, err
	}
	if err := c.login(ctx, cfg.user(0), rec); err != nil {
		c.close()
		return nil, 0, err
	}
	if _, err := c.selectMailbox(cfg.mailbox, rec); err != nil {
		c.close()
		return nil, 0, err
	}
	c.tag++
	tag := fmt.Sprintf("a%d", c.tag)
	c.deadline()
	c.w.WriteString(tag + " IDLE\r\n")
	if err := c.w.Flush(); err != nil {
		c.close()
		return nil, 0, err
	}
	for {
		line, err := c.response()
		if err != nil {
			c.close()
			return nil, 0, fmt.Errorf("IMAP IDLE: %w", err)
		}
		if line[0] == '+' {
			break
		}
		if !bytes.HasPrefix(line, []byte("* ")) {
			c.close()
			return nil, 0, protoErr("IMAP IDLE", line)
		}
		c.untagged(line)
	}
	c.nc.SetDeadline(time.Time{}) // IDLE lasts; the server's keepalives are read
	return &watcher{c: c, tag: tag, done: make(chan struct{})}, c.exists, nil
}

// watch reads the watcher's responses until its IDLE ends, reporting each
// new EXISTS.
// Once quit is closed, events are dropped.
func (wt *watcher) watch(w int, events chan<- idleEvent, quit <-chan struct{}) {
	defer close(wt.done)
	send := func(e idleEvent) {
		select {
		case events <- e:
		case <-quit:
		}
	}
	for {
		line, err := wt.c.response()
		if err != nil {
			send(idleEvent{w: w, err: fmt.Errorf("IMAP IDLE: %w", err)})
			return
		}
		if n, ok := existsCount(line); ok {
			send(idleEvent{w: w, exists: n, at: time.Now()})
			continue
		}
		if bytes.HasPrefix(line, []byte(wt.tag+" ")) {
			return
		}
	}
}

// stop ends IDLE and logs out.
func (wt *watcher) stop() {
	wt.c.deadline()
	wt.c.w.WriteString("DONE\r\n")
	if wt.c.w.Flush() == nil {
		select {
		case <-wt.done:
			wt.c.command("LOGOUT", nil)
		case <-time.After(wt.c.timeout):
		}
	}
	wt.c.close()
	<-wt.done
}

// A deliverer puts one message into the watched mailbox.
type deliverer interface {
	deliver(ctx context.Context, msg []byte) error
	close()
}

// runIdle measures imap-idle: cfg.concurrency connections of the first user
// idle on cfg.mailbox; each iteration delivers one message and waits until
// every connection has seen its EXISTS.
func runIdle(ctx context.Context, cfg *config, env *runEnv) (*Result, error) {
	n := cfg.concurrency
	setup := newRecorder()
	watchers := make([]*watcher, n)
	var errs []error
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, cfg.parallel)
	cur := make([]int64, n)
	for w := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			rec := newRecorder()
			wt, exists, err := startIdle(ctx, cfg, env, w, rec)
			mu.Lock()
			defer mu.Unlock()
			setup.merge(rec)
			if err != nil {
				errs = append(errs, err)
				return
			}
			watchers[w], cur[w] = wt, exists
		}()
	}
	wg.Wait()
	quit := make(chan struct{})
	stopAll := func() {
		close(quit)
		var wg sync.WaitGroup
		for _, wt := range watchers {
			if wt != nil {
				wg.Add(1)
				go func() { defer wg.Done(); wt.stop() }()
			}
		}
		wg.Wait()
	}
	events := make(chan idleEvent, 4*n)
	for w, wt := range watchers {
		if wt != nil {
			go wt.watch(w, events, quit)
		}
	}
	defer stopAll()
	if len(errs) > 0 {
		return nil, fmt.Errorf("%d of %d connections could not enter IDLE; the first: %w", len(errs), n, errs[0])
	}

	dl, err := newDeliverer(ctx, cfg, env)
	if err != nil {
		return nil, err
	}
	defer dl.close()

	rec := newRecorder()
	alive := make([]bool, n)
	for w := range alive {
		alive[w] = true
	}
	iteration := func(rec *recorder) bool {
		before := append([]int64(nil), cur...)
		pending := 0
		for w := range alive {
			if alive[w] {
				pending++
			}
		}
		if pending == 0 {
			rec.fail(errors.New("no connection left in IDLE"))
			return false
		}
		u := cfg.user(0).user
		msg := sizedMessage(u, u, cfg.size, fmt.Sprintf("idle-%d-%d", time.Now().UnixNano(), idleSeq.Add(1)))
		t0 := time.Now()
		if err := dl.deliver(ctx, msg); err != nil {
			rec.fail(fmt.Errorf("delivery: %w", err))
			return true
		}
		rec.add("deliver", time.Since(t0))
		seen := make([]bool, n)
		timer := time.NewTimer(cfg.timeout)
		defer timer.Stop()
		var last time.Time
		for pending > 0 {
			select {
			case e := <-events:
				if e.err != nil {
					if alive[e.w] {
						alive[e.w] = false
						rec.fail(e.err)
						if !seen[e.w] {
							pending--
						}
					}
					continue
				}
				cur[e.w] = e.exists
				if alive[e.w] && !seen[e.w] && e.exists > before[e.w] {
					seen[e.w] = true
					pending--
					rec.add("exists", e.at.Sub(t0))
					last = e.at
				}
			case <-timer.C:
				rec.fail(fmt.Errorf("%d connections saw no EXISTS within %s", pending, cfg.timeout))
				return true
			case <-ctx.Done():
				return false
			}
		}
		rec.ops++
		rec.add("all", last.Sub(t0))
		return true
	}
	warm := newRecorder()
	for range cfg.warmup {
		iteration(warm)
	}
	in0, out0 := env.counters.in.Load(), env.counters.out.Load()
	start := time.Now()
	for k := 0; ctx.Err() == nil; k++ {
		if cfg.iterations > 0 && k >= cfg.iterations || cfg.iterations == 0 && time.Since(start) >= cfg.duration {
			break
		}
		if !iteration(rec) {
			break
		}
	}
	elapsed := time.Since(start)
	var c counters
	c.in.Store(env.counters.in.Load() - in0)
	c.out.Store(env.counters.out.Load() - out0)
	total := newRecorder()
	total.merge(setup)
	total.merge(rec)
	res := newResult(cfg, serverOf(cfg, "imap"), total, elapsed, &c)
	res.Notes = append(res.Notes, "iterations are deliveries (-deliver "+cfg.deliver+"); exists: from the start of a delivery to each connection's * EXISTS; all: to the last one")
	return res, ctx.Err()
}

var idleSeq atomic.Int64

func newDeliverer(ctx context.Context, cfg *config, env *runEnv) (deliverer, error) {
	cr := cfg.user(0)
	switch {
	case cfg.deliver == "append":
		c, err := dialIMAP(ctx, env.imap, cfg.concurrency, nil)
		if err != nil {
			return nil, err
		}
		if err := c.login(ctx, cr, nil); err != nil {
			c.close()
			return nil, err
		}
		return &appendDeliverer{c: c, mailbox: cfg.mailbox}, nil
	case cfg.deliver == "smtp":
		if !strings.EqualFold(cfg.mailbox, "INBOX") {
			return nil, errors.New("-deliver smtp delivers to INBOX: use -mailbox INBOX")
		}
		c, err := dialSMTP(ctx, env.smtp, 0, cr, nil)
		if err != nil {
			return nil, err
		}
		return &smtpDeliverer{c: c, addr: cr.user}, nil
	default:
		dir := strings.TrimPrefix(cfg.deliver, "maildir:")
		st, err := os.Stat(filepath.Join(dir, "new"))
		if err != nil {
			return nil, fmt.Errorf("-deliver: %w", err)
		}
		d := &maildirDeliverer{dir: dir, uid: -1, gid: -1}
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			d.uid, d.gid = int(sys.Uid), int(sys.Gid)
		}
		return d, nil
	}
}

type appendDeliverer struct {
	c       *imapConn
	mailbox string
}

func (d *appendDeliverer) deliver(ctx context.Context, msg []byte) error {
	_, err := d.c.appendMessage(d.mailbox, "", msg)
	return err
}

func (d *appendDeliverer) close() { d.c.logout(nil) }

type smtpDeliverer struct {
	c    *smtpConn
	addr string
}

func (d *smtpDeliverer) deliver(ctx context.Context, msg []byte) error {
	return d.c.send(d.addr, d.addr, msg, true, nil)
}

func (d *smtpDeliverer) close() {
	d.c.cmd("QUIT", "QUIT", "221")
	d.c.close()
}

// maildirDeliverer delivers as an MDA does: the file is written into tmp/,
// then renamed into new/; it is given the owner of the Maildir, so that a
// server running as another user can read it.
type maildirDeliverer struct {
	dir      string
	uid, gid int
	n        int
}

func (d *maildirDeliverer) deliver(ctx context.Context, msg []byte) error {
	d.n++
	now := time.Now()
	name := fmt.Sprintf("%d.M%dP%dQ%d.mailload-idle,S=%d,W=%d", now.Unix(), now.Nanosecond()/1000, os.Getpid(), d.n, len(msg), len(msg))
	tmp := filepath.Join(d.dir, "tmp", name)
	if err := os.WriteFile(tmp, msg, 0o600); err != nil {
		return err
	}
	if d.uid >= 0 && os.Getuid() == 0 {
		os.Chown(tmp, d.uid, d.gid)
	}
	return os.Rename(tmp, filepath.Join(d.dir, "new", name))
}

func (d *maildirDeliverer) close() {}

package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A scenario is one workload.
type scenario struct {
	name, summary string
	proto         string // imap, pop3 or smtp: whose addresses are measured
	perIteration  bool   // default -session: a new session every iteration
	// newClient makes client i of a worker scenario.
	newClient func(cfg *config, env *runEnv, i int) client
	// run measures a scenario that is not a set of independent clients.
	run func(ctx context.Context, cfg *config, env *runEnv) (*Result, error)
}

// scenarios, in the order of the usage message.
var scenarios = []*scenario{
	{name: "imap-flags", proto: "imap", perIteration: true, newClient: newFlagsClient,
		summary: "connect, LOGIN, SELECT, UID FETCH 1:* (UID FLAGS), LOGOUT per iteration"},
	{name: "imap-sync", proto: "imap", perIteration: true, newClient: newSyncClient,
		summary: "connect, LOGIN, SELECT, FETCH 1:* (ENVELOPE BODYSTRUCTURE RFC822.SIZE INTERNALDATE), LOGOUT"},
	{name: "imap-search", proto: "imap", newClient: newSearchClient,
		summary: "UID SEARCH TEXT -word per iteration, one session per client"},
	{name: "imap-append", proto: "imap", newClient: newAppendClient,
		summary: "APPEND of -size octets per iteration, with the UIDPLUS APPENDUID checked"},
	{name: "imap-idle", proto: "imap", run: runIdle,
		summary: "-c connections in IDLE; one delivery per iteration; delivery-to-EXISTS latency"},
	{name: "pop3-retr", proto: "pop3", perIteration: true, newClient: newRetrClient,
		summary: "connect, USER/PASS, RETR every message, QUIT (no DELE) per iteration"},
	{name: "smtp-submit", proto: "smtp", newClient: newSubmitClient,
		summary: "MAIL/RCPT/DATA of -size octets per iteration after one AUTH PLAIN per client"},
	{name: "conns", proto: "imap", run: runConns,
		summary: "open -c idle authenticated IMAP connections; server memory with -pid"},
}

func scenarioNames() []string {
	var out []string
	for _, s := range scenarios {
		out = append(out, s.name)
	}
	return out
}

func findScenario(name string) *scenario {
	for _, s := range scenarios {
		if s.name == name {
			return s
		}
	}
	return nil
}

// runEnv is what the clients of a measurement share.
type runEnv struct {
	counters        counters
	imap, pop, smtp *dialer
	log             io.Writer // progress and -v errors
	verbose         bool
	mu              sync.Mutex
}

// logf prints a progress line.
func (e *runEnv) logf(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	fmt.Fprintf(e.log, format+"\n", args...)
}

// A client is one simulated mail client of a worker scenario.
type client interface {
	// open connects and logs in (and selects), recording its phases.
	open(ctx context.Context, rec *recorder) error
	// op does one iteration's work on the open session.
	op(ctx context.Context, rec *recorder) error
	// close logs out (recording the phase) and disconnects; it is called
	// after an error too, and then only disconnects.
	close(rec *recorder)
}

// runScenario measures cfg.scenario.
func runScenario(ctx context.Context, cfg *config, log io.Writer) (*Result, error) {
	sc := findScenario(cfg.scenario)
	env := &runEnv{log: log, verbose: cfg.verbose}
	env.imap = newDialer(cfg, cfg.imapAddrs, &env.counters)
	env.pop = newDialer(cfg, cfg.pop3Addrs, &env.counters)
	env.smtp = newDialer(cfg, cfg.smtpAddrs, &env.counters)
	if sc.run != nil {
		return sc.run(ctx, cfg, env)
	}
	return runWorkers(ctx, cfg, env, sc)
}

// serverOf names the addresses a scenario measures.
func serverOf(cfg *config, proto string) string {
	switch proto {
	case "pop3":
		return strings.Join(cfg.pop3Addrs, ",")
	case "smtp":
		return strings.Join(cfg.smtpAddrs, ",")
	}
	return strings.Join(cfg.imapAddrs, ",")
}

// runWorkers runs cfg.concurrency clients of sc at once: each does its
// warm-up iterations, then all start together and iterate until -d has
// passed or -n iterations are done.
func runWorkers(ctx context.Context, cfg *config, env *runEnv, sc *scenario) (*Result, error) {
	perIter := sc.perIteration
	if cfg.session != "" {
		perIter = cfg.session == "per-iteration"
	}
	n := cfg.concurrency
	recs := make([]*recorder, n)
	var tickets atomic.Int64
	tickets.Store(int64(cfg.iterations))
	start := make(chan struct{})
	var ready, done sync.WaitGroup
	var end time.Time // set before start is closed

	// An iteration is open, op and close in per-iteration mode, and op
	// alone in persistent mode, where a session is opened before the
	// measurement (and again, outside the iteration's time, after an
	// error closed it).
	iterate := func(c client, open *bool, rec *recorder) {
		t0 := time.Now()
		var err error
		if !*open {
			if err = c.open(ctx, rec); err == nil {
				*open = true
			}
			if !perIter {
				t0 = time.Now()
			}
		}
		if err == nil {
			err = c.op(ctx, rec)
		}
		if err == nil && perIter {
			c.close(rec)
			*open = false
		}
		if err != nil {
			rec.fail(err)
			if env.verbose {
				env.logf("error: %v", err)
			}
			if *open {
				c.close(nil)
				*open = false
			}
			return
		}
		rec.ops++
		rec.add("iteration", time.Since(t0))
	}

	for i := range n {
		recs[i] = newRecorder()
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			c := sc.newClient(cfg, env, i)
			open := false
			if !perIter {
				if err := c.open(ctx, recs[i]); err != nil {
					recs[i].fail(err)
				} else {
					open = true
				}
			}
			warm := newRecorder()
			for range cfg.warmup {
				iterate(c, &open, warm)
			}
			if warm.nerrs > 0 {
				recs[i].merge(&recorder{errs: warm.errs, nerrs: warm.nerrs, phases: map[string][]time.Duration{}})
			}
			ready.Done()
			select {
			case <-start:
			case <-ctx.Done():
				return
			}
			for ctx.Err() == nil {
				if cfg.iterations > 0 {
					if tickets.Add(-1) < 0 {
						break
					}
				} else if !time.Now().Before(end) {
					break
				}
				iterate(c, &open, recs[i])
			}
			if open {
				c.close(newRecorder()) // log out politely, unmeasured
			}
		}()
	}
	ready.Wait()
	in0, out0 := env.counters.in.Load(), env.counters.out.Load()
	t0 := time.Now()
	end = t0.Add(cfg.duration)
	close(start)
	done.Wait()
	elapsed := time.Since(t0)
	total := newRecorder()
	for _, r := range recs {
		total.merge(r)
	}
	var c counters
	c.in.Store(env.counters.in.Load() - in0)
	c.out.Store(env.counters.out.Load() - out0)
	res := newResult(cfg, serverOf(cfg, sc.proto), total, elapsed, &c)
	if perIter {
		res.Notes = append(res.Notes, "one session per iteration: the iteration includes connecting, TLS, logging in and out")
	}
	return res, ctx.Err()
}

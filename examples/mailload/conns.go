package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// runConns measures conns: cfg.concurrency IMAP connections are opened
// (-p at a time), logged in and, unless -mailbox is empty, have the mailbox
// selected; the server's memory is read before and after.
func runConns(ctx context.Context, cfg *config, env *runEnv) (*Result, error) {
	n := cfg.concurrency
	var before procMemory
	if len(cfg.pids) > 0 {
		// Bring the server to the memory a round of -p logins needs
		// (password hashing is memory-hard), so that only connection
		// memory counts.
		var wg sync.WaitGroup
		for i := range cfg.parallel {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if c, err := openIdleConn(ctx, cfg, env, i, nil); err == nil {
					c.logout(nil)
				}
			}()
		}
		wg.Wait()
		before = settledMemory(ctx, cfg)
	}
	conns := make([]*imapConn, n)
	total := newRecorder()
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, cfg.parallel)
	in0, out0 := env.counters.in.Load(), env.counters.out.Load()
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			rec := newRecorder()
			t0 := time.Now()
			c, err := openIdleConn(ctx, cfg, env, i, rec)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				total.fail(err)
				if env.verbose {
					env.logf("error: %v", err)
				}
				return
			}
			rec.ops++
			rec.add("open", time.Since(t0))
			total.merge(rec)
			conns[i] = c
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var c counters
	c.in.Store(env.counters.in.Load() - in0)
	c.out.Store(env.counters.out.Load() - out0)
	res := newResult(cfg, serverOf(cfg, "imap"), total, elapsed, &c)
	res.Info = map[string]int64{"opened": total.ops, "attempted": int64(n)}
	res.Notes = append(res.Notes, "iterations are connections opened and left idle; open: connect, TLS, LOGIN and SELECT of one")
	if len(cfg.pids) > 0 {
		after := settledMemory(ctx, cfg)
		m := &MemoryReport{
			Pids: cfg.pids, Processes: [2]int{before.procs, after.procs},
			RSSBeforeKB: before.rss, RSSAfterKB: after.rss, PSSBeforeKB: before.pss, PSSAfterKB: after.pss,
		}
		if total.ops > 0 {
			m.RSSPerConn = round3(float64(after.rss-before.rss) / float64(total.ops))
			m.PSSPerConn = round3(float64(after.pss-before.pss) / float64(total.ops))
		}
		res.Memory = m
	}
	if cfg.hold > 0 {
		env.logf("holding %d connections for %s", total.ops, cfg.hold)
		select {
		case <-time.After(cfg.hold):
		case <-ctx.Done():
		}
	}
	for _, c := range conns {
		if c != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				c.logout(nil)
			}()
		}
	}
	wg.Wait()
	return res, nil
}

// openIdleConn opens connection i of conns.
func openIdleConn(ctx context.Context, cfg *config, env *runEnv, i int, rec *recorder) (*imapConn, error) {
	c, err := dialIMAP(ctx, env.imap, i, rec)
	if err != nil {
		return nil, err
	}
	if err := c.login(ctx, cfg.user(i), rec); err != nil {
		c.close()
		return nil, err
	}
	if cfg.mailbox != "" {
		if _, err := c.selectMailbox(cfg.mailbox, rec); err != nil {
			c.close()
			return nil, err
		}
	}
	return c, nil
}

// settledMemory reads the memory of cfg.pids every 500ms until two
// readings in a row are within 1% of each other, or -settle has passed:
// a garbage-collected server returns freed memory to the system gradually.
func settledMemory(ctx context.Context, cfg *config) procMemory {
	runtime.GC() // in tests the server shares the process
	m := readMemory(cfg.pids)
	deadline := time.Now().Add(cfg.settle)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(500 * time.Millisecond)
		next := readMemory(cfg.pids)
		stable := math.Abs(float64(next.rss-m.rss)) <= 0.01*float64(m.rss)
		m = next
		if stable {
			break
		}
	}
	return m
}

// procMemory is the memory of a set of processes, in kB.
type procMemory struct {
	procs    int
	rss, pss int64
}

// readMemory sums VmRSS (/proc/PID/status) and Pss (/proc/PID/smaps_rollup)
// over pids and all their descendants: Dovecot serves each IMAP session in
// its own process, children of the master's. RSS counts shared pages
// (libraries) in every process; PSS shares them out, so for a
// multi-process server PSS is the fairer sum.
func readMemory(pids []int) procMemory {
	all := withDescendants(pids)
	var m procMemory
	for _, pid := range all {
		rss, ok := statusField(pid, "VmRSS:")
		if !ok {
			continue
		}
		m.procs++
		m.rss += rss
		if pss, ok := smapsField(pid, "Pss:"); ok {
			m.pss += pss
		}
	}
	return m
}

// withDescendants returns pids and every process whose parent is among them.
func withDescendants(pids []int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], pid)
	}
	out := slices.Clone(pids)
	for k := 0; k < len(out); k++ {
		for _, c := range children[out[k]] {
			if !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	return out
}

func statusField(pid int, name string) (int64, bool) {
	return procField(fmt.Sprintf("/proc/%d/status", pid), name)
}

func smapsField(pid int, name string) (int64, bool) {
	return procField(fmt.Sprintf("/proc/%d/smaps_rollup", pid), name)
}

// procField reads "Name:   1234 kB" from a /proc file.
func procField(path, name string) (int64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), name); ok {
			v, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return v, err == nil
		}
	}
	return 0, false
}

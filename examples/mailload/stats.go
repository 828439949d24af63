package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// A recorder collects the latencies and errors of one client (or of a whole
// measurement, after merge). It is not safe for concurrent use.
type recorder struct {
	ops    int64
	phases map[string][]time.Duration
	order  []string // phase names in the order first seen
	errs   map[string]int
	nerrs  int64
	info   map[string]int64 // last value of named facts (messages fetched...)
}

func newRecorder() *recorder {
	return &recorder{phases: map[string][]time.Duration{}, errs: map[string]int{}, info: map[string]int64{}}
}

// add records one latency sample of a phase.
func (r *recorder) add(phase string, d time.Duration) {
	s, ok := r.phases[phase]
	if !ok {
		r.order = append(r.order, phase)
	}
	r.phases[phase] = append(s, d)
}

// fail records an error.
func (r *recorder) fail(err error) {
	r.nerrs++
	msg := err.Error()
	if len(msg) > 120 {
		msg = msg[:120] + "..."
	}
	r.errs[msg]++
}

// merge adds o's records to r.
func (r *recorder) merge(o *recorder) {
	r.ops += o.ops
	for _, p := range o.order {
		if _, ok := r.phases[p]; !ok {
			r.order = append(r.order, p)
		}
		r.phases[p] = append(r.phases[p], o.phases[p]...)
	}
	for k, v := range o.errs {
		r.errs[k] += v
	}
	r.nerrs += o.nerrs
	maps.Copy(r.info, o.info)
}

// Result is what a measurement prints, and its JSON form.
type Result struct {
	Scenario    string           `json:"scenario"`
	Label       string           `json:"label,omitempty"`
	Server      string           `json:"server"`
	TLS         string           `json:"tls"`
	Concurrency int              `json:"concurrency"`
	Seconds     float64          `json:"seconds"`
	Iterations  int64            `json:"iterations"`
	PerSecond   float64          `json:"iterations_per_second"`
	Errors      int64            `json:"errors"`
	ErrorKinds  map[string]int   `json:"error_kinds,omitempty"`
	BytesIn     int64            `json:"bytes_in"`
	BytesOut    int64            `json:"bytes_out"`
	InPerSec    float64          `json:"bytes_in_per_second"`
	OutPerSec   float64          `json:"bytes_out_per_second"`
	Latency     []Latency        `json:"latency"`
	Info        map[string]int64 `json:"info,omitempty"`
	Notes       []string         `json:"notes,omitempty"`
	Memory      *MemoryReport    `json:"memory,omitempty"`
}

// Latency holds the percentiles of one phase, in milliseconds.
type Latency struct {
	Phase string  `json:"phase"`
	N     int     `json:"n"`
	Min   float64 `json:"min_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
	Mean  float64 `json:"mean_ms"`
}

// MemoryReport is what conns measures of the server's processes, in
// kilobytes (as /proc reports them).
type MemoryReport struct {
	Pids        []int   `json:"pids"`
	Processes   [2]int  `json:"processes"` // before, after
	RSSBeforeKB int64   `json:"rss_before_kb"`
	RSSAfterKB  int64   `json:"rss_after_kb"`
	PSSBeforeKB int64   `json:"pss_before_kb,omitempty"`
	PSSAfterKB  int64   `json:"pss_after_kb,omitempty"`
	RSSPerConn  float64 `json:"rss_per_conn_kb"`
	PSSPerConn  float64 `json:"pss_per_conn_kb,omitempty"`
}

// newResult summarises rec over the elapsed wall time.
func newResult(cfg *config, server string, rec *recorder, elapsed time.Duration, c *counters) *Result {
	secs := elapsed.Seconds()
	res := &Result{
		Scenario: cfg.scenario, Label: cfg.label, Server: server, TLS: cfg.tlsMode,
		Concurrency: cfg.concurrency, Seconds: round3(secs), Iterations: rec.ops, Errors: rec.nerrs,
		BytesIn: c.in.Load(), BytesOut: c.out.Load(),
	}
	if len(rec.errs) > 0 {
		res.ErrorKinds = rec.errs
	}
	if len(rec.info) > 0 {
		res.Info = rec.info
	}
	if secs > 0 {
		res.PerSecond = round3(float64(rec.ops) / secs)
		res.InPerSec = math.Round(float64(res.BytesIn) / secs)
		res.OutPerSec = math.Round(float64(res.BytesOut) / secs)
	}
	for _, p := range rec.order {
		res.Latency = append(res.Latency, percentiles(p, rec.phases[p]))
	}
	return res
}

// percentiles sorts d and summarises it (nearest-rank percentiles).
func percentiles(phase string, d []time.Duration) Latency {
	l := Latency{Phase: phase, N: len(d)}
	if len(d) == 0 {
		return l
	}
	slices.Sort(d)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(d)))) - 1
		return ms(d[max(i, 0)])
	}
	var sum time.Duration
	for _, v := range d {
		sum += v
	}
	l.Min, l.Max = ms(d[0]), ms(d[len(d)-1])
	l.P50, l.P90, l.P99 = rank(0.50), rank(0.90), rank(0.99)
	l.Mean = ms(sum / time.Duration(len(d)))
	return l
}

func ms(d time.Duration) float64 { return round3(float64(d) / float64(time.Millisecond)) }

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// writeText prints the result for a person.
func (r *Result) writeText(w io.Writer) {
	name := r.Scenario
	if r.Label != "" {
		name += " [" + r.Label + "]"
	}
	fmt.Fprintf(w, "%s  server %s  tls %s  clients %d  %.2fs\n", name, r.Server, r.TLS, r.Concurrency, r.Seconds)
	fmt.Fprintf(w, "  iterations  %d  (%.2f/s)\n", r.Iterations, r.PerSecond)
	fmt.Fprintf(w, "  errors      %d\n", r.Errors)
	for _, k := range slices.Sorted(maps.Keys(r.ErrorKinds)) {
		fmt.Fprintf(w, "    %6d  %s\n", r.ErrorKinds[k], k)
	}
	fmt.Fprintf(w, "  received    %s  (%s/s)\n", humanBytes(float64(r.BytesIn)), humanBytes(r.InPerSec))
	fmt.Fprintf(w, "  sent        %s  (%s/s)\n", humanBytes(float64(r.BytesOut)), humanBytes(r.OutPerSec))
	for _, k := range slices.Sorted(maps.Keys(r.Info)) {
		fmt.Fprintf(w, "  %-11s %d\n", k, r.Info[k])
	}
	if m := r.Memory; m != nil {
		fmt.Fprintf(w, "  server memory (pids %v with children; processes %d -> %d)\n", m.Pids, m.Processes[0], m.Processes[1])
		fmt.Fprintf(w, "    RSS  %d kB -> %d kB  (%.1f kB per connection)\n", m.RSSBeforeKB, m.RSSAfterKB, m.RSSPerConn)
		if m.PSSAfterKB > 0 {
			fmt.Fprintf(w, "    PSS  %d kB -> %d kB  (%.1f kB per connection)\n", m.PSSBeforeKB, m.PSSAfterKB, m.PSSPerConn)
		}
	}
	if len(r.Latency) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "  latency ms\tn\tp50\tp90\tp99\tmax\tmean\t")
		for _, l := range r.Latency {
			fmt.Fprintf(tw, "  %s\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t\n", l.Phase, l.N, l.P50, l.P90, l.P99, l.Max, l.Mean)
		}
		tw.Flush()
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
}

// humanBytes formats a byte count with a binary prefix.
func humanBytes(f float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", f)
	}
	return fmt.Sprintf("%.1f %s", f, units[i])
}

var jsonMu sync.Mutex

// writeJSONFile appends the result as one JSON line to path ("-": stdout),
// so that repeated runs build a file of results.
func (r *Result) writeJSONFile(path string, stdout io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	jsonMu.Lock()
	defer jsonMu.Unlock()
	if path == "-" {
		_, err = stdout.Write(b)
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// protoErr reports an unexpected protocol line, trimmed of its CRLF.
func protoErr(what string, line []byte) error {
	return fmt.Errorf("%s: %s", what, strings.TrimRight(string(line), "\r\n"))
}

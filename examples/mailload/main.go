// Command mailload measures a running mail server over the network: IMAP,
// POP3 and SMTP submission workloads that match the testing.B benchmarks of
// the imap4, pop3, submission and store/maildir packages, run against any
// server (examples/mailserver, Dovecot, Postfix...), so servers can be
// measured side by side under the same workload.
//
//	mailload -scenario NAME [flags]
//	mailload populate (-maildir DIR | -data DIR -user ADDRESS) [-n 10000] [-seed 1] [-lf] [-new]
//
// Scenarios:
//
//	imap-flags    per iteration: connect, LOGIN, SELECT, UID FETCH 1:* (UID FLAGS), LOGOUT
//	imap-sync     per iteration: connect, LOGIN, SELECT, FETCH 1:* (ENVELOPE BODYSTRUCTURE RFC822.SIZE INTERNALDATE), LOGOUT
//	imap-search   per iteration: UID SEARCH TEXT <word> (one session per client)
//	imap-append   per iteration: APPEND of -size octets, checking the UIDPLUS APPENDUID (one session per client)
//	imap-idle     -c connections in IDLE; per iteration one delivery; latency from delivery to * EXISTS
//	pop3-retr     per iteration: connect, USER/PASS, RETR every message (pipelined if offered), QUIT; no DELE
//	smtp-submit   per iteration: MAIL, RCPT, DATA of -size octets (pipelined if offered), after AUTH PLAIN once per client
//	conns         open -c idle authenticated IMAP connections; with -pid, the server's memory before and after
//
// Each prints throughput, latency percentiles (p50, p90, p99) of the
// iteration and of its steps, errors, and bytes per second, as text and,
// with -json FILE, as JSON. See README.md for running it against
// examples/mailserver and against Dovecot, and for reading the numbers.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(mainArgs(os.Args[1:], os.Stdout, os.Stderr))
}

// mainArgs runs the command line args and returns the exit status.
func mainArgs(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "populate" {
		if err := populateCmd(args[1:], stdout); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			fmt.Fprintln(stderr, "mailload populate:", err)
			return 1
		}
		return 0
	}
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "mailload:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := runScenario(ctx, cfg, stderr)
	if res != nil {
		res.writeText(stdout)
		if cfg.jsonFile != "" {
			if jerr := res.writeJSONFile(cfg.jsonFile, stdout); jerr != nil && err == nil {
				err = jerr
			}
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "mailload:", err)
		return 1
	}
	return 0
}

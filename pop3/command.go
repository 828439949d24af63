package pop3

import (
	"errors"
	"log/slog"
	"strconv"
	"strings"
)

// secretKind says which part of a command's arguments the trace hides.
type secretKind uint8

const (
	secretNone  secretKind = iota
	secretAll              // PASS: the whole argument
	secretAfter            // AUTH mech <initial response>, APOP name <digest>: all after the first word
)

// A spec describes one command: the states it is valid in, how it is traced
// and what runs it. The whole state machine is this table.
type spec struct {
	states state
	secret secretKind
	run    func(c *conn, arg string)
}

const stateAny = stateAuthorization | stateTransaction

// commands is the dispatch table, keyed by upper-case verb.
var commands = map[string]spec{
	// AUTHORIZATION (auth.go)
	"USER": {states: stateAuthorization, run: (*conn).cmdUser},
	"PASS": {states: stateAuthorization, secret: secretAll, run: (*conn).cmdPass},
	"APOP": {states: stateAuthorization, secret: secretAfter, run: (*conn).cmdAPOP},
	"AUTH": {states: stateAuthorization, secret: secretAfter, run: (*conn).cmdAuth},
	"STLS": {states: stateAuthorization, run: (*conn).cmdSTLS},
	"UTF8": {states: stateAuthorization, run: (*conn).cmdUTF8},
	// Both states.
	"CAPA": {states: stateAny, run: (*conn).cmdCAPA},
	"QUIT": {states: stateAny, run: (*conn).cmdQuit},
	// TRANSACTION (maildrop.go)
	"STAT": {states: stateTransaction, run: (*conn).cmdStat},
	"LIST": {states: stateTransaction, run: (*conn).cmdList},
	"UIDL": {states: stateTransaction, run: (*conn).cmdUIDL},
	"RETR": {states: stateTransaction, run: (*conn).cmdRetr},
	"TOP":  {states: stateTransaction, run: (*conn).cmdTop},
	"DELE": {states: stateTransaction, run: (*conn).cmdDele},
	"RSET": {states: stateTransaction, run: (*conn).cmdRset},
	"NOOP": {states: stateTransaction, run: (*conn).cmdNoop},
}

// command is a parsed command line.
type command struct {
	verb string // upper case
	arg  string // everything after the first space, verbatim
}

// Errors of parseCommand.
var (
	errEmptyCommand = errors.New("empty command")
	errBadVerb      = errors.New("malformed command keyword")
	errControlChar  = errors.New("control character in command")
)

// maxVerb bounds a command keyword (RFC 2449 §3: keywords are up to 40
// characters in extensions; RFC 1939 uses 3 or 4).
const maxVerb = 40

// parseCommand splits a command line (without its line ending) into an
// upper-case keyword and its argument text. The keyword is ASCII letters,
// digits and "-"; it is separated from the arguments by one space (RFC
// 1939 §3), and the argument text is kept verbatim because a PASS argument
// may contain spaces. Control characters other than tab are refused
// anywhere in the line, so nothing a client sends can split a log line or
// a reply.
func parseCommand(line []byte) (command, error) {
	if len(line) == 0 {
		return command{}, errEmptyCommand
	}
	for _, b := range line {
		if (b < 0x20 && b != '\t') || b == 0x7f {
			return command{}, errControlChar
		}
	}
	verb, arg, _ := strings.Cut(string(line), " ")
	if verb == "" || len(verb) > maxVerb {
		return command{}, errBadVerb
	}
	for i := 0; i < len(verb); i++ {
		c := verb[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return command{}, errBadVerb
		}
	}
	return command{verb: strings.ToUpper(verb), arg: arg}, nil
}

// LogValue shows the command as the trace does, so that a command logged
// by mistake never reveals a password: a second line of defence behind the
// redaction at parse time.
func (cmd command) LogValue() slog.Value {
	return slog.StringValue(cmd.traceString(commands[cmd.verb].secret))
}

// traceString is the command as the protocol trace shows it, with secrets
// replaced.
func (cmd command) traceString(secret secretKind) string {
	switch {
	case cmd.arg == "":
		return cmd.verb
	case secret == secretAll:
		return cmd.verb + " <redacted>"
	case secret == secretAfter:
		first, _, more := strings.Cut(cmd.arg, " ")
		if more {
			return cmd.verb + " " + first + " <redacted>"
		}
	}
	return cmd.verb + " " + cmd.arg
}

// fields splits an argument text on spaces, ignoring runs of spaces and
// tabs (clients are not always strict about single spaces).
func fields(arg string) []string {
	return strings.FieldsFunc(arg, func(r rune) bool { return r == ' ' || r == '\t' })
}

// parseNumber parses a message number or line count: decimal digits only,
// at most 19 of them (beyond is refused rather than wrapped).
func parseNumber(s string) (int64, bool) {
	if s == "" || len(s) > 19 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

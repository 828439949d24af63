package pop3

import "log/slog"

// ParseCommand exposes the command splitter to the fuzz target: it returns
// the upper-case keyword and the verbatim argument text.
func ParseCommand(line []byte) (verb, arg string, err error) {
	cmd, err := parseCommand(line)
	return cmd.verb, cmd.arg, err
}

// TraceCommand is how the trace shows a parsed command line.
func TraceCommand(line []byte) (string, bool) {
	cmd, err := parseCommand(line)
	if err != nil {
		return "", false
	}
	return cmd.traceString(commands[cmd.verb].secret), true
}

// CommandLogValue is how a parsed command appears if it is ever logged.
func CommandLogValue(line []byte) slog.Value {
	cmd, _ := parseCommand(line)
	return cmd.LogValue()
}

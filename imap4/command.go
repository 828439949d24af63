package imap4

// cmdSpec is one command's entry in the dispatch table.
type cmdSpec struct {
	// run parses the arguments (the command name has been read), does the
	// work, writes untagged responses and returns the tagged result: nil
	// for "OK <name> completed", a *status, or an error to map.
	run func(c *conn, cmd *command) error
	// states lists the states the command is valid in.
	states state
	// secret marks commands whose arguments and continuation lines are
	// credentials: the trace shows "<redacted>".
	secret bool
	// noExpunge marks FETCH, STORE and SEARCH by sequence number, during
	// which EXPUNGE responses must not be sent (RFC 9051 §7.5.1): pending
	// expunges wait for the next command that allows them.
	noExpunge bool
	// poll asks for the mailbox to be synchronised before the tagged
	// response even without a change notification (NOOP, CHECK): the
	// commands clients use to poll.
	poll bool
}

// commands is the dispatch table: the whole state machine in one place.
var commands map[string]*cmdSpec

func init() {
	commands = map[string]*cmdSpec{
		// Any state (RFC 9051 §6.1).
		"CAPABILITY": {run: (*conn).cmdCapability, states: stateAny},
		"NOOP":       {run: (*conn).cmdNoop, states: stateAny, poll: true},
		"LOGOUT":     {run: (*conn).cmdLogout, states: stateAny},
		"ID":         {run: (*conn).cmdID, states: stateAny},

		// Not authenticated (§6.2).
		"STARTTLS":     {run: (*conn).cmdStartTLS, states: stateNotAuth},
		"AUTHENTICATE": {run: (*conn).cmdAuthenticate, states: stateNotAuth, secret: true},
		"LOGIN":        {run: (*conn).cmdLogin, states: stateNotAuth, secret: true},

		// Authenticated (§6.3).
		"ENABLE":      {run: (*conn).cmdEnable, states: stateAuth},
		"SELECT":      {run: (*conn).cmdSelect, states: stateAuth | stateSelected},
		"EXAMINE":     {run: (*conn).cmdSelect, states: stateAuth | stateSelected},
		"CREATE":      {run: (*conn).cmdCreate, states: stateAuth | stateSelected},
		"DELETE":      {run: (*conn).cmdDelete, states: stateAuth | stateSelected},
		"RENAME":      {run: (*conn).cmdRename, states: stateAuth | stateSelected},
		"SUBSCRIBE":   {run: (*conn).cmdSubscribe, states: stateAuth | stateSelected},
		"UNSUBSCRIBE": {run: (*conn).cmdSubscribe, states: stateAuth | stateSelected},
		"LIST":        {run: (*conn).cmdList, states: stateAuth | stateSelected},
		"LSUB":        {run: (*conn).cmdLsub, states: stateAuth | stateSelected},
		"NAMESPACE":   {run: (*conn).cmdNamespace, states: stateAuth | stateSelected},
		"STATUS":      {run: (*conn).cmdStatus, states: stateAuth | stateSelected},
		"APPEND":      {run: (*conn).cmdAppend, states: stateAuth | stateSelected},
		"IDLE":        {run: (*conn).cmdIdle, states: stateAuth | stateSelected},

		// Selected (§6.4).
		"CHECK":       {run: (*conn).cmdNoop, states: stateSelected, poll: true},
		"CLOSE":       {run: (*conn).cmdClose, states: stateSelected},
		"UNSELECT":    {run: (*conn).cmdClose, states: stateSelected},
		"EXPUNGE":     {run: (*conn).cmdExpunge, states: stateSelected},
		"SEARCH":      {run: (*conn).cmdSearch, states: stateSelected, noExpunge: true},
		"FETCH":       {run: (*conn).cmdFetch, states: stateSelected, noExpunge: true},
		"STORE":       {run: (*conn).cmdStore, states: stateSelected, noExpunge: true},
		"COPY":        {run: (*conn).cmdCopy, states: stateSelected},
		"MOVE":        {run: (*conn).cmdCopy, states: stateSelected},
		"UID SEARCH":  {run: (*conn).cmdSearch, states: stateSelected},
		"UID FETCH":   {run: (*conn).cmdFetch, states: stateSelected},
		"UID STORE":   {run: (*conn).cmdStore, states: stateSelected},
		"UID COPY":    {run: (*conn).cmdCopy, states: stateSelected},
		"UID MOVE":    {run: (*conn).cmdCopy, states: stateSelected},
		"UID EXPUNGE": {run: (*conn).cmdExpunge, states: stateSelected},
	}
}

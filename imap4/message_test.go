package imap4_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/imap4"
)

func TestStore(t *testing.T) {
	e := newEnv(t)
	for range 3 {
		e.b.deliver("alice", "INBOX", msg("m", "x"))
	}
	c := e.selectInbox()
	assert.Equal(t, []string{
		`* 1 FETCH (UID 1 FLAGS (\Seen \Flagged))`,
		`* 2 FETCH (UID 2 FLAGS (\Seen \Flagged))`,
	}, untagged(c.ok(`STORE 1:2 +FLAGS (\seen \FLAGGED)`)))
	assert.Equal(t, []string{`* 2 FETCH (UID 2 FLAGS (\Flagged))`}, untagged(c.ok(`STORE 2 -FLAGS \Seen`)))
	assert.Equal(t, []string{
		`* FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Label1)`,
		`* OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $Label1 \*)] Flags permitted`,
		`* 3 FETCH (UID 3 FLAGS ($Label1 \Draft))`,
	}, untagged(c.ok(`UID STORE 3 FLAGS ($Label1 \Draft)`)), "a new keyword: FLAGS and PERMANENTFLAGS first")
	assert.Empty(t, untagged(c.ok(`STORE 1 +FLAGS.SILENT (\Answered)`)))
	assert.Equal(t, []string{`\Seen`, `\Flagged`, `\Answered`}, e.b.users["alice"].boxes["INBOX"].msgs[0].flags)
	for _, bad := range []string{`STORE 1 +FLAGS (\Recent)`, `STORE 1 +FLAGS (\Bogus)`, `STORE 1 XFLAGS (\Seen)`, `STORE 9 +FLAGS (\Seen)`, `STORE 1 +FLAGS (\*)`} {
		assert.Regexp(t, "^BAD ", tagged(c.do(bad)), bad)
	}
	// A new keyword makes a new FLAGS response for other sessions.
	other := e.selectInbox()
	c.ok(`STORE 1 +FLAGS ($New)`)
	out := other.ok("NOOP")
	assert.Equal(t, []string{
		`* FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Label1 $New)`,
		`* OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $Label1 $New \*)] Flags permitted`,
		`* 1 FETCH (UID 1 FLAGS (\Seen \Flagged \Answered $New))`,
	}, untagged(out))
	// A read-only session is told the new FLAGS, and no PERMANENTFLAGS:
	// it has none.
	ro := e.login("alice")
	ro.ok("EXAMINE INBOX")
	c.ok(`STORE 2 +FLAGS ($Newer)`)
	assert.Equal(t, []string{
		`* FLAGS (\Answered \Flagged \Deleted \Seen \Draft $New $Label1 $Newer)`, // in the order this session met them
		`* 2 FETCH (UID 2 FLAGS (\Flagged $Newer))`,
	}, untagged(ro.ok("NOOP")))
}

func TestSearch(t *testing.T) {
	e := newEnv(t)
	e.b.deliver("alice", "INBOX", msg("hello world", "first body"), `\Seen`)
	e.b.deliver("alice", "INBOX", multipartMsg, `\Flagged`, "$Work")
	e.b.deliver("alice", "INBOX", msg("another", strings.Repeat("long line\r\n", 100)), `\Deleted`)
	c := e.selectInbox()
	tests := []struct {
		query, want string
	}{
		{"ALL", "* SEARCH 1 2 3"},
		{"SEEN", "* SEARCH 1"},
		{"UNSEEN", "* SEARCH 2 3"},
		{"FLAGGED DELETED", "* SEARCH"},
		{"OR FLAGGED DELETED", "* SEARCH 2 3"},
		{"NOT OR FLAGGED DELETED", "* SEARCH 1"},
		{"KEYWORD $work", "* SEARCH 2"},
		{"UNKEYWORD $Work", "* SEARCH 1 3"},
		{"SUBJECT HELLO", "* SEARCH 1"},
		{"SUBJECT grüße", "* SEARCH 2"}, // encoded word, decoded and folded
		{"FROM jörg", "* SEARCH 2"},
		{"TO bob", "* SEARCH 1 3"},
		{"HEADER Message-ID mp@", "* SEARCH 2"},
		{"BODY café", "* SEARCH 2"}, // quoted-printable body, decoded
		{"BODY first", "* SEARCH 1"},
		{"TEXT example.org", "* SEARCH 1 2 3"},
		{"TEXT quarterly", "* SEARCH 2"},
		{"LARGER 1000", "* SEARCH 3"},
		{"SMALLER 200", "* SEARCH 1"},
		{"1:2 SEEN", "* SEARCH 1"},
		{"UID 2:*", "* SEARCH 2 3"},
		{"(SEEN) (OR 1 3)", "* SEARCH 1"},
		{"ON 1-Mar-2024", "* SEARCH 1 2 3"},
		{"SINCE 2-Mar-2024", "* SEARCH"},
		{"BEFORE 2-Mar-2024", "* SEARCH 1 2 3"},
		{"SENTON 5-Mar-2024", "* SEARCH 2"},
		{"SENTBEFORE 5-Mar-2024", "* SEARCH 1 3"},
		{"SENTSINCE 5-Mar-2024", "* SEARCH 2"},
		{"NEW", "* SEARCH"},
		{"OLD", "* SEARCH 1 2 3"},
		{"RECENT", "* SEARCH"},
		{"CHARSET UTF-8 SUBJECT {7}\r\ngrüße", ""},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			if strings.Contains(tt.query, "{") {
				q, lit, _ := strings.Cut(tt.query, "\r\n")
				c.send("s SEARCH " + q)
				c.expect("+ Ready for literal data")
				c.send(lit)
				out := c.until("s")
				assert.Equal(t, []string{"* SEARCH 2", "s OK SEARCH completed"}, out)
				return
			}
			out := c.ok("SEARCH " + tt.query)
			assert.Equal(t, []string{tt.want}, untagged(out))
		})
	}
	assert.Equal(t, []string{"* SEARCH 2 3"}, untagged(c.ok("UID SEARCH UNSEEN")))
	assert.Equal(t, "NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset", tagged(c.do("SEARCH CHARSET KOI8-R SUBJECT x")))
	for _, bad := range []string{"SEARCH", "SEARCH BOGUS", "SEARCH 9", "SEARCH SINCE never", "SEARCH RETURN (BOGUS) ALL"} {
		assert.Regexp(t, "^BAD ", tagged(c.do(bad)), bad)
	}
}

func TestSearchIndexed(t *testing.T) {
	e := newEnv(t)
	e.b.optional = true
	e.b.deliver("alice", "INBOX", msg("alpha", "x"))
	e.b.deliver("alice", "INBOX", msg("beta", "y"))
	c := e.selectInbox()
	assert.Equal(t, []string{"* SEARCH 2"}, untagged(c.ok("SEARCH SUBJECT beta")))
	assert.Equal(t, 1, e.b.searches, "asked the Searcher")
	assert.Equal(t, []string{"* SEARCH 1"}, untagged(c.ok("SEARCH NOT SUBJECT beta BODY x")), "BODY falls back")
	// Through a wrapper.
	_ = imap4.Unwrapper(wrapped{})
}

// TestESearchAndSearchRes: RETURN options, IMAP4rev2's ESEARCH, and "$".
func TestESearchAndSearchRes(t *testing.T) {
	e := newEnv(t)
	for i := range 5 {
		flags := []string{}
		if i%2 == 0 {
			flags = append(flags, `\Seen`)
		}
		e.b.deliver("alice", "INBOX", msg("m", "x"), flags...)
	}
	c := e.selectInbox()
	assert.Equal(t, []string{`* ESEARCH (TAG "t3") MIN 1 MAX 5 COUNT 3 ALL 1,3,5`}, untagged(c.ok("SEARCH RETURN (MIN MAX COUNT ALL) SEEN")))
	assert.Equal(t, []string{`* ESEARCH (TAG "t4") UID ALL 2,4`}, untagged(c.ok("UID SEARCH RETURN () UNSEEN")))
	assert.Equal(t, []string{`* ESEARCH (TAG "t5") COUNT 0`}, untagged(c.ok("SEARCH RETURN (MIN COUNT) FLAGGED")))
	assert.Empty(t, untagged(c.ok("SEARCH RETURN (SAVE) SEEN")))
	assert.Equal(t, []string{"* 1 FETCH (UID 1)", "* 3 FETCH (UID 3)", "* 5 FETCH (UID 5)"}, untagged(c.ok("FETCH $ (UID)")))
	assert.Equal(t, []string{"* SEARCH 3 5"}, untagged(c.ok("SEARCH $ 2:*")))
	c.ok("STORE $ +FLAGS.SILENT (\\Flagged)")
	assert.Equal(t, []string{"* SEARCH 1 3 5"}, untagged(c.ok("SEARCH FLAGGED")))
	c.ok("SEARCH RETURN (SAVE MIN) SEEN")
	assert.Equal(t, []string{"* 1 FETCH (UID 1)"}, untagged(c.ok("UID FETCH $ (UID)")))

	c = e.login("alice")
	c.ok("ENABLE IMAP4rev2")
	c.ok("SELECT INBOX")
	assert.Equal(t, []string{`* ESEARCH (TAG "t4") ALL 1,3,5`}, untagged(c.ok("SEARCH SEEN")), "IMAP4rev2 answers ESEARCH")
}

func TestExpunge(t *testing.T) {
	e := newEnv(t)
	for range 5 {
		e.b.deliver("alice", "INBOX", msg("m", "x"))
	}
	c := e.selectInbox()
	c.ok(`STORE 2,4:5 +FLAGS.SILENT (\Deleted)`)
	assert.Equal(t, []string{"* 4 EXPUNGE", "* 2 EXPUNGE"}, untagged(c.ok("UID EXPUNGE 1:4")))
	assert.Equal(t, []string{"* 3 EXPUNGE"}, untagged(c.ok("EXPUNGE")))
	assert.Equal(t, []string{"* SEARCH 1 3"}, untagged(c.ok("UID SEARCH ALL")))
	assert.Empty(t, untagged(c.ok("EXPUNGE")))
	c.ok("EXAMINE INBOX")
	assert.Equal(t, "NO [READ-ONLY] Mailbox is read-only", tagged(c.do("EXPUNGE")))
}

func TestCopyMove(t *testing.T) {
	for _, optional := range []bool{false, true} {
		name := "fallback"
		if optional {
			name = "Mover"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.b.optional = optional
			for range 4 {
				e.b.deliver("alice", "INBOX", msg("m", "x"))
			}
			c := e.login("alice")
			c.ok("CREATE Archive")
			c.ok("SELECT INBOX")
			out := c.ok("COPY 1:2 Archive")
			assert.Regexp(t, `^OK \[COPYUID \d+ 1:2 1:2\] COPY completed$`, tagged(out))
			assert.Equal(t, "NO [TRYCREATE] No such mailbox", tagged(c.do("COPY 1 Nope")))
			out = c.ok("UID MOVE 2:3 Archive")
			require.Len(t, out, 4)
			assert.Regexp(t, `^\* OK \[COPYUID \d+ 2:3 3:4\] Moved$`, out[0])
			assert.Equal(t, []string{"* 3 EXPUNGE", "* 2 EXPUNGE"}, out[1:3])
			assert.Len(t, e.b.users["alice"].boxes["Archive"].msgs, 4)
			assert.Len(t, e.b.users["alice"].boxes["INBOX"].msgs, 2)
			out = c.ok("COPY 1 INBOX") // to itself: a new message
			assert.Contains(t, out, "* 3 EXISTS")
			assert.Equal(t, "NO [TRYCREATE] No such mailbox", tagged(c.do("MOVE 1 Nope")))
			assert.Len(t, e.b.users["alice"].boxes["INBOX"].msgs, 3, "a failed MOVE leaves the messages")
		})
	}
}

func TestAppend(t *testing.T) {
	e := newEnv(t)
	c := e.selectInbox()
	body := "Subject: hi\r\n\r\nhello\r\n"
	c.send(`a APPEND INBOX (\Seen $Work) "14-Jul-2024 08:00:00 +0200" {` + itoaT(len(body)) + `}`)
	c.expect("+ Ready for literal data")
	c.write(body + "\r\n")
	out := c.until("a")
	assert.Equal(t, []string{"* 1 EXISTS", "* 1 RECENT"}, out[len(out)-3:len(out)-1], "new to the session, whatever its date")
	assert.Regexp(t, `^a OK \[APPENDUID \d+ 1\] APPEND completed$`, out[len(out)-1])
	m := e.b.users["alice"].boxes["INBOX"].msgs[0]
	assert.Equal(t, body, string(m.body))
	assert.Equal(t, []string{`\Seen`, "$Work"}, m.flags)
	assert.Equal(t, "2024-07-14T08:00:00+02:00", m.date.Format("2006-01-02T15:04:05-07:00"))

	// LITERAL+, bare LF normalised, MULTIAPPEND.
	c.write("b APPEND INBOX {5+}\r\nab\ncd {2+}\r\nxy\r\n")
	out = c.until("b")
	assert.Regexp(t, `^b OK \[APPENDUID \d+ 2:3\] APPEND completed$`, out[len(out)-1])
	assert.Equal(t, "ab\r\ncd", string(e.b.users["alice"].boxes["INBOX"].msgs[1].body))

	// literal8 (BINARY) is stored as sent.
	c.write("c APPEND INBOX ~{3+}\r\na\nb\r\n")
	out = c.until("c")
	assert.Regexp(t, `^c OK \[APPENDUID`, out[len(out)-1])
	assert.Equal(t, "a\nb", string(e.b.users["alice"].boxes["INBOX"].msgs[3].body))

	assert.Equal(t, "NO [TRYCREATE] No such mailbox", tagged(c.do("APPEND Nope {1+}\r\nx")))
	assert.Regexp(t, "^BAD ", tagged(c.do("APPEND INBOX (\\Recent) {1+}\r\nx")))
	assert.Equal(t, "NO [CANNOT] Invalid mailbox name: empty hierarchy level", tagged(c.do("APPEND a//b {1+}\r\nx")))
	c.ok("NOOP") // the literals of the refused commands were skipped

	// A failing MULTIAPPEND appends nothing.
	e.b.mu.Lock()
	before := len(e.b.users["alice"].boxes["INBOX"].msgs)
	e.b.mu.Unlock()
	c.write("d APPEND INBOX {1+}\r\nx (\\Bogus) {1+}\r\ny\r\n")
	out = c.until("d")
	assert.Regexp(t, "^d BAD ", out[len(out)-1])
	c.ok("NOOP")
	assert.Len(t, e.b.users["alice"].boxes["INBOX"].msgs, before, "all or nothing")
}

// TestI14AppendLimit: a synchronizing literal over APPENDLIMIT is refused
// before the continuation; a non-synchronizing one is refused and its bytes
// consumed (or, when huge, the connection closed).
func TestI14AppendLimit(t *testing.T) {
	e := newEnv(t, func(s *imap4.Server) { s.AppendLimit = 1000 })
	c := e.login("alice")
	assert.Contains(t, c.do("CAPABILITY")[0], "APPENDLIMIT=1000")
	c.send("a APPEND INBOX {1001}")
	c.expect("a NO [TOOBIG] Message larger than APPENDLIMIT 1000")
	c.ok("APPEND INBOX {1000+}\r\n" + strings.Repeat("x", 1000))
	c.write("b APPEND INBOX {5000+}\r\n" + strings.Repeat("c NOOP\r\n", 625) + "\r\n")
	c.expect("b NO [TOOBIG] Message larger than APPENDLIMIT 1000")
	c.ok("NOOP") // none of the literal's "c NOOP" lines ran
	c.write("d APPEND INBOX {99999999+}\r\n")
	c.expect("d NO [TOOBIG] Message larger than APPENDLIMIT 1000", "* BYE [TOOBIG] Literal too large; closing connection")
	assert.Error(t, c.readErr())
	assert.Len(t, e.b.users["alice"].boxes["INBOX"].msgs, 1)
}

// TestI1HostileLiterals: absurd literal sizes before login get BAD or
// NO [TOOBIG], never a continuation.
func TestI1HostileLiterals(t *testing.T) {
	e := newEnv(t)
	for _, lit := range []string{"{4294967296}", "{2147483647}", "{99999999999999999999}", "{-1}", "{}", "{9000}"} {
		t.Run(lit, func(t *testing.T) {
			c := e.dial()
			c.send("a LOGIN " + lit)
			l := c.line()
			assert.Regexp(t, `^a (BAD|NO \[TOOBIG\]) `, l)
			c.ok("NOOP")
		})
	}
	c := e.dial()
	c.write("a LOGIN {5+}\r\nalice secret\r\n")
	c.expect(`~a OK \[CAPABILITY .*\] Logged in`)
	c = e.dial()
	c.write("a LOGIN {99999999999999999999+}\r\n")
	c.expect("a BAD Syntax error: invalid literal", "* BYE [TOOBIG] Literal too large; closing connection")
}

// TestI2LiteralOnRejectedCommand: the literal of a command refused for any
// reason is consumed, never run.
func TestI2LiteralOnRejectedCommand(t *testing.T) {
	e := newEnv(t)
	c := e.dial()
	c.write("a SELECT {10+}\r\nb LOGOUT\r\n\r\n")
	c.expect("a BAD Command not valid in this state: log in first")
	c.ok("NOOP")
	c.write("a BOGUS {10+}\r\nc LOGOUT\r\n\r\n")
	c.expect("a BAD Unknown command")
	c.ok("LOGIN alice secret")
	c.write("x CREATE \"bad\" {6+}\r\nd NOOP\r\n")
	c.expect("x BAD Syntax error: expected '('")
	c.ok("NOOP")
}

// TestI4HugeCommand: 10,000 literals, or a command over 1 MiB outside
// APPEND, get NO [TOOBIG] at the bound.
func TestI4HugeCommand(t *testing.T) {
	e := newEnv(t)
	c := e.selectInbox()
	var b strings.Builder
	b.WriteString("a SEARCH")
	for range 10000 {
		b.WriteString(" TEXT {1+}\r\nx")
	}
	b.WriteString("\r\n")
	go c.nc.Write([]byte(b.String()))
	c.expect("a NO [TOOBIG] Command too large: too many literals in one command")
	c.send("b SEARCH TEXT {2000000}")
	c.expect("b NO [TOOBIG] Command too large: command too large")
	c.ok("NOOP")
}

// TestI6StateAndGrammar covers state errors, missing tags and IDLE's DONE.
func TestI6StateAndGrammar(t *testing.T) {
	e := newEnv(t, func(s *imap4.Server) { s.MaxBadCommandsBeforeLogin = 100 })
	c := e.dial()
	assert.Equal(t, "BAD Command not valid in this state: log in first", tagged(c.do("SELECT INBOX")))
	assert.Equal(t, "BAD Command not valid in this state: log in first", tagged(c.do("FETCH 1 FLAGS")))
	c.send("")
	c.expect("* BAD Missing or invalid tag")
	c.send("* NOOP")
	c.expect("* BAD Missing or invalid tag")
	c.send("+ NOOP")
	c.expect("* BAD Missing or invalid tag")
	c.send("a")
	c.expect("a BAD Missing or invalid command name")
	c.ok("LOGIN alice secret")
	assert.Equal(t, "NO [TRYCREATE] No such mailbox", tagged(c.do("APPEND Nope {1+}\r\nx")))
	c.ok("SELECT INBOX")
	c.send("i IDLE")
	c.expect("+ idling")
	c.send("NOT DONE")
	c.expect("i BAD Expected DONE; IDLE ended")
	c.ok("NOOP")
}

// TestI3NestingAtServer: deep nesting within the line limit is BAD at the
// depth limit; the session goes on.
func TestI3NestingAtServer(t *testing.T) {
	e := newEnv(t)
	e.b.deliver("alice", "INBOX", msg("m", "x"))
	c := e.selectInbox()
	for _, q := range []string{
		strings.Repeat("(", 30000) + "ALL" + strings.Repeat(")", 30000),
		strings.Repeat("NOT ", 15000) + "ALL",
		strings.Repeat("OR ALL ", 9000) + "ALL",
	} {
		assert.Equal(t, "BAD Command too deeply nested", tagged(c.do("SEARCH "+q)))
	}
	assert.Regexp(t, "^BAD ", tagged(c.do("STORE 1 +FLAGS "+strings.Repeat("(", 1000))))
	assert.Regexp(t, "^BAD ", tagged(c.do("FETCH 1 "+strings.Repeat("(", 1000))))
	assert.Regexp(t, "^BAD ", tagged(c.do("APPEND INBOX "+strings.Repeat("(", 1000)+" {1+}\r\nx")))
	assert.Equal(t, []string{"* SEARCH 1"}, untagged(c.ok("SEARCH "+strings.Repeat("NOT ", 98)+"ALL")))
}

// TestI11UIDValidityChange: if the selected mailbox's UIDVALIDITY changes
// under a session, the session ends rather than show wrong UIDs.
func TestI11UIDValidityChange(t *testing.T) {
	e := newEnv(t)
	e.b.deliver("alice", "INBOX", msg("m", "x"))
	c := e.selectInbox()
	e.b.mu.Lock()
	bx := e.b.users["alice"].boxes["INBOX"]
	bx.uidValidity++
	bx.notify()
	e.b.mu.Unlock()
	c.send("a NOOP")
	c.expect("* BYE Mailbox UIDVALIDITY changed; please reconnect")
	assert.Error(t, c.readErr())

	// DELETE and CREATE again: a new UIDVALIDITY.
	c = e.login("alice")
	c.ok("CREATE Box")
	v1 := c.ok("STATUS Box (UIDVALIDITY)")[0]
	c.ok("DELETE Box")
	c.ok("CREATE Box")
	assert.NotEqual(t, v1, c.ok("STATUS Box (UIDVALIDITY)")[0])
}

func TestFetchUnknownCTE(t *testing.T) {
	e := newEnv(t)
	e.b.deliver("alice", "INBOX", "Subject: x\r\nContent-Transfer-Encoding: x-weird\r\n\r\nbody\r\n")
	e.b.deliver("alice", "INBOX", msg("fine", "y"))
	c := e.selectInbox()
	out := c.do("FETCH 1:2 BINARY.PEEK[1]")
	assert.Equal(t, "NO [UNKNOWN-CTE] Unknown Content-Transfer-Encoding", tagged(out))
	// 7bit data goes as an ordinary literal (RFC 3516 §4.3).
	assert.Contains(t, out, "* 2 FETCH (BINARY[1] {3}\r\ny\r\n)")
	c.ok("FETCH 1 BODY.PEEK[1]") // BODY[] is fine
}

// TestOptionalThroughWrapper: optional interfaces are found through an
// Unwrap() chain.
func TestOptionalThroughWrapper(t *testing.T) {
	e := newEnv(t, func(s *imap4.Server) { s.Backend = wrappingBackend{s.Backend.(*fakeBackend)} })
	e.b.optional = true
	e.b.deliver("alice", "INBOX", msg("wrapped", "x"))
	c := e.selectInbox()
	c.ok("SEARCH SUBJECT wrapped")
	assert.Equal(t, 1, e.b.searches)
}

type wrappingBackend struct{ b *fakeBackend }

func (w wrappingBackend) OpenUser(ctx context.Context, id auth.Identity) (imap4.User, error) {
	u, err := w.b.OpenUser(ctx, id)
	return wrappingUser{u}, err
}

type wrappingUser struct{ imap4.User }

func (u wrappingUser) OpenMailbox(ctx context.Context, name string) (imap4.Mailbox, error) {
	mb, err := u.User.OpenMailbox(ctx, name)
	if err != nil {
		return nil, err
	}
	return wrapped{mb}, nil
}

// TestAppendUTF8: after ENABLE UTF8=ACCEPT, APPEND takes UTF8 (literal8).
func TestAppendUTF8(t *testing.T) {
	e := newEnv(t)
	c := e.login("alice")
	c.ok("ENABLE UTF8=ACCEPT")
	body := "Subject: Grüße\r\n\r\nx\r\n"
	c.write("a APPEND INBOX UTF8 (~{" + itoaT(len(body)) + "+}\r\n" + body + ")\r\n")
	out := c.until("a")
	assert.Regexp(t, `^a OK \[APPENDUID \d+ 1\]`, out[len(out)-1])
	assert.Equal(t, body, string(e.b.users["alice"].boxes["INBOX"].msgs[0].body))
	c.ok("SELECT INBOX")
	assert.Equal(t, `* 1 FETCH (ENVELOPE (NIL "Grüße" NIL NIL NIL NIL NIL NIL NIL NIL))`, c.ok("FETCH 1 ENVELOPE")[0], "UTF-8 quoted for UTF8=ACCEPT")
}

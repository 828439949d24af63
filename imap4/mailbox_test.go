package imap4_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/imap4"
)

func (e *env) boxNames(user string) []string {
	e.b.mu.Lock()
	defer e.b.mu.Unlock()
	var names []string
	for n := range e.b.users[user].boxes {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func TestCreateDeleteRename(t *testing.T) {
	e := newEnv(t)
	c := e.login("alice")
	c.ok("CREATE Work")
	c.ok("CREATE Work/Projects/") // trailing delimiter
	c.ok("CREATE Archive/2024")   // parents created
	assert.Equal(t, []string{"Archive", "Archive/2024", "INBOX", "Work", "Work/Projects"}, e.boxNames("alice"))
	assert.Equal(t, "NO [ALREADYEXISTS] Mailbox already exists", tagged(c.do("CREATE Work")))
	assert.Equal(t, "NO [ALREADYEXISTS] INBOX always exists", tagged(c.do("CREATE inbox")))
	c.ok("CREATE inbox/Sub")
	assert.Contains(t, e.boxNames("alice"), "INBOX/Sub")

	assert.Equal(t, "NO [NONEXISTENT] No such mailbox", tagged(c.do("DELETE Nope")))
	assert.Equal(t, "NO [CANNOT] INBOX cannot be deleted", tagged(c.do("DELETE INBOX")))
	c.ok("DELETE Work") // has children: becomes \Noselect
	assert.Equal(t, "NO [HASCHILDREN] Mailbox has child mailboxes", tagged(c.do("DELETE Work")))
	c.ok("DELETE Work/Projects")

	c.ok("RENAME Archive Old")
	assert.Contains(t, e.boxNames("alice"), "Old/2024")
	assert.Equal(t, "NO [ALREADYEXISTS] INBOX always exists", tagged(c.do("RENAME Old INBOX")))
	assert.Equal(t, "NO [NONEXISTENT] No such mailbox", tagged(c.do("RENAME Nope Other")))
	assert.Equal(t, "NO [CANNOT] Cannot rename a mailbox below itself", tagged(c.do("RENAME Old Old/x")))
	e.b.deliver("alice", "INBOX", msg("m", "x"))
	c.ok("RENAME INBOX Saved")
	assert.Len(t, e.b.users["alice"].boxes["Saved"].msgs, 1)
	assert.Empty(t, e.b.users["alice"].boxes["INBOX"].msgs)
}

func TestCreateSpecialUse(t *testing.T) {
	e := newEnv(t)
	c := e.login("alice")
	c.ok(`CREATE Sent (USE (\Sent))`)
	assert.Equal(t, `NO [USEATTR] Unknown special use \Bogus`, tagged(c.do(`CREATE X (USE (\Bogus))`)))
	assert.Equal(t, "NO [USEATTR] Only one special use per mailbox", tagged(c.do(`CREATE X (USE (\Sent \Trash))`)))
	out := c.ok(`LIST "" *`)
	assert.Contains(t, out, `* LIST (\HasNoChildren \Sent) "/" Sent`)
	out = c.ok(`LIST (SPECIAL-USE) "" *`)
	assert.Equal(t, []string{`* LIST (\HasNoChildren \Sent) "/" Sent`}, untagged(out))
}

// TestI7MailboxNameTraversal: hostile names are refused before the backend
// sees them.
func TestI7MailboxNameTraversal(t *testing.T) {
	e := newEnv(t)
	c := e.login("alice")
	deep := strings.Repeat("a/", 999) + "a"
	tests := []string{
		`"../../x"`, `"a/../../b"`, `"/abs"`, `"INBOX/.."`, `"a//b"`, `"."`, `"a/./b"`,
		`"a*b"`, `"a%b"`, `""`,
		"{3}\r\na\x00b", "{3}\r\na\rb", "{3}\r\na\nb", "{3}\r\na\x7fb",
		`"` + strings.Repeat("x", 4096) + `"`,
		`"` + deep + `"`,
		`"` + strings.Repeat("y", 256) + `"`,
	}
	for _, name := range tests {
		t.Run(strings.ReplaceAll(name[:min(len(name), 20)], "\r\n", " "), func(t *testing.T) {
			for _, cmd := range []string{"CREATE", "DELETE", "SELECT", "SUBSCRIBE", "STATUS"} {
				line := cmd + " " + name
				if cmd == "STATUS" {
					line += " (MESSAGES)"
				}
				var out []string
				if strings.HasPrefix(name, "{") {
					c.tag++
					tag := "t" + strconv.Itoa(c.tag)
					lit, rest, _ := strings.Cut(name, "\r\n")
					c.send(tag + " " + cmd + " " + lit)
					c.expect("+ Ready for literal data")
					if cmd == "STATUS" {
						rest += " (MESSAGES)"
					}
					c.send(rest)
					out = c.until(tag)
				} else {
					out = c.do(line)
				}
				assert.Regexp(t, `^(NO|BAD) `, tagged(out), cmd)
			}
		})
	}
	assert.Equal(t, []string{"INBOX"}, e.boxNames("alice"))
	assert.Empty(t, e.b.users["alice"].subs)
}

// TestI7UserIsolation: one user's names never reach another's store.
func TestI7UserIsolation(t *testing.T) {
	e := newEnv(t)
	e.dir.users["adm"] = "pw1"
	e.dir.users["admin"] = "pw2"
	e.login("admin").ok("CREATE Secret")
	c := e.login("adm")
	assert.Equal(t, "NO [NONEXISTENT] No such mailbox", tagged(c.do("SELECT Secret")))
	assert.Equal(t, []string{"* LIST (\\HasNoChildren) \"/\" INBOX"}, untagged(c.ok(`LIST "" *`)))
}

func TestInboxCaseInsensitive(t *testing.T) {
	e := newEnv(t)
	c := e.login("alice")
	assert.Contains(t, tagged(c.ok("SELECT inbox")), "READ-WRITE")
	assert.Contains(t, tagged(c.ok("EXAMINE InBoX")), "READ-ONLY")
	assert.Contains(t, untagged(c.ok(`LIST "" inbox`)), `* LIST (\HasNoChildren) "/" INBOX`)
}

// TestMailboxNameEncodings: IMAP4rev1 clients use modified UTF-7, IMAP4rev2
// and UTF8=ACCEPT clients UTF-8; the backend always sees UTF-8.
func TestMailboxNameEncodings(t *testing.T) {
	e := newEnv(t)
	c := e.login("alice")
	c.ok("CREATE Entw&APw-rfe")
	c.ok(`CREATE "Tom &- Jerry"`)
	assert.Contains(t, e.boxNames("alice"), "Entwürfe")
	assert.Contains(t, e.boxNames("alice"), "Tom & Jerry")
	out := untagged(c.ok(`LIST "" *`))
	assert.Contains(t, out, `* LIST (\HasNoChildren) "/" Entw&APw-rfe`)
	assert.Contains(t, out, `* LIST (\HasNoChildren) "/" "Tom &- Jerry"`)
	assert.Equal(t, "NO [CANNOT] Invalid mailbox name: not modified UTF-7", tagged(c.do("CREATE &Jjo!")))
	assert.Equal(t, []string{"* STATUS Entw&APw-rfe (MESSAGES 0)"}, untagged(c.ok("STATUS Entw&APw-rfe (MESSAGES)")))

	for _, enable := range []string{"UTF8=ACCEPT", "IMAP4rev2"} {
		t.Run(enable, func(t *testing.T) {
			c := e.login("alice")
			assert.Equal(t, []string{"* ENABLED " + enable}, untagged(c.ok("ENABLE "+enable)))
			out := untagged(c.ok(`LIST "" *`))
			assert.Contains(t, out, `* LIST (\HasNoChildren) "/" "Entwürfe"`)
			assert.Contains(t, out, `* LIST (\HasNoChildren) "/" "Tom & Jerry"`)
			c.ok(`SELECT "Entwürfe"`)
			c.ok(`CREATE "Grüße/&Jjo-"`) // "&" is literal in UTF-8 names
			assert.Contains(t, e.boxNames("alice"), "Grüße/&Jjo-")
			c.ok(`DELETE "Grüße/&Jjo-"`)
		})
	}
}

func TestList(t *testing.T) {
	e := newEnv(t)
	c := e.login("alice")
	for _, n := range []string{"Work", "Work/A", "Work/B/Deep", "Zed"} {
		c.ok("CREATE " + n)
	}
	e.b.mu.Lock()
	delete(e.b.users["alice"].boxes, "Work/B") // a level the backend does not list
	e.b.mu.Unlock()
	c.ok("SUBSCRIBE Work/A")
	c.ok("SUBSCRIBE Gone") // a subscription to a mailbox that does not exist

	tests := []struct {
		cmd  string
		want []string
	}{
		{`LIST "" ""`, []string{`* LIST (\Noselect) "/" ""`}},
		{`LIST "" *`, []string{
			`* LIST (\HasNoChildren) "/" INBOX`, `* LIST (\HasChildren) "/" Work`, `* LIST (\HasNoChildren) "/" Work/A`,
			`* LIST (\Noselect \HasChildren) "/" Work/B`, `* LIST (\HasNoChildren) "/" Work/B/Deep`, `* LIST (\HasNoChildren) "/" Zed`,
		}},
		{`LIST () "" Work/*`, []string{ // LIST-EXTENDED syntax: \NonExistent
			`* LIST (\HasNoChildren) "/" Work/A`, `* LIST (\NonExistent \HasChildren) "/" Work/B`, `* LIST (\HasNoChildren) "/" Work/B/Deep`,
		}},
		{`LIST "" %`, []string{`* LIST (\HasNoChildren) "/" INBOX`, `* LIST (\HasChildren) "/" Work`, `* LIST (\HasNoChildren) "/" Zed`}},
		{`LIST Work/ %`, []string{`* LIST (\HasNoChildren) "/" Work/A`, `* LIST (\Noselect \HasChildren) "/" Work/B`}},
		{`LIST "" Work/%/Deep`, []string{`* LIST (\HasNoChildren) "/" Work/B/Deep`}},
		{`LIST "" (Zed INBOX)`, []string{`* LIST (\HasNoChildren) "/" INBOX`, `* LIST (\HasNoChildren) "/" Zed`}},
		{`LIST (SUBSCRIBED) "" *`, []string{`* LIST (\NonExistent \Subscribed) "/" Gone`, `* LIST (\HasNoChildren \Subscribed) "/" Work/A`}},
		{`LIST (SUBSCRIBED RECURSIVEMATCH) "" %`, []string{
			`* LIST (\NonExistent \Subscribed) "/" Gone`, `* LIST (\HasChildren) "/" Work ("CHILDINFO" ("SUBSCRIBED"))`,
		}},
		// Work/A is listed itself: no need for its parent.
		{`LIST (SUBSCRIBED RECURSIVEMATCH) "" *`, []string{
			`* LIST (\NonExistent \Subscribed) "/" Gone`, `* LIST (\HasNoChildren \Subscribed) "/" Work/A`,
		}},
		{`LIST "" Work RETURN (SUBSCRIBED CHILDREN)`, []string{`* LIST (\HasChildren) "/" Work`}},
		{`LIST "" Work/A RETURN (SUBSCRIBED)`, []string{`* LIST (\HasNoChildren \Subscribed) "/" Work/A`}},
		{`LIST "" Zed RETURN (STATUS (MESSAGES UIDNEXT))`, []string{`* LIST (\HasNoChildren) "/" Zed`, `* STATUS Zed (MESSAGES 0 UIDNEXT 1)`}},
		{`LSUB "" *`, []string{`* LSUB (\Noselect) "/" Gone`, `* LSUB () "/" Work/A`}},
		// Work is not subscribed, but Work/A is, and % does not reach
		// it: Work is listed \Noselect (RFC 3501 §6.3.9).
		{`LSUB "" %`, []string{`* LSUB (\Noselect) "/" Gone`, `* LSUB (\Noselect) "/" Work`}},
		{`LSUB "" Work/%`, []string{`* LSUB () "/" Work/A`}},
		{`LSUB "" W*`, []string{`* LSUB () "/" Work/A`}},
		{`LSUB "" Z%`, nil},
		{`LSUB "" Work`, nil}, // no wildcard: Work/A is out of reach
		{`LSUB "" Wor%`, []string{`* LSUB (\Noselect) "/" Work`}},
		{`LIST "" nothing*`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			out := c.ok(tt.cmd)
			assert.Equal(t, tt.want, untagged(out))
		})
	}
	for _, bad := range []string{`LIST (RECURSIVEMATCH) "" *`, `LIST (BOGUS) "" *`, `LIST "" * RETURN (BOGUS)`, `LIST ""`, `LIST "" * RETURN`} {
		assert.Regexp(t, "^BAD ", tagged(c.do(bad)), bad)
	}
}

// TestListChildInfoOfSubscribedParent checks that CHILDINFO also goes
// with a parent that is subscribed itself (RFC 5258 §5, example 9), with
// any pattern, as Dovecot answers.
func TestListChildInfoOfSubscribedParent(t *testing.T) {
	e := newEnv(t)
	c := e.login("alice")
	for _, n := range []string{"P", "P/c"} {
		c.ok("CREATE " + n)
		c.ok("SUBSCRIBE " + n)
	}
	assert.Equal(t, []string{
		`* LIST (\HasChildren \Subscribed) "/" P ("CHILDINFO" ("SUBSCRIBED"))`,
	}, untagged(c.ok(`LIST (SUBSCRIBED RECURSIVEMATCH) "" %`)))
	assert.Equal(t, []string{
		`* LIST (\HasChildren \Subscribed) "/" P ("CHILDINFO" ("SUBSCRIBED"))`,
		`* LIST (\HasNoChildren \Subscribed) "/" P/c`,
	}, untagged(c.ok(`LIST (SUBSCRIBED RECURSIVEMATCH) "" *`)))
	assert.Equal(t, []string{
		`* LIST (\HasChildren \Subscribed) "/" P`,
		`* LIST (\HasNoChildren \Subscribed) "/" P/c`,
	}, untagged(c.ok(`LIST (SUBSCRIBED) "" *`)), "no CHILDINFO without RECURSIVEMATCH")
}

func TestListPatternMatching(t *testing.T) {
	e := newEnv(t)
	c := e.login("alice")
	for _, n := range []string{"a", "a/b", "a/b/c", "ab", "b%c"} {
		if n != "b%c" {
			c.ok("CREATE " + n)
		}
	}
	tests := []struct {
		pattern string
		want    []string
	}{
		{"a*", []string{"a", "a/b", "a/b/c", "ab"}},
		{"a%", []string{"a", "ab"}},
		{"a/*", []string{"a/b", "a/b/c"}},
		{"*/c", []string{"a/b/c"}},
		{"%/%", []string{"a/b"}},
		{"*b*", []string{"a/b", "a/b/c", "ab"}},
		{"%%%%%%%%%%%%%%%%%%%%b", []string{"ab"}},
		{"*%*%*%*%*%*%*%*%*%*%*%*%*%*%*%*%*%*%*%*%*%*x", nil},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			var got []string
			for _, l := range untagged(c.ok(`LIST "" "` + tt.pattern + `"`)) {
				got = append(got, l[strings.LastIndex(l, " ")+1:])
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestSubscribe(t *testing.T) {
	e := newEnv(t)
	c := e.login("alice")
	c.ok("SUBSCRIBE INBOX")
	c.ok("SUBSCRIBE Later")
	assert.Equal(t, map[string]bool{"INBOX": true, "Later": true}, e.b.users["alice"].subs)
	c.ok("UNSUBSCRIBE Later")
	assert.Equal(t, map[string]bool{"INBOX": true}, e.b.users["alice"].subs)
}

func TestStatus(t *testing.T) {
	e := newEnv(t)
	e.b.deliver("alice", "INBOX", msg("one", "x"), `\Seen`)
	e.b.deliver("alice", "INBOX", msg("two", "y"), `\Deleted`)
	c := e.login("alice")
	out := c.ok("STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE RECENT APPENDLIMIT)")
	assert.Regexp(t, `^\* STATUS INBOX \(MESSAGES 2 UIDNEXT 3 UIDVALIDITY \d+ UNSEEN 1 DELETED 1 SIZE \d+ RECENT 0 APPENDLIMIT 36700160\)$`, out[0])
	assert.Equal(t, "NO [NONEXISTENT] No such mailbox", tagged(c.do("STATUS Nope (MESSAGES)")))
	assert.Regexp(t, "^BAD ", tagged(c.do("STATUS INBOX (BOGUS)")))
	assert.Regexp(t, "^BAD ", tagged(c.do("STATUS INBOX ()")))
	out = c.ok("STATUS INBOX (HIGHESTMODSEQ)")
	assert.Regexp(t, `^\* STATUS INBOX \(HIGHESTMODSEQ \d+\)$`, out[0])

	e2 := newEnv(t, func(s *imap4.Server) { s.AppendLimit = -1 })
	c = e2.login("alice")
	assert.Equal(t, "* STATUS INBOX (APPENDLIMIT NIL)", c.ok("STATUS INBOX (APPENDLIMIT)")[0], "I14: no APPENDLIMIT 0")
	assert.Contains(t, strings.Fields(c.do("CAPABILITY")[0]), "APPENDLIMIT")
}

func TestNamespaceIDEnable(t *testing.T) {
	e := newEnv(t)
	c := e.dial()
	assert.Equal(t, []string{`* ID ("name" "mailfront")`, "t1 OK ID completed"}, c.do(`ID ("name" "test" "version" "1.0")`))
	assert.Equal(t, `* ID ("name" "mailfront")`, c.do("ID NIL")[0])
	many := strings.Repeat(`"k" "v" `, 31)
	assert.Regexp(t, "^BAD ", tagged(c.do("ID ("+strings.TrimSpace(many)+")")))
	assert.Contains(t, e.logs.String(), "client ID")
	c.ok("LOGIN alice secret")
	assert.Equal(t, []string{`* NAMESPACE (("" "/")) NIL NIL`}, untagged(c.ok("NAMESPACE")))
	assert.Equal(t, []string{"* ENABLED CONDSTORE QRESYNC"}, untagged(c.ok("ENABLE CONDSTORE QRESYNC X-UNKNOWN")))
	assert.Equal(t, []string{"* ENABLED"}, untagged(c.ok("ENABLE CONDSTORE")))
	c.ok("SELECT INBOX")
	assert.Equal(t, "BAD Command not valid in this state", tagged(c.do("ENABLE IMAP4rev2")))
	require.NotNil(t, c)
}

package dovecotdiff_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// script is one scripted comparison, run in its own pair of sessions.
type script struct {
	name string
	run  func(t *testing.T, s *servers)
}

// The scripts run in this order; the ones that change mail work on
// mailboxes of their own, so INBOX stays as setup left it.
var imapScripts = []script{
	{"select", scriptSelect},
	{"fetch", scriptFetch},
	{"sections", scriptSections},
	{"binary", scriptBinary},
	{"search", scriptSearch},
	{"esearch", scriptESearch},
	{"status", scriptStatus},
	{"list", scriptList},
	{"implicit-parent", scriptImplicitParent},
	{"unknown-keyword", scriptUnknownKeyword},
	{"store", scriptStore},
	{"expunge", scriptExpunge},
	{"copy-move", scriptCopyMove},
	{"condstore", scriptCondstore},
	{"append", scriptAppend},
	{"two-sessions", scriptTwoSessions},
	{"mailboxes", scriptMailboxes},
	{"errors", scriptErrors},
	{"idle", scriptIdle},
}

func scriptSelect(t *testing.T, s *servers) {
	p := s.imapPair(t)
	p.diff("EXAMINE INBOX")
	p.diff("SELECT INBOX")
	p.diff("SELECT Work/2024")
	p.diff("EXAMINE Nonexistent")
	p.diff("SELECT INBOX (CONDSTORE)")
	// UNSELECT, not CLOSE: INBOX keeps its \Deleted message for the
	// other scripts.
	p.diff("UNSELECT")
}

func scriptFetch(t *testing.T, s *servers) {
	p := s.imapPair(t)
	p.both("EXAMINE INBOX")
	p.diff("FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE)")
	for i := range s.fx {
		n := i + 1
		p.diff(fmt.Sprintf("FETCH %d ENVELOPE", n))
		p.diff(fmt.Sprintf("FETCH %d BODYSTRUCTURE", n))
		p.diff(fmt.Sprintf("FETCH %d BODY", n))
	}
	n := len(s.fx) + 1 // the delivered file
	p.diff(fmt.Sprintf("FETCH %d (ENVELOPE BODYSTRUCTURE RFC822.SIZE INTERNALDATE)", n))
	p.diff("FETCH 1:3 FAST")
	p.diff("FETCH 1:3 ALL")
	p.diff("FETCH 1:3 FULL")
	p.diff("UID FETCH 1:* (FLAGS)")
	p.diff("FETCH 2,4:5 (RFC822.HEADER RFC822.TEXT)")
	p.diff("FETCH * (RFC822)")
}

// part is a section of a message, found in its BODYSTRUCTURE.
type part struct {
	path      string
	multipart bool
	message   bool // message/rfc822 or message/global
}

// parts lists the parts of a body structure, depth first.
func parts(n *node, prefix string, out *[]part) {
	if n.kind != listNode || len(n.list) == 0 {
		return
	}
	join := func(i int) string {
		if prefix == "" {
			return strconv.Itoa(i)
		}
		return prefix + "." + strconv.Itoa(i)
	}
	if n.list[0].kind == listNode {
		for i, c := range n.list {
			if c.kind != listNode {
				break
			}
			p := join(i + 1)
			*out = append(*out, part{path: p, multipart: len(c.list) > 0 && c.list[0].kind == listNode, message: isMessagePart(c)})
			if len(c.list) > 0 && c.list[0].kind == listNode {
				parts(c, p, out)
			} else if isMessagePart(c) && len(c.list) > 8 {
				messageParts(c.list[8], p, out)
			}
		}
		return
	}
	// A single-part message: its body is part 1.
	p := join(1)
	*out = append(*out, part{path: p, message: isMessagePart(n)})
	if isMessagePart(n) && len(n.list) > 8 {
		messageParts(n.list[8], p, out)
	}
}

// messageParts lists the parts of an encapsulated message's body.
func messageParts(body *node, prefix string, out *[]part) {
	if body.kind == listNode && len(body.list) > 0 && body.list[0].kind == listNode {
		parts(body, prefix, out)
		return
	}
	p := prefix + ".1"
	*out = append(*out, part{path: p, message: isMessagePart(body)})
	if isMessagePart(body) && len(body.list) > 8 {
		messageParts(body.list[8], p, out)
	}
}

func isMessagePart(n *node) bool {
	if n.kind != listNode || len(n.list) < 2 || n.list[0].kind == listNode {
		return false
	}
	st := strings.ToUpper(n.list[1].text)
	return strings.EqualFold(n.list[0].text, "message") && (st == "RFC822" || st == "GLOBAL")
}

// structureOf fetches a message's BODYSTRUCTURE from Dovecot, the
// reference, and lists its parts.
func (p *pair) structureOf(seq int) []part {
	p.t.Helper()
	r := p.dc.cmd(fmt.Sprintf("FETCH %d BODYSTRUCTURE", seq))
	require.Len(p.t, r.untagged, 1, "dovecot BODYSTRUCTURE: %s", r.raw())
	nodes, err := parseResponse(r.untagged[0])
	require.NoError(p.t, err)
	require.Len(p.t, nodes, 4)
	l := nodes[3].list
	require.Len(p.t, l, 2)
	var out []part
	parts(l[1], "", &out)
	return out
}

func scriptSections(t *testing.T, s *servers) {
	p := s.imapPair(t)
	p.both("EXAMINE INBOX")
	for i := 0; i <= len(s.fx); i++ {
		n := i + 1
		for _, sec := range []string{
			"", "HEADER", "TEXT", "HEADER.FIELDS (SUBJECT FROM X-NONE)",
			"HEADER.FIELDS.NOT (SUBJECT RECEIVED DATE)", "HEADER.FIELDS (message-id)",
			"]<0.20", "]<10.50", "TEXT]<5.7", "]<100000.10", "HEADER]<0.0",
		} {
			item := "BODY.PEEK[" + sec + "]"
			if strings.HasPrefix(sec, "]") || strings.Contains(sec, "]<") {
				item = "BODY.PEEK[" + sec + ">"
			}
			p.diff(fmt.Sprintf("FETCH %d %s", n, item))
		}
		for _, pt := range p.structureOf(n) {
			secs := []string{pt.path, pt.path + ".MIME"}
			if pt.message {
				secs = append(secs, pt.path+".HEADER", pt.path+".TEXT", pt.path+".HEADER.FIELDS (SUBJECT)")
			}
			if !pt.multipart {
				secs = append(secs, pt.path+"]<2.9")
			}
			for _, sec := range secs {
				item := "BODY.PEEK[" + sec + "]"
				if strings.Contains(sec, "]<") {
					item = "BODY.PEEK[" + sec + ">"
				}
				p.diff(fmt.Sprintf("FETCH %d %s", n, item))
			}
		}
	}
	// Out of range parts.
	p.diff("FETCH 1 BODY.PEEK[9]")
	p.diff("FETCH 3 BODY.PEEK[2.9]")
	p.diff("FETCH 1 BODY.PEEK[1.1]")
}

func scriptBinary(t *testing.T, s *servers) {
	p := s.imapPair(t)
	p.both("EXAMINE INBOX")
	for i := 0; i <= len(s.fx); i++ {
		n := i + 1
		p.diff(fmt.Sprintf("FETCH %d (BINARY.SIZE[] BINARY.PEEK[])", n))
		for _, pt := range p.structureOf(n) {
			if pt.multipart {
				continue
			}
			p.diff(fmt.Sprintf("FETCH %d (BINARY.SIZE[%s] BINARY.PEEK[%s])", n, pt.path, pt.path))
			p.diff(fmt.Sprintf("FETCH %d BINARY.PEEK[%s]<3.10>", n, pt.path))
		}
	}
}

// searchCriteria is the table of SEARCH keys compared.
var searchCriteria = []string{
	"ALL", "SEEN", "UNSEEN", "FLAGGED", "UNFLAGGED", "ANSWERED", "UNANSWERED",
	"DELETED", "UNDELETED", "DRAFT", "UNDRAFT", "KEYWORD $Label1", "UNKEYWORD $Label1",
	"KEYWORD $label2", "NEW", "OLD", "RECENT",
	"SUBJECT report", "SUBJECT REPORT", `SUBJECT "quarterly report"`, "SUBJECT café",
	`SUBJECT "Привет"`, `SUBJECT "Grüße"`, `SUBJECT "folded onto"`, "SUBJECT résumé",
	"FROM alice", "FROM example.de", `FROM "José"`, "FROM Jürgen", "TO bob", "TO undisclosed",
	"CC dave", `CC "Quoted"`, "BCC eve", "BODY zebracorn", "BODY Grüße", "BODY crème",
	"BODY café", "BODY Привет", "TEXT zebracorn", "TEXT alice", "TEXT Köln",
	"BODY shall", "BODY inner", `HEADER Message-ID ""`, "HEADER Message-ID example.org",
	`HEADER X-Priority 3`, `HEADER X-Mailer Mäiler`, `HEADER X-None ""`, "HEADER Content-Type multipart",
	"BEFORE 5-Jan-2023", "ON 5-Jan-2023", "ON 6-Jan-2023", "SINCE 10-Jan-2023", "SINCE 1-Jan-2030",
	"SENTBEFORE 5-Jan-2023", "SENTON 5-Jan-2023", "SENTON 7-Jan-2023", "SENTSINCE 13-Jan-2023",
	"LARGER 1000", "SMALLER 500", "LARGER 100000",
	"OR SEEN FLAGGED", "NOT SEEN", "NOT NOT SEEN", "OR (SEEN FLAGGED) DRAFT", "(SEEN UNFLAGGED)",
	"OR OR ANSWERED DRAFT DELETED", "NOT (OR SEEN FLAGGED)",
	"1:3", "2,4,6", "*", "5:*", "3:1", "UID 1:3", "UID 4:*", "UID 9999", "UID 2,5:6",
	"1:5 SEEN", "NOT 1:10", "UNSEEN UID 1:8",
	"CHARSET UTF-8 SUBJECT Привет", "CHARSET UTF-8 BODY Grüße", "CHARSET US-ASCII SUBJECT report",
}

func scriptSearch(t *testing.T, s *servers) {
	p := s.imapPair(t)
	p.both("EXAMINE INBOX")
	for _, c := range searchCriteria {
		p.diff("SEARCH " + quoteNonASCII(c))
		p.diff("UID SEARCH " + quoteNonASCII(c))
	}
	p.diff("SEARCH CHARSET NOSUCH-CHARSET SUBJECT x")
	p.diff("SEARCH SUBJECT")
}

// quoteNonASCII sends the non-ASCII arguments of a search key as literals
// (a quoted string must be 7-bit unless UTF8=ACCEPT is enabled).
func quoteNonASCII(c string) string {
	words := strings.Fields(c)
	var out []string
	for i := 0; i < len(words); i++ {
		w := words[i]
		if strings.HasPrefix(w, `"`) && !strings.HasSuffix(w, `"`) || w == `"` {
			j := i + 1
			for j < len(words) && !strings.HasSuffix(words[j], `"`) {
				j++
			}
			if j < len(words) {
				w = strings.Join(words[i:j+1], " ")
				i = j
			}
		}
		bare := strings.Trim(w, `"`)
		if !isASCII(bare) {
			w = fmt.Sprintf("{%d+}\r\n%s", len(bare), bare)
		}
		out = append(out, w)
	}
	return strings.Join(out, " ")
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func scriptESearch(t *testing.T, s *servers) {
	p := s.imapPair(t)
	p.both("EXAMINE INBOX")
	for _, c := range []string{
		"SEARCH RETURN () SEEN", "SEARCH RETURN (MIN MAX COUNT) SEEN", "SEARCH RETURN (ALL) UNSEEN",
		"UID SEARCH RETURN (MIN MAX COUNT ALL) FLAGGED", "SEARCH RETURN (COUNT) KEYWORD $Label9",
		"UID SEARCH RETURN (ALL) 2:*", "SEARCH RETURN (SAVE) SEEN",
		"FETCH $ (UID)", "SEARCH RETURN (ALL) $ FLAGGED", "UID SEARCH RETURN (COUNT) ALL",
	} {
		p.diff(c)
	}
}

func scriptStatus(t *testing.T, s *servers) {
	p := s.imapPair(t)
	for _, m := range []string{"INBOX", "Work", "Work/2024", "Sent", "Lists/go-nuts"} {
		p.diff("STATUS " + quote(m) + " (MESSAGES UIDNEXT UIDVALIDITY UNSEEN RECENT)")
		p.diff("STATUS " + quote(m) + " (HIGHESTMODSEQ SIZE)")
	}
	p.diff("STATUS INBOX (UIDVALIDITY)")
	p.diff("STATUS Nonexistent (MESSAGES)")
	p.both("SELECT INBOX")
	p.diff("STATUS INBOX (MESSAGES UNSEEN)")
}

func scriptList(t *testing.T, s *servers) {
	p := s.imapPair(t)
	for _, c := range []string{
		`LIST "" ""`, `LIST "" *`, `LIST "" %`, `LIST "" Work/%`, `LIST "" Work/*`, `LIST "" inbox`,
		`LIST "" INBOX*`, `LIST Work/ %`, `LIST "" nosuch`, `LIST "" Lists`,
		`LSUB "" *`, `LSUB "" %`, `LSUB "" Lists`, `LSUB "" Lists/%`,
		`LIST (SUBSCRIBED) "" *`, `LIST (SPECIAL-USE) "" *`, `LIST "" * RETURN (CHILDREN)`,
		`LIST "" * RETURN (SUBSCRIBED)`, `LIST "" * RETURN (SPECIAL-USE)`,
		`LIST (SUBSCRIBED RECURSIVEMATCH) "" %`, `LIST (SUBSCRIBED RECURSIVEMATCH) "" *`,
		`LIST (SUBSCRIBED RECURSIVEMATCH) "" Work*`, `LIST "" (Work Sent)`,
		`LIST "" % RETURN (STATUS (MESSAGES UNSEEN))`, `NAMESPACE`,
	} {
		p.diff(c)
	}
}

// scriptImplicitParent creates a mailbox whose parent does not exist.
// RFC 9051 §6.3.4 says the server SHOULD create the superior names
// needed: mailfront makes Auto a mailbox of its own, Dovecot (with its
// Maildir++ layout) leaves it a name without a mailbox (\Noselect or
// \NonExistent). Both are what the RFC allows, so the listings are
// compared without Auto and the difference itself is checked: a
// regression on either side shows.
func scriptImplicitParent(t *testing.T, s *servers) {
	p := s.imapPair(t)
	p.diff(`CREATE Auto/child`)
	p.diff(`LIST "" Auto/*`)
	p.diff(`STATUS Auto/child (MESSAGES)`)
	dc := p.dc.cmd(`LIST "" Auto`)
	mf := p.mf.cmd(`LIST "" Auto`)
	assert.Equal(t, "* LIST (\\Noselect \\HasChildren) \"/\" Auto\r\n", string(dc.untagged[0]), "dovecot")
	assert.Equal(t, "* LIST (\\HasChildren) \"/\" Auto\r\n", string(mf.untagged[0]), "mailfront")
}

// scriptUnknownKeyword searches for a keyword no message has, in a
// mailbox of its own: Dovecot then adds it to the mailbox's keywords and
// announces a new FLAGS list (not compared, see dropFlagsUpdates), which
// would change INBOX for the other scripts.
func scriptUnknownKeyword(t *testing.T, s *servers) {
	p := s.fresh(t, "t-keyword", "1:5")
	p.diff(`SEARCH KEYWORD nosuch`)
	p.diff(`SEARCH RETURN (COUNT) KEYWORD nosuch`)
	p.diff(`SEARCH RETURN (MIN) UNKEYWORD nosuch`)
	p.diff(`SEARCH NOT KEYWORD nosuch`)
}

// fresh creates a mailbox on both servers holding copies of the INBOX
// messages in set, selects it and returns the pair. The commands in
// enable (ENABLE CONDSTORE, ...) run first: ENABLE is for the
// authenticated state (RFC 5161 §3.1).
func (s *servers) fresh(t *testing.T, name, set string, enable ...string) *pair {
	p := s.imapPair(t)
	for _, e := range enable {
		p.diff(e)
	}
	p.both("CREATE " + quote(name))
	p.both("SELECT INBOX")
	p.both("COPY " + set + " " + quote(name))
	p.both("SELECT " + quote(name))
	return p
}

func scriptStore(t *testing.T, s *servers) {
	p := s.fresh(t, "t-store", "1:8")
	for _, c := range []string{
		`STORE 1 +FLAGS (\Flagged)`, `STORE 1:3 -FLAGS (\Seen)`, `STORE 2 FLAGS (\Answered $Custom)`,
		`STORE 3 +FLAGS.SILENT (\Deleted)`, `FETCH 1:8 FLAGS`, `UID STORE 4:5 +FLAGS ($Label1 \Draft)`,
		`STORE 6 FLAGS ()`, `STORE 7 -FLAGS ($Label1 $Label2 \Seen \Deleted)`, `FETCH 1:* (FLAGS)`,
		`STORE 8 +FLAGS (\Recent)`, `STORE 9 +FLAGS (\Seen)`, `UID STORE 9999 +FLAGS (\Seen)`,
		`STORE 1 +FLAGS (\NoSuchSystemFlag)`, `STORE 1 FLAGS (\seen \FLAGGED)`, `FETCH 1 FLAGS`,
	} {
		p.diff(c)
	}
	p.diff("SELECT t-store")
	p.diff(`FETCH 1:* FLAGS`)
	p.diff(`FETCH 1 (BODY[HEADER.FIELDS (SUBJECT)])`)
	p.diff(`FETCH 1 (FLAGS)`)
	p.diff(`FETCH 2 BODY[TEXT]<0.5>`)
	p.diff(`FETCH 2 FLAGS`)
	// Which fetches set \Seen (RFC 9051 §6.4.5): the flag change comes
	// with the FETCH response.
	p.diff(`STORE 1:8 -FLAGS.SILENT (\Seen)`)
	p.diff(`FETCH 3 RFC822`)
	p.diff(`FETCH 4 RFC822.HEADER`)
	p.diff(`FETCH 5 RFC822.TEXT`)
	p.diff(`FETCH 6 BINARY[1]`)
	p.diff(`FETCH 7 BODY[HEADER.FIELDS (FROM)]`)
	p.diff(`FETCH 8 (FLAGS BODY[1])`)
	p.diff(`UID FETCH 1:* (FLAGS)`)
}

func scriptExpunge(t *testing.T, s *servers) {
	p := s.fresh(t, "t-expunge", "1:12")
	p.diff(`STORE 2,4,5,9 +FLAGS.SILENT (\Deleted)`)
	p.diff(`EXPUNGE`)
	p.diff(`FETCH 1:* (UID FLAGS)`)
	p.diff(`UID STORE 1:* +FLAGS.SILENT (\Deleted)`)
	p.diff(`UID EXPUNGE 3,7:8`)
	p.diff(`FETCH 1:* (UID)`)
	p.diff(`STORE 1 -FLAGS.SILENT (\Deleted)`)
	p.diff(`CLOSE`)
	p.diff(`SELECT t-expunge`, keywordsNotCompared)
	p.diff(`FETCH 1:* (UID)`)

	// With QRESYNC, expunges are reported as VANISHED (RFC 7162 §3.2.10).
	q := s.fresh(t, "t-vanished", "1:10", "ENABLE QRESYNC")
	q.diff(`STORE 1,3,5:6 +FLAGS.SILENT (\Deleted)`)
	q.diff(`EXPUNGE`)
	q.diff(`UID STORE 8 +FLAGS.SILENT (\Deleted)`)
	q.diff(`UID EXPUNGE 1:*`)
	q.diff(`UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)`)

	// A client coming back with QRESYNC (RFC 7162 §3.2.5) learns what
	// vanished and changed since its mod-sequence.
	r := s.imapPair(t)
	r.diff(`ENABLE QRESYNC`)
	uidValidity := func(c *imapClient) string { return statusValue(t, c, "t-vanished", "UIDVALIDITY") }
	r.diffEach(uidValidity, func(v string) string { return "SELECT t-vanished (QRESYNC (" + v + " 1))" }, keywordsNotCompared)
	r.diff(`UNSELECT`)
	r.diffEach(uidValidity, func(v string) string { return "EXAMINE t-vanished (QRESYNC (" + v + " 1 2:9))" }, keywordsNotCompared)
	r.diff(`UNSELECT`)
	r.diff(`SELECT t-vanished (QRESYNC (1 1))`, keywordsNotCompared) // a stale UIDVALIDITY: no VANISHED, no FETCH
}

func scriptCopyMove(t *testing.T, s *servers) {
	p := s.fresh(t, "t-copy", "1:6")
	p.diff(`CREATE t-copy-dest`)
	p.diff(`UID COPY 2:4 t-copy-dest`)
	p.diff(`COPY 1,6 t-copy-dest`)
	p.diff(`UID COPY 9999 t-copy-dest`)
	p.diff(`COPY 1 nosuch-mailbox`)
	p.diff(`UID MOVE 1:2 t-copy-dest`)
	p.diff(`MOVE 2 t-copy-dest`)
	p.diff(`FETCH 1:* (UID FLAGS)`)
	p.diff(`UID MOVE 9999 t-copy-dest`)
	p.diff(`MOVE 1 nosuch-mailbox`)
	p.diff(`STATUS t-copy-dest (MESSAGES UIDNEXT)`)
	p.diff(`SELECT t-copy-dest`)
	p.diff(`FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE)`)
}

func scriptCondstore(t *testing.T, s *servers) {
	p := s.fresh(t, "t-condstore", "1:5", "ENABLE CONDSTORE")
	p.diff(`SELECT t-condstore (CONDSTORE)`)
	p.diff(`FETCH 1:* (MODSEQ)`)
	p.diff(`FETCH 1:* (FLAGS) (CHANGEDSINCE 1)`)
	p.diff(`STORE 1 +FLAGS (\Seen)`)
	p.diff(`STORE 2 (UNCHANGEDSINCE 1) +FLAGS (\Flagged)`)
	p.diff(`UID FETCH 1:* (UID MODSEQ)`)
	p.diff(`SEARCH MODSEQ 1`)
	p.diff(`STATUS INBOX (HIGHESTMODSEQ)`)
	p.diff(`FETCH 1 (FLAGS)`)
	p.diff(`STORE 3 (UNCHANGEDSINCE 100000) +FLAGS.SILENT (\Flagged)`)
	p.diff(`UID STORE 4 (UNCHANGEDSINCE 100000) FLAGS.SILENT ($Label2)`)
	p.diff(`STORE 5 (UNCHANGEDSINCE 0) +FLAGS (\Seen)`)
	p.diff(`STORE 1:5 +FLAGS.SILENT (\Answered)`)
	p.diff(`FETCH 1:* (FLAGS MODSEQ)`)
	p.diff(`SEARCH RETURN (ALL MODSEQ) MODSEQ 1`)
	p.diff(`UID SEARCH MODSEQ "/flags/\\seen" all 1`)
}

func scriptAppend(t *testing.T, s *servers) {
	p := s.imapPair(t)
	p.diff(`CREATE t-append`)
	msg := s.fx[0].data
	p.diff(appendCmd("t-append", `\Seen $Forwarded`, "01-Feb-2023 12:00:00 +0200", msg))
	p.diff(appendCmd("t-append", "", "", s.fx[5].data))
	p.diff(appendCmd("nosuch-mailbox", "", "", msg))
	// Not compared: APPEND with \Recent or an impossible date. Dovecot
	// answers BAD before reading the LITERAL+ literal and then runs the
	// message's lines as commands (and disconnects for too many bad
	// ones); mailfront answers BAD and skips the literal (ADVERSARIAL.md
	// I2).
	// MULTIAPPEND (RFC 3502).
	p.diff(appendCmd("t-append", `\Draft`, "", msg) + " " + strings.TrimPrefix(appendCmd("", "", "", s.fx[1].data), `APPEND "" `))
	p.diff(`SELECT t-append`)
	p.diff(`FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE)`)
	p.diff(`FETCH 1 INTERNALDATE`)
	p.diff(`STATUS t-append (MESSAGES UIDNEXT UNSEEN SIZE)`)
}

// scriptTwoSessions changes a mailbox in one session and checks what the
// other is told at its next command (RFC 9051 §7: unilateral EXISTS,
// EXPUNGE and FETCH FLAGS).
func scriptTwoSessions(t *testing.T, s *servers) {
	a := s.fresh(t, "t-two", "1:6")
	b := s.imapPair(t)
	b.both("SELECT t-two")
	a.diff(`STORE 2 +FLAGS.SILENT (\Flagged $Label9)`)
	b.diff(`NOOP`)
	a.diff(`STORE 1,3 +FLAGS.SILENT (\Deleted)`)
	a.diff(`EXPUNGE`)
	b.diff(`NOOP`)
	b.diff(`FETCH 1:* (UID FLAGS)`)
	a.diff(`COPY 1 t-two`)
	b.diff(`NOOP`)
	b.diff(`FETCH * (UID FLAGS)`)
	// The other session's expunges wait while a FETCH runs (RFC 9051
	// §7.5.1) and come with the next command that allows them.
	a.diff(`UID STORE 2 +FLAGS.SILENT (\Deleted)`)
	b.diff(`NOOP`)
	a.diff(`UID EXPUNGE 2`)
	b.diff(`FETCH 1 (UID)`)
	b.diff(`UID FETCH 2 (UID)`)
	b.diff(`CHECK`)
}

// scriptMailboxes creates, renames, deletes and subscribes mailboxes.
func scriptMailboxes(t *testing.T, s *servers) {
	p := s.imapPair(t)
	for _, c := range []string{
		`CREATE m-one`, `CREATE m-one`, `CREATE m-one/`, `CREATE "m-two/"`, `CREATE INBOX`, `CREATE inbox`,
		`CREATE m-one/sub`, `LIST "" m-*`, `RENAME m-one m-renamed`, `LIST "" m-*`,
		`RENAME m-nosuch m-x`, `RENAME m-renamed m-two`, `RENAME m-renamed INBOX`,
		`SUBSCRIBE m-renamed/sub`, `LSUB "" m-*`, `UNSUBSCRIBE m-renamed/sub`, `UNSUBSCRIBE m-never`,
		`SUBSCRIBE m-nosuch`, `UNSUBSCRIBE m-nosuch`,
		`DELETE m-renamed`, `LIST "" m-r*`, `DELETE m-renamed/sub`, `DELETE m-renamed`, `DELETE m-renamed`,
		`LIST "" m-*`, `DELETE INBOX`, `DELETE m-two`, `STATUS m-two (MESSAGES)`,
		`CREATE m-sel`, `SELECT m-sel`, `DELETE m-sel`,
	} {
		p.diff(c)
	}
	// RENAME INBOX moves its messages to the new name and leaves INBOX
	// empty (RFC 9051 §6.3.6); done on a copy, in a session of its own.
	q := s.imapPair(t)
	q.diff(`CREATE m-src`)
	q.both(`SELECT INBOX`)
	q.diff(`COPY 1:3 m-src`)
	q.diff(`UNSELECT`)
	q.diff(`RENAME m-src m-dst`)
	q.diff(`STATUS m-dst (MESSAGES UIDNEXT)`)
}

// scriptErrors compares the status of malformed or impossible commands:
// which are BAD and which are NO (the text is the server's own).
func scriptErrors(t *testing.T, s *servers) {
	p := s.imapPair(t)
	for _, c := range []string{
		`FETCH 1 FLAGS`, `STORE 1 +FLAGS (\Seen)`, `EXPUNGE`, `SEARCH ALL`, `CLOSE`, `UNSELECT`,
		`SELECT`, `SELECT "a" "b"`, `STATUS INBOX ()`, `STATUS INBOX (BOGUS)`, `LIST`, `FROBNICATE`,
	} {
		p.diff(c)
	}
	p.both(`EXAMINE INBOX`)
	for _, c := range []string{
		`FETCH 99 FLAGS`, `FETCH 0 FLAGS`, `FETCH 1 BOGUS`, `FETCH 1 (FLAGS`, `FETCH 1 BODY[9.X]`,
		`FETCH 1:* BODY[HEADER.FIELDS ()]`, `UID FETCH 9999 FLAGS`, `UID FETCH 0 FLAGS`,
		`SEARCH BOGUS`, `SEARCH (SEEN`, `SEARCH BEFORE 32-Jan-2023`, `SEARCH 99`, `SEARCH UID 0`,
		`SEARCH 1:99`, `SEARCH 14:99 ALL`, `FETCH 14:99 UID`, `FETCH 99:* UID`, `SEARCH 99:*`, `UID FETCH 14:99999 UID`,
		`STORE 99 +FLAGS (\Seen)`, `COPY 99 INBOX`, `FETCH 1,99 UID`,
		`SEARCH LARGER x`, `STORE 1 +FLAGS (\Seen)`, `COPY 1 nosuch`, `UID COPY 9999 INBOX`,
		`EXPUNGE`, `FETCH 1 (BODY.PEEK[]<5.x>)`, `FETCH * RFC822.SIZE`, `NOOP`, `CHECK`,
	} {
		p.diff(c)
	}
}

// scriptIdle idles in one session while another delivers and expunges.
func scriptIdle(t *testing.T, s *servers) {
	a := s.fresh(t, "t-idle", "1:3")
	b := s.imapPair(t)
	b.both(`SELECT t-idle`)
	dc := idleRound(t, b.dc, a.dc)
	mf := idleRound(t, b.mf, a.mf)
	assert.Equal(t, dc, mf, "IDLE: want Dovecot's updates (first), got mailfront's (second)")
}

// idleRound starts IDLE on c, copies a message into its mailbox and
// flags another from other, and returns what c was told until DONE.
func idleRound(t *testing.T, c, other *imapClient) []string {
	c.n++
	tag := fmt.Sprintf("T%03d", c.n)
	c.write(tag + " IDLE\r\n")
	cont := c.readResponse()
	require.True(t, strings.HasPrefix(string(cont), "+"), "%s IDLE: %q", c.server, cont)
	r := other.cmd(`COPY 1 t-idle`)
	require.True(t, statusIs(r.tagged, "OK"), "%s COPY: %s", other.server, r.raw())
	var got []string
	// Wait for the EXISTS, then end the IDLE.
	for {
		line := string(c.readResponse())
		if strings.HasPrefix(line, "* OK") {
			continue // keepalives
		}
		got = append(got, strings.TrimRight(line, "\r\n"))
		if strings.HasSuffix(strings.TrimRight(line, "\r\n"), " EXISTS") {
			break
		}
	}
	c.write("DONE\r\n")
	for {
		line := c.readResponse()
		if strings.HasPrefix(string(line), tag+" ") {
			require.True(t, statusIs(line, "OK"), "%s IDLE: %q", c.server, line)
			break
		}
		got = append(got, strings.TrimRight(string(line), "\r\n"))
	}
	return got
}

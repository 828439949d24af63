package dovecotdiff_test

import (
	"regexp"
	"strconv"
	"strings"
)

// A quirk is a known difference that no normalisation can remove: the
// two servers answer one command differently, each defensibly, or
// Dovecot is the one at fault. Commands that match are not compared; the
// test logs both answers (go test -v).
type quirk struct {
	match  func(command string) bool
	script string // if set, the quirk applies only in this script
	reason string
}

// seqOf is the INBOX sequence number of a fixture (setup appends them in
// name order, then delivers deliveredFile).
func seqOf(file string) int {
	n := 1
	for name := range fixtureMeta {
		if name < file {
			n++
		}
	}
	return n
}

// fetchOf matches FETCH commands on one message whose items match re.
func fetchOf(file, re string) func(string) bool {
	prefix := "FETCH " + strconv.Itoa(seqOf(file)) + " "
	rx := regexp.MustCompile(re)
	return func(c string) bool { return strings.HasPrefix(c, prefix) && rx.MatchString(c[len(prefix):]) }
}

var quirks = []quirk{
	{
		match: fetchOf("08-odd-content-type.eml", `BODY|BINARY`),
		reason: `"Content-Type: text;charset=utf-8" has no subtype: Dovecot describes the part as ` +
			`("" "" NIL ...), mailfront as the RFC 2045 §5.2 default, text/plain; charset=us-ascii`,
	},
	{
		match: fetchOf("09-multipart-no-boundary.eml", `BODY|BINARY`),
		reason: "multipart/mixed without a boundary parameter (RFC 2046 §5.1.1 requires one): Dovecot " +
			"shows a multipart with one empty text/plain part, mailfront a single text/plain part " +
			"holding the body (the RFC 2045 §5.2 fallback), so that the content stays reachable",
	},
	{
		match: regexp.MustCompile(`<\d+\.0>`).MatchString,
		reason: "a partial of zero octets: the grammar says nz-number (RFC 3501 and RFC 9051 §9, " +
			"partial), so mailfront answers BAD; Dovecot accepts it and returns an empty string",
	},
	{
		match: fetchOf("03-nested.eml", `BINARY\.SIZE\[2\]`),
		reason: "BINARY.SIZE of a message/rfc822 part: Dovecot gives 408 and then sends 416 octets " +
			"for BINARY[2]; mailfront gives the size it sends (416)",
	},
}

// Mailbox management and errors (scriptMailboxes, scriptErrors).
var quirks2 = []quirk{
	{
		match: exactly(`SUBSCRIBE m-nosuch`),
		reason: "SUBSCRIBE of a mailbox that does not exist: RFC 9051 §6.3.7 lets the server check " +
			"(MAY); Dovecot answers NO, mailfront subscribes the name",
	},
	{
		match: exactly(`LIST "" m-r*`),
		reason: "after DELETE of a mailbox that has children, mailfront keeps the name \\Noselect, " +
			"as RFC 9051 §6.3.5 describes; Dovecot (Maildir++) keeps it a selectable mailbox",
	},
	{
		match: exactly(`DELETE m-sel`),
		reason: "DELETE of the selected mailbox: mailfront deselects it with * OK [CLOSED]; Dovecot " +
			"says nothing and ends the connection at the next command",
	},
	{
		match: exactly(`SELECT "a" "b"`),
		reason: `SELECT with a second argument that is not a parameter list: a syntax error ` +
			`(BAD) for mailfront, a SELECT of "a" (NO, no such mailbox) for Dovecot`,
	},
	{
		match:  exactly(`SEARCH BEFORE 32-Jan-2023`),
		reason: "a date that does not exist: mailfront answers BAD, Dovecot searches with it",
	},
	{
		match: regexp.MustCompile(`^SEARCH (99|1:99|14:99 ALL|99:\*)$`).MatchString,
		reason: "a SEARCH sequence set beyond the last message: mailfront answers BAD, as RFC 9051 " +
			"§9 (seq-number) says servers should and as both servers do for FETCH, STORE and COPY; " +
			"Dovecot treats the set as a search key that matches nothing there",
	},
	{
		match:  regexp.MustCompile(`^(STORE 1 \+FLAGS \(\\Seen\)|EXPUNGE)$`).MatchString,
		script: "errors",
		reason: "STORE or EXPUNGE in a mailbox opened with EXAMINE: mailfront answers NO [READ-ONLY], " +
			"Dovecot OK and does nothing",
	},
}

func exactly(s string) func(string) bool { return func(c string) bool { return c == s } }

// quirkFor returns the quirk a command of a script matches, if any.
func quirkFor(script, command string) *quirk {
	for _, list := range [][]quirk{quirks, quirks2} {
		for i := range list {
			if (list[i].script == "" || list[i].script == script) && list[i].match(command) {
				return &list[i]
			}
		}
	}
	return nil
}

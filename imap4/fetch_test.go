package imap4_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// multipartMsg has a quoted-printable text part and a base64 attachment.
var multipartMsg = toCRLF(`From: =?UTF-8?Q?J=C3=B6rg?= <jorg@example.org>
To: alice@example.org
Subject: =?UTF-8?B?R3LDvMOfZQ==?= report
Date: Tue, 5 Mar 2024 09:30:00 +0000
Message-ID: <mp@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="XX"

--XX
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Caf=C3=A9 quarterly numbers
--XX
Content-Type: application/octet-stream; name="a.bin"
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename="a.bin"

AAECAwQFBgc=
--XX--
`)

func TestSelectExamine(t *testing.T) {
	e := newEnv(t)
	e.b.deliver("alice", "INBOX", msg("one", "x"), `\Seen`, "$Junk")
	e.b.deliver("alice", "INBOX", msg("two", "y"))
	c := e.login("alice")
	out := c.ok("SELECT INBOX")
	assert.Equal(t, []string{
		`* FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Junk)`,
		// The keywords are permanent flags too (RFC 9051 §7.1).
		`* OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $Junk \*)] Flags permitted`,
		"* 2 EXISTS",
		"* 0 RECENT",
		"* OK [UNSEEN 2] First unseen",
	}, out[:5])
	assert.Regexp(t, `^\* OK \[UIDVALIDITY \d+\] UIDs valid$`, out[5])
	assert.Equal(t, "* OK [UIDNEXT 3] Predicted next UID", out[6])
	assert.Regexp(t, `^t\d+ OK \[READ-WRITE\] SELECT completed$`, out[7])

	out = c.ok("EXAMINE INBOX")
	assert.Equal(t, "* OK [CLOSED] Previous mailbox closed", out[0])
	assert.Contains(t, out, "* OK [PERMANENTFLAGS ()] No permanent flags permitted")
	assert.Equal(t, "OK [READ-ONLY] EXAMINE completed", tagged(out))
	assert.Equal(t, "NO [READ-ONLY] Mailbox is read-only", tagged(c.do("STORE 1 +FLAGS (\\Deleted)")))
	c.ok("FETCH 2 BODY[]")
	assert.Equal(t, []string{"* 2 FETCH (FLAGS ())"}, untagged(c.ok("FETCH 2 FLAGS")), "no implicit \\Seen when read-only")

	assert.Equal(t, "NO [NONEXISTENT] No such mailbox", tagged(c.do("SELECT Nope")))
	assert.Equal(t, "BAD Command not valid in this state: no mailbox selected", tagged(c.do("FETCH 1 FLAGS")), "a failed SELECT leaves no mailbox selected")

	// IMAP4rev2: no RECENT or UNSEEN, a LIST response.
	c = e.login("alice")
	c.ok("ENABLE IMAP4rev2")
	out = c.ok("SELECT INBOX")
	assert.NotContains(t, strings.Join(out, "\n"), "RECENT")
	assert.NotContains(t, strings.Join(out, "\n"), "UNSEEN")
	assert.Contains(t, out, `* LIST () "/" INBOX`)
}

func TestUnselectClose(t *testing.T) {
	e := newEnv(t)
	e.b.deliver("alice", "INBOX", msg("one", "x"), `\Deleted`)
	e.b.deliver("alice", "INBOX", msg("two", "y"))
	c := e.selectInbox()
	assert.Equal(t, []string{"t3 OK UNSELECT completed"}, c.do("UNSELECT"))
	assert.Len(t, e.b.users["alice"].boxes["INBOX"].msgs, 2)
	c.ok("EXAMINE INBOX")
	c.ok("CLOSE")
	assert.Len(t, e.b.users["alice"].boxes["INBOX"].msgs, 2, "CLOSE on EXAMINE does not expunge")
	c.ok("SELECT INBOX")
	assert.Equal(t, []string{"t7 OK CLOSE completed"}, c.do("CLOSE"), "CLOSE expunges silently")
	assert.Len(t, e.b.users["alice"].boxes["INBOX"].msgs, 1)
	assert.Regexp(t, "^BAD ", tagged(c.do("CLOSE")))
	assert.Equal(t, 0, e.b.opened, "mailboxes closed")
}

func TestFetchItems(t *testing.T) {
	e := newEnv(t)
	e.b.deliver("alice", "INBOX", multipartMsg)
	c := e.selectInbox()
	size := len(multipartMsg)
	tests := []struct {
		items string
		want  string
	}{
		{"(UID RFC822.SIZE INTERNALDATE)", `* 1 FETCH (UID 1 RFC822.SIZE ` + itoaT(size) + ` INTERNALDATE "01-Mar-2024 12:00:00 +0100")`},
		{"FAST", `* 1 FETCH (FLAGS () INTERNALDATE "01-Mar-2024 12:00:00 +0100" RFC822.SIZE ` + itoaT(size) + `)`},
		{"ENVELOPE", `* 1 FETCH (ENVELOPE ("Tue, 5 Mar 2024 09:30:00 +0000" "=?UTF-8?B?R3LDvMOfZQ==?= report" (("=?UTF-8?Q?J=C3=B6rg?=" NIL "jorg" "example.org")) (("=?UTF-8?Q?J=C3=B6rg?=" NIL "jorg" "example.org")) (("=?UTF-8?Q?J=C3=B6rg?=" NIL "jorg" "example.org")) ((NIL NIL "alice" "example.org")) NIL NIL NIL "<mp@example.org>"))`},
		{"BODY", `* 1 FETCH (BODY (("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable" 27 0)("application" "octet-stream" ("name" "a.bin") NIL NIL "base64" 12) "mixed"))`},
		{"BODY.PEEK[1]", "* 1 FETCH (BODY[1] {27}\r\nCaf=C3=A9 quarterly numbers)"},
		{"BODY.PEEK[1]<0.4>", "* 1 FETCH (BODY[1]<0> {4}\r\nCaf=)"},
		{"BODY.PEEK[1]<25.100>", "* 1 FETCH (BODY[1]<25> {2}\r\nrs)"},
		{"BODY.PEEK[1]<500.10>", "* 1 FETCH (BODY[1]<500> {0}\r\n)"},
		{"BODY.PEEK[1.MIME]", "* 1 FETCH (BODY[1.MIME] {88}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n)"},
		{"BODY.PEEK[HEADER.FIELDS (Subject MESSAGE-ID)]", "* 1 FETCH (BODY[HEADER.FIELDS (Subject MESSAGE-ID)] {74}\r\nSubject: =?UTF-8?B?R3LDvMOfZQ==?= report\r\nMessage-ID: <mp@example.org>\r\n\r\n)"},
		{"BINARY.PEEK[2]", "* 1 FETCH (BINARY[2] ~{8}\r\n\x00\x01\x02\x03\x04\x05\x06\x07)"},
		{"BINARY.SIZE[1]", "* 1 FETCH (BINARY.SIZE[1] 23)"},
		{"BINARY.PEEK[1]", "* 1 FETCH (BINARY[1] ~{23}\r\nCafé quarterly numbers)"},
		{"BINARY.PEEK[1]<0.4>", "* 1 FETCH (BINARY[1]<0> ~{4}\r\nCaf\xc3)"},
		{"BODY.PEEK[3]", "* 1 FETCH (BODY[3] {0}\r\n)"},
		{"RFC822.HEADER", ""}, // checked below
	}
	for _, tt := range tests {
		t.Run(tt.items, func(t *testing.T) {
			out := c.ok("FETCH 1 " + tt.items)
			require.Len(t, out, 2)
			if tt.want != "" {
				assert.Equal(t, tt.want, out[0])
			}
		})
	}
	out := c.ok("FETCH 1 RFC822.HEADER")
	assert.True(t, strings.HasPrefix(out[0], "* 1 FETCH (RFC822.HEADER {"), out[0])
	assert.True(t, strings.HasSuffix(out[0], "multipart/mixed; boundary=\"XX\"\r\n\r\n)"), out[0])
	out = c.ok("FETCH 1 FLAGS")
	assert.Equal(t, "* 1 FETCH (FLAGS ())", out[0], "PEEK and RFC822.HEADER do not set \\Seen")

	// BINARY[] of the whole message: each encoded part decoded and
	// relabelled, as Dovecot answers.
	out = c.ok("FETCH 1 (BINARY.SIZE[] BINARY.PEEK[])")
	m := regexp.MustCompile(`^\* 1 FETCH \(BINARY\.SIZE\[\] (\d+) BINARY\[\] ~\{(\d+)\}\r\n`).FindStringSubmatch(out[0])
	require.NotNil(t, m, out[0])
	assert.Equal(t, m[1], m[2], "BINARY.SIZE[] is the size of BINARY[]")
	assert.Contains(t, out[0], "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: binary\r\n\r\nCafé quarterly numbers\r\n--XX\r\n")
	assert.Contains(t, out[0], "Content-Disposition: attachment; filename=\"a.bin\"\r\nContent-Transfer-Encoding: binary\r\n\r\n\x00\x01\x02\x03\x04\x05\x06\x07\r\n--XX--")

	out = c.ok("FETCH 1 BODYSTRUCTURE")
	assert.True(t, strings.HasPrefix(out[0], `* 1 FETCH (BODYSTRUCTURE (("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable" 27 0 NIL NIL NIL NIL)`), out[0])

	for _, bad := range []string{"FETCH 2 FLAGS", "FETCH 0 FLAGS", "FETCH 1 BOGUS", "FETCH 1 (FLAGS", "FETCH 1 BODY[1", "FETCH 1:* FLAGS (CHANGEDSINCE x)"} {
		assert.Regexp(t, "^BAD ", tagged(c.do(bad)), bad)
	}
	assert.Empty(t, untagged(c.ok("UID FETCH 99 FLAGS")), "an absent UID is no error")
	out = c.ok("FETCH 1 (MODSEQ)")
	assert.Equal(t, []string{"* OK [HIGHESTMODSEQ 2] Highest", "* 1 FETCH (MODSEQ (2))"}, untagged(out), "MODSEQ enables CONDSTORE")
	assert.Equal(t, "* 1 FETCH (FLAGS () MODSEQ (2))", c.ok("FETCH 1 FLAGS")[0], "with CONDSTORE, FLAGS come with MODSEQ")
}

func itoaT(n int) string {
	s := ""
	for {
		s = string(rune('0'+n%10)) + s
		n /= 10
		if n == 0 {
			return s
		}
	}
}

func TestFetchImplicitSeen(t *testing.T) {
	e := newEnv(t)
	e.b.deliver("alice", "INBOX", msg("one", "x"))
	e.b.deliver("alice", "INBOX", msg("two", "y"))
	e.b.deliver("alice", "INBOX", msg("three", "z"), `\Seen`)
	c := e.selectInbox()
	out := c.ok("FETCH 1 BODY[TEXT]")
	assert.Equal(t, "* 1 FETCH (BODY[TEXT] {3}\r\nx\r\n FLAGS (\\Seen))", out[0])
	out = c.ok("UID FETCH 2:3 (FLAGS RFC822.TEXT)")
	assert.Equal(t, []string{
		"* 2 FETCH (UID 2 FLAGS (\\Seen) RFC822.TEXT {3}\r\ny\r\n)",
		"* 3 FETCH (UID 3 FLAGS (\\Seen) RFC822.TEXT {3}\r\nz\r\n)",
	}, untagged(out))
	assert.Equal(t, []string{`\Seen`}, e.b.users["alice"].boxes["INBOX"].msgs[1].flags)
	// Another session sees the change.
	other := e.selectInbox()
	assert.Equal(t, "* 1 FETCH (FLAGS (\\Seen))", other.ok("FETCH 1 FLAGS")[0])
}

// TestFetchStructureCache: with a StructureCache, a structure is parsed
// once and then read from the backend.
func TestFetchStructureCache(t *testing.T) {
	e := newEnv(t)
	e.b.optional = true
	e.b.deliver("alice", "INBOX", multipartMsg)
	c := e.selectInbox()
	first := c.ok("FETCH 1 (ENVELOPE BODYSTRUCTURE)")
	require.NotNil(t, e.b.users["alice"].boxes["INBOX"].msgs[0].cache)
	c2 := e.selectInbox()
	second := c2.ok("FETCH 1 (ENVELOPE BODYSTRUCTURE)")
	assert.Equal(t, first[0], second[0])
	assert.Equal(t, 1, e.b.cacheHit)
}

// TestFetchExpungedMessage: a message expunged by another session while
// this one may not be told yet: no other message's data, and EXPUNGEISSUED.
func TestFetchExpungedMessage(t *testing.T) {
	e := newEnv(t)
	e.b.deliver("alice", "INBOX", msg("one", "x"))
	e.b.deliver("alice", "INBOX", msg("two", "y"))
	c := e.selectInbox()
	other := e.selectInbox()
	other.ok("STORE 1 +FLAGS (\\Deleted)")
	other.ok("EXPUNGE")
	out := c.do("FETCH 1:2 (UID BODY.PEEK[TEXT])")
	assert.Equal(t, []string{
		"* 2 FETCH (UID 2 BODY[TEXT] {3}\r\ny\r\n)",
		"t3 OK [EXPUNGEISSUED] Some messages were expunged meanwhile",
	}, out[len(out)-2:], "no EXPUNGE during FETCH (I10)")
	for _, l := range out {
		assert.NotContains(t, l, "EXPUNGE\r", l)
		assert.False(t, strings.HasSuffix(l, " EXPUNGE"), "no EXPUNGE during FETCH: %q", l)
	}
	assert.Equal(t, []string{"* 1 EXPUNGE", "t4 OK NOOP completed"}, c.do("NOOP"))
}

func TestEmptyMailbox(t *testing.T) {
	e := newEnv(t)
	c := e.selectInbox()
	assert.Empty(t, untagged(c.ok("FETCH 1:* (FLAGS)")))
	assert.Empty(t, untagged(c.ok("UID FETCH 1:* (FLAGS)")))
	assert.Equal(t, []string{"* SEARCH"}, untagged(c.ok("SEARCH 1:*")))
	assert.Regexp(t, "^BAD ", tagged(c.do("FETCH 1 (FLAGS)")))
	c.ok("STORE 1:* +FLAGS (\\Seen)")
	c.ok("COPY 1:* INBOX")
}

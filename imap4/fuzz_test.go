package imap4_test

import (
	"io"
	"strings"
	"testing"
)

// FuzzSession feeds arbitrary commands to a logged-in session with a
// mailbox selected: the server must never panic, whatever the input.
func FuzzSession(f *testing.F) {
	for _, s := range []string{
		"c FETCH 1:* (UID FLAGS ENVELOPE BODYSTRUCTURE BODY.PEEK[1.MIME] BINARY[2]<0.3> BINARY.SIZE[2] RFC822.HEADER)",
		"c UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)",
		"c SEARCH RETURN (MIN MAX COUNT SAVE) OR (FROM x SINCE 1-Feb-1994) NOT TEXT {3+}\r\nabc",
		"c STORE $ +FLAGS.SILENT (\\Seen $Junk)",
		"c UID STORE 1:* (UNCHANGEDSINCE 0) FLAGS (\\Deleted)\r\nd EXPUNGE",
		"c APPEND INBOX (\\Seen) \"17-Jul-1996 02:44:25 -0700\" {5+}\r\nhello ~{3+}\r\nb\x00c",
		"c SELECT INBOX (QRESYNC (1 1 1:*))",
		"c LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (\"*\" %) RETURN (CHILDREN STATUS (MESSAGES SIZE))",
		"c ENABLE QRESYNC IMAP4rev2\r\nd SELECT INBOX",
		"c IDLE\r\nDONE",
		"c MOVE 1 Archive\r\nd COPY 1:* INBOX",
		"c CREATE \"a/b\" (USE (\\Sent))\r\nd RENAME a z\r\ne DELETE z/b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		e := newEnv(t)
		e.b.deliver("alice", "INBOX", msg("one", "x"), `\Seen`)
		e.b.deliver("alice", "INBOX", multipartMsg)
		e.b.box("alice", "Archive")
		nc, err := e.l.Dial()
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		io.WriteString(nc, "a LOGIN alice secret\r\nb SELECT INBOX\r\n"+in+"\r\nz LOGOUT\r\n")
		nc.(interface{ CloseWrite() error }).CloseWrite()
		io.Copy(io.Discard, nc)
		if logs := e.logs.String(); strings.Contains(logs, "panic") {
			t.Fatalf("panic serving %q:\n%s", in, logs)
		}
	})
}

package imapwire_test

import (
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mailfront/mailfront/imap4/internal/imapwire"
)

var commandSeeds = []string{
	"a LOGIN alice secret\r\n",
	"a LOGIN {5}\r\nalice {6+}\r\nsecret\r\n",
	"a1 UID FETCH 1:* (UID FLAGS)\r\n",
	"a FETCH 1,3:5 (BODY.PEEK[1.HEADER.FIELDS (From To)]<0.100> BINARY[2] MODSEQ) (CHANGEDSINCE 12345 VANISHED)\r\n",
	"a SEARCH RETURN (MIN MAX COUNT SAVE) CHARSET UTF-8 OR (FROM x SINCE 1-Feb-1994) NOT TEXT {3}\r\nabc\r\n",
	"a STORE $ +FLAGS.SILENT (\\Seen $Junk)\r\n",
	"a APPEND INBOX (\\Seen) \"17-Jul-1996 02:44:25 -0700\" {5}\r\nhello ~{3+}\r\nb\x00c\r\n",
	"a SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n",
	"a LIST (SUBSCRIBED) \"\" (\"*\" %) RETURN (CHILDREN STATUS (MESSAGES))\r\n",
	"a CREATE {4294967296}\r\n",
	"a x {99999999999999999999+}\r\n",
	"* BAD\r\n",
	strings.Repeat("(", 200) + "\r\n",
	"a SEARCH " + strings.Repeat("NOT ", 200) + "ALL\r\n",
}

// parseAny parses a command the way the server would, choosing the
// argument grammar by command name, then skips whatever is left.
func parseAny(d *imapwire.Decoder) {
	d.Tag()
	d.SP()
	name := d.Keyword()
	if name == "UID" {
		d.SP()
		name = d.Keyword()
	}
	if d.AtEnd() {
		d.End()
		return
	}
	d.SP()
	switch name {
	case "FETCH":
		d.SequenceSet()
		d.SP()
		d.FetchAtts()
		if d.Accept(' ') {
			d.List(func() { d.Keyword(); d.Accept(' '); d.Number64() })
		}
	case "SEARCH":
		d.SearchKeys()
	case "STORE":
		d.SequenceSet()
		d.SP()
		d.Atom()
		d.SP()
		d.FlagList()
	case "APPEND":
		d.AString()
		for d.Accept(' ') {
			switch d.Peek() {
			case '(':
				d.FlagList()
			case '"':
				d.DateTime()
			default:
				r := d.MessageLiteral()
				if r != nil {
					io.Copy(io.Discard, r)
				}
				d.EndLiteral()
			}
		}
	default:
		for !d.AtEnd() {
			if d.Peek() == '(' {
				d.List(func() { d.AString() })
			} else {
				d.AString()
			}
			d.Accept(' ')
		}
	}
	d.End()
}

func FuzzCommand(f *testing.F) {
	for _, s := range commandSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		d, _ := decode(in)
		d.MaxCommandSize = 64 << 10
		d.CheckLiteral = func(l imapwire.Literal) error {
			if l.Size > 1<<20 {
				return &imapwire.TooBigError{Msg: "too big"}
			}
			return nil
		}
		parseAny(d)
		if d.Err() != nil {
			d.Discard(1 << 20)
		}
	})
}

func FuzzSequenceSet(f *testing.F) {
	for _, s := range []string{"1", "1:*", "*", "$", "5:3,1,2,9:*", "4294967295", "1,2,3:4,100:50"} {
		f.Add(s, uint32(10))
	}
	f.Fuzz(func(t *testing.T, in string, star uint32) {
		d, _ := decode(in + "\r\n")
		s := d.SequenceSet()
		if d.Err() != nil {
			return
		}
		// Round trip through the encoder.
		d2, _ := decode(s.String() + "\r\n")
		s2 := d2.SequenceSet()
		if d2.Err() != nil || s2.String() != s.String() {
			t.Fatalf("round trip %q -> %q (%v)", s.String(), s2.String(), d2.Err())
		}
		if s.Saved {
			return
		}
		rs := s.Resolve(star)
		for i, r := range rs {
			if r.Start == 0 || r.Start > r.Stop {
				t.Fatalf("bad range %v", r)
			}
			if i > 0 && uint64(rs[i-1].Stop)+1 >= uint64(r.Start) {
				t.Fatalf("ranges not merged: %v", rs)
			}
		}
	})
}

func FuzzSearchKeys(f *testing.F) {
	for _, s := range []string{
		"ALL", "OR SEEN (FLAGGED DELETED)", "NOT NOT NOT 1:*", "HEADER X-Spam yes", "SINCE 1-Feb-1994 BEFORE \"2-Mar-2020\"",
		"UID $", "MODSEQ \"/flags/\\\\draft\" all 620162338", "TEXT {3}\r\nabc SUBJECT x", "LARGER 100 SMALLER 4294967296",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		d, _ := decode(in + "\r\n")
		d.SearchKeys()
		d.End()
		if d.Err() != nil {
			d.Discard(1 << 20)
		}
	})
}

func FuzzFetchAtts(f *testing.F) {
	for _, s := range []string{
		"ALL", "(UID FLAGS)", "BODY.PEEK[1.2.HEADER.FIELDS (A B)]<10.20>", "BINARY.SIZE[1]", "(ENVELOPE BODYSTRUCTURE RFC822.SIZE INTERNALDATE)",
		"BODY[1.MIME]", "RFC822.HEADER",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		d, _ := decode(in + "\r\n")
		atts := d.FetchAtts()
		d.End()
		if d.Err() != nil {
			return
		}
		for i := range atts {
			name := string(atts[i].AppendName(nil))
			if atts[i].Partial {
				// Labels carry only the origin; put the count back.
				name = strings.TrimSuffix(name, ">") + ".1>"
			}
			d2, _ := decode(name + "\r\n")
			a2 := d2.FetchAtt()
			d2.End()
			if d2.Err() != nil {
				t.Fatalf("label %q of %q does not parse: %v", name, in, d2.Err())
			}
			if got := string(a2.AppendName(nil)); got != string(atts[i].AppendName(nil)) {
				t.Fatalf("label %q reparsed as %q", atts[i].AppendName(nil), got)
			}
		}
	})
}

func FuzzUTF7(f *testing.F) {
	for _, s := range []string{"INBOX", "&-", "Gr&APwA3w-e", "~peter/mail/&U,BTFw-/&ZeVnLIqe-", "&2D3eAA-", "&AGE-", "Entwürfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if dec, err := imapwire.DecodeUTF7(in); err == nil {
			if enc := imapwire.EncodeUTF7(dec); enc != in {
				t.Fatalf("decode(%q) = %q, encodes back to %q", in, dec, enc)
			}
		}
		if utf8.ValidString(in) {
			enc := imapwire.EncodeUTF7(in)
			dec, err := imapwire.DecodeUTF7(enc)
			if err != nil || dec != in {
				t.Fatalf("encode(%q) = %q, decodes to %q, %v", in, enc, dec, err)
			}
		}
	})
}

// FuzzLiteral checks that skipping a rejected command never consumes the
// command after it when the rejected one is well framed.
func FuzzLiteral(f *testing.F) {
	f.Add("a X {3+}", "abc", " tail")
	f.Add("a X {0}", "", "")
	f.Add("a X ~{2+}", "\x00\x01", " {1+}")
	f.Fuzz(func(t *testing.T, line, payload, tail string) {
		if strings.ContainsAny(line, "\r\n") || strings.ContainsAny(tail, "\r\n") {
			return
		}
		in := line + "\r\n" + payload + tail + "\r\nz NOOP\r\n"
		d, src := decode(in)
		d.Fail(&imapwire.SyntaxError{Msg: "rejected"})
		err := d.Discard(1 << 10)
		if err != nil {
			return
		}
		rest := src.rest()
		if !strings.HasSuffix(in, rest) {
			t.Fatalf("rest %q is not a suffix of the input", rest)
		}
	})
}

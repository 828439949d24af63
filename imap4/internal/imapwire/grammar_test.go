package imapwire_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/imap4/internal/imapwire"
)

func TestSequenceSet(t *testing.T) {
	tests := []struct {
		in     string
		want   string // String() after parsing; "" = error
		star   uint32
		ranges []imapwire.Range
	}{
		{"1", "1", 10, []imapwire.Range{{1, 1}}},
		{"1:*", "1:*", 10, []imapwire.Range{{1, 10}}},
		{"*", "*", 10, []imapwire.Range{{10, 10}}},
		{"*:4", "*:4", 10, []imapwire.Range{{4, 10}}},
		{"5:3,1,2,9:*", "5:3,1,2,9:*", 10, []imapwire.Range{{1, 5}, {9, 10}}},
		{"559:*", "559:*", 100, []imapwire.Range{{100, 559}}},
		{"1:*", "1:*", 0, []imapwire.Range{{1, 1}}},
		{"*", "*", 0, []imapwire.Range{}},
		{"$", "$", 0, nil},
		{"4294967295", "4294967295", 1, []imapwire.Range{{4294967295, 4294967295}}},
		{"0", "", 0, nil},
		{"1:0", "", 0, nil},
		{"1,", "", 0, nil},
		{",1", "", 0, nil},
		{"1::2", "", 0, nil},
		{"4294967296", "", 0, nil},
		{"$,1", "$", 0, nil}, // "$" stands alone; the rest fails the End check
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			d, _ := decode(tt.in + "\r\n")
			s := d.SequenceSet()
			if tt.want == "" {
				assert.Error(t, d.Err())
				return
			}
			require.NoError(t, d.Err())
			assert.Equal(t, tt.want, s.String())
			if !s.Saved {
				d.End()
				require.NoError(t, d.Err())
				assert.Equal(t, tt.ranges, s.Resolve(tt.star))
			}
		})
	}
}

func TestAppendSet(t *testing.T) {
	tests := []struct {
		in   []uint32
		want string
	}{
		{nil, ""},
		{[]uint32{1}, "1"},
		{[]uint32{1, 2, 3}, "1:3"},
		{[]uint32{1, 2, 3, 5, 7, 8}, "1:3,5,7:8"},
		{[]uint32{1, 1, 2, 2}, "1:2"},
		{[]uint32{4294967294, 4294967295}, "4294967294:4294967295"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, string(imapwire.AppendSet(nil, tt.in)))
	}
}

func TestFetchAtts(t *testing.T) {
	tests := []struct {
		in    string
		names string // the response labels, space-separated; "" = error
		seen  bool   // at least one item sets \Seen
	}{
		{"ALL", "FLAGS INTERNALDATE RFC822.SIZE ENVELOPE", false},
		{"FAST", "FLAGS INTERNALDATE RFC822.SIZE", false},
		{"full", "FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY", false},
		{"(UID FLAGS)", "UID FLAGS", false},
		{"(uid flags modseq)", "UID FLAGS MODSEQ", false},
		{"BODY[]", "BODY[]", true},
		{"BODY.PEEK[]", "BODY[]", false},
		{"BODY.PEEK[]<0.100>", "BODY[]<0>", false},
		{"BODY[1.2.HEADER]", "BODY[1.2.HEADER]", true},
		{"BODY[1.MIME]", "BODY[1.MIME]", true},
		{"BODY[MIME]", "", false},
		{"BODY[TEXT]<5.10>", "BODY[TEXT]<5>", true},
		{"BODY[HEADER.FIELDS (From Subject)]", "BODY[HEADER.FIELDS (From Subject)]", true},
		{"BODY.PEEK[HEADER.FIELDS.NOT (x-foo \"Received\")]", "BODY[HEADER.FIELDS.NOT (x-foo Received)]", false},
		{"BODY[HEADER.FIELDS ()]", "", false},
		{"BODY[HEADER.FIELDS (\"a b\")]", "", false},
		{"BODY[2]", "BODY[2]", true},
		{"BODY[0]", "", false},
		{"BODY[1.]", "", false},
		{"BODY[]<0.0>", "", false},
		{"BODY", "BODY", false},
		{"BODY.PEEK", "", false},
		{"BODYSTRUCTURE", "BODYSTRUCTURE", false},
		{"(ENVELOPE BODYSTRUCTURE RFC822.SIZE INTERNALDATE)", "ENVELOPE BODYSTRUCTURE RFC822.SIZE INTERNALDATE", false},
		{"RFC822", "RFC822", true},
		{"RFC822.HEADER", "RFC822.HEADER", false},
		{"RFC822.TEXT", "RFC822.TEXT", true},
		{"BINARY[1]", "BINARY[1]", true},
		{"BINARY.PEEK[1]<0.10>", "BINARY[1]<0>", false},
		{"BINARY.SIZE[1]", "BINARY.SIZE[1]", false},
		{"BINARY[1.TEXT]", "", false},
		{"BINARY.SIZE[1]<0.1>", "", false},
		{"()", "", false},
		{"(FLAGS", "", false},
		{"XYZZY", "", false},
		{"ALLX", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			d, _ := decode(tt.in + "\r\n")
			atts := d.FetchAtts()
			d.End()
			if tt.names == "" {
				assert.Error(t, d.Err())
				return
			}
			require.NoError(t, d.Err())
			var names []string
			seen := false
			for i := range atts {
				names = append(names, string(atts[i].AppendName(nil)))
				seen = seen || atts[i].SetsSeen()
			}
			assert.Equal(t, tt.names, strings.Join(names, " "))
			assert.Equal(t, tt.seen, seen)
		})
	}
}

func TestFetchSection(t *testing.T) {
	d, _ := decode("BODY.PEEK[1.2.HEADER.FIELDS (A B)]<10.20>\r\n")
	a := d.FetchAtt()
	require.NoError(t, d.Err())
	assert.Equal(t, imapwire.FetchAtt{
		Item: imapwire.FetchBodySection, Peek: true,
		Section: imapwire.Section{Part: []int{1, 2}, Specifier: "HEADER.FIELDS", Fields: []string{"A", "B"}},
		Partial: true, Offset: 10, Count: 20,
	}, a)
}

func TestSearchKeys(t *testing.T) {
	day := time.Date(1994, 2, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want []imapwire.SearchKey // nil = error
	}{
		{"ALL", []imapwire.SearchKey{{Op: imapwire.SearchAll}}},
		{"seen unanswered", []imapwire.SearchKey{{Op: imapwire.SearchFlag, Str: `\Seen`}, {Op: imapwire.SearchNoFlag, Str: `\Answered`}}},
		{"KEYWORD $Junk", []imapwire.SearchKey{{Op: imapwire.SearchFlag, Str: "$Junk"}}},
		{"UNKEYWORD $Junk", []imapwire.SearchKey{{Op: imapwire.SearchNoFlag, Str: "$Junk"}}},
		{"FROM alice", []imapwire.SearchKey{{Op: imapwire.SearchHeader, Field: "From", Str: "alice"}}},
		{`SUBJECT "hello world"`, []imapwire.SearchKey{{Op: imapwire.SearchHeader, Field: "Subject", Str: "hello world"}}},
		{"HEADER X-Spam yes", []imapwire.SearchKey{{Op: imapwire.SearchHeader, Field: "X-Spam", Str: "yes"}}},
		{`HEADER "Message-ID" ""`, []imapwire.SearchKey{{Op: imapwire.SearchHeader, Field: "Message-ID", Str: ""}}},
		{"BODY x", []imapwire.SearchKey{{Op: imapwire.SearchBody, Str: "x"}}},
		{"TEXT {3}\r\nabc", []imapwire.SearchKey{{Op: imapwire.SearchText, Str: "abc"}}},
		{"SINCE 1-Feb-1994", []imapwire.SearchKey{{Op: imapwire.SearchSince, Date: day}}},
		{"SENTBEFORE \"1-Feb-1994\"", []imapwire.SearchKey{{Op: imapwire.SearchSentBefore, Date: day}}},
		{"LARGER 100 SMALLER 200", []imapwire.SearchKey{{Op: imapwire.SearchLarger, Num: 100}, {Op: imapwire.SearchSmaller, Num: 200}}},
		{"1:3,5", []imapwire.SearchKey{{Op: imapwire.SearchSeqSet, Set: imapwire.SeqSet{Ranges: []imapwire.Range{{1, 3}, {5, 5}}}}}},
		{"$", []imapwire.SearchKey{{Op: imapwire.SearchSeqSet, Set: imapwire.SeqSet{Saved: true}}}},
		{"UID $", []imapwire.SearchKey{{Op: imapwire.SearchUID, Set: imapwire.SeqSet{Saved: true}}}},
		{"UID 1:*", []imapwire.SearchKey{{Op: imapwire.SearchUID, Set: imapwire.SeqSet{Ranges: []imapwire.Range{{1, 0}}}}}},
		{"NOT SEEN", []imapwire.SearchKey{{Op: imapwire.SearchNot, Sub: []imapwire.SearchKey{{Op: imapwire.SearchFlag, Str: `\Seen`}}}}},
		{"OR SEEN (FLAGGED DELETED)", []imapwire.SearchKey{{Op: imapwire.SearchOr, Sub: []imapwire.SearchKey{
			{Op: imapwire.SearchFlag, Str: `\Seen`},
			{Op: imapwire.SearchAnd, Sub: []imapwire.SearchKey{{Op: imapwire.SearchFlag, Str: `\Flagged`}, {Op: imapwire.SearchFlag, Str: `\Deleted`}}},
		}}}},
		{"MODSEQ 620162338", []imapwire.SearchKey{{Op: imapwire.SearchModSeq, Num: 620162338}}},
		{`MODSEQ "/flags/\\draft" all 620162338`, []imapwire.SearchKey{{Op: imapwire.SearchModSeq, Num: 620162338}}},
		{"NEW OLD RECENT", []imapwire.SearchKey{{Op: imapwire.SearchNew}, {Op: imapwire.SearchOld}, {Op: imapwire.SearchRecent}}},
		{"", nil},
		{"()", nil},
		{"FOO", nil},
		{"OR SEEN", nil},
		{"SINCE yesterday", nil},
		{"LARGER -1", nil},
		{"HEADER", nil},
		{"HEADER \"bad field\" x", nil},
		{"SEEN  FLAGGED", nil},
		{"MODSEQ \"/flags/x\" bogus 1", nil},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			d, _ := decode(tt.in + "\r\n")
			k := d.SearchKeys()
			d.End()
			if tt.want == nil {
				assert.Error(t, d.Err())
				return
			}
			require.NoError(t, d.Err())
			assert.Equal(t, imapwire.SearchKey{Op: imapwire.SearchAnd, Sub: tt.want}, k)
		})
	}
}

func TestUTF7(t *testing.T) {
	tests := []struct{ utf8, utf7 string }{
		{"INBOX", "INBOX"},
		{"&", "&-"},
		{"Tom & Jerry", "Tom &- Jerry"},
		{"Grüße", "Gr&APwA3w-e"},
		{"~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
		{"Entwürfe", "Entw&APw-rfe"},
		{"😀", "&2D3eAA-"},
		{"a\tb", "a&AAk-b"},
	}
	for _, tt := range tests {
		t.Run(tt.utf8, func(t *testing.T) {
			got := imapwire.EncodeUTF7(tt.utf8)
			assert.Equal(t, tt.utf7, got)
			dec, err := imapwire.DecodeUTF7(tt.utf7)
			require.NoError(t, err)
			assert.Equal(t, tt.utf8, dec)
		})
	}
	for _, bad := range []string{
		"&", "&AGE", "&Jjo!", "&AGE-", // "&AGE-" encodes "a": printable ASCII
		"&2D0-",         // unpaired high surrogate
		"&3gA-",         // lone low surrogate
		"&AP-",          // leftover bits
		"&APx-",         // non-zero padding bits
		"Grüße",         // 8-bit
		"a\x01b",        // control
		"&AGEAYQ-&-",    // printable inside
		"Gr&APw-&AN8-e", // adjacent runs are not canonical
	} {
		t.Run("bad "+bad, func(t *testing.T) {
			_, err := imapwire.DecodeUTF7(bad)
			assert.ErrorIs(t, err, imapwire.ErrBadUTF7)
		})
	}
}

func TestEncoder(t *testing.T) {
	var out bytes.Buffer
	var trace []string
	e := &imapwire.Encoder{W: &out, Trace: func(b []byte) { trace = append(trace, string(b)) }}
	e.Raw("* 1 FETCH (UID ").Number(7).Raw(" BODY[] ").Literal(strings.NewReader("hello\r\n"), 7, false).Byte(')').CRLF()
	e.Raw("* LIST () \"/\" ").AString("INBOX", false).CRLF()
	e.Raw("* LIST () \"/\" ").AString("nil", false).CRLF()
	e.Raw("* LIST () \"/\" ").AString("a b", false).CRLF()
	e.Raw("* LIST () \"/\" ").AString("Grüße", false).CRLF()
	e.Raw("* LIST () \"/\" ").AString("Grüße", true).CRLF()
	e.Raw("* X ").String("a\"b\\", false).CRLF()
	e.Raw("* X ").String("a\r\nb", false).CRLF()
	require.NoError(t, e.Flush())
	assert.Equal(t, "* 1 FETCH (UID 7 BODY[] {7}\r\nhello\r\n)\r\n"+
		"* LIST () \"/\" INBOX\r\n"+
		"* LIST () \"/\" \"nil\"\r\n"+
		"* LIST () \"/\" \"a b\"\r\n"+
		"* LIST () \"/\" {7}\r\nGrüße\r\n"+
		"* LIST () \"/\" \"Grüße\"\r\n"+
		"* X \"a\\\"b\\\\\"\r\n"+
		"* X {4}\r\na\r\nb\r\n", out.String())
	assert.Equal(t, []string{
		"* 1 FETCH (UID 7 BODY[] {7}", "{7 bytes}", ")",
		`* LIST () "/" INBOX`, `* LIST () "/" "nil"`, `* LIST () "/" "a b"`,
		`* LIST () "/" {7}`, "{7 bytes}", "",
		`* LIST () "/" "Grüße"`, `* X "a\"b\\"`, "* X {4}", "{4 bytes}", "",
	}, trace)
}

func TestEncoderLargeLiteral(t *testing.T) {
	var out bytes.Buffer
	e := &imapwire.Encoder{W: &out}
	big := strings.Repeat("x", 100000)
	e.Raw("* 1 FETCH (BODY[] ").Literal(strings.NewReader(big), int64(len(big)), false).Raw(")").CRLF()
	require.NoError(t, e.Flush())
	assert.Equal(t, "* 1 FETCH (BODY[] {100000}\r\n"+big+")\r\n", out.String())

	out.Reset()
	e.Reset(&out)
	e.Literal(strings.NewReader("short"), 10, false)
	assert.Error(t, e.Flush())
}

func TestDateTimeFormat(t *testing.T) {
	tm := time.Date(1996, 7, 7, 2, 44, 25, 0, time.FixedZone("", -7*3600))
	assert.Equal(t, `"07-Jul-1996 02:44:25 -0700"`, string(imapwire.AppendDateTime(nil, tm)))
	d, _ := decode(string(imapwire.AppendDateTime(nil, tm)) + "\r\n")
	assert.True(t, tm.Equal(d.DateTime()))
}

func BenchmarkParseCommand(b *testing.B) {
	line := []byte("a1 UID FETCH 1:*,5,7:9 (UID FLAGS BODY.PEEK[HEADER.FIELDS (From To Subject)] MODSEQ)")
	d := &imapwire.Decoder{}
	b.ReportAllocs()
	for b.Loop() {
		d.Reset(line, nil)
		d.Tag()
		d.SP()
		d.Keyword()
		d.SP()
		d.Keyword()
		d.SP()
		d.SequenceSet()
		d.SP()
		d.FetchAtts()
		d.End()
		if d.Err() != nil {
			b.Fatal(d.Err())
		}
	}
}

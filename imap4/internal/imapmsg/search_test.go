package imapmsg_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/imap4/internal/imapmsg"
)

func TestMatchBody(t *testing.T) {
	tests := []struct {
		file string
		key  string
		want bool
	}{
		{"simple.eml", "LUNCH ON friday", true},
		{"simple.eml", "Alice Example", false}, // header, not body
		{"simple.eml", "", true},
		{"alternative.eml", "café chairs, tables", true}, // quoted-printable with a soft break
		{"alternative.eml", "CAFÉ", true},
		{"alternative.eml", "straßencafé", true}, // base64 HTML part
		{"alternative.eml", "STRAßENCAFÉ", true},
		{"alternative.eml", "=C3=A9", false}, // encoded form is not searched
		{"alternative.eml", "PGh0bWw", false},
		{"iso-8859-1.eml", "straßenfest", true}, // ISO-8859-1, quoted-printable
		{"iso-8859-1.eml", "MÜHLENGASSE", true},
		{"iso-8859-1.eml", "Stra=DF", false},
		{"mixed-attachment.eml", "quarterly report", true},
		{"mixed-attachment.eml", "PDF-1.4", false},  // application/pdf is not text
		{"nested-rfc822.eml", "part 4.2.2.2", true}, // inside message/rfc822 and multipart
		{"nested-rfc822.eml", "Inner Two", false},   // embedded headers are not body
		{"digest.eml", "grüße", true},               // digest part, ISO-8859-1 quoted-printable
		{"encoded-words.eml", "GRÜSSE", false},      // no full case folding (ß is not ss)
		{"encoded-words.eml", "MÜNCHEN – 😊", true},  // 8bit UTF-8
		{"no-content-type.eml", "defaults to text/plain", true},
		{"message-global.eml", "hallo", true},
		{"broken-multipart.eml", "never closed", true},
		{"broken-multipart.eml", "begin 644", false}, // application/x-unknown
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.key, func(t *testing.T) {
			msg := loadMessage(t, tt.file)
			s := parseBytes(t, msg)
			got, err := s.MatchBody(bytes.NewReader(msg), tt.key)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestMatchBodyCaseFolding(t *testing.T) {
	tests := []struct {
		body, key string
		want      bool
	}{
		{"the KELVIN sign", "kelvin", true},
		{"the \u212aelvin sign", "kelvin", true}, // K (Kelvin sign) folds to k
		{"ΣΊΣΥΦΟΣ", "σίσυφος", true},
		{"ΣΊΣΥΦΟΣ", "σίσυφοσ", true},    // final sigma
		{"İstanbul", "istanbul", false}, // no simple folding between İ and i
		{"über", "ÜBER", true},
		{"ǅ digraph", "ǆ", true},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			msg := []byte("Content-Type: text/plain; charset=utf-8\r\n\r\n" + tt.body)
			s := parseBytes(t, msg)
			got, err := s.MatchBody(bytes.NewReader(msg), tt.key)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestMatchBodyAcrossReads puts the key across the read buffer boundary
// and splits a multi-byte character there.
func TestMatchBodyAcrossReads(t *testing.T) {
	for _, pad := range []int{16<<10 - 3, 16<<10 - 2, 16<<10 - 1, 16 << 10, 32<<10 - 1} {
		body := bytes.Repeat([]byte("x"), pad)
		body = append(body, "Grüße aus München"...)
		msg := append([]byte("Content-Type: text/plain; charset=utf-8\r\n\r\n"), body...)
		s := parseBytes(t, msg)
		got, err := s.MatchBody(bytes.NewReader(msg), "GRÜSSE")
		require.NoError(t, err)
		assert.False(t, got)
		got, err = s.MatchBody(bytes.NewReader(msg), "GRÜßE AUS MÜNCHEN")
		require.NoError(t, err)
		assert.True(t, got, "pad %d", pad)
	}
}

func TestMatchHeader(t *testing.T) {
	tests := []struct {
		file, field, key string
		want             bool
	}{
		{"encoded-words.eml", "Subject", "grüße aus münchen", true}, // two UTF-8 B encoded words
		{"encoded-words.eml", "subject", "– 😊", true},
		{"encoded-words.eml", "From", "andré", true}, // ISO-8859-1 Q encoded word
		{"encoded-words.eml", "From", "pirard@vm1", true},
		{"encoded-words.eml", "To", "keith moore", true},
		{"encoded-words.eml", "To", "jane \\\"jj\\\"", true},
		{"encoded-words.eml", "Cc", "plain person", true},
		{"encoded-words.eml", "Bcc", "", true}, // present, empty
		{"encoded-words.eml", "Bcc", "x", false},
		{"encoded-words.eml", "X-Raw-Latin", "CAFÉ", true}, // raw ISO-8859-1 octet
		{"encoded-words.eml", "Reply-To", "", false},       // absent
		{"encoded-words.eml", "", "x-raw-latin: café", true},
		{"encoded-words.eml", "", "list-bounces", true},
		{"encoded-words.eml", "", "not there", false},
		{"no-content-type.eml", "subject", "GRÖßE — RAW", true},
		{"simple.eml", "", "are you free", false}, // body text is not header
		{"iso-8859-1.eml", "Subject", "straßenfest", true},
		{"alternative.eml", "subject", "winter sale ❄ up to 50% off", true},
		{"simple.eml", "received", "by mx.example.net with", true}, // folded field, unfolded
		{"nested-rfc822.eml", "Subject", "part 3", false},          // embedded message headers
		{"nested-rfc822.eml", "content-type", "boundary=outer", true},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.field+"/"+tt.key, func(t *testing.T) {
			msg := loadMessage(t, tt.file)
			s := parseBytes(t, msg)
			got, err := s.MatchHeader(bytes.NewReader(msg), tt.field, tt.key)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestDate(t *testing.T) {
	tests := []struct {
		date string
		want string // RFC 3339, or "" for none
	}{
		{"Tue, 14 Jan 2025 09:30:00 +0100", "2025-01-14T09:30:00+01:00"},
		{"14 Jan 2025 09:30:00 +0100", "2025-01-14T09:30:00+01:00"},
		{"Tue, 14 Jan 2025 09:30 +0100", "2025-01-14T09:30:00+01:00"},
		{"Tue, 14 Jan 2025 09:30:00 +0100 (CET)", "2025-01-14T09:30:00+01:00"},
		{"Tue,14 Jan 2025 9:30:00 PST", "2025-01-14T09:30:00-08:00"},
		{"Tue, 14 Jan 25 09:30:00 GMT", "2025-01-14T09:30:00Z"},
		{"Tue, 14 Jan 99 09:30:00 EDT", "1999-01-14T09:30:00-04:00"},
		{"Tue, 14 January 2025 09:30:00 CEST", "2025-01-14T09:30:00+02:00"},
		{"Tue,  14  Jan  2025  09:30:00  +0000", "2025-01-14T09:30:00Z"},
		{"Tue, 14 Jan 2025 09.30.00 +0100", "2025-01-14T09:30:00+01:00"},
		{"Tue Jan 14 09:30:00 2025", "2025-01-14T09:30:00Z"}, // asctime
		{"Tue, 14 Jan 2025 09:30:00 XYZ", "2025-01-14T09:30:00Z"},
		{"Tue, 14 Jan 2025 09:30:00 +7000", "2025-01-14T09:30:00Z"}, // not a zone: hours past 23
		{"Tue, 14 Jan 2025 09:30:00 -0175", "2025-01-14T09:30:00Z"}, // nor minutes past 59
		{"Tue, 14 Jan 2025 09:30:00", "2025-01-14T09:30:00Z"},
		{"Tue, 31 Feb 2025 09:30:00 +0000", ""},
		{"yesterday", ""},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.date, func(t *testing.T) {
			s := parseBytes(t, []byte("Date: "+tt.date+"\r\n\r\n"))
			d, ok := s.Date()
			if tt.want == "" {
				assert.False(t, ok, "got %v", d)
				return
			}
			require.True(t, ok)
			assert.Equal(t, tt.want, d.Format("2006-01-02T15:04:05Z07:00"))
		})
	}
	t.Run("absent", func(t *testing.T) {
		_, ok := parseBytes(t, []byte("Subject: x\r\n\r\n")).Date()
		assert.False(t, ok)
	})
}

func TestQuoting(t *testing.T) {
	o, u := imapmsg.RenderOptions{}, imapmsg.RenderOptions{UTF8: true}
	tests := []struct {
		s               string
		str, strU, astr string
	}{
		{"", `""`, `""`, `""`},
		{"INBOX", `"INBOX"`, `"INBOX"`, `INBOX`},
		{"NIL", `"NIL"`, `"NIL"`, `"NIL"`},
		{"nil", `"nil"`, `"nil"`, `"nil"`},
		{"a b", `"a b"`, `"a b"`, `"a b"`},
		{`say "hi" \o/`, `"say \"hi\" \\o/"`, `"say \"hi\" \\o/"`, `"say \"hi\" \\o/"`},
		{"a]b", `"a]b"`, `"a]b"`, `a]b`},
		{"a{b", `"a{b"`, `"a{b"`, `"a{b"`},
		{"a%*", `"a%*"`, `"a%*"`, `"a%*"`},
		{"tab\there", "\"tab\there\"", "\"tab\there\"", "\"tab\there\""},
		{"two\r\nlines", "{10}\r\ntwo\r\nlines", "{10}\r\ntwo\r\nlines", "{10}\r\ntwo\r\nlines"},
		{"Grüße", "{7}\r\nGrüße", `"Grüße"`, "{7}\r\nGrüße"},
		{"bad \xff utf8", "{10}\r\nbad \xff utf8", "{10}\r\nbad \xff utf8", "{10}\r\nbad \xff utf8"},
		{"nul\x00", "{4}\r\nnul ", "{4}\r\nnul ", "{4}\r\nnul "},
	}
	for _, tt := range tests {
		t.Run(tt.s, func(t *testing.T) {
			assert.Equal(t, tt.str, string(imapmsg.AppendString(nil, tt.s, o)))
			assert.Equal(t, tt.str, string(imapmsg.AppendNString(nil, tt.s, o)))
			assert.Equal(t, tt.strU, string(imapmsg.AppendString(nil, tt.s, u)))
			assert.Equal(t, tt.astr, string(imapmsg.AppendAString(nil, tt.s, o)))
		})
	}
}

// TestEnvelopeAddresses checks the address parser through ENVELOPE.
func TestEnvelopeAddresses(t *testing.T) {
	tests := []struct {
		to   string
		want string
	}{
		{"a@example.com", `((NIL NIL "a" "example.com"))`},
		{"<a@example.com>", `((NIL NIL "a" "example.com"))`},
		{"A B <a@example.com>", `(("A B" NIL "a" "example.com"))`},
		{`"B, A" <a@example.com>, c@d`, `(("B, A" NIL "a" "example.com")(NIL NIL "c" "d"))`},
		{`"a b"@example.com`, `((NIL NIL "a b" "example.com"))`},
		{"a@example.com (A (nested) B)", `(("A (nested) B" NIL "a" "example.com"))`},
		{"a . b @ example . com", `((NIL NIL "a.b" "example.com"))`},
		{"Mr. A. B <a@b>", `(("Mr. A. B" NIL "a" "b"))`},
		{"=?utf-8?q?J=C3=BCrgen?= <j@b>", `(("=?utf-8?q?J=C3=BCrgen?=" NIL "j" "b"))`},
		{"group: a@b, C <c@d>;, e@f", `((NIL NIL "group" NIL)(NIL NIL "a" "b")("C" NIL "c" "d")(NIL NIL NIL NIL)(NIL NIL "e" "f"))`},
		{"empty:;", `((NIL NIL "empty" NIL)(NIL NIL NIL NIL))`},
		{"unclosed: a@b", `((NIL NIL "unclosed" NIL)(NIL NIL "a" "b")(NIL NIL NIL NIL))`},
		{"<@x,@y:a@b>", `((NIL "@x,@y" "a" "b"))`},
		{"a@[192.0.2.1]", `((NIL NIL "a" "[192.0.2.1]"))`},
		{"<>", `((NIL NIL "" ""))`},
		{"root", `((NIL NIL "root" ""))`},
		{"A <a@b", `(("A" NIL "a" "b"))`},
		{"A <a@b, c@d", `(("A" NIL "a" "b")(NIL NIL "c" "d"))`},
		{",,, a@b ,,", `((NIL NIL "a" "b"))`},
		{"", `NIL`},
		{" ", `NIL`},
		{"<<<>>>", `((NIL NIL "" ""))`},
		{"nul\x00here@x, \x00", `((NIL NIL "nul" "")(NIL NIL "here" "x"))`},
		{"A <a@b> \x00junk, c@d", `(("A" NIL "a" "b")(NIL NIL "c" "d"))`},
	}
	for _, tt := range tests {
		t.Run(tt.to, func(t *testing.T) {
			s := parseBytes(t, []byte("To: "+tt.to+"\r\n\r\n"))
			env := string(s.AppendEnvelope(nil, imapmsg.RenderOptions{}))
			assert.Equal(t, "(NIL NIL NIL NIL NIL "+tt.want+" NIL NIL NIL NIL)", env)
		})
	}
	t.Run("sender and reply-to default to from", func(t *testing.T) {
		s := parseBytes(t, []byte("From: f@x\r\nSender:\r\nReply-To: r@x\r\n\r\n"))
		assert.Equal(t, `(NIL NIL ((NIL NIL "f" "x")) ((NIL NIL "f" "x")) ((NIL NIL "r" "x")) NIL NIL NIL NIL NIL)`,
			string(s.AppendEnvelope(nil, imapmsg.RenderOptions{})))
	})
	t.Run("empty subject is an empty string, absent is NIL", func(t *testing.T) {
		s := parseBytes(t, []byte("Subject:\r\nMessage-ID:  <x@y> \r\n\r\n"))
		assert.Equal(t, `(NIL "" NIL NIL NIL NIL NIL NIL NIL "<x@y>")`,
			string(s.AppendEnvelope(nil, imapmsg.RenderOptions{})))
	})
}

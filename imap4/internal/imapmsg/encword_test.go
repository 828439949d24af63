package imapmsg_test

import (
	"mime"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
	"github.com/stretchr/testify/assert"

	"github.com/mailfront/mailfront/imap4/internal/imapmsg"
)

// referenceDecode is the straightforward decoding that MatchHeader's
// allocation-free decoder must agree with: raw octets that are not UTF-8
// as ISO-8859-1, then mime.WordDecoder with go-message's charsets, the
// value unchanged if that fails.
func referenceDecode(v string) string {
	if !utf8.ValidString(v) {
		var b strings.Builder
		for i := 0; i < len(v); i++ {
			b.WriteRune(rune(v[i]))
		}
		v = b.String()
	}
	dec := mime.WordDecoder{CharsetReader: charset.Reader}
	if d, err := dec.DecodeHeader(v); err == nil {
		return d
	}
	return v
}

var encodedWordCases = []string{
	"",
	"plain text",
	"=?UTF-8?Q?Gr=C3=BC=C3=9Fe?= =?UTF-8?B?YXVzIE3DvG5jaGVu?=",
	"=?utf-8?q?caf=c3=a9?=\t=?iso-8859-1?b?4Q==?= end",
	"a =?UTF-8?Q?x?=  \t =?UTF-8?Q?y?= b",          // white space between words dropped
	"=?UTF-8?Q?x?= z =?UTF-8?Q?y?=",                // but not other text
	"=?us-ascii?q?a=FFb?=",                         // 8-bit in us-ascii: U+FFFD
	"=?koi8-r?b?8fc=?=",                            // a charset go-message converts
	"=?x-bogus?q?x?= stays",                        // unknown charset: unchanged
	"=?utf-8?b?w6k?= =?utf-8?q?ok?=",               // bad base64 (no padding) stays
	"=?utf-8?q?=4?= =?utf-8?q?=ZZ?= =?utf-8?x?a?=", // bad Q escapes and encoding
	"=?utf-8?q?caf\x01?=",                          // control octet in Q text
	"=??q?x?= =?utf-8?q??= =?utf-8?q?",             // empty charset, empty text, unterminated
	"=?iſo-8859-1?q?=E9?=",                         // charset names fold as Unicode
	"\xe9t\xe9 =?utf-8?q?=C3=A9?=",                 // raw ISO-8859-1 octets
	"=?UTF-8?Q?=F0=9F?= =?UTF-8?Q?=98=8A?=",        // a character split across words
	"=?utf-8*en?q?lang?=",                          // RFC 2231 language suffix
	"=?=?utf-8?q?nested?=?=",
}

func TestDecodeForMatch(t *testing.T) {
	for _, v := range encodedWordCases {
		t.Run(v, func(t *testing.T) {
			assert.Equal(t, referenceDecode(v), imapmsg.DecodeForMatch(v))
		})
	}
}

// FuzzDecodeForMatch holds MatchHeader's decoder to the reference.
func FuzzDecodeForMatch(f *testing.F) {
	for _, v := range encodedWordCases {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if got, want := imapmsg.DecodeForMatch(v), referenceDecode(v); got != want {
			t.Fatalf("DecodeForMatch(%q) = %q, want %q", v, got, want)
		}
	})
}

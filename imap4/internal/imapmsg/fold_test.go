package imapmsg_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"

	"github.com/mailfront/mailfront/imap4/internal/imapmsg"
)

// referenceFold is the definition of the matchers' folding, rune by
// rune: the smallest member of each rune's simple folding orbit, the
// lower-case letter for an orbit with an ASCII letter, U+FFFD for
// invalid UTF-8.
func referenceFold(s string) string {
	var b strings.Builder
	for _, r := range s { // invalid UTF-8 yields U+FFFD
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		if 'A' <= m && m <= 'Z' {
			m += 'a' - 'A'
		}
		b.WriteRune(m)
	}
	return b.String()
}

var foldCases = []string{
	"",
	"A",
	"Hello, World! @[`{ AZaz 0123456789 ~\x7f\x00",
	"ABCDEFG",                      // shorter than a word
	"ABCDEFGH",                     // one word
	"ABCDEFGHI",                    // a word and one
	"@@@@@@@@[[[[[[[[````````{{{{", // the octets around the letters
	"0123456Ü890ABCDEFÉ",           // non-ASCII inside a word
	"Straße \u212aelvin ſ ΣΊΣΥΦΟΣ İ ǅ",
	"bad \xff\xfe utf-8 \xe2\x82 cut",
}

// fold returns the folding of s as text, failing t if keys fold
// otherwise.
func fold(t testing.TB, s string) string {
	text, key := imapmsg.Fold(s)
	if text != key {
		t.Fatalf("%q folds to %q as text, %q as a key", s, text, key)
	}
	return text
}

func TestFold(t *testing.T) {
	for _, s := range foldCases {
		assert.Equal(t, referenceFold(s), fold(t, s), "%q", s)
		for pad := 1; pad < 8; pad++ { // every alignment
			p := strings.Repeat("X", pad) + s
			assert.Equal(t, referenceFold(p), fold(t, p), "%q", p)
		}
	}
	assert.Equal(t, "kelvin", fold(t, "\u212aELVIN"))
	assert.True(t, utf8.ValidString(fold(t, "\xff")))
}

// FuzzFold holds the folding to its definition.
func FuzzFold(f *testing.F) {
	for _, s := range foldCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := fold(t, s), referenceFold(s); got != want {
			t.Fatalf("Fold(%q) = %q, want %q", s, got, want)
		}
	})
}

// TestFoldAllRunes compares the folding of every rune with its
// definition, so that the fast paths (the table for the first blocks,
// the ranges known to have no case) stay true to the unicode package's
// tables.
func TestFoldAllRunes(t *testing.T) {
	var b strings.Builder
	for r := rune(0); r <= unicode.MaxRune; r++ {
		b.WriteRune(r)
		if b.Len() < 1<<16 && r != unicode.MaxRune {
			continue
		}
		s := b.String()
		b.Reset()
		if got, want := fold(t, s), referenceFold(s); got != want {
			for _, r := range s {
				assert.Equal(t, referenceFold(string(r)), fold(t, string(r)), "rune %U", r)
			}
			t.FailNow()
		}
	}
}

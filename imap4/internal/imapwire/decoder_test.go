package imapwire_test

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/imap4/internal/imapwire"
)

func TestTag(t *testing.T) {
	tests := []struct {
		in, tag string
		ok      bool
	}{
		{"a1 NOOP", "a1", true},
		{"A.b-c_d NOOP", "A.b-c_d", true},
		{"tag] NOOP", "tag]", true},
		{"* NOOP", "", false},
		{"+ NOOP", "", false},
		{" NOOP", "", false},
		{"", "", false},
		{"(a NOOP", "", false},
		{"a{1} NOOP", "a", true}, // the tag stops at "{"; the SP check fails later
		{"\"a\" NOOP", "", false},
		{"\x80a NOOP", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			d, _ := decode(tt.in + "\r\n")
			tag := d.Tag()
			if !tt.ok {
				assert.Error(t, d.Err())
				return
			}
			require.NoError(t, d.Err())
			assert.Equal(t, tt.tag, tag)
		})
	}
}

func TestCommandName(t *testing.T) {
	d, _ := decode("a uid fetch 1 flags\r\n")
	assert.Equal(t, "a", d.Tag())
	d.SP()
	assert.Equal(t, "UID", d.Keyword())
	d.SP()
	assert.Equal(t, "FETCH", d.Keyword())
	require.NoError(t, d.Err())
}

func TestNumbers(t *testing.T) {
	tests := []struct {
		in     string
		n32    uint32
		ok32   bool
		n64    uint64
		ok64   bool
		nzFail bool
	}{
		{"0", 0, true, 0, true, true},
		{"1", 1, true, 1, true, false},
		{"4294967295", 4294967295, true, 4294967295, true, false},
		{"4294967296", 0, false, 4294967296, true, false},
		{"9223372036854775807", 0, false, 9223372036854775807, true, false},
		{"9223372036854775808", 0, false, 0, false, false},
		{"99999999999999999999999", 0, false, 0, false, false},
		{"x", 0, false, 0, false, false},
		{"", 0, false, 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			d, _ := decode(tt.in + "\r\n")
			n := d.Number()
			assert.Equal(t, tt.ok32, d.Err() == nil, "Number err %v", d.Err())
			assert.Equal(t, tt.n32, n)

			d, _ = decode(tt.in + "\r\n")
			n64 := d.Number64()
			assert.Equal(t, tt.ok64, d.Err() == nil, "Number64 err %v", d.Err())
			assert.Equal(t, tt.n64, n64)

			if tt.ok32 {
				d, _ = decode(tt.in + "\r\n")
				d.NzNumber()
				assert.Equal(t, tt.nzFail, d.Err() != nil)
			}
		})
	}
}

func TestStrings(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		parse func(d *imapwire.Decoder) string
		want  string
		ok    bool
		conts int
	}{
		{"quoted", `"hello world"`, (*imapwire.Decoder).AString, "hello world", true, 0},
		{"quoted escapes", `"a\"b\\c"`, (*imapwire.Decoder).AString, `a"b\c`, true, 0},
		{"quoted bad escape", `"a\nb"`, (*imapwire.Decoder).AString, "", false, 0},
		{"quoted unterminated", `"abc`, (*imapwire.Decoder).AString, "", false, 0},
		{"quoted NUL", "\"a\x00b\"", (*imapwire.Decoder).AString, "", false, 0},
		{"quoted utf8", `"Grüße"`, (*imapwire.Decoder).AString, "Grüße", true, 0},
		{"empty quoted", `""`, (*imapwire.Decoder).AString, "", true, 0},
		{"atom", `INBOX.Sent`, (*imapwire.Decoder).AString, "INBOX.Sent", true, 0},
		{"astring with ]", `a]b`, (*imapwire.Decoder).AString, "a]b", true, 0},
		{"astring utf8 atom", `Grüße`, (*imapwire.Decoder).AString, "Grüße", true, 0},
		{"astring empty", ``, (*imapwire.Decoder).AString, "", false, 0},
		{"astring paren", `(a)`, (*imapwire.Decoder).AString, "", false, 0},
		{"literal", "{5}\r\nhello", (*imapwire.Decoder).AString, "hello", true, 1},
		{"literal empty", "{0}\r\n", (*imapwire.Decoder).AString, "", true, 1},
		{"literal nonsync", "{5+}\r\nhello", (*imapwire.Decoder).AString, "hello", true, 0},
		{"literal with CRLF inside", "{7}\r\nab\r\ncd\r", (*imapwire.Decoder).AString, "ab\r\ncd\r", true, 1},
		{"literal NUL", "{3}\r\na\x00b", (*imapwire.Decoder).AString, "", false, 1},
		{"literal8 outside APPEND", "~{3}\r\nabc", (*imapwire.Decoder).String, "", false, 0},
		{"literal not at end", "{3} x\r\nabc", (*imapwire.Decoder).AString, "", false, 0},
		{"list mailbox wildcards", `INBOX/*%`, (*imapwire.Decoder).ListMailbox, "INBOX/*%", true, 0},
		{"string rejects atom", `abc`, (*imapwire.Decoder).String, "", false, 0},
		{"flag system", `\Seen`, (*imapwire.Decoder).Flag, `\Seen`, true, 0},
		{"flag keyword", `$Forwarded`, (*imapwire.Decoder).Flag, `$Forwarded`, true, 0},
		{"flag bare backslash", `\`, (*imapwire.Decoder).Flag, "", false, 0},
		{"flag star", `\*`, (*imapwire.Decoder).Flag, "", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, src := decode(tt.in + "\r\n")
			got := tt.parse(d)
			if tt.ok {
				d.End()
				require.NoError(t, d.Err())
				assert.Equal(t, tt.want, got)
			} else {
				assert.Error(t, d.Err())
			}
			assert.Equal(t, tt.conts, src.conts, "continuation requests")
		})
	}
}

func TestNString(t *testing.T) {
	d, _ := decode("NIL \"x\" nil\r\n")
	s, ok := d.NString()
	assert.False(t, ok)
	assert.Empty(t, s)
	d.SP()
	s, ok = d.NString()
	assert.True(t, ok)
	assert.Equal(t, "x", s)
	d.SP()
	_, ok = d.NString()
	assert.False(t, ok)
	d.End()
	require.NoError(t, d.Err())
}

func TestLiteralThenArguments(t *testing.T) {
	d, src := decode("a LOGIN {5}\r\nalice {6+}\r\nsecret\r\nb NOOP\r\n")
	d.Tag()
	d.SP()
	d.Keyword()
	d.SP()
	user := d.AString()
	d.SP()
	pass := d.AString()
	d.End()
	require.NoError(t, d.Err())
	assert.Equal(t, "alice", user)
	assert.Equal(t, "secret", pass)
	assert.Equal(t, 1, src.conts)
	assert.Equal(t, "b NOOP\r\n", src.rest())
}

func TestFlagListAndNesting(t *testing.T) {
	d, _ := decode(`(\Seen $Junk \Flagged)` + "\r\n")
	assert.Equal(t, []string{`\Seen`, "$Junk", `\Flagged`}, d.FlagList())
	require.NoError(t, d.Err())

	d, _ = decode("()\r\n")
	assert.Empty(t, d.FlagList())
	require.NoError(t, d.Err())

	d, _ = decode("(a  b)\r\n")
	d.FlagList()
	assert.Error(t, d.Err())
}

// TestI3Nesting: long "(" or NOT/OR chains fail at the depth limit with
// bounded stack.
func TestI3Nesting(t *testing.T) {
	// The server's 64 KiB line limit stops longer chains before the
	// parser sees them; these fit in one line.
	deep := strings.Repeat("(", 30000) + "ALL" + strings.Repeat(")", 30000)
	for name, in := range map[string]string{
		"parens": deep,
		"NOT":    strings.Repeat("NOT ", 15000) + "ALL",
		"OR":     strings.Repeat("OR ALL ", 9000) + "ALL",
	} {
		t.Run(name, func(t *testing.T) {
			d, _ := decode(in + "\r\n")
			d.SearchKeys()
			var tb *imapwire.TooBigError
			require.ErrorAs(t, d.Err(), &tb)
			assert.True(t, tb.Nesting)
		})
	}
	t.Run("at the limit", func(t *testing.T) {
		in := strings.Repeat("NOT ", 99) + "ALL"
		d, _ := decode(in + "\r\n")
		d.SearchKeys()
		require.NoError(t, d.Err())
	})
	t.Run("fetch lists", func(t *testing.T) {
		d, _ := decode(strings.Repeat("(", 5000) + "\r\n")
		d.FlagList()
		assert.Error(t, d.Err())
	})
}

func TestDateTime(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{`"17-Jul-1996 02:44:25 -0700"`, "1996-07-17T02:44:25-07:00", true},
		{`" 7-Jul-1996 02:44:25 +0100"`, "1996-07-07T02:44:25+01:00", true},
		{`"07-jul-1996 02:44:25 +0000"`, "1996-07-07T02:44:25Z", true},
		{`"31-Feb-2020 00:00:00 +0000"`, "", false},
		{`"17-Jux-1996 02:44:25 -0700"`, "", false},
		{`"17-Jul-1996 24:44:25 -0700"`, "", false},
		{`"17-Jul-1996 02:44:25 0700"`, "", false},
		{`17-Jul-1996 02:44:25 -0700`, "", false},
		{`"7-Jul-1996 02:44:25 -0700"`, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			d, _ := decode(tt.in + "\r\n")
			got := d.DateTime()
			if !tt.ok {
				assert.Error(t, d.Err())
				return
			}
			require.NoError(t, d.Err())
			assert.Equal(t, tt.want, got.Format(time.RFC3339))
		})
	}
}

func TestDate(t *testing.T) {
	for in, want := range map[string]string{
		"1-Feb-1994":   "1994-02-01",
		"01-Feb-1994":  "1994-02-01",
		`"1-feb-1994"`: "1994-02-01",
		"29-Feb-2024":  "2024-02-29",
		"29-Feb-2023":  "",
		"1-Feb-94":     "",
		"123-Feb-1994": "",
		"Feb-1994":     "",
	} {
		t.Run(in, func(t *testing.T) {
			d, _ := decode(in + "\r\n")
			got := d.Date()
			d.End()
			if want == "" {
				assert.Error(t, d.Err())
				return
			}
			require.NoError(t, d.Err())
			assert.Equal(t, want, got.Format(time.DateOnly))
		})
	}
}

// TestI1HostileLiterals: absurd literal sizes before login are refused
// without a continuation request and without allocating their size.
func TestI1HostileLiterals(t *testing.T) {
	const preAuthMax = 8 << 10
	errTooBig := errors.New("too big")
	tests := []struct {
		in       string
		tooBig   bool // refused by the hook or a limit (vs a syntax error)
		unframed bool // the rest cannot be skipped: close
	}{
		{"a LOGIN {4294967296}\r\n", true, false},
		{"a LOGIN {2147483647}\r\n", true, false},
		{"a LOGIN {99999999999999999999}\r\n", false, false},
		{"a LOGIN {-1}\r\n", false, false},
		{"a LOGIN {}\r\n", false, false},
		{"a LOGIN {4294967296+}\r\n", true, true},
		{"a LOGIN {99999999999999999999+}\r\n", false, true},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSpace(tt.in), func(t *testing.T) {
			d, src := decode(tt.in + "b NOOP\r\n")
			var seen []imapwire.Literal
			d.CheckLiteral = func(l imapwire.Literal) error {
				seen = append(seen, l)
				if l.Size > preAuthMax {
					return errTooBig
				}
				return nil
			}
			d.Tag()
			d.SP()
			d.Keyword()
			d.SP()
			d.AString()
			require.Error(t, d.Err())
			if tt.tooBig {
				assert.True(t, errors.Is(d.Err(), errTooBig) || errors.As(d.Err(), new(*imapwire.TooBigError)), "err %v", d.Err())
			} else {
				assert.IsType(t, &imapwire.SyntaxError{}, d.Err())
			}
			assert.Zero(t, src.conts, "no continuation for a refused literal")
			err := d.Discard(1 << 20)
			if tt.unframed {
				assert.ErrorIs(t, err, imapwire.ErrUnframed)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "b NOOP\r\n", src.rest(), "the next command is intact")
		})
	}
	t.Run("{1+} is small enough", func(t *testing.T) {
		d, src := decode("a LOGIN {1+}\r\nx y\r\n")
		d.Tag()
		d.SP()
		d.Keyword()
		d.SP()
		assert.Equal(t, "x", d.AString())
		d.SP()
		assert.Equal(t, "y", d.AString())
		d.End()
		require.NoError(t, d.Err())
		assert.Zero(t, src.conts)
	})
}

// TestI2NonSyncLiteralDiscarded: the bytes of a refused non-synchronizing
// literal are consumed, never run as commands.
func TestI2NonSyncLiteralDiscarded(t *testing.T) {
	payload := strings.Repeat("c LOGOUT\r\n", 600) // 6000 bytes that look like commands
	in := "a APPEND INBOX {6000+}\r\n" + payload + " more {3+}\r\nxyz\r\nb NOOP\r\n"
	d, src := decode(in)
	d.CheckLiteral = func(l imapwire.Literal) error {
		if l.NonSync && l.Size > 4096 {
			return &imapwire.TooBigError{Msg: "LITERAL- limit"}
		}
		return nil
	}
	d.Tag()
	d.SP()
	d.Keyword()
	d.SP()
	d.AString()
	d.SP()
	d.MessageLiteral()
	require.Error(t, d.Err())
	require.NoError(t, d.Discard(1<<20))
	assert.Equal(t, "b NOOP\r\n", src.rest())
}

func TestDiscardStopsAtSyncLiteral(t *testing.T) {
	d, src := decode("a FOO bar {5}\r\nb NOOP\r\n")
	d.Tag()
	d.SP()
	d.Keyword()
	d.Fail(errors.New("unknown command"))
	require.NoError(t, d.Discard(1<<20))
	assert.Equal(t, "b NOOP\r\n", src.rest())
}

func TestDiscardLimit(t *testing.T) {
	d, _ := decode("a FOO {2000000+}\r\n")
	d.Tag()
	d.Fail(errors.New("no"))
	assert.ErrorIs(t, d.Discard(1<<20), imapwire.ErrUnframed)
}

// TestI4ManyLiterals: more than 1000 literals, or more than 1 MiB outside
// APPEND, fail with TooBigError at the bound.
func TestI4ManyLiterals(t *testing.T) {
	t.Run("literal count", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("a SEARCH")
		for range 10000 {
			b.WriteString(" TEXT {1+}\r\nx")
		}
		b.WriteString("\r\n")
		d, _ := decode(b.String())
		d.Tag()
		d.SP()
		d.Keyword()
		d.SP()
		d.SearchKeys()
		var tb *imapwire.TooBigError
		require.ErrorAs(t, d.Err(), &tb)
		assert.Contains(t, tb.Msg, "literals")
	})
	t.Run("command size", func(t *testing.T) {
		in := "a SEARCH TEXT {2000000}\r\n"
		d, src := decode(in)
		d.Tag()
		d.SP()
		d.Keyword()
		d.SP()
		d.SearchKeys()
		var tb *imapwire.TooBigError
		require.ErrorAs(t, d.Err(), &tb)
		assert.Zero(t, src.conts)
	})
	t.Run("many lines", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("a SEARCH")
		for range 40 {
			b.WriteString(" TEXT {1+}\r\n" + strings.Repeat("x", 1) + " TEXT " + strings.Repeat("y", 60000))
		}
		b.WriteString("\r\n")
		d, _ := decode(b.String())
		d.Tag()
		d.SP()
		d.Keyword()
		d.SP()
		d.SearchKeys()
		var tb *imapwire.TooBigError
		require.ErrorAs(t, d.Err(), &tb)
	})
}

func TestCheckLiteralBeforeContinue(t *testing.T) {
	d, src := decode("a LOGIN {3}\r\nabc x\r\n")
	var order []string
	d.CheckLiteral = func(imapwire.Literal) error { order = append(order, "check"); return nil }
	d.Continue = func() error { order = append(order, "continue"); src.conts++; return nil }
	d.Tag()
	d.SP()
	d.Keyword()
	d.SP()
	d.AString()
	require.NoError(t, d.Err())
	assert.Equal(t, []string{"check", "continue"}, order)
}

func TestMessageLiteral(t *testing.T) {
	for name, wrap := range map[string]func(io.Reader) io.Reader{
		"plain":    func(r io.Reader) io.Reader { return r },
		"one byte": iotest.OneByteReader,
		"half":     iotest.HalfReader,
		"data err": iotest.DataErrReader,
	} {
		t.Run(name, func(t *testing.T) {
			in := "a APPEND INBOX (\\Seen) {12}\r\nhello\r\nworld ~{3+}\r\nb\x00c\r\nb NOOP\r\n"
			d, src := decodeFrom(wrap(strings.NewReader(in)))
			var lits []imapwire.Literal
			d.CheckLiteral = func(l imapwire.Literal) error { lits = append(lits, l); return nil }
			d.Tag()
			d.SP()
			d.Keyword()
			d.SP()
			assert.Equal(t, "INBOX", d.AString())
			d.SP()
			assert.Equal(t, []string{`\Seen`}, d.FlagList())
			d.SP()
			r := d.MessageLiteral()
			require.NoError(t, d.Err())
			body, err := io.ReadAll(r)
			require.NoError(t, err)
			assert.Equal(t, "hello\r\nworld", string(body))
			d.EndLiteral()
			d.SP()
			r = d.MessageLiteral()
			require.NoError(t, d.Err())
			assert.True(t, r.Binary)
			buf := make([]byte, 1)
			_, err = io.ReadFull(r, buf) // read only part: EndLiteral drains
			require.NoError(t, err)
			d.EndLiteral()
			d.End()
			require.NoError(t, d.Err())
			assert.Equal(t, 1, src.conts)
			require.Len(t, lits, 2)
			assert.Equal(t, imapwire.Literal{Size: 12, Message: true}, lits[0])
			assert.Equal(t, imapwire.Literal{Size: 3, NonSync: true, Binary: true, Message: true}, lits[1])
			assert.Equal(t, "b NOOP\r\n", src.rest())
		})
	}
}

func TestMessageLiteralTruncated(t *testing.T) {
	d, _ := decode("a APPEND INBOX {100}\r\nshort")
	d.Tag()
	d.SP()
	d.Keyword()
	d.SP()
	d.AString()
	d.SP()
	r := d.MessageLiteral()
	_, err := io.ReadAll(r)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	d.EndLiteral()
	assert.Error(t, d.Err())
}

func TestAwkwardReaders(t *testing.T) {
	in := "a LOGIN {5}\r\nalice \"pass word\"\r\n"
	for name, wrap := range map[string]func(io.Reader) io.Reader{
		"one byte": iotest.OneByteReader,
		"half":     iotest.HalfReader,
		"data err": iotest.DataErrReader,
	} {
		t.Run(name, func(t *testing.T) {
			d, _ := decodeFrom(wrap(strings.NewReader(in)))
			d.Tag()
			d.SP()
			d.Keyword()
			d.SP()
			u := d.AString()
			d.SP()
			p := d.AString()
			d.End()
			require.NoError(t, d.Err())
			assert.Equal(t, "alice", u)
			assert.Equal(t, "pass word", p)
		})
	}
}

func TestStickyError(t *testing.T) {
	d, _ := decode("a b c\r\n")
	d.Number()
	err := d.Err()
	require.Error(t, err)
	assert.Empty(t, d.Atom())
	assert.Empty(t, d.AString())
	assert.Zero(t, d.Number())
	d.SP()
	d.End()
	assert.Same(t, err, d.Err())
}

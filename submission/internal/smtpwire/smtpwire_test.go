package smtpwire_test

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/internal/wire"
	"github.com/mailfront/mailfront/submission/internal/smtpwire"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		line, verb, arg string
		err             error
	}{
		{line: "EHLO client.example", verb: "EHLO", arg: "client.example"},
		{line: "ehlo   client.example  ", verb: "EHLO", arg: "client.example"},
		{line: "QUIT", verb: "QUIT"},
		{line: "quit ", verb: "QUIT"},
		{line: "MAIL FROM:<a@b> SIZE=10", verb: "MAIL", arg: "FROM:<a@b> SIZE=10"},
		{line: "StartTLS", verb: "STARTTLS"},
		{line: "XUNKNOWN x", verb: "XUNKNOWN", arg: "x"},
		{line: "", err: smtpwire.ErrInvalidCommand},
		{line: " EHLO x", err: smtpwire.ErrInvalidCommand},
		{line: "EH1O x", err: smtpwire.ErrInvalidCommand},
		{line: "EHLO x\ry", err: smtpwire.ErrInvalidCommand},
		{line: "EHLO \x00", err: smtpwire.ErrInvalidCommand},
		{line: strings.Repeat("A", 17), err: smtpwire.ErrInvalidCommand},
		{line: "GET / HTTP/1.1", verb: "GET", arg: "/ HTTP/1.1"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			verb, arg, err := smtpwire.ParseCommand([]byte(tt.line))
			if tt.err != nil {
				assert.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.verb, verb)
			assert.Equal(t, tt.arg, arg)
		})
	}
}

func TestParseMailArg(t *testing.T) {
	tests := []struct {
		name, arg, keyword string
		addr, domain       string
		utf8               bool
		params             []smtpwire.Param
		err                error
	}{
		{name: "simple", arg: "FROM:<alice@example.org>", keyword: "FROM", addr: "alice@example.org", domain: "example.org"},
		{name: "lower keyword", arg: "from:<alice@example.org>", keyword: "FROM", addr: "alice@example.org", domain: "example.org"},
		{name: "space after colon", arg: "FROM: <alice@example.org>", keyword: "FROM", addr: "alice@example.org", domain: "example.org"},
		{name: "null", arg: "FROM:<>", keyword: "FROM"},
		{name: "params", arg: "FROM:<a@b.example> SIZE=100 BODY=8BITMIME SMTPUTF8", keyword: "FROM", addr: "a@b.example", domain: "b.example",
			params: []smtpwire.Param{{Key: "SIZE", Value: "100", HasValue: true}, {Key: "BODY", Value: "8BITMIME", HasValue: true}, {Key: "SMTPUTF8"}}},
		{name: "source route", arg: "TO:<@relay.example,@b.example:bob@c.example>", keyword: "TO", addr: "bob@c.example", domain: "c.example"},
		{name: "postmaster", arg: "TO:<Postmaster>", keyword: "TO", addr: "Postmaster"},
		{name: "quoted", arg: `TO:<"john doe"@example.org>`, keyword: "TO", addr: `"john doe"@example.org`, domain: "example.org"},
		{name: "quoted with bracket", arg: `TO:<"a>b"@example.org>`, keyword: "TO", addr: `"a>b"@example.org`, domain: "example.org"},
		{name: "literal", arg: "TO:<x@[192.0.2.1]>", keyword: "TO", addr: "x@[192.0.2.1]", domain: "[192.0.2.1]"},
		{name: "ipv6 literal", arg: "TO:<x@[IPv6:2001:db8::1]>", keyword: "TO", addr: "x@[IPv6:2001:db8::1]", domain: "[IPv6:2001:db8::1]"},
		{name: "utf8", arg: "TO:<用户@例子.广告>", keyword: "TO", addr: "用户@例子.广告", domain: "例子.广告", utf8: true},
		{name: "wrong keyword", arg: "TO:<a@b>", keyword: "FROM", err: smtpwire.ErrSyntax},
		{name: "no colon", arg: "FROM <a@b>", keyword: "FROM", err: smtpwire.ErrSyntax},
		{name: "no brackets", arg: "FROM:a@b", keyword: "FROM", err: smtpwire.ErrAddress},
		{name: "unclosed", arg: "FROM:<a@b", keyword: "FROM", err: smtpwire.ErrAddress},
		{name: "no domain", arg: "FROM:<alice>", keyword: "FROM", err: smtpwire.ErrAddress},
		{name: "empty local", arg: "FROM:<@b.example>", keyword: "FROM", err: smtpwire.ErrAddress},
		{name: "double dot", arg: "FROM:<a..b@example.org>", keyword: "FROM", err: smtpwire.ErrAddress},
		{name: "bad domain", arg: "FROM:<a@-x.example>", keyword: "FROM", err: smtpwire.ErrAddress},
		{name: "space in address", arg: "FROM:<a b@example.org>", keyword: "FROM", err: smtpwire.ErrAddress},
		{name: "glued param", arg: "FROM:<a@b.example>SIZE=1", keyword: "FROM", err: smtpwire.ErrSyntax},
		{name: "bad param", arg: "FROM:<a@b.example> =1", keyword: "FROM", err: smtpwire.ErrParam},
		{name: "duplicate param", arg: "FROM:<a@b.example> SIZE=1 size=2", keyword: "FROM", err: smtpwire.ErrDuplicateParam},
		{name: "local too long", arg: "FROM:<" + strings.Repeat("a", 65) + "@b.example>", keyword: "FROM", err: smtpwire.ErrAddressTooLong},
		{name: "path too long", arg: "FROM:<a@" + strings.Repeat("b.", 130) + "example>", keyword: "FROM", err: smtpwire.ErrAddressTooLong},
		{name: "invalid utf8", arg: "FROM:<a\xff@b.example>", keyword: "FROM", err: smtpwire.ErrAddress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, params, err := smtpwire.ParseMailArg(tt.arg, tt.keyword)
			if tt.err != nil {
				assert.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.addr, p.Addr)
			assert.Equal(t, tt.domain, p.Domain)
			assert.Equal(t, tt.utf8, p.UTF8)
			assert.Equal(t, tt.params, params)
		})
	}
}

func TestXtext(t *testing.T) {
	got, err := smtpwire.DecodeXtext("a+2Bb+3dc")
	require.NoError(t, err)
	assert.Equal(t, "a+b=c", got)
	for _, bad := range []string{"a+", "a+2", "a+zz", "a=b", "a b", "\x01"} {
		_, err := smtpwire.DecodeXtext(bad)
		assert.Error(t, err, bad)
	}
	got, err = smtpwire.DecodeORCPT("rfc822;bob+40example.org")
	require.NoError(t, err)
	assert.Equal(t, "rfc822;bob@example.org", got)
	got, err = smtpwire.DecodeORCPT(`utf-8;\x{7528}\x{6237}@example.org`)
	require.NoError(t, err)
	assert.Equal(t, "utf-8;用户@example.org", got)
	for _, bad := range []string{"rfc822", ";a", "rfc822;", `utf-8;\x{}@a`, `utf-8;\x{110000}@a`, `utf-8;\y`} {
		_, err := smtpwire.DecodeORCPT(bad)
		assert.Error(t, err, bad)
	}
}

func TestParseBDAT(t *testing.T) {
	tests := []struct {
		arg  string
		size int64
		last bool
		err  bool
	}{
		{arg: "100", size: 100},
		{arg: "0 LAST", size: 0, last: true},
		{arg: "5 last", size: 5, last: true},
		{arg: "99999999999", size: 99999999999},
		{arg: "999999999999999999999999", size: 1<<63 - 1},
		{arg: "", err: true},
		{arg: "-1", err: true},
		{arg: "abc", err: true},
		{arg: "1 FIRST", err: true},
		{arg: "1 LAST x", err: true},
	}
	for _, tt := range tests {
		size, last, err := smtpwire.ParseBDAT(tt.arg)
		if tt.err {
			assert.Error(t, err, tt.arg)
			continue
		}
		require.NoError(t, err, tt.arg)
		assert.Equal(t, tt.size, size, tt.arg)
		assert.Equal(t, tt.last, last, tt.arg)
	}
}

func TestValidHelo(t *testing.T) {
	for _, ok := range []string{"client.example", "DESKTOP-AB_12", "[192.0.2.1]", "[IPv6:::1]", "localhost"} {
		assert.True(t, smtpwire.ValidHelo(ok), ok)
	}
	for _, bad := range []string{"", "a b", "x;y", "a\r\nReceived: x", "[300.1.1.1]", "[IPv6:nope]", strings.Repeat("a", 256), "é.example"} {
		assert.False(t, smtpwire.ValidHelo(bad), bad)
	}
}

func TestLineEndingReader(t *testing.T) {
	tests := []struct {
		in, want  string
		normalize bool
		err       error
	}{
		{in: "a\r\nb\r\n", want: "a\r\nb\r\n"},
		{in: "a\nb", err: wire.ErrBareLineEnding},
		{in: "a\rb", err: wire.ErrBareLineEnding},
		{in: "a\r", err: wire.ErrBareLineEnding},
		{in: "a\nb\rc\r", want: "a\r\nb\r\nc\r\n", normalize: true},
		{in: "\r\r\n\n", want: "\r\n\r\n\r\n", normalize: true},
	}
	for _, tt := range tests {
		for name, wrap := range map[string]func(io.Reader) io.Reader{"whole": func(r io.Reader) io.Reader { return r }, "onebyte": iotest.OneByteReader, "half": iotest.HalfReader} {
			got, err := io.ReadAll(smtpwire.NewLineEndingReader(wrap(strings.NewReader(tt.in)), tt.normalize))
			if tt.err != nil {
				assert.ErrorIs(t, err, tt.err, "%q %s", tt.in, name)
				continue
			}
			require.NoError(t, err, "%q %s", tt.in, name)
			assert.Equal(t, tt.want, string(got), "%q %s", tt.in, name)
		}
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"EHLO x", "MAIL FROM:<a@b> SIZE=1", "AUTH PLAIN AGFAYg==", "bdat 10 last", "\x00", "QUIT "} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		verb, arg, err := smtpwire.ParseCommand(line)
		if err != nil {
			return
		}
		if verb == "" || len(verb) > 16 || strings.ToUpper(verb) != verb {
			t.Fatalf("bad verb %q", verb)
		}
		if strings.ContainsAny(arg, "\r\n\x00") || strings.TrimSpace(arg) != arg && strings.Trim(arg, " \t") != arg {
			t.Fatalf("bad arg %q", arg)
		}
		if verb == "BDAT" {
			if n, _, err := smtpwire.ParseBDAT(arg); err == nil && n < 0 {
				t.Fatalf("negative BDAT size %d", n)
			}
		}
	})
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"FROM:<a@b.example>", "TO:<@x,@y:a@b>", `TO:<"q\"x"@b>`, "FROM:<>", "TO:<Postmaster>", "TO:<a@[IPv6:::1]> NOTIFY=NEVER", "FROM:<ü@例.example> SMTPUTF8"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		for _, kw := range []string{"FROM", "TO"} {
			p, _, err := smtpwire.ParseMailArg(arg, kw)
			if err != nil {
				continue
			}
			if len(p.Addr) > 254 {
				t.Fatalf("address of %d octets accepted", len(p.Addr))
			}
			if strings.ContainsAny(p.Addr, "\r\n\x00<> ") && !strings.Contains(p.Addr, `"`) {
				t.Fatalf("unsafe address %q", p.Addr)
			}
			if strings.ContainsAny(p.Addr, "\r\n") || !utf8.ValidString(p.Addr) {
				t.Fatalf("unsafe address %q", p.Addr)
			}
			if p.UTF8 != (strings.IndexFunc(p.Addr, func(r rune) bool { return r >= 0x80 }) >= 0) {
				t.Fatalf("UTF8 flag wrong for %q", p.Addr)
			}
		}
	})
}

func FuzzParseParams(f *testing.F) {
	for _, s := range []string{"SIZE=1 BODY=8BITMIME", "ENVID=a+2Bb RET=HDRS", "NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+40b", "X=ü", "=", "A=B=C"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		params, err := smtpwire.ParseParams(s)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, p := range params {
			if seen[p.Key] {
				t.Fatalf("duplicate %q accepted", p.Key)
			}
			seen[p.Key] = true
			if p.Key == "" || strings.ToUpper(p.Key) != p.Key || strings.ContainsAny(p.Key+p.Value, " \t\r\n=\x00") || (p.HasValue && p.Value == "") {
				t.Fatalf("bad param %+v", p)
			}
			if dec, err := smtpwire.DecodeXtext(p.Value); err == nil && len(dec) > len(p.Value) {
				t.Fatalf("xtext grew: %q -> %q", p.Value, dec)
			}
			smtpwire.DecodeORCPT(p.Value)
		}
	})
}

func FuzzLineEndingReader(f *testing.F) {
	for _, s := range []string{"a\r\nb", "a\nb\rc\r", "\r\r\n\n"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, in string, normalize bool) {
		got, err := io.ReadAll(smtpwire.NewLineEndingReader(iotest.HalfReader(strings.NewReader(in)), normalize))
		if err != nil {
			if normalize {
				t.Fatalf("normalize failed: %v", err)
			}
			return
		}
		for i := 0; i < len(got); i++ {
			if got[i] == '\n' && (i == 0 || got[i-1] != '\r') || got[i] == '\r' && (i+1 == len(got) || got[i+1] != '\n') {
				t.Fatalf("bare line ending at %d in %q", i, got)
			}
		}
		if !normalize && !bytes.Equal(got, []byte(in)) {
			t.Fatalf("clean input changed: %q -> %q", in, got)
		}
	})
}

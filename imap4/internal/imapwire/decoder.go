package imapwire

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Default limits of a [Decoder] (ADVERSARIAL.md "Recommended defaults").
const (
	// DefaultMaxCommandSize bounds a command's lines and buffered literals
	// together: 1 MiB (mox).
	DefaultMaxCommandSize = 1 << 20
	// DefaultMaxLiterals bounds the literals of one command (mox).
	DefaultMaxLiterals = 1000
	// DefaultMaxDepth bounds the nesting of parenthesised lists and of
	// SEARCH's NOT and OR (dovecot/core PR #283).
	DefaultMaxDepth = 100
)

// A Source supplies the lines after the first and the literal bytes of a
// command.
type Source interface {
	// ReadLine returns the next line without its line ending. The slice is
	// valid until the next call of ReadLine or Read. The source bounds the
	// line's length.
	ReadLine() ([]byte, error)
	// Read reads literal bytes.
	Read(p []byte) (int, error)
}

// A SyntaxError is a command that does not follow the grammar; the server
// answers BAD.
type SyntaxError struct {
	Msg string
}

func (e *SyntaxError) Error() string { return e.Msg }

// A TooBigError is a command that exceeds one of the Decoder's limits: its
// total size, its number of literals or its nesting depth. The server
// answers "NO [TOOBIG]" (BAD for nesting, which is a grammar matter).
type TooBigError struct {
	Msg string
	// Nesting reports a nesting-depth violation.
	Nesting bool
}

func (e *TooBigError) Error() string { return e.Msg }

// ErrUnframed is returned by [Decoder.Discard] when the rest of a rejected
// command cannot be skipped safely (a non-synchronizing literal too large
// to discard, or one whose size cannot be read): the server must close the
// connection, or the literal's bytes would be read as commands.
var ErrUnframed = errors.New("imapwire: cannot skip the rest of the command")

// A Literal describes a literal before its bytes are read; see
// [Decoder.CheckLiteral].
type Literal struct {
	// Size is the announced size in octets.
	Size int64
	// NonSync reports a non-synchronizing literal ({n+}, RFC 7888): its
	// bytes follow without a continuation request.
	NonSync bool
	// Binary reports a literal8 (~{n}, RFC 3516).
	Binary bool
	// Message reports the message literal of APPEND, which is streamed
	// ([Decoder.MessageLiteral]) and does not count towards the command
	// size.
	Message bool
}

// A Decoder parses one command at a time. Its methods are named after the
// grammar of RFC 9051 §9. Errors are sticky: after the first one, every
// method returns a zero value and [Decoder.Err] reports it. The zero value
// is not usable; call [Decoder.Reset] first.
type Decoder struct {
	// CheckLiteral, when set, is called for every literal before it is
	// accepted and before any continuation request is sent; a non-nil
	// error fails the command with that error. It is where the server
	// applies per-state literal limits and APPENDLIMIT.
	CheckLiteral func(Literal) error
	// Continue sends the continuation request ("+ ...") for a
	// synchronizing literal and flushes it.
	Continue func() error
	// MaxCommandSize bounds the lines and buffered literals of a command;
	// <= 0 means DefaultMaxCommandSize.
	MaxCommandSize int64
	// MaxLiterals bounds the literals of a command; <= 0 means
	// DefaultMaxLiterals.
	MaxLiterals int
	// MaxDepth bounds nesting; <= 0 means DefaultMaxDepth.
	MaxDepth int

	src      Source
	line     []byte
	err      error
	depth    int
	literals int
	size     int64
	pending  int64 // bytes of a refused non-synchronizing literal still to come; -1 none
	stream   *LiteralReader
}

// Reset prepares the decoder for a new command whose first line is line
// (without its line ending). Further lines and literal bytes come from src.
// The hooks and limits are kept.
func (d *Decoder) Reset(line []byte, src Source) {
	d.src = src
	d.line = line
	d.err = nil
	d.depth = 0
	d.literals = 0
	d.size = int64(len(line)) + 2
	d.pending = -1
	d.stream = nil
}

func (d *Decoder) maxCommandSize() int64 {
	if d.MaxCommandSize <= 0 {
		return DefaultMaxCommandSize
	}
	return d.MaxCommandSize
}

func (d *Decoder) maxLiterals() int {
	if d.MaxLiterals <= 0 {
		return DefaultMaxLiterals
	}
	return d.MaxLiterals
}

func (d *Decoder) maxDepth() int {
	if d.MaxDepth <= 0 {
		return DefaultMaxDepth
	}
	return d.MaxDepth
}

// Err returns the first error met, or nil.
func (d *Decoder) Err() error { return d.err }

// Fail records err as the decoder's error unless it already has one.
func (d *Decoder) Fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// Failf records a [SyntaxError].
func (d *Decoder) Failf(format string, args ...any) {
	d.Fail(&SyntaxError{Msg: fmt.Sprintf(format, args...)})
}

// Peek returns the next byte of the current line without consuming it, or
// 0 at the end of the line or after an error.
func (d *Decoder) Peek() byte {
	if d.err != nil || len(d.line) == 0 {
		return 0
	}
	return d.line[0]
}

// PeekString reports whether the current line continues with s, compared
// case-insensitively.
func (d *Decoder) PeekString(s string) bool {
	return d.err == nil && len(d.line) >= len(s) && strings.EqualFold(string(d.line[:len(s)]), s)
}

// AtEnd reports whether the command has been read entirely (or an error
// happened).
func (d *Decoder) AtEnd() bool { return d.err != nil || len(d.line) == 0 }

// Accept consumes c if it is the next byte and reports whether it did.
func (d *Decoder) Accept(c byte) bool {
	if d.err != nil || len(d.line) == 0 || d.line[0] != c {
		return false
	}
	d.line = d.line[1:]
	return true
}

// Expect consumes c or fails.
func (d *Decoder) Expect(c byte) {
	if d.err != nil {
		return
	}
	if !d.Accept(c) {
		d.Failf("expected %q", c)
	}
}

// SP consumes one space.
func (d *Decoder) SP() {
	if d.err != nil {
		return
	}
	if !d.Accept(' ') {
		d.Failf("expected a space")
	}
}

// End checks that the command has no more arguments.
func (d *Decoder) End() {
	if d.err != nil {
		return
	}
	if len(d.line) != 0 {
		d.Failf("unexpected characters at the end of the command")
	}
}

// Character classes of RFC 9051 §9.
const (
	cAtom    = 1 << iota // ATOM-CHAR
	cAString             // ASTRING-CHAR: ATOM-CHAR / "]", and 8-bit (UTF-8)
	cList                // list-char: ATOM-CHAR / "%" / "*" / "]", and 8-bit
	cTag                 // tag: ASTRING-CHAR except "+", no 8-bit
)

var charClass = func() (t [256]uint8) {
	for c := 0x21; c < 0x7f; c++ {
		switch c {
		case '(', ')', '{', '%', '*', '"', '\\', ']':
		default:
			t[c] = cAtom | cAString | cList | cTag
		}
	}
	t[']'] = cAString | cList | cTag
	t['%'] = cList
	t['*'] = cList
	t['+'] &^= cTag
	for c := 0x80; c < 0x100; c++ {
		t[c] = cAString | cList
	}
	return t
}()

// run consumes and returns the longest run of bytes of class cls.
func (d *Decoder) run(cls uint8) []byte {
	i := 0
	for i < len(d.line) && charClass[d.line[i]]&cls != 0 {
		i++
	}
	b := d.line[:i]
	d.line = d.line[i:]
	return b
}

// Tag reads a command tag: 1*<ASTRING-CHAR except "+">.
func (d *Decoder) Tag() string {
	if d.err != nil {
		return ""
	}
	b := d.run(cTag)
	if len(b) == 0 {
		d.Failf("missing or invalid tag")
		return ""
	}
	return string(b)
}

// Atom reads an atom.
func (d *Decoder) Atom() string {
	if d.err != nil {
		return ""
	}
	b := d.run(cAtom)
	if len(b) == 0 {
		d.Failf("expected an atom")
		return ""
	}
	return string(b)
}

// Keyword reads an atom and returns it in upper case (command names,
// search keys, options).
func (d *Decoder) Keyword() string {
	if d.err != nil {
		return ""
	}
	b := d.run(cAtom)
	if len(b) == 0 {
		d.Failf("expected a keyword")
		return ""
	}
	return upperASCII(b)
}

func upperASCII(b []byte) string {
	for _, c := range b {
		if 'a' <= c && c <= 'z' {
			u := make([]byte, len(b))
			for i, c := range b {
				if 'a' <= c && c <= 'z' {
					c -= 'a' - 'A'
				}
				u[i] = c
			}
			return string(u)
		}
	}
	return string(b)
}

// Number reads a number: 1*DIGIT fitting 32 bits.
func (d *Decoder) Number() uint32 {
	n := d.number(1<<32 - 1)
	return uint32(n)
}

// NzNumber reads a non-zero number.
func (d *Decoder) NzNumber() uint32 {
	if d.err != nil {
		return 0
	}
	n := d.Number()
	if n == 0 && d.err == nil {
		d.Failf("expected a non-zero number")
	}
	return n
}

// Number64 reads a number64 (up to 2^63-1, RFC 9051) or a mod-sequence
// value.
func (d *Decoder) Number64() uint64 {
	return d.number(1<<63 - 1)
}

func (d *Decoder) number(max uint64) uint64 {
	if d.err != nil {
		return 0
	}
	i := 0
	var n uint64
	for i < len(d.line) && '0' <= d.line[i] && d.line[i] <= '9' {
		digit := uint64(d.line[i] - '0')
		if n > (max-digit)/10 {
			d.Failf("number too large")
			return 0
		}
		n = n*10 + digit
		i++
	}
	if i == 0 {
		d.Failf("expected a number")
		return 0
	}
	d.line = d.line[i:]
	return n
}

// Quoted reads a quoted string.
func (d *Decoder) Quoted() string {
	if d.err != nil {
		return ""
	}
	if !d.Accept('"') {
		d.Failf("expected a quoted string")
		return ""
	}
	// Fast path: no escapes.
	for i := 0; i < len(d.line); i++ {
		switch c := d.line[i]; c {
		case '"':
			s := string(d.line[:i])
			d.line = d.line[i+1:]
			return s
		case '\\':
			return d.quotedSlow()
		case 0:
			d.Failf("NUL in quoted string")
			return ""
		}
	}
	d.Failf("unterminated quoted string")
	return ""
}

func (d *Decoder) quotedSlow() string {
	var sb strings.Builder
	for i := 0; i < len(d.line); i++ {
		c := d.line[i]
		switch c {
		case '"':
			d.line = d.line[i+1:]
			return sb.String()
		case '\\':
			i++
			if i == len(d.line) || (d.line[i] != '"' && d.line[i] != '\\') {
				d.Failf("invalid escape in quoted string")
				return ""
			}
			sb.WriteByte(d.line[i])
		case 0:
			d.Failf("NUL in quoted string")
			return ""
		default:
			sb.WriteByte(c)
		}
	}
	d.Failf("unterminated quoted string")
	return ""
}

// String reads a string: quoted or literal.
func (d *Decoder) String() string {
	if d.err != nil {
		return ""
	}
	switch d.Peek() {
	case '"':
		return d.Quoted()
	case '{':
		return string(d.literal())
	}
	d.Failf("expected a string")
	return ""
}

// AString reads an astring: 1*ASTRING-CHAR or a string.
func (d *Decoder) AString() string {
	if d.err != nil {
		return ""
	}
	switch d.Peek() {
	case '"', '{':
		return d.String()
	}
	b := d.run(cAString)
	if len(b) == 0 {
		d.Failf("expected an astring")
		return ""
	}
	return string(b)
}

// NString reads an nstring: a string or NIL (ok false).
func (d *Decoder) NString() (s string, ok bool) {
	if d.err != nil {
		return "", false
	}
	switch d.Peek() {
	case '"', '{':
		return d.String(), true
	}
	if d.PeekString("NIL") {
		d.line = d.line[3:]
		return "", false
	}
	d.Failf("expected a string or NIL")
	return "", false
}

// ListMailbox reads a list-mailbox: 1*list-char or a string.
func (d *Decoder) ListMailbox() string {
	if d.err != nil {
		return ""
	}
	switch d.Peek() {
	case '"', '{':
		return d.String()
	}
	b := d.run(cList)
	if len(b) == 0 {
		d.Failf("expected a mailbox pattern")
		return ""
	}
	return string(b)
}

// Flag reads a flag: "\" atom (a system flag or flag-extension) or a
// keyword atom.
func (d *Decoder) Flag() string {
	if d.err != nil {
		return ""
	}
	if d.Accept('\\') {
		b := d.run(cAtom)
		if len(b) == 0 {
			d.Failf("invalid flag")
			return ""
		}
		return `\` + string(b)
	}
	return d.Atom()
}

// FlagList reads "(" [flag *(SP flag)] ")".
func (d *Decoder) FlagList() []string {
	var flags []string
	d.List(func() { flags = append(flags, d.Flag()) })
	return flags
}

// List reads a parenthesised, space-separated list, calling each for every
// element; each must consume exactly one element. The nesting depth is
// bounded.
func (d *Decoder) List(each func()) {
	if d.err != nil {
		return
	}
	d.Expect('(')
	if !d.Enter() {
		return
	}
	defer d.Leave()
	if d.Accept(')') {
		return
	}
	for d.err == nil {
		each()
		if d.Accept(')') {
			return
		}
		d.SP()
	}
}

// Enter records one more level of nesting and reports false, failing with
// a [TooBigError], past the limit. Each successful Enter must be paired
// with Leave.
func (d *Decoder) Enter() bool {
	if d.err != nil {
		return false
	}
	if d.depth >= d.maxDepth() {
		d.Fail(&TooBigError{Msg: "too deeply nested", Nesting: true})
		return false
	}
	d.depth++
	return true
}

// Leave ends a level of nesting started by Enter.
func (d *Decoder) Leave() { d.depth-- }

var months = [12]string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}

func (d *Decoder) digits(n int) int {
	if d.err != nil {
		return 0
	}
	if len(d.line) < n {
		d.Failf("invalid date")
		return 0
	}
	v := 0
	for i := 0; i < n; i++ {
		c := d.line[i]
		if c < '0' || c > '9' {
			d.Failf("invalid date")
			return 0
		}
		v = v*10 + int(c-'0')
	}
	d.line = d.line[n:]
	return v
}

func (d *Decoder) month() time.Month {
	if d.err != nil {
		return 0
	}
	if len(d.line) >= 3 {
		for i, m := range months {
			if strings.EqualFold(string(d.line[:3]), m) {
				d.line = d.line[3:]
				return time.Month(i + 1)
			}
		}
	}
	d.Failf("invalid month")
	return 0
}

// DateTime reads a date-time: DQUOTE date-day-fixed "-" date-month "-"
// date-year SP time SP zone DQUOTE.
func (d *Decoder) DateTime() time.Time {
	if d.err != nil {
		return time.Time{}
	}
	d.Expect('"')
	var day int
	if d.Accept(' ') {
		day = d.digits(1)
	} else {
		day = d.digits(2)
	}
	d.Expect('-')
	mon := d.month()
	d.Expect('-')
	year := d.digits(4)
	d.SP()
	hh := d.digits(2)
	d.Expect(':')
	mm := d.digits(2)
	d.Expect(':')
	ss := d.digits(2)
	d.SP()
	sign := 0
	switch {
	case d.Accept('+'):
		sign = 1
	case d.Accept('-'):
		sign = -1
	default:
		d.Failf("invalid zone")
	}
	zh := d.digits(2)
	zm := d.digits(2)
	d.Expect('"')
	if d.err != nil {
		return time.Time{}
	}
	if day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 || zm > 59 {
		d.Failf("invalid date-time")
		return time.Time{}
	}
	off := sign * (zh*3600 + zm*60)
	t := time.Date(year, mon, day, hh, mm, ss, 0, time.FixedZone("", off))
	if t.Day() != day {
		d.Failf("invalid date-time")
		return time.Time{}
	}
	return t
}

// Date reads a search date: date-text or DQUOTE date-text DQUOTE, where
// date-text is date-day "-" date-month "-" date-year. The result is
// midnight UTC of that day.
func (d *Decoder) Date() time.Time {
	if d.err != nil {
		return time.Time{}
	}
	quoted := d.Accept('"')
	day := 0
	n := 0
	for n < 2 && len(d.line) > 0 && '0' <= d.line[0] && d.line[0] <= '9' {
		day = day*10 + int(d.line[0]-'0')
		d.line = d.line[1:]
		n++
	}
	if n == 0 {
		d.Failf("invalid date")
		return time.Time{}
	}
	d.Expect('-')
	mon := d.month()
	d.Expect('-')
	year := d.digits(4)
	if quoted {
		d.Expect('"')
	}
	if d.err != nil {
		return time.Time{}
	}
	t := time.Date(year, mon, day, 0, 0, 0, 0, time.UTC)
	if day < 1 || t.Day() != day {
		d.Failf("invalid date")
		return time.Time{}
	}
	return t
}

package imapwire

import (
	"io"
)

// maxLiteralDigits bounds the digits of a literal's size: number64 has at
// most 19.
const maxLiteralDigits = 19

// parseLiteralHeader parses "{n}", "{n+}", "~{n}" or "~{n+}" at the start
// of b. It returns the literal, the header's length, and ok.
func parseLiteralHeader(b []byte) (lit Literal, n int, ok bool) {
	i := 0
	if i < len(b) && b[i] == '~' {
		lit.Binary = true
		i++
	}
	if i >= len(b) || b[i] != '{' {
		return lit, 0, false
	}
	i++
	start := i
	var size uint64
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		if i-start >= maxLiteralDigits {
			return lit, 0, false
		}
		size = size*10 + uint64(b[i]-'0')
		i++
	}
	if i == start || size > 1<<63-1 {
		return lit, 0, false
	}
	if i < len(b) && b[i] == '+' {
		lit.NonSync = true
		i++
	}
	if i >= len(b) || b[i] != '}' {
		return lit, 0, false
	}
	i++
	lit.Size = int64(size)
	return lit, i, true
}

// trailingLiteral finds a literal header at the very end of a line. It
// reports found when the line ends with something shaped like "{...}" (and
// then whether it is non-synchronizing), and ok when that is a valid
// header.
func trailingLiteral(line []byte) (lit Literal, found, ok bool) {
	n := len(line)
	if n == 0 || line[n-1] != '}' {
		return lit, false, false
	}
	i := n - 2
	for i >= 0 && line[i] != '{' {
		c := line[i]
		if c != '+' && (c < '0' || c > '9') {
			return lit, false, false
		}
		i--
	}
	if i < 0 {
		return lit, false, false
	}
	if i > 0 && line[i-1] == '~' {
		i--
	}
	parsed, hl, ok := parseLiteralHeader(line[i:])
	if ok && hl == n-i {
		return parsed, true, true
	}
	lit.NonSync = n >= 2 && line[n-2] == '+'
	return lit, true, false
}

// admit applies the limits and the hook to a literal about to be read and
// sends the continuation request for a synchronizing one.
func (d *Decoder) admit(lit Literal) bool {
	fail := func(err error) bool {
		if lit.NonSync {
			d.pending = lit.Size
		}
		d.Fail(err)
		return false
	}
	d.literals++
	if d.literals > d.maxLiterals() {
		return fail(&TooBigError{Msg: "too many literals in one command"})
	}
	if !lit.Message && d.size+lit.Size > d.maxCommandSize() {
		return fail(&TooBigError{Msg: "command too large"})
	}
	if d.CheckLiteral != nil {
		if err := d.CheckLiteral(lit); err != nil {
			return fail(err)
		}
	}
	if !lit.NonSync && d.Continue != nil {
		if err := d.Continue(); err != nil {
			d.Fail(err)
			return false
		}
	}
	return true
}

// literalHeader consumes a literal header that must end the current line.
func (d *Decoder) literalHeader(message bool) (Literal, bool) {
	lit, n, ok := parseLiteralHeader(d.line)
	if !ok || n != len(d.line) {
		d.Failf("invalid literal")
		return lit, false
	}
	if lit.Binary && !message {
		d.Failf("literal8 is allowed only in APPEND")
		return lit, false
	}
	d.line = d.line[n:]
	lit.Message = message
	return lit, d.admit(lit)
}

// literal reads a buffered literal and the line that follows it.
func (d *Decoder) literal() []byte {
	lit, ok := d.literalHeader(false)
	if !ok {
		return nil
	}
	d.size += lit.Size
	buf := make([]byte, lit.Size)
	if _, err := io.ReadFull(d.src, buf); err != nil {
		d.Fail(err)
		return nil
	}
	for _, c := range buf {
		if c == 0 {
			d.nextLine()
			d.Failf("NUL in literal")
			return nil
		}
	}
	d.nextLine()
	return buf
}

// nextLine reads the line that continues the command after a literal.
func (d *Decoder) nextLine() {
	line, err := d.src.ReadLine()
	if err != nil {
		d.line = nil
		d.Fail(err)
		return
	}
	d.line = line
	d.size += int64(len(line)) + 2
	if d.size > d.maxCommandSize() {
		d.Fail(&TooBigError{Msg: "command too large"})
	}
}

// A LiteralReader streams the message literal of APPEND
// ([Decoder.MessageLiteral]). Read returns io.EOF after Size bytes.
type LiteralReader struct {
	Literal
	d      *Decoder
	remain int64
	err    error
}

// Read reads literal bytes.
func (r *LiteralReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.remain <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.remain {
		p = p[:r.remain]
	}
	n, err := r.d.src.Read(p)
	r.remain -= int64(n)
	if err == io.EOF && r.remain > 0 {
		err = io.ErrUnexpectedEOF
	}
	if err != nil && err != io.EOF {
		r.err = err
	}
	if err == io.EOF {
		err = nil
	}
	return n, err
}

// MessageLiteral reads the header of APPEND's message literal (a literal or
// a literal8, which must end the current line), admits it through
// CheckLiteral with Message set, and returns a reader for its bytes. The
// caller reads what it wants and then calls [Decoder.EndLiteral].
func (d *Decoder) MessageLiteral() *LiteralReader {
	if d.err != nil {
		return nil
	}
	if c := d.Peek(); c != '{' && c != '~' {
		d.Failf("expected a literal")
		return nil
	}
	lit, ok := d.literalHeader(true)
	if !ok {
		return nil
	}
	d.stream = &LiteralReader{Literal: lit, d: d, remain: lit.Size}
	return d.stream
}

// EndLiteral finishes the message literal: it discards what the caller
// did not read and reads the line that continues the command.
func (d *Decoder) EndLiteral() {
	r := d.stream
	if r == nil {
		return
	}
	d.stream = nil
	if r.err != nil {
		d.Fail(r.err)
		return
	}
	if r.remain > 0 {
		if _, err := io.CopyN(io.Discard, d.src, r.remain); err != nil {
			d.Fail(err)
			return
		}
		r.remain = 0
	}
	d.nextLine()
}

// Discard skips the rest of a command that failed, so that none of its
// bytes is taken for a command: it drops the rest of the current line and,
// while the line ends with a non-synchronizing literal, reads and drops the
// literal and the next line. A synchronizing literal ends the command: the
// client waits for a continuation request that will not come. max bounds
// one discarded literal, and the bytes discarded in all are bounded too;
// past either, or when a literal's size cannot be parsed, Discard returns
// [ErrUnframed] and the connection must be closed.
// I/O errors are returned as they are.
func (d *Decoder) Discard(max int64) error {
	if r := d.stream; r != nil {
		d.stream = nil
		if r.err != nil {
			return r.err
		}
		d.pending = r.remain
		if r.remain == 0 {
			d.pending = -1
			d.nextLine()
			if d.line == nil {
				return d.err
			}
		}
	}
	for {
		var size int64
		if d.pending >= 0 {
			size, d.pending = d.pending, -1
		} else {
			lit, found, ok := trailingLiteral(d.line)
			switch {
			case !found, !lit.NonSync:
				d.line = nil
				return nil
			case !ok:
				return ErrUnframed
			}
			size = lit.Size
		}
		d.line = nil
		if size > max {
			return ErrUnframed
		}
		if _, err := io.CopyN(io.Discard, d.src, size); err != nil {
			return err
		}
		line, err := d.src.ReadLine()
		if err != nil {
			return err
		}
		d.line = line
		d.size += size + int64(len(line)) + 2
		if d.size > 4*d.maxCommandSize()+max {
			return ErrUnframed
		}
	}
}

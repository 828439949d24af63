package imapwire

import (
	"io"
	"strconv"
	"time"
	"unicode/utf8"
)

// flushThreshold is how much an Encoder buffers before it writes: large
// enough to make few system calls on a big FETCH, small enough to keep
// memory per connection modest.
const flushThreshold = 32 << 10

// An Encoder builds responses in a buffer and writes them to W in large
// pieces. It is not safe for concurrent use. Errors from W are sticky and
// reported by Flush.
type Encoder struct {
	// W receives the encoded bytes.
	W io.Writer
	// Trace, when set, receives every response line without its CRLF;
	// literal payloads are replaced by a "{N bytes}" line. The slice is
	// valid only during the call.
	Trace func(line []byte)
	// Buf is the pending output. Appending to it directly (with the
	// Append functions of this package or imapmsg) is allowed.
	Buf []byte

	lineStart int
	err       error
}

// Err returns the first write error.
func (e *Encoder) Err() error { return e.err }

// Raw appends s as it is.
func (e *Encoder) Raw(s string) *Encoder {
	e.Buf = append(e.Buf, s...)
	return e
}

// Byte appends one byte.
func (e *Encoder) Byte(c byte) *Encoder {
	e.Buf = append(e.Buf, c)
	return e
}

// SP appends a space.
func (e *Encoder) SP() *Encoder {
	e.Buf = append(e.Buf, ' ')
	return e
}

// Number appends a decimal number.
func (e *Encoder) Number(n uint64) *Encoder {
	e.Buf = strconv.AppendUint(e.Buf, n, 10)
	return e
}

// Quoted appends s as a quoted string; s must be quotable.
func (e *Encoder) Quoted(s string) *Encoder {
	e.Buf = AppendQuoted(e.Buf, s)
	return e
}

// String appends s as a quoted string, or as a literal when it cannot be
// quoted. utf8OK allows 8-bit text in quoted strings (IMAP4rev2,
// UTF8=ACCEPT).
func (e *Encoder) String(s string, utf8OK bool) *Encoder {
	if Quotable(s, utf8OK) {
		return e.Quoted(s)
	}
	e.Buf = append(e.Buf, '{')
	e.Buf = strconv.AppendInt(e.Buf, int64(len(s)), 10)
	e.Buf = append(e.Buf, "}\r\n"...)
	e.traceLiteral(int64(len(s)))
	e.Buf = append(e.Buf, s...)
	e.lineStart = len(e.Buf)
	return e
}

// AString appends s as an atom when it can be one (and is not "NIL"),
// otherwise as a string.
func (e *Encoder) AString(s string, utf8OK bool) *Encoder {
	if isAtomString(s) {
		e.Buf = append(e.Buf, s...)
		return e
	}
	return e.String(s, utf8OK)
}

// Literal appends a literal of size bytes read from r ("{n}" or, for
// binary, "~{n}"). The payload goes straight to W. A short r fails the
// encoder with io.ErrUnexpectedEOF: the connection cannot continue.
func (e *Encoder) Literal(r io.Reader, size int64, binary bool) *Encoder {
	if binary {
		e.Buf = append(e.Buf, '~')
	}
	e.Buf = append(e.Buf, '{')
	e.Buf = strconv.AppendInt(e.Buf, size, 10)
	e.Buf = append(e.Buf, "}\r\n"...)
	e.traceLiteral(size)
	if size <= 4096 {
		n := len(e.Buf)
		e.Buf = append(e.Buf, make([]byte, size)...)
		if _, err := io.ReadFull(r, e.Buf[n:]); err != nil {
			e.fail(err)
		}
		e.lineStart = len(e.Buf)
		return e
	}
	e.write()
	if e.err == nil {
		n, err := io.Copy(e.W, io.LimitReader(r, size))
		if err == nil && n < size {
			err = io.ErrUnexpectedEOF
		}
		e.fail(err)
	}
	e.lineStart = len(e.Buf)
	return e
}

func (e *Encoder) fail(err error) {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if e.err == nil && err != nil {
		e.err = err
	}
}

func (e *Encoder) traceLiteral(size int64) {
	if e.Trace == nil {
		return
	}
	e.Trace(trimCRLF(e.Buf[e.lineStart:]))
	var b [32]byte
	t := append(b[:0], '{')
	t = strconv.AppendInt(t, size, 10)
	t = append(t, " bytes}"...)
	e.Trace(t)
}

func trimCRLF(b []byte) []byte {
	if n := len(b); n >= 2 && b[n-2] == '\r' && b[n-1] == '\n' {
		return b[:n-2]
	}
	return b
}

// CRLF ends a response line, and writes the buffer out when it is large.
func (e *Encoder) CRLF() *Encoder {
	if e.Trace != nil {
		e.Trace(e.Buf[e.lineStart:])
	}
	e.Buf = append(e.Buf, '\r', '\n')
	e.lineStart = len(e.Buf)
	if len(e.Buf) >= flushThreshold {
		e.write()
	}
	return e
}

// write hands the buffer to W.
func (e *Encoder) write() {
	if len(e.Buf) > 0 && e.err == nil {
		_, e.err = e.W.Write(e.Buf)
	}
	e.Buf = e.Buf[:0]
	e.lineStart = 0
}

// Flush writes the buffered responses to W and returns the first error.
// It does not flush W itself.
func (e *Encoder) Flush() error {
	e.write()
	return e.err
}

// Reset drops pending output and the error, and points the encoder at w.
func (e *Encoder) Reset(w io.Writer) {
	e.W = w
	e.Buf = e.Buf[:0]
	e.lineStart = 0
	e.err = nil
}

// Quotable reports whether s can be sent as a quoted string: no CR, LF or
// NUL, at most 1000 bytes, and ASCII unless utf8OK (then valid UTF-8).
func Quotable(s string, utf8OK bool) bool {
	if len(s) > 1000 {
		return false
	}
	ascii := true
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\r' || c == '\n' || c == 0:
			return false
		case c >= 0x80:
			ascii = false
		}
	}
	if !ascii {
		return utf8OK && utf8.ValidString(s)
	}
	return true
}

// AppendQuoted appends s as a quoted string, escaping '"' and '\'.
func AppendQuoted(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			dst = append(dst, '\\')
		}
		dst = append(dst, s[i])
	}
	return append(dst, '"')
}

// AppendAString appends s as an atom when it can be one, otherwise quoted
// (s must be quotable).
func AppendAString(dst []byte, s string) []byte {
	if isAtomString(s) {
		return append(dst, s...)
	}
	return AppendQuoted(dst, s)
}

func isAtomString(s string) bool {
	if s == "" || len(s) > 1000 || (len(s) == 3 && (s[0]|0x20) == 'n' && (s[1]|0x20) == 'i' && (s[2]|0x20) == 'l') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if charClass[s[i]]&cTag == 0 && s[i] != '+' {
			return false
		}
	}
	return true
}

// AppendDateTime appends t as a quoted date-time ("02-Jan-2006 15:04:05
// -0700").
func AppendDateTime(dst []byte, t time.Time) []byte {
	return t.AppendFormat(append(dst, '"'), "02-Jan-2006 15:04:05 -0700\"")
}

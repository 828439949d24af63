package smtpwire

import (
	"io"

	"github.com/mailfront/mailfront/internal/wire"
)

// A LineEndingReader polices the line endings of message data that arrives
// without dot-stuffing (BDAT chunks): a CR not followed by LF, or an LF not
// preceded by CR, either fails the read with [wire.ErrBareLineEnding] or is
// turned into CRLF, as [wire.DotReader] does for DATA. A CR at the very end
// of the data is bare.
type LineEndingReader struct {
	r         io.Reader
	normalize bool
	prevCR    bool // the last byte read was a CR whose fate is pending
	err       error
	buf       [4096]byte
	out       []byte // produced but not yet returned
}

// NewLineEndingReader returns a reader of r that rejects (or, with
// normalize, repairs) bare CR and bare LF.
func NewLineEndingReader(r io.Reader, normalize bool) *LineEndingReader {
	return &LineEndingReader{r: r, normalize: normalize}
}

// Read implements io.Reader.
func (l *LineEndingReader) Read(p []byte) (int, error) {
	for {
		if len(l.out) > 0 {
			n := copy(p, l.out)
			l.out = l.out[n:]
			return n, nil
		}
		if l.err != nil {
			return 0, l.err
		}
		if len(p) == 0 {
			return 0, nil
		}
		n, err := l.r.Read(l.buf[:len(l.buf)/2])
		l.out = l.process(l.buf[:n], l.buf[len(l.buf)/2:len(l.buf)/2])
		if err != nil {
			if err == io.EOF && l.prevCR {
				l.prevCR = false
				if l.normalize {
					l.out = append(l.out, '\n')
				} else {
					err = wire.ErrBareLineEnding
				}
			}
			if l.err == nil {
				l.err = err
			}
		}
	}
}

// process checks in and appends the output to out, which has room for
// len(in) bytes; normalisation may grow it (append then allocates).
func (l *LineEndingReader) process(in, out []byte) []byte {
	for _, c := range in {
		if l.prevCR {
			l.prevCR = false
			if c == '\n' {
				out = append(out, '\n')
				continue
			}
			// A bare CR: complete it as CRLF or fail.
			if !l.normalize {
				l.err = wire.ErrBareLineEnding
				return out
			}
			out = append(out, '\n')
		}
		switch c {
		case '\r':
			out = append(out, '\r')
			l.prevCR = true
		case '\n':
			if !l.normalize {
				l.err = wire.ErrBareLineEnding
				return out
			}
			out = append(out, '\r', '\n')
		default:
			out = append(out, c)
		}
	}
	return out
}

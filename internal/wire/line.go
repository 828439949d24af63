package wire

import (
	"bufio"
	"errors"
	"io"
)

// ErrBareLF is returned by a [LineReader] with RequireCRLF set for a line
// that ends with LF alone.
var ErrBareLF = errors.New("line ends with a bare LF")

// ErrLineTooLong is returned when a line exceeds the reader's limit before
// its line ending arrives. The rest of the line has not been consumed; the
// caller should answer with an error and close the connection.
var ErrLineTooLong = errors.New("line too long")

// A LineReader reads command lines of bounded length. Lines end with CRLF or,
// unless RequireCRLF is set, a bare LF (commands from real clients sometimes
// use LF alone); the ending is not part of the returned line. The zero value
// with R set is ready to use.
type LineReader struct {
	// R is the underlying reader. It may be replaced between lines (after a
	// STARTTLS upgrade).
	R *bufio.Reader
	// RequireCRLF refuses a line ending with LF alone with [ErrBareLF]
	// (the line is consumed, so the caller may answer and go on).
	RequireCRLF bool
	buf         []byte
}

// ReadLine returns the next line without its line ending. The returned slice
// is valid only until the next call. A line longer than max bytes (excluding
// the ending) fails with [ErrLineTooLong]; no more than max plus one buffer of
// input is consumed and memory stays bounded by the same amount. A partial
// line at the end of the input fails with [io.ErrUnexpectedEOF].
func (lr *LineReader) ReadLine(max int) ([]byte, error) {
	lr.buf = lr.buf[:0]
	for {
		chunk, err := lr.R.ReadSlice('\n')
		switch err {
		case nil:
			line := chunk
			if len(lr.buf) > 0 {
				lr.buf = append(lr.buf, chunk...)
				line = lr.buf
			}
			if lr.RequireCRLF && (len(line) < 2 || line[len(line)-2] != '\r') {
				return nil, ErrBareLF
			}
			line = trimEOL(line)
			if len(line) > max {
				return nil, ErrLineTooLong
			}
			return line, nil
		case bufio.ErrBufferFull:
			// No LF yet. Allow one extra byte for a CR that ends the line.
			if len(lr.buf)+len(chunk) > max+1 {
				return nil, ErrLineTooLong
			}
			lr.buf = append(lr.buf, chunk...)
		default:
			if err == io.EOF && len(lr.buf)+len(chunk) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}

// trimEOL removes a trailing LF or CRLF.
func trimEOL(line []byte) []byte {
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
	}
	return line
}

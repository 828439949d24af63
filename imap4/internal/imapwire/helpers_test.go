package imapwire_test

import (
	"bufio"
	"io"
	"strings"

	"github.com/mailfront/mailfront/imap4/internal/imapwire"
	"github.com/mailfront/mailfront/internal/wire"
)

// streamSource reads a command's lines and literals from a byte stream, as
// the server does from its connection.
type streamSource struct {
	br    *bufio.Reader
	lr    wire.LineReader
	conts int // continuation requests sent
}

func newStream(r io.Reader) *streamSource {
	s := &streamSource{br: bufio.NewReaderSize(r, 16)}
	s.lr.R = s.br
	return s
}

func (s *streamSource) ReadLine() ([]byte, error)  { return s.lr.ReadLine(64 << 10) }
func (s *streamSource) Read(p []byte) (int, error) { return s.br.Read(p) }

// decode starts a decoder on the first line of input.
func decode(input string) (*imapwire.Decoder, *streamSource) {
	return decodeFrom(strings.NewReader(input))
}

func decodeFrom(r io.Reader) (*imapwire.Decoder, *streamSource) {
	src := newStream(r)
	d := &imapwire.Decoder{}
	d.Continue = func() error { src.conts++; return nil }
	line, err := src.ReadLine()
	d.Reset(append([]byte(nil), line...), src)
	if err != nil {
		d.Fail(err)
	}
	return d, src
}

// rest returns what is left unread in the stream.
func (s *streamSource) rest() string {
	b, _ := io.ReadAll(s.br)
	return string(b)
}

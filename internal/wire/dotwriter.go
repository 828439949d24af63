package wire

import (
	"bufio"
	"io"
)

// A DotWriter writes the body of a POP3 multi-line response (RFC 1939 §3):
// it byte-stuffs lines that begin with ".", turns bare LF into CRLF, and on
// Close ends the last line and writes the terminating ".\r\n". It streams:
// nothing is buffered beyond the underlying bufio.Writer.
type DotWriter struct {
	w     *bufio.Writer
	state uint8 // 0 line start, 1 mid-line, 2 after CR
	n     int64
}

// NewDotWriter returns a DotWriter writing to w.
func NewDotWriter(w *bufio.Writer) *DotWriter { return &DotWriter{w: w} }

// Written returns the number of content bytes written so far, after line
// ending normalisation and before stuffing: the size RFC 1939 counts.
func (d *DotWriter) Written() int64 { return d.n }

// Write writes message content.
func (d *DotWriter) Write(p []byte) (int, error) {
	start := 0
	for i := 0; i < len(p); i++ {
		b := p[i]
		switch {
		case b == '\n' && d.state != 2:
			// Bare LF: emit what precedes it, then CRLF.
			if err := d.flush(p[start:i]); err != nil {
				return start, err
			}
			if _, err := d.w.WriteString("\r\n"); err != nil {
				return i, err
			}
			d.n += 2
			start = i + 1
			d.state = 0
		case b == '\n':
			d.state = 0
		case b == '.' && d.state == 0:
			// Stuff: write the run so far plus an extra dot.
			if err := d.flush(p[start:i]); err != nil {
				return start, err
			}
			if err := d.w.WriteByte('.'); err != nil {
				return i, err
			}
			start = i
			d.state = 1
		case b == '\r':
			d.state = 2
		default:
			d.state = 1
		}
	}
	if err := d.flush(p[start:]); err != nil {
		return start, err
	}
	return len(p), nil
}

func (d *DotWriter) flush(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	_, err := d.w.Write(b)
	d.n += int64(len(b))
	return err
}

// Close ends the last line if the content did not, and writes the
// terminating line. It does not flush the underlying writer.
func (d *DotWriter) Close() error {
	switch d.state {
	case 1:
		if _, err := d.w.WriteString("\r\n"); err != nil {
			return err
		}
	case 2:
		if err := d.w.WriteByte('\n'); err != nil {
			return err
		}
	}
	d.state = 0
	_, err := d.w.WriteString(".\r\n")
	return err
}

// CRLFReader converts bare LF to CRLF while reading, the normalisation
// [DotWriter] applies and stores use to report sizes. A CR not followed by LF
// is passed through unchanged.
type CRLFReader struct {
	r      io.Reader
	buf    []byte
	prevCR bool
	pendLF bool
}

// NewCRLFReader returns a reader that yields r's bytes with every bare LF
// replaced by CRLF.
func NewCRLFReader(r io.Reader) *CRLFReader { return &CRLFReader{r: r} }

// Read implements io.Reader.
func (c *CRLFReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n := 0
	if c.pendLF {
		p[0] = '\n'
		n = 1
		c.pendLF = false
		c.prevCR = false
	}
	room := (len(p) - n) / 2
	if room == 0 {
		if n > 0 {
			return n, nil
		}
		// A one-byte buffer: read one byte at a time.
		var one [1]byte
		m, err := c.r.Read(one[:])
		if m == 0 {
			return 0, err
		}
		if one[0] == '\n' && !c.prevCR {
			p[0] = '\r'
			c.pendLF = true
			c.prevCR = true
			return 1, err
		}
		p[0] = one[0]
		c.prevCR = one[0] == '\r'
		return 1, err
	}
	// Read at most half of the room, so every byte can expand to two.
	room = min(room, 32*1024)
	if cap(c.buf) < room {
		c.buf = make([]byte, room)
	}
	m, err := c.r.Read(c.buf[:room])
	for _, b := range c.buf[:m] {
		if b == '\n' && !c.prevCR {
			p[n] = '\r'
			n++
		}
		p[n] = b
		n++
		c.prevCR = b == '\r'
	}
	return n, err
}

// CRLFSize returns the size of r's content after [CRLFReader]
// normalisation, reading r to its end.
func CRLFSize(r io.Reader) (int64, error) {
	var n int64
	prevCR := false
	buf := make([]byte, 32*1024)
	for {
		m, err := r.Read(buf)
		for _, b := range buf[:m] {
			if b == '\n' && !prevCR {
				n++
			}
			n++
			prevCR = b == '\r'
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

package imapmsg

import (
	"bytes"
	"errors"
	"io"
	"sync"
)

// windowSize is the read buffer of a window. Lines longer than this are
// handled in pieces.
const windowSize = 64 << 10

// keepBehind is how many bytes before a requested position a window keeps
// when it slides, so that the newline before a boundary line can still be
// inspected.
const keepBehind = 16

// window reads an io.ReaderAt sequentially through a fixed buffer and
// counts LF octets as it goes, so that the line count of any part is the
// difference of two counts taken while parsing (each byte is counted once).
type window struct {
	r    io.ReaderAt
	base int64 // offset in r of the content's first byte
	size int64
	buf  []byte
	off  int64 // offset of buf[0] in the content
	n    int   // valid bytes in buf

	lfPos int64 // LF octets in content[:lfPos] are counted in lfN
	lfN   int64

	err error // first read error; sticky

	pooled bool // w came from windowPool
}

// newWindow returns a window on the size octets of r that start at base,
// taken from windowPool with its buffer; release gives it back.
func newWindow(r io.ReaderAt, base, size int64) *window {
	w := windowPool.Get().(*window)
	*w = window{r: r, base: base, size: size, buf: w.buf, pooled: true}
	return w
}

// windowPool holds windows with read buffers of windowSize bytes.
var windowPool = sync.Pool{New: func() any {
	return &window{buf: make([]byte, windowSize)}
}}

// release returns a pooled window to the pool; the window must not be
// used afterwards.
func (w *window) release() {
	if w.pooled {
		*w = window{buf: w.buf}
		windowPool.Put(w)
	}
}

// newWindowSize returns a window with a buffer of n bytes (n > 2*keepBehind
// + the longest peek, 2+maxBoundary+2); tests use small ones.
func newWindowSize(r io.ReaderAt, size int64, n int) *window {
	return &window{r: r, size: size, buf: make([]byte, n)}
}

// peek returns the buffered content from pos on: at least min(want,
// size-pos) bytes unless a read error occurred (then w.err is set and
// the result may be short). want must not exceed windowSize-keepBehind.
func (w *window) peek(pos int64, want int) []byte {
	if pos >= w.size {
		return nil
	}
	if rem := w.size - pos; int64(want) > rem {
		want = int(rem)
	}
	if pos >= w.off && pos+int64(want) <= w.off+int64(w.n) {
		return w.buf[pos-w.off : w.n]
	}
	if w.err != nil {
		return nil
	}
	w.fill(pos)
	if pos < w.off || pos > w.off+int64(w.n) {
		return nil
	}
	return w.buf[pos-w.off : w.n]
}

// fill slides the buffer so that it starts a little before pos and reads
// as much as fits.
func (w *window) fill(pos int64) {
	keep := pos - keepBehind
	if keep < w.off {
		keep = w.off
	}
	if keep > w.off+int64(w.n) {
		keep = pos
	}
	// Count the LFs of the bytes about to be dropped.
	w.countTo(keep)
	if keep >= w.off && keep <= w.off+int64(w.n) {
		k := int(keep - w.off)
		copy(w.buf, w.buf[k:w.n])
		w.n -= k
	} else {
		w.n = 0
	}
	w.off = keep
	want := len(w.buf) - w.n
	if rem := w.size - (w.off + int64(w.n)); int64(want) > rem {
		want = int(rem)
	}
	if want <= 0 {
		return
	}
	m, err := w.r.ReadAt(w.buf[w.n:w.n+want], w.base+w.off+int64(w.n))
	w.n += m
	if m < want {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		w.err = err
	}
}

// countTo advances the LF count to pos, reading what is not buffered.
func (w *window) countTo(pos int64) {
	if pos > w.size {
		pos = w.size
	}
	for w.lfPos < pos {
		if w.lfPos >= w.off && w.lfPos < w.off+int64(w.n) {
			end := pos
			if bufEnd := w.off + int64(w.n); end > bufEnd {
				end = bufEnd
			}
			w.lfN += int64(bytes.Count(w.buf[w.lfPos-w.off:end-w.off], lf))
			w.lfPos = end
			continue
		}
		// Not buffered: the parser jumped ahead. Read the gap in pieces
		// through a small scratch buffer, without disturbing buf.
		var scratch [4096]byte
		n := int64(len(scratch))
		if pos-w.lfPos < n {
			n = pos - w.lfPos
		}
		if w.err != nil {
			w.lfPos = pos
			return
		}
		m, err := w.r.ReadAt(scratch[:n], w.base+w.lfPos)
		w.lfN += int64(bytes.Count(scratch[:m], lf))
		w.lfPos += int64(m)
		if int64(m) < n {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			w.err = err
			w.lfPos = pos
			return
		}
	}
}

// lfAt returns the number of LF octets in content[:pos]. Calls must come
// with non-decreasing pos, not behind the buffer.
func (w *window) lfAt(pos int64) int64 {
	w.countTo(pos)
	return w.lfN
}

// byteAt returns content[pos] if it is still buffered, or 0.
func (w *window) byteAt(pos int64) byte {
	if pos >= w.off && pos < w.off+int64(w.n) {
		return w.buf[pos-w.off]
	}
	return 0
}

// lineEnd returns the offset just after the LF that ends the line holding
// pos, or the size of the content if no LF follows.
func (w *window) lineEnd(pos int64) int64 {
	for pos < w.size {
		b := w.peek(pos, 1)
		if len(b) == 0 {
			return w.size
		}
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			return pos + int64(i) + 1
		}
		pos += int64(len(b))
	}
	return w.size
}

var lf = []byte{'\n'}

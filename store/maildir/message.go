package maildir

import (
	"errors"
	"io"
	"sync"
)

// A message is an opened message file, served with CRLF line endings. A
// file without bare LF (every file this store writes) is read directly;
// one delivered by another program with bare LF line endings is converted
// on the fly by a [crlfReaderAt].
type message struct {
	f    file
	size int64
	r    io.ReaderAt
}

func newMessage(f file, size, phys int64) *message {
	m := &message{f: f, size: size, r: f}
	if size != phys {
		m.r = &crlfReaderAt{r: f, phys: phys, size: size, cps: []checkpoint{{}}}
	}
	return m
}

// Size returns the size with CRLF line endings.
func (m *message) Size() int64 { return m.size }

// ReadAt reads the content with CRLF line endings; it never returns bytes
// beyond Size.
func (m *message) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("maildir: negative offset")
	}
	if off >= m.size {
		return 0, io.EOF
	}
	short := false
	if rest := m.size - off; int64(len(p)) > rest {
		p, short = p[:rest], true
	}
	n, err := m.r.ReadAt(p, off)
	if n == len(p) {
		if short {
			return n, io.EOF
		}
		return n, nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF // the file is shorter than recorded
	}
	return n, err
}

// Close closes the file.
func (m *message) Close() error { return m.f.Close() }

// A checkpoint is a position where the converted and the raw offsets are
// known.
type checkpoint struct {
	phys, virt int64
	prevCR     bool
}

// checkpointEvery is the distance between checkpoints, in file bytes: a
// ReadAt starts converting at most this far before its offset.
const checkpointEvery = 64 << 10

// crlfReaderAt is an io.ReaderAt over a file with bare LF line endings that
// returns its content as [wire.CRLFReader] would (every LF not preceded by
// CR becomes CRLF). It records checkpoints as it reads, so sequential and
// repeated reads do not rescan the file from the start. Parallel ReadAt
// calls are safe.
type crlfReaderAt struct {
	r          io.ReaderAt
	phys, size int64
	mu         sync.Mutex
	cps        []checkpoint // ascending; cps[0] is the start
}

func (c *crlfReaderAt) start(off int64) checkpoint {
	c.mu.Lock()
	defer c.mu.Unlock()
	lo, hi := 0, len(c.cps)
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if c.cps[mid].virt <= off {
			lo = mid
		} else {
			hi = mid
		}
	}
	return c.cps[lo]
}

func (c *crlfReaderAt) record(cp checkpoint) {
	c.mu.Lock()
	if last := c.cps[len(c.cps)-1]; cp.phys > last.phys {
		c.cps = append(c.cps, cp)
	}
	c.mu.Unlock()
}

// ReadAt implements io.ReaderAt.
func (c *crlfReaderAt) ReadAt(p []byte, off int64) (int, error) {
	cp := c.start(off)
	phys, virt, prevCR := cp.phys, cp.virt, cp.prevCR
	buf := make([]byte, min(int64(32<<10), max(c.phys-phys, 1)))
	n := 0
	for n < len(p) && phys < c.phys {
		k, err := c.r.ReadAt(buf[:min(int64(len(buf)), c.phys-phys)], phys)
		for _, b := range buf[:k] {
			if phys%checkpointEvery == 0 && phys > cp.phys {
				c.record(checkpoint{phys, virt, prevCR})
			}
			if b == '\n' && !prevCR {
				if virt >= off && n < len(p) {
					p[n] = '\r'
					n++
				}
				virt++
			}
			if virt >= off && n < len(p) {
				p[n] = b
				n++
			}
			virt++
			prevCR = b == '\r'
			phys++
			if n == len(p) {
				break
			}
		}
		if n == len(p) {
			break
		}
		if k == 0 {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return n, err
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

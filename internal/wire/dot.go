package wire

import (
	"bufio"
	"errors"
	"io"
)

// Errors from [DotReader].
var (
	// ErrBareLineEnding means the message data contained a CR not followed
	// by LF, or an LF not preceded by CR, while bare line endings are
	// rejected. These are the raw material of SMTP smuggling (2023).
	ErrBareLineEnding = errors.New("bare CR or LF in message data")
	// ErrMessageTooLarge means the message data exceeded the size limit.
	ErrMessageTooLarge = errors.New("message exceeds the size limit")
	// ErrDrainLimit means [DotReader.Drain] gave up because the client kept
	// sending past the allowed excess; the connection must be closed.
	ErrDrainLimit = errors.New("too much data after the message was refused")
)

// LineEndingPolicy says what a [DotReader] does with bare CR and bare LF.
type LineEndingPolicy int

const (
	// RejectBareLineEndings fails the message with [ErrBareLineEnding]. It
	// is the zero value.
	RejectBareLineEndings LineEndingPolicy = iota
	// NormalizeBareLineEndings turns every bare CR and bare LF into CRLF in
	// the data returned. End of data is still recognised only at a real
	// <CRLF>.<CRLF>.
	NormalizeBareLineEndings
)

type dotState uint8

const (
	dsLineStart dotState = iota // after a real CRLF: "." is special
	dsBareStart                 // after a normalised bare ending: "." is data
	dsMid                       // inside a line
	dsCR                        // saw CR, waiting for LF
	dsDot                       // saw "." at line start
	dsDotCR                     // saw ".\r" at line start
	dsEOF                       // saw <CRLF>.<CRLF>
)

// A DotReader reads the data of an SMTP DATA command (RFC 5321 §4.1.1.4)
// from a bufio.Reader: it removes dot-stuffing and returns [io.EOF] at the
// terminating line. The terminator is recognised only as <CRLF>.<CRLF>
// built from real CRLF pairs, so "\n.\n", "\n.\r\n", "\r\n.\n" and
// "\r.\r\n" never end the data (CVE-2023-51764 and its siblings).
//
// The first policy violation (a bare line ending under
// [RejectBareLineEndings], or data beyond the size limit) makes Read fail
// with [ErrBareLineEnding] or [ErrMessageTooLarge]; the caller then calls
// [DotReader.Drain] to consume the rest of the data, so the connection stays
// in step and can answer with an error reply.
type DotReader struct {
	r         *bufio.Reader
	max       int64
	normalize bool
	state     dotState
	n         int64 // content bytes produced
	err       error // sticky policy error
	pend      [3]byte
	npend     int
}

// NewDotReader returns a DotReader for r that produces at most max bytes of
// content (max <= 0: no limit).
func NewDotReader(r *bufio.Reader, max int64, policy LineEndingPolicy) *DotReader {
	return &DotReader{r: r, max: max, normalize: policy == NormalizeBareLineEndings}
}

// Size returns the number of content bytes returned so far.
func (d *DotReader) Size() int64 { return d.n }

// Done reports whether the terminating line has been read.
func (d *DotReader) Done() bool { return d.state == dsEOF }

// Err returns the sticky policy error that makes Read fail,
// [ErrBareLineEnding] or [ErrMessageTooLarge], or nil if there is none yet.
// It includes a bare line ending that [DotReader.Drain] passed over in data
// nobody read, but not a size overrun found by Drain: compare
// [DotReader.Size] with the limit for that.
func (d *DotReader) Err() error { return d.err }

// Read reads un-stuffed message data, with CRLF line endings.
func (d *DotReader) Read(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	if d.state == dsEOF && d.npend == 0 {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) {
		if d.npend > 0 {
			c := copy(p[n:], d.pend[:d.npend])
			copy(d.pend[:], d.pend[c:d.npend])
			d.npend -= c
			n += c
			continue
		}
		if d.state == dsEOF || d.err != nil || (d.max > 0 && d.n > d.max) {
			break
		}
		if n > 0 && d.r.Buffered() == 0 {
			break // do not block with data in hand
		}
		buf, err := d.r.Peek(max(1, d.r.Buffered()))
		if len(buf) == 0 {
			if n > 0 {
				break
			}
			return 0, noEOF(err)
		}
		used, out := d.scan(buf, p[n:], true)
		n += out
		d.r.Discard(used)
	}
	if d.max > 0 && d.n > d.max && d.err == nil {
		d.err = ErrMessageTooLarge
	}
	if d.err != nil {
		return n, d.err
	}
	if n == 0 && d.state == dsEOF {
		return 0, io.EOF
	}
	return n, nil
}

// Drain consumes the rest of the data up to and including the terminating
// line, without returning it. It gives up with [ErrDrainLimit] after
// maxExcess further bytes (maxExcess <= 0: no limit), and returns read
// errors from the connection. After a nil return the connection is at the
// next command.
func (d *DotReader) Drain(maxExcess int64) error {
	var consumed int64
	for d.state != dsEOF {
		buf, err := d.r.Peek(max(1, d.r.Buffered()))
		if len(buf) == 0 {
			return noEOF(err)
		}
		used, _ := d.scan(buf, nil, false)
		d.r.Discard(used)
		consumed += int64(used)
		if maxExcess > 0 && consumed > maxExcess && d.state != dsEOF {
			return ErrDrainLimit
		}
	}
	d.npend = 0
	return nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// scan runs the state machine over in, writing content to out when emit is
// set. It stops when out is full, at the terminator, or at the end of in, and
// returns the bytes of in consumed and of out written.
func (d *DotReader) scan(in, out []byte, emit bool) (used, written int) {
	put := func(b ...byte) {
		d.n += int64(len(b))
		if !emit || d.err != nil || (d.max > 0 && d.n > d.max) {
			return
		}
		for _, c := range b {
			if written < len(out) {
				out[written] = c
				written++
			} else {
				d.pend[d.npend] = c
				d.npend++
			}
		}
	}
	bare := func() bool {
		if d.normalize {
			return true
		}
		if d.err == nil {
			d.err = ErrBareLineEnding
		}
		return false
	}
	for used < len(in) {
		if emit && (written >= len(out) || d.npend > 0 || d.err != nil || (d.max > 0 && d.n > d.max)) {
			return
		}
		b := in[used]
		switch d.state {
		case dsLineStart:
			if b == '.' {
				d.state = dsDot
				used++
				continue
			}
			d.state = dsMid
			continue // reprocess as mid-line
		case dsBareStart, dsMid:
			switch b {
			case '\r':
				d.state = dsCR
			case '\n':
				if bare() {
					put('\r', '\n')
				}
				d.state = dsBareStart
			default:
				// Copy a run of ordinary bytes at once.
				end := used + 1
				for end < len(in) && in[end] != '\r' && in[end] != '\n' {
					end++
				}
				run := in[used:end]
				if emit && d.err == nil {
					if room := len(out) - written; len(run) > room {
						run = run[:room]
					}
					if d.max > 0 && d.n+int64(len(run)) > d.max {
						d.n += int64(len(run))
						used += len(run)
						d.state = dsMid
						continue
					}
					copy(out[written:], run)
					written += len(run)
				}
				d.n += int64(len(run))
				used += len(run)
				d.state = dsMid
				continue
			}
			used++
		case dsCR:
			if b == '\n' {
				put('\r', '\n')
				d.state = dsLineStart
				used++
				continue
			}
			// Bare CR: b is reprocessed at the start of a bare line.
			if bare() {
				put('\r', '\n')
			}
			d.state = dsBareStart
		case dsDot:
			switch b {
			case '\r':
				d.state = dsDotCR
				used++
			case '\n':
				// ".\n": a lone dot on a bare line. Never an end of data.
				if bare() {
					put('.', '\r', '\n')
				}
				d.state = dsBareStart
				used++
			default:
				// Dot-stuffing: the leading dot is removed.
				d.state = dsMid
			}
		case dsDotCR:
			if b == '\n' {
				d.state = dsEOF
				used++
				return
			}
			// ".\r" then something else: a bare CR after a lone dot.
			if bare() {
				put('.', '\r', '\n')
			}
			d.state = dsBareStart
		case dsEOF:
			return
		}
	}
	return
}

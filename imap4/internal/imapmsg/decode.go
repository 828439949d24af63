package imapmsg

import (
	"errors"
	"io"
	"strings"
)

// ErrUnknownEncoding is returned by [Structure.BinaryReader] and
// [Structure.BinarySize] for a part whose Content-Transfer-Encoding is not
// one of 7bit, 8bit, binary, base64 and quoted-printable; the server
// answers NO [UNKNOWN-CTE] (RFC 3516 §4.3).
var ErrUnknownEncoding = errors.New("imapmsg: unknown Content-Transfer-Encoding")

// encoding is a Content-Transfer-Encoding the decoders know.
type encoding uint8

const (
	encIdentity encoding = iota // 7bit, 8bit, binary, or none
	encBase64
	encQP
	encUnknown
)

func encodingOf(enc string) encoding {
	switch strings.ToLower(enc) {
	case "", "7bit", "8bit", "binary":
		return encIdentity
	case "base64":
		return encBase64
	case "quoted-printable":
		return encQP
	}
	return encUnknown
}

// decoder returns a reader of the decoded content of raw.
func decoder(e encoding, raw io.Reader) io.Reader {
	switch e {
	case encBase64:
		d := &base64Reader{}
		d.reset(raw)
		return d
	case encQP:
		d := &qpReader{}
		d.reset(raw)
		return d
	}
	return raw
}

// BinaryReader returns the decoded content of a part for BINARY[part]
// (RFC 3516) and its decoded size: base64 and quoted-printable are
// decoded (leniently: invalid base64 characters are skipped, invalid
// quoted-printable escapes are kept as they are), 7bit, 8bit and binary
// go as they are. A nonexistent part yields an empty section. An unknown
// encoding is [ErrUnknownEncoding].
//
// A nil part (the whole message), a multipart part and a message/rfc822
// part are returned as they are except that each base64 or
// quoted-printable part inside is decoded, and its header says
// "Content-Transfer-Encoding: binary" (at its end) instead of what it
// said, as Dovecot answers.
//
// The size is computed first, by decoding without keeping the bytes,
// unless [Structure.BinarySize] has already done it.
func (s *Structure) BinaryReader(r io.ReaderAt, path []int) (io.Reader, int64, error) {
	p := s.find(path)
	if p == nil {
		return strings.NewReader(""), 0, nil
	}
	if start, end, tops, ok := s.binaryTreeOf(path, p); ok {
		return s.binaryTree(r, start, end, tops, true)
	}
	e := encodingOf(p.enc)
	if e == encUnknown {
		return nil, 0, ErrUnknownEncoding
	}
	raw := io.NewSectionReader(r, p.bodyOff, p.end-p.bodyOff)
	if e == encIdentity {
		return raw, p.end - p.bodyOff, nil
	}
	n, err := s.binarySize(r, p)
	if err != nil {
		return nil, 0, err
	}
	return io.LimitReader(decoder(e, raw), n), n, nil
}

// BinarySize returns the decoded size of a part, for BINARY.SIZE[part]
// (RFC 3516). It decodes without keeping the bytes and remembers the
// result in the Structure (it survives [Structure.MarshalBinary]), so the
// next call is free. The errors are those of [Structure.BinaryReader].
func (s *Structure) BinarySize(r io.ReaderAt, path []int) (int64, error) {
	p := s.find(path)
	if p == nil {
		return 0, nil
	}
	if start, end, tops, ok := s.binaryTreeOf(path, p); ok {
		_, n, err := s.binaryTree(r, start, end, tops, false)
		return n, err
	}
	return s.binarySize(r, p)
}

// binaryTreeOf says whether BINARY[path] is a section of several parts
// (the whole message, a multipart or a message/rfc822 part, p being what
// path designates) and gives its range and the parts in it.
func (s *Structure) binaryTreeOf(path []int, p *part) (start, end int64, tops []*part, ok bool) {
	switch {
	case len(path) == 0:
		return 0, s.size, []*part{s.root}, true
	case p.kind == kindMultipart:
		return p.bodyOff, p.end, p.children, true
	case p.kind == kindMessage && len(p.children) > 0:
		return p.bodyOff, p.end, p.children[:1], true
	}
	return 0, 0, nil, false
}

func (s *Structure) binarySize(r io.ReaderAt, p *part) (int64, error) {
	e := encodingOf(p.enc)
	switch e {
	case encUnknown:
		return 0, ErrUnknownEncoding
	case encIdentity:
		return p.end - p.bodyOff, nil
	}
	if n := p.binSize.Load(); n > 0 {
		return n - 1, nil
	}
	raw := io.NewSectionReader(r, p.bodyOff, p.end-p.bodyOff)
	n, err := io.Copy(io.Discard, decoder(e, raw))
	if err != nil {
		return 0, err
	}
	p.binSize.Store(n + 1)
	return n, nil
}

// base64Reader decodes base64 leniently: octets outside the alphabet are
// skipped, '=' ends the current quantum (so concatenated encodings
// decode), and a partial quantum at the end yields what it can.
type base64Reader struct {
	r    io.Reader
	err  error
	in   [4096]byte
	out  [3072 + 3]byte
	o, n int // out[o:n] is pending
	q    uint32
	qn   int
}

// reset makes d decode r from the start, keeping its buffers.
func (d *base64Reader) reset(r io.Reader) {
	d.r, d.err, d.o, d.n, d.q, d.qn = r, nil, 0, 0, 0, 0
}

var b64Table = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(alpha); i++ {
		t[alpha[i]] = byte(i)
	}
	return t
}()

func (d *base64Reader) Read(p []byte) (int, error) {
	for d.o == d.n {
		if d.err != nil {
			return 0, d.err
		}
		d.o, d.n = 0, 0
		m, err := d.r.Read(d.in[:])
		in := d.in[:m]
		for len(in) > 0 {
			// Whole quanta of alphabet octets, as the loop below would
			// decode them one by one.
			for d.qn == 0 && len(in) >= 4 {
				a, b, c, e := b64Table[in[0]], b64Table[in[1]], b64Table[in[2]], b64Table[in[3]]
				if (a|b|c|e)&0x80 != 0 {
					break
				}
				q := uint32(a)<<18 | uint32(b)<<12 | uint32(c)<<6 | uint32(e)
				d.out[d.n], d.out[d.n+1], d.out[d.n+2] = byte(q>>16), byte(q>>8), byte(q)
				d.n += 3
				in = in[4:]
			}
			if len(in) == 0 {
				break
			}
			c := in[0]
			in = in[1:]
			v := b64Table[c]
			if v == 0xff {
				if c == '=' {
					d.flush()
				}
				continue
			}
			d.q = d.q<<6 | uint32(v)
			d.qn++
			if d.qn == 4 {
				d.out[d.n] = byte(d.q >> 16)
				d.out[d.n+1] = byte(d.q >> 8)
				d.out[d.n+2] = byte(d.q)
				d.n += 3
				d.q, d.qn = 0, 0
			}
		}
		if err != nil {
			d.flush()
			d.err = err
		}
	}
	k := copy(p, d.out[d.o:d.n])
	d.o += k
	return k, nil
}

// flush emits the octets of a partial quantum.
func (d *base64Reader) flush() {
	switch d.qn {
	case 2:
		d.out[d.n] = byte(d.q >> 4)
		d.n++
	case 3:
		d.out[d.n] = byte(d.q >> 10)
		d.out[d.n+1] = byte(d.q >> 2)
		d.n += 2
	}
	d.q, d.qn = 0, 0
}

// qpReader decodes quoted-printable (RFC 2045 §6.7) leniently: soft line
// breaks ("=" then optional whitespace and a line break) are removed,
// trailing whitespace before a line break is dropped, "=XX" with hex
// digits (either case) is decoded, and any other "=" is kept as it is.
// Line breaks stay as they are.
type qpReader struct {
	r     io.Reader
	err   error
	in    [4096]byte
	out   []byte
	o     int
	state qpState
	hex1  byte
	ws    []byte // pending whitespace: dropped if a line break follows
}

// reset makes d decode r from the start, keeping its buffers.
func (d *qpReader) reset(r io.Reader) {
	if d.out == nil {
		d.out = make([]byte, 0, 4096+512)
	}
	d.r, d.err, d.out, d.o, d.state, d.ws = r, nil, d.out[:0], 0, qpNormal, d.ws[:0]
}

type qpState uint8

const (
	qpNormal qpState = iota
	qpCR             // saw CR
	qpEq             // saw '='
	qpEqHex          // saw '=' and one hex digit
	qpEqWS           // saw '=' and whitespace
	qpEqCR           // saw '=', maybe whitespace, and CR
)

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func (d *qpReader) Read(p []byte) (int, error) {
	for d.o == len(d.out) {
		if d.err != nil {
			return 0, d.err
		}
		d.out, d.o = d.out[:0], 0
		m, err := d.r.Read(d.in[:])
		d.decode(d.in[:m])
		if err != nil {
			d.end()
			d.err = err
		}
	}
	k := copy(p, d.out[d.o:])
	d.o += k
	return k, nil
}

// qpPlain marks the octets that decode as themselves in any state but
// after '=' (everything except '=', whitespace, CR and LF).
var qpPlain = func() (t [256]bool) {
	for i := range t {
		t[i] = true
	}
	for _, c := range "= \t\r\n" {
		t[c] = false
	}
	return t
}()

// decode decodes a chunk of input, copying runs of plain text in bulk,
// decoding escapes and line breaks that lie whole in the chunk directly,
// and handing everything else to the state machine. (FuzzDecode checks
// that this gives what the state machine alone gives.)
func (d *qpReader) decode(in []byte) {
	for i := 0; i < len(in); {
		if d.state == qpNormal && len(d.ws) == 0 {
			j := i
			for j < len(in) {
				c := in[j]
				if qpPlain[c] {
					j++
					continue
				}
				// Whitespace followed by text (or '=') is not trailing.
				if (c == ' ' || c == '\t') && j+1 < len(in) {
					if qpPlain[in[j+1]] {
						j += 2
						continue
					}
					if in[j+1] == '=' {
						j++
					}
				}
				break
			}
			d.out = append(d.out, in[i:j]...)
			if i = j; i == len(in) {
				return
			}
			// The common sequences, when this chunk holds them whole,
			// decoded here as the state machine would decode them.
			switch in[i] {
			case '=':
				if i+2 < len(in) {
					if hi, ok := unhex(in[i+1]); ok {
						if lo, ok := unhex(in[i+2]); ok {
							d.out = append(d.out, hi<<4|lo)
							i += 3
							continue
						}
					}
					if in[i+1] == '\r' && in[i+2] == '\n' {
						i += 3 // soft line break
						continue
					}
				}
				if i+1 < len(in) && in[i+1] == '\n' {
					i += 2 // soft line break, bare LF
					continue
				}
			case '\r':
				if i+1 < len(in) && in[i+1] == '\n' {
					d.out = append(d.out, '\r', '\n')
					i += 2
					continue
				}
			}
		}
		d.byte(in[i])
		i++
	}
}

func (d *qpReader) flushWS() {
	d.out = append(d.out, d.ws...)
	d.ws = d.ws[:0]
}

func (d *qpReader) byte(c byte) {
	switch d.state {
	case qpCR:
		d.state = qpNormal
		if c == '\n' {
			d.ws = d.ws[:0]
			d.out = append(d.out, '\r', '\n')
			return
		}
		d.flushWS()
		d.out = append(d.out, '\r')
	case qpEq:
		if _, ok := unhex(c); ok {
			d.hex1, d.state = c, qpEqHex
			return
		}
		switch c {
		case ' ', '\t':
			d.ws = append(d.ws, c)
			d.state = qpEqWS
			return
		case '\r':
			d.state = qpEqCR
			return
		case '\n':
			d.state = qpNormal // soft line break
			return
		}
		d.state = qpNormal
		d.out = append(d.out, '=')
	case qpEqHex:
		d.state = qpNormal
		if lo, ok := unhex(c); ok {
			hi, _ := unhex(d.hex1)
			d.out = append(d.out, hi<<4|lo)
			return
		}
		d.out = append(d.out, '=', d.hex1)
	case qpEqWS:
		switch c {
		case ' ', '\t':
			if len(d.ws) < 256 {
				d.ws = append(d.ws, c)
			}
			return
		case '\r':
			d.state = qpEqCR
			return
		case '\n':
			d.ws = d.ws[:0]
			d.state = qpNormal // soft line break
			return
		}
		d.state = qpNormal
		d.out = append(d.out, '=')
		d.flushWS()
	case qpEqCR:
		d.state = qpNormal
		if c == '\n' {
			d.ws = d.ws[:0]
			return // soft line break
		}
		d.out = append(d.out, '=')
		d.flushWS()
		d.out = append(d.out, '\r')
	}
	// qpNormal
	switch c {
	case '=':
		d.flushWS()
		d.state = qpEq
	case ' ', '\t':
		if len(d.ws) >= 256 {
			d.flushWS()
		}
		d.ws = append(d.ws, c)
	case '\r':
		d.state = qpCR
	case '\n':
		d.ws = d.ws[:0]
		d.out = append(d.out, '\n')
	default:
		d.flushWS()
		d.out = append(d.out, c)
	}
}

// end flushes the state at the end of the input; trailing whitespace is
// dropped.
func (d *qpReader) end() {
	switch d.state {
	case qpCR:
		d.flushWS()
		d.out = append(d.out, '\r')
	case qpEq, qpEqWS, qpEqCR:
		d.out = append(d.out, '=')
	case qpEqHex:
		d.out = append(d.out, '=', d.hex1)
	}
	d.state = qpNormal
	d.ws = d.ws[:0]
}

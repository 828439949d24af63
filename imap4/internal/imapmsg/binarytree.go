package imapmsg

import (
	"bytes"
	"io"
	"strings"
)

// binaryCTE replaces the Content-Transfer-Encoding field of a part whose
// content BINARY decodes.
const binaryCTE = "Content-Transfer-Encoding: binary\r\n"

// binaryTree returns content[start:end), which holds the parts in tops and
// nothing else that needs decoding, with every base64 and
// quoted-printable leaf part among them decoded: its header loses its
// Content-Transfer-Encoding field and gains binaryCTE at its end, its
// body is the decoded content. This is what BINARY[] of a whole message,
// a multipart part or a message/rfc822 part returns, as Dovecot does: the
// section as a client would see it had it been sent with binary
// encoding. Other parts go as they are; an unknown encoding in any leaf is
// [ErrUnknownEncoding].
//
// Nothing is decoded or kept until the reader is read, except the decoded
// sizes, which [Structure.binarySize] computes once per part.
func (s *Structure) binaryTree(r io.ReaderAt, start, end int64, tops []*part, reader bool) (io.Reader, int64, error) {
	var segs []io.Reader
	var total int64
	cur := start
	raw := func(to int64) {
		if to > cur {
			if reader {
				segs = append(segs, io.NewSectionReader(r, cur, to-cur))
			}
			total += to - cur
			cur = to
		}
	}
	var walk func(q *part) error
	walk = func(q *part) error {
		if q.kind == kindMultipart || (q.kind == kindMessage && len(q.children) > 0) {
			for _, c := range q.children {
				if err := walk(c); err != nil {
					return err
				}
			}
			return nil
		}
		e := encodingOf(q.enc)
		switch e {
		case encUnknown:
			return ErrUnknownEncoding
		case encIdentity:
			return nil
		}
		hdrLen, err := binaryHeaderLen(r, q.hdrOff, q.bodyOff)
		if err != nil {
			return err
		}
		n, err := s.binarySize(r, q)
		if err != nil {
			return err
		}
		raw(q.hdrOff)
		if reader {
			segs = append(segs, &lazyBinaryPart{r: r, p: q, e: e, n: n})
		}
		total += hdrLen + n
		cur = q.end
		return nil
	}
	for _, q := range tops {
		if err := walk(q); err != nil {
			return nil, 0, err
		}
	}
	raw(end)
	if !reader {
		return nil, total, nil
	}
	return io.MultiReader(segs...), total, nil
}

// binaryHeader returns the header content[start:end) of a part that BINARY
// decodes: without its Content-Transfer-Encoding field, with binaryCTE
// after the other fields, and the blank line if the header has one.
func binaryHeader(r io.ReaderAt, start, end int64) ([]byte, error) {
	out, blank, err := headerFields(r, start, end, func(name []byte) bool {
		return !asciiEqualFold(name, "Content-Transfer-Encoding")
	})
	if err != nil {
		return nil, err
	}
	out = append(out, binaryCTE...)
	if blank {
		out = append(out, '\r', '\n')
	}
	return out, nil
}

// binaryHeaderLen is the length of binaryHeader's result.
func binaryHeaderLen(r io.ReaderAt, start, end int64) (int64, error) {
	b, err := binaryHeader(r, start, end)
	return int64(len(b)), err
}

// lazyBinaryPart reads one decoded part, header and body, setting up its
// decoder only when first read, so that a message with many parts does
// not hold a decoder for each.
type lazyBinaryPart struct {
	r  io.ReaderAt
	p  *part
	e  encoding
	n  int64 // decoded body size
	rd io.Reader
}

func (l *lazyBinaryPart) Read(b []byte) (int, error) {
	if l.rd == nil {
		hdr, err := binaryHeader(l.r, l.p.hdrOff, l.p.bodyOff)
		if err != nil {
			return 0, err
		}
		body := io.NewSectionReader(l.r, l.p.bodyOff, l.p.end-l.p.bodyOff)
		l.rd = io.MultiReader(bytes.NewReader(hdr), io.LimitReader(decoder(l.e, body), l.n))
	}
	return l.rd.Read(b)
}

// BinaryLiteral8 reports whether BINARY[path] is binary data, to be sent
// as a literal8 (RFC 3516 §4.3): a part that is base64, quoted-printable
// or binary, or for the whole message, a multipart or a message/rfc822
// part, one that holds such a part. Other BINARY data is 7bit or 8bit
// without NUL, sent as an ordinary literal, as the RFC says servers
// should and as Dovecot does.
func (s *Structure) BinaryLiteral8(path []int) bool {
	p := s.find(path)
	if p == nil {
		return false
	}
	if _, _, tops, ok := s.binaryTreeOf(path, p); ok {
		for _, q := range tops {
			if hasBinaryDomain(q) {
				return true
			}
		}
		return false
	}
	return leafBinaryDomain(p)
}

// hasBinaryDomain reports whether a part is or holds a leaf whose content
// is binary data once decoded.
func hasBinaryDomain(q *part) bool {
	if q.kind == kindMultipart || (q.kind == kindMessage && len(q.children) > 0) {
		for _, c := range q.children {
			if hasBinaryDomain(c) {
				return true
			}
		}
		return false
	}
	return leafBinaryDomain(q)
}

func leafBinaryDomain(q *part) bool {
	switch encodingOf(q.enc) {
	case encBase64, encQP:
		return true
	case encIdentity:
		return strings.EqualFold(q.enc, "binary")
	}
	return false
}

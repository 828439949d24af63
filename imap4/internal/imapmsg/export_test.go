package imapmsg

import (
	"bytes"
	"fmt"
	"io"
)

// PartPaths returns the path of every part of s that BODY[path] can
// address, in depth-first order, for tests that walk all sections.
func PartPaths(s *Structure) [][]int {
	var out [][]int
	var walk func(p *part, path []int)
	walk = func(p *part, path []int) {
		if p.kind == kindMessage {
			p = p.children[0]
			if p.kind != kindMultipart {
				q := append(append([]int(nil), path...), 1)
				out = append(out, q)
				walk(p, q)
				return
			}
		}
		for i, c := range p.children {
			q := append(append([]int(nil), path...), i+1)
			out = append(out, q)
			walk(c, q)
		}
	}
	if s.root.kind == kindMultipart {
		walk(s.root, nil)
	} else {
		out = append(out, []int{1})
		if s.root.kind == kindMessage {
			walk(s.root, []int{1})
		}
	}
	return out
}

// IsMessagePart reports whether the part at path is message/rfc822 or
// message/global (so HEADER and TEXT apply to it).
func IsMessagePart(s *Structure, path []int) bool {
	p := s.find(path)
	return p != nil && p.kind == kindMessage
}

// ParseSmallWindow parses with a tiny read buffer, so that tests and
// fuzzing exercise the buffer sliding that real messages cause.
func ParseSmallWindow(r io.ReaderAt, size int64) (*Structure, error) {
	return parse(newWindowSize(r, size, 128), size)
}

// CheckInvariants verifies what every Structure must satisfy against the
// message it was parsed from: offsets ordered and within their parents,
// line counts equal to the LF octets of each body, a child for every
// message/rfc822 part.
func CheckInvariants(s *Structure, msg []byte) error {
	if s.size != int64(len(msg)) {
		return fmt.Errorf("size %d, message %d", s.size, len(msg))
	}
	var check func(p *part, lo, hi int64, depth int) error
	check = func(p *part, lo, hi int64, depth int) error {
		if !(lo <= p.hdrOff && p.hdrOff <= p.bodyOff && p.bodyOff <= p.end && p.end <= hi) {
			return fmt.Errorf("part offsets %d %d %d outside [%d,%d]", p.hdrOff, p.bodyOff, p.end, lo, hi)
		}
		if n := int64(bytes.Count(msg[p.bodyOff:p.end], []byte{'\n'})); n != p.lines {
			return fmt.Errorf("part at %d: lines %d, body has %d LFs", p.hdrOff, p.lines, n)
		}
		if depth > maxDepth+1 {
			return fmt.Errorf("depth %d", depth)
		}
		switch p.kind {
		case kindMessage:
			if len(p.children) != 1 || p.children[0].env == nil {
				return fmt.Errorf("message part at %d without embedded message", p.hdrOff)
			}
			if c := p.children[0]; c.hdrOff != p.bodyOff || c.end != p.end {
				return fmt.Errorf("embedded message %d-%d, body %d-%d", c.hdrOff, c.end, p.bodyOff, p.end)
			}
		case kindLeaf:
			if len(p.children) != 0 {
				return fmt.Errorf("leaf with children")
			}
		}
		prev := p.bodyOff
		for _, c := range p.children {
			if c.hdrOff < prev {
				return fmt.Errorf("children overlap at %d", c.hdrOff)
			}
			prev = c.end
			if err := check(c, p.bodyOff, p.end, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if s.root.env == nil || s.root.hdrOff != 0 || s.root.end != s.size {
		return fmt.Errorf("root %d-%d of %d", s.root.hdrOff, s.root.end, s.size)
	}
	return check(s.root, 0, s.size, 0)
}

// Decoder returns the transfer-decoding reader Parse's users get for a
// Content-Transfer-Encoding ("base64", "quoted-printable", ...).
func Decoder(cte string, r io.Reader) io.Reader {
	return decoder(encodingOf(cte), r)
}

// DecodeForMatch returns a header field value decoded as
// [Structure.MatchHeader] decodes values before matching.
func DecodeForMatch(v string) string {
	m := headerMatcherPool.Get().(*headerMatcher)
	defer m.release()
	return string(m.decodeValue([]byte(v)))
}

// Fold returns s folded as the matchers fold text, and as they fold
// keys.
func Fold(s string) (text, key string) {
	return string(appendFold(nil, []byte(s))), string(appendFoldString(nil, s))
}

package imapmsg

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

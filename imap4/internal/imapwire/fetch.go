package imapwire

import (
	"strconv"
	"strings"
)

// A FetchItem names what a fetch-att asks for.
type FetchItem int

// Fetch items (RFC 9051 §6.4.5, RFC 3516, RFC 7162).
const (
	FetchEnvelope      FetchItem = iota + 1
	FetchFlags                   // FLAGS
	FetchInternalDate            // INTERNALDATE
	FetchRFC822Size              // RFC822.SIZE
	FetchBody                    // BODY (non-extensible BODYSTRUCTURE)
	FetchBodyStructure           // BODYSTRUCTURE
	FetchUID                     // UID
	FetchModSeq                  // MODSEQ
	FetchBodySection             // BODY[...] and BODY.PEEK[...]
	FetchBinary                  // BINARY[...] and BINARY.PEEK[...]
	FetchBinarySize              // BINARY.SIZE[...]
	FetchRFC822                  // RFC822 (BODY[])
	FetchRFC822Header            // RFC822.HEADER (BODY.PEEK[HEADER])
	FetchRFC822Text              // RFC822.TEXT (BODY[TEXT])
)

// A Section is a body section: a part number, then HEADER,
// HEADER.FIELDS, HEADER.FIELDS.NOT, TEXT or MIME (or nothing).
type Section struct {
	// Part is the part path ("1.2" is [1 2]); empty for the whole
	// message.
	Part []int
	// Specifier is "", "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT",
	// "TEXT" or "MIME", in upper case.
	Specifier string
	// Fields are the header field names of HEADER.FIELDS (.NOT), as sent.
	Fields []string
}

// A FetchAtt is one parsed fetch-att.
type FetchAtt struct {
	Item FetchItem
	// Peek reports BODY.PEEK / BINARY.PEEK (no implicit \Seen).
	Peek    bool
	Section Section
	// Partial reports "<offset.count>".
	Partial       bool
	Offset, Count uint32
}

// SetsSeen reports whether fetching the item sets \Seen implicitly.
func (a *FetchAtt) SetsSeen() bool {
	switch a.Item {
	case FetchBodySection, FetchBinary:
		return !a.Peek
	case FetchRFC822, FetchRFC822Text:
		return true
	}
	return false
}

// FetchAtts reads the item part of FETCH: "ALL", "FULL", "FAST", one
// fetch-att or a parenthesised list of them.
func (d *Decoder) FetchAtts() []FetchAtt {
	if d.err != nil {
		return nil
	}
	if d.Peek() == '(' {
		var atts []FetchAtt
		d.List(func() { atts = append(atts, d.FetchAtt()) })
		if len(atts) == 0 && d.err == nil {
			d.Failf("empty fetch attribute list")
		}
		return atts
	}
	switch {
	case d.macro("ALL"):
		return []FetchAtt{{Item: FetchFlags}, {Item: FetchInternalDate}, {Item: FetchRFC822Size}, {Item: FetchEnvelope}}
	case d.macro("FULL"):
		return []FetchAtt{{Item: FetchFlags}, {Item: FetchInternalDate}, {Item: FetchRFC822Size}, {Item: FetchEnvelope}, {Item: FetchBody}}
	case d.macro("FAST"):
		return []FetchAtt{{Item: FetchFlags}, {Item: FetchInternalDate}, {Item: FetchRFC822Size}}
	}
	return []FetchAtt{d.FetchAtt()}
}

// macro consumes a fetch macro name when it is followed by the end of the
// argument.
func (d *Decoder) macro(name string) bool {
	if !d.PeekString(name) {
		return false
	}
	if len(d.line) > len(name) && d.line[len(name)] != ' ' {
		return false
	}
	d.line = d.line[len(name):]
	return true
}

// FetchAtt reads one fetch-att.
func (d *Decoder) FetchAtt() FetchAtt {
	var a FetchAtt
	if d.err != nil {
		return a
	}
	// The name runs up to "[", a space, ")" or the end.
	i := 0
	for i < len(d.line) && d.line[i] != '[' && d.line[i] != ' ' && d.line[i] != ')' && d.line[i] != '<' {
		i++
	}
	name := strings.ToUpper(string(d.line[:i]))
	d.line = d.line[i:]
	switch name {
	case "ENVELOPE":
		a.Item = FetchEnvelope
	case "FLAGS":
		a.Item = FetchFlags
	case "INTERNALDATE":
		a.Item = FetchInternalDate
	case "RFC822.SIZE":
		a.Item = FetchRFC822Size
	case "RFC822":
		a.Item = FetchRFC822
	case "RFC822.HEADER":
		a.Item = FetchRFC822Header
	case "RFC822.TEXT":
		a.Item = FetchRFC822Text
	case "BODYSTRUCTURE":
		a.Item = FetchBodyStructure
	case "UID":
		a.Item = FetchUID
	case "MODSEQ":
		a.Item = FetchModSeq
	case "BODY", "BODY.PEEK":
		if d.Peek() != '[' {
			if name == "BODY.PEEK" {
				d.Failf("BODY.PEEK needs a section")
				return a
			}
			a.Item = FetchBody
			return a
		}
		a.Item = FetchBodySection
		a.Peek = name == "BODY.PEEK"
		a.Section = d.section()
		d.partial(&a)
	case "BINARY", "BINARY.PEEK", "BINARY.SIZE":
		a.Item = FetchBinary
		a.Peek = name == "BINARY.PEEK"
		if name == "BINARY.SIZE" {
			a.Item = FetchBinarySize
		}
		a.Section = d.binarySection()
		if a.Item == FetchBinary {
			d.partial(&a)
		}
	default:
		d.Failf("unknown fetch attribute %q", truncate(name, 40))
	}
	return a
}

// section reads "[" [section-spec] "]".
func (d *Decoder) section() Section {
	var s Section
	d.Expect('[')
	if d.Accept(']') {
		return s
	}
	s.Part = d.sectionPart()
	if len(s.Part) > 0 {
		if d.Accept(']') {
			return s
		}
		d.Expect('.')
	}
	i := 0
	for i < len(d.line) && d.line[i] != ']' && d.line[i] != ' ' {
		i++
	}
	spec := strings.ToUpper(string(d.line[:i]))
	d.line = d.line[i:]
	switch spec {
	case "HEADER", "TEXT":
	case "MIME":
		if len(s.Part) == 0 {
			d.Failf("MIME needs a part number")
		}
	case "HEADER.FIELDS", "HEADER.FIELDS.NOT":
		d.SP()
		d.List(func() {
			f := d.AString()
			if d.err == nil && !validFieldName(f) {
				d.Failf("invalid header field name")
			}
			s.Fields = append(s.Fields, f)
		})
		if len(s.Fields) == 0 && d.err == nil {
			d.Failf("empty header field list")
		}
	default:
		d.Failf("invalid section")
	}
	s.Specifier = spec
	d.Expect(']')
	return s
}

// validFieldName reports whether f is a header field name: printable
// ASCII without ":" or space (RFC 5322 ftext).
func validFieldName(f string) bool {
	if f == "" {
		return false
	}
	for i := 0; i < len(f); i++ {
		if c := f[i]; c <= ' ' || c >= 0x7f || c == ':' {
			return false
		}
	}
	return true
}

// sectionPart reads nz-number *("." nz-number) when it is there.
func (d *Decoder) sectionPart() []int {
	var part []int
	for d.err == nil {
		c := d.Peek()
		if c < '1' || c > '9' {
			if len(part) > 0 {
				d.Failf("invalid section part")
			}
			return part
		}
		part = append(part, int(d.NzNumber()))
		if len(part) > 64 {
			d.Failf("section part too deep")
			return nil
		}
		if d.Peek() != '.' || len(d.line) < 2 || d.line[1] < '0' || d.line[1] > '9' {
			return part
		}
		d.line = d.line[1:]
	}
	return part
}

// binarySection reads "[" [section-part] "]".
func (d *Decoder) binarySection() Section {
	var s Section
	d.Expect('[')
	s.Part = d.sectionPart()
	d.Expect(']')
	return s
}

// partial reads an optional "<" number "." nz-number ">".
func (d *Decoder) partial(a *FetchAtt) {
	if !d.Accept('<') {
		return
	}
	a.Partial = true
	a.Offset = d.Number()
	d.Expect('.')
	a.Count = d.NzNumber()
	d.Expect('>')
}

// AppendName appends the item's name as a FETCH response labels it:
// "BODY[1.HEADER.FIELDS (FROM)]<0>", "BINARY.SIZE[1]", "RFC822.SIZE"...
func (a *FetchAtt) AppendName(dst []byte) []byte {
	switch a.Item {
	case FetchEnvelope:
		return append(dst, "ENVELOPE"...)
	case FetchFlags:
		return append(dst, "FLAGS"...)
	case FetchInternalDate:
		return append(dst, "INTERNALDATE"...)
	case FetchRFC822Size:
		return append(dst, "RFC822.SIZE"...)
	case FetchBody:
		return append(dst, "BODY"...)
	case FetchBodyStructure:
		return append(dst, "BODYSTRUCTURE"...)
	case FetchUID:
		return append(dst, "UID"...)
	case FetchModSeq:
		return append(dst, "MODSEQ"...)
	case FetchRFC822:
		return append(dst, "RFC822"...)
	case FetchRFC822Header:
		return append(dst, "RFC822.HEADER"...)
	case FetchRFC822Text:
		return append(dst, "RFC822.TEXT"...)
	case FetchBodySection:
		dst = append(dst, "BODY["...)
	case FetchBinary:
		dst = append(dst, "BINARY["...)
	case FetchBinarySize:
		dst = append(dst, "BINARY.SIZE["...)
	}
	for i, p := range a.Section.Part {
		if i > 0 {
			dst = append(dst, '.')
		}
		dst = strconv.AppendInt(dst, int64(p), 10)
	}
	if a.Section.Specifier != "" {
		if len(a.Section.Part) > 0 {
			dst = append(dst, '.')
		}
		dst = append(dst, a.Section.Specifier...)
		if len(a.Section.Fields) > 0 {
			dst = append(dst, " ("...)
			for i, f := range a.Section.Fields {
				if i > 0 {
					dst = append(dst, ' ')
				}
				dst = AppendAString(dst, f)
			}
			dst = append(dst, ')')
		}
	}
	dst = append(dst, ']')
	if a.Partial {
		dst = append(dst, '<')
		dst = strconv.AppendUint(dst, uint64(a.Offset), 10)
		dst = append(dst, '>')
	}
	return dst
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

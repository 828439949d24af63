package imapmsg

import (
	"encoding/binary"
	"errors"
	"slices"
	"sync"
)

// The encoding of a Structure: a magic, a version byte, then uvarints and
// length-prefixed strings. Bump formatVersion whenever the layout or the
// meaning of any field changes (including parsing decisions that change
// what a message renders as): caches then re-parse.
const (
	formatMagic   = "IMS"
	formatVersion = 1
)

// ErrCorrupt is returned by [Unmarshal] for data that is not a valid
// encoding of the current version; the caller should parse the message
// again.
var ErrCorrupt = errors.New("imapmsg: corrupt or outdated structure encoding")

// MarshalBinary returns a compact, versioned encoding of the Structure
// for a [github.com/mailfront/mailfront/imap4.StructureCache]. It never
// fails. Decoded sizes already computed by [Structure.BinarySize] are
// included.
func (s *Structure) MarshalBinary() ([]byte, error) {
	e := encoder{buf: make([]byte, 0, 1024)}
	e.buf = append(e.buf, formatMagic...)
	e.buf = append(e.buf, formatVersion)
	e.uvarint(uint64(s.size))
	e.uvarint(uint64(countParts(s.root)))
	if s.dateOK {
		e.buf = append(e.buf, 1)
		e.varint(s.dateUnix)
		e.varint(int64(s.dateOff))
	} else {
		e.buf = append(e.buf, 0)
	}
	e.uvarint(uint64(len(s.fields)))
	for _, f := range s.fields {
		e.str(f.name)
		e.str(f.value)
	}
	e.part(s.root)
	return e.buf, nil
}

func countParts(p *part) int {
	n := 1
	for _, c := range p.children {
		n += countParts(c)
	}
	return n
}

type encoder struct{ buf []byte }

func (e *encoder) uvarint(v uint64) { e.buf = binary.AppendUvarint(e.buf, v) }
func (e *encoder) varint(v int64)   { e.buf = binary.AppendVarint(e.buf, v) }

func (e *encoder) str(s string) {
	e.uvarint(uint64(len(s)))
	e.buf = append(e.buf, s...)
}

func (e *encoder) params(ps []param) {
	e.uvarint(uint64(len(ps)))
	for _, p := range ps {
		e.str(p.name)
		e.str(p.value)
	}
}

func (e *encoder) part(p *part) {
	e.uvarint(uint64(p.hdrOff))
	e.uvarint(uint64(p.bodyOff - p.hdrOff))
	e.uvarint(uint64(p.end - p.bodyOff))
	e.uvarint(uint64(p.lines))
	e.buf = append(e.buf, byte(p.kind))
	e.str(p.typ)
	e.str(p.sub)
	e.params(p.params)
	e.str(p.id)
	e.str(p.desc)
	e.str(p.enc)
	e.str(p.md5)
	e.str(p.loc)
	e.str(p.disp)
	e.params(p.dispParams)
	e.uvarint(uint64(len(p.lang)))
	for _, l := range p.lang {
		e.str(l)
	}
	e.uvarint(uint64(p.binSize.Load()))
	if p.env == nil {
		e.buf = append(e.buf, 0)
	} else {
		e.buf = append(e.buf, 1)
		e.envelope(p.env)
	}
	e.uvarint(uint64(len(p.children)))
	for _, c := range p.children {
		e.part(c)
	}
}

func (e *encoder) envelope(env *envelope) {
	e.buf = append(e.buf, env.has)
	e.str(env.date)
	e.str(env.subject)
	e.str(env.inReplyTo)
	e.str(env.messageID)
	for _, l := range [...][]address{env.from, env.sender, env.replyTo, env.to, env.cc, env.bcc} {
		e.uvarint(uint64(len(l)))
		for _, a := range l {
			e.buf = append(e.buf, byte(a.kind))
			e.str(a.name)
			e.str(a.adl)
			e.str(a.mailbox)
			e.str(a.host)
		}
	}
}

// Unmarshal decodes what [Structure.MarshalBinary] produced. It fails with
// [ErrCorrupt] on data of another version or that is damaged; it never
// panics, and allocates at most a small multiple of len(data).
func Unmarshal(data []byte) (*Structure, error) {
	if len(data) < len(formatMagic)+1 || string(data[:len(formatMagic)]) != formatMagic ||
		data[len(formatMagic)] != formatVersion {
		return nil, ErrCorrupt
	}
	d := structDecoder{s: string(data), i: len(formatMagic) + 1}
	// The Structure comes with the root's envelope.
	a := &struct {
		s   Structure
		env envelope
	}{}
	s := &a.s
	size := d.uvarint()
	if size > 1<<62 {
		return nil, ErrCorrupt
	}
	s.size = int64(size)
	nparts := d.uvarint()
	// Every encoded part takes at least 19 bytes.
	if d.err || nparts == 0 || nparts > maxParts+maxDepth+2 || nparts > uint64(len(data)/19) {
		return nil, ErrCorrupt
	}
	switch d.byte() {
	case 0:
	case 1:
		s.dateOK = true
		s.dateUnix = d.varint()
		off := d.varint()
		if off < -24*3600 || off > 24*3600 {
			return nil, ErrCorrupt
		}
		s.dateOff = int32(off)
	default:
		return nil, ErrCorrupt
	}
	if n := d.count(2); n > 0 {
		s.fields = make([]field, n)
		for i := range s.fields {
			s.fields[i] = field{name: d.str(), value: d.str()}
		}
	}
	d.parts = make([]part, nparts)
	d.kids = make([]*part, nparts-1) // every part but the root is a child
	d.sc = decodeScratchPool.Get().(*decodeScratch)
	defer d.sc.release()
	s.root = d.part(0, s.size, 0)
	if d.err || d.i != len(d.s) || d.next != len(d.parts) {
		return nil, ErrCorrupt
	}
	d.relocate(&a.env)
	return s, nil
}

// structDecoder reads the encoding; any error sets err and makes every later
// read return zero values.
//
// The slices of the parts (parameters, languages, addresses) and the
// envelopes are first decoded into pooled scratch slices (sc), then
// moved by relocate into one allocation of each kind.
type structDecoder struct {
	s     string // all strings share this one allocation
	i     int
	err   bool
	parts []part
	next  int
	kids  []*part // the children lists, taken in turn
	sc    *decodeScratch
}

// decodeScratch holds what Unmarshal decodes before relocate moves it,
// reused through decodeScratchPool.
type decodeScratch struct {
	params []param
	langs  []string
	addrs  []address
	envs   []envelope
}

var decodeScratchPool = sync.Pool{New: func() any { return new(decodeScratch) }}

func (sc *decodeScratch) release() {
	sc.params = reuse(sc.params, 256)
	sc.langs = reuse(sc.langs, 64)
	sc.addrs = reuse(sc.addrs, 256)
	sc.envs = reuse(sc.envs, 16)
	decodeScratchPool.Put(sc)
}

// relocate moves the parts' slices and envelopes from the scratch space
// to slices of their own, rootEnv for the root's envelope. The scratch
// slices hold the items in the order the parts were decoded (the order
// of d.parts), which is the order relocate walks them in.
func (d *structDecoder) relocate(rootEnv *envelope) {
	sc := d.sc
	params := move(sc.params)
	langs := move(sc.langs)
	addrs := move(sc.addrs)
	var envs []envelope
	if n := len(sc.envs); d.parts[0].env == nil && n > 0 {
		envs = make([]envelope, n)
	} else if n > 1 {
		envs = make([]envelope, n-1)
	}
	ie := 0
	for k := range d.parts {
		p := &d.parts[k]
		p.params = nextN(&params, len(p.params))
		p.dispParams = nextN(&params, len(p.dispParams))
		p.lang = nextN(&langs, len(p.lang))
		if p.env == nil {
			continue
		}
		env := rootEnv
		if k > 0 {
			env = &envs[0]
			envs = envs[1:]
		}
		*env = sc.envs[ie]
		ie++
		p.env = env
		for _, l := range [...]*[]address{&env.from, &env.sender, &env.replyTo, &env.to, &env.cc, &env.bcc} {
			*l = nextN(&addrs, len(*l))
		}
	}
}

// move returns a copy of scratch in a slice of its own (nil if empty).
func move[T any](scratch []T) []T {
	if len(scratch) == 0 {
		return nil
	}
	return append([]T(nil), scratch...)
}

// nextN returns the next n items of *s (nil for none), and advances *s.
func nextN[T any](s *[]T, n int) []T {
	if n == 0 {
		return nil
	}
	v := (*s)[:n:n]
	*s = (*s)[n:]
	return v
}

// take returns n items from the end of *scratch, grown for them (nil for
// none).
func take[T any](scratch *[]T, n int) []T {
	if n == 0 {
		return nil
	}
	k := len(*scratch)
	*scratch = slices.Grow(*scratch, n)[:k+n]
	return (*scratch)[k : k+n : k+n]
}

func (d *structDecoder) fail() { d.err, d.i = true, len(d.s) }

func (d *structDecoder) byte() byte {
	if d.i >= len(d.s) {
		d.fail()
		return 0
	}
	c := d.s[d.i]
	d.i++
	return c
}

func (d *structDecoder) uvarint() uint64 {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if d.i >= len(d.s) {
			d.fail()
			return 0
		}
		c := d.s[d.i]
		d.i++
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v
		}
	}
	d.fail()
	return 0
}

func (d *structDecoder) varint() int64 {
	u := d.uvarint()
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	return v
}

// count reads a count of items each taking at least min bytes.
func (d *structDecoder) count(min int) int {
	n := d.uvarint()
	if n > uint64((len(d.s)-d.i)/min) {
		d.fail()
		return 0
	}
	return int(n)
}

func (d *structDecoder) str() string {
	n := d.uvarint()
	if n > uint64(len(d.s)-d.i) {
		d.fail()
		return ""
	}
	s := d.s[d.i : d.i+int(n)]
	d.i += int(n)
	return s
}

// params decodes a parameter list.
func (d *structDecoder) params() []param {
	n := d.count(2)
	ps := take(&d.sc.params, n)
	for i := range ps {
		ps[i] = param{name: d.str(), value: d.str()}
	}
	return ps
}

// part decodes a part that must lie within [lo, hi] of the content.
func (d *structDecoder) part(lo, hi int64, depth int) *part {
	if d.err || depth > maxDepth+2 || d.next >= len(d.parts) {
		d.fail()
		return &part{}
	}
	p := &d.parts[d.next]
	d.next++
	hdrOff, hdrLen, bodyLen := d.uvarint(), d.uvarint(), d.uvarint()
	if hdrOff > uint64(hi) || hdrLen > uint64(hi) || bodyLen > uint64(hi) ||
		int64(hdrOff) < lo || int64(hdrOff+hdrLen+bodyLen) > hi {
		d.fail()
		return p
	}
	p.hdrOff = int64(hdrOff)
	p.bodyOff = p.hdrOff + int64(hdrLen)
	p.end = p.bodyOff + int64(bodyLen)
	lines := d.uvarint()
	if lines > bodyLen {
		d.fail()
		return p
	}
	p.lines = int64(lines)
	p.kind = partKind(d.byte())
	p.typ, p.sub = d.str(), d.str()
	p.params = d.params()
	p.id, p.desc, p.enc, p.md5, p.loc, p.disp = d.str(), d.str(), d.str(), d.str(), d.str(), d.str()
	p.dispParams = d.params()
	p.lang = take(&d.sc.langs, d.count(1))
	for i := range p.lang {
		p.lang[i] = d.str()
	}
	bs := d.uvarint() // decoded size + 1: never more than the encoded size
	if bs > bodyLen+1 {
		d.fail()
		return p
	}
	p.binSize.Store(int64(bs))
	switch d.byte() {
	case 0:
	case 1:
		p.env = d.envelope()
	default:
		d.fail()
	}
	n := d.count(19)
	switch p.kind {
	case kindLeaf:
		if n != 0 {
			d.fail()
		}
	case kindMessage:
		if n != 1 {
			d.fail()
		}
	case kindMultipart:
	default:
		d.fail()
	}
	if d.err {
		return p
	}
	if n > 0 {
		if n > len(d.kids) {
			d.fail() // more children than parts
			return p
		}
		p.children, d.kids = d.kids[:n:n], d.kids[n:]
		for i := range p.children {
			p.children[i] = d.part(p.bodyOff, p.end, depth+1)
		}
		if p.kind == kindMessage && p.children[0].env == nil {
			d.fail()
		}
	}
	return p
}

// envelope decodes an envelope into the scratch space.
func (d *structDecoder) envelope() *envelope {
	envs := take(&d.sc.envs, 1)
	env := &envs[0]
	env.has = d.byte()
	env.date, env.subject, env.inReplyTo, env.messageID = d.str(), d.str(), d.str(), d.str()
	for _, l := range [...]*[]address{&env.from, &env.sender, &env.replyTo, &env.to, &env.cc, &env.bcc} {
		*l = take(&d.sc.addrs, d.count(5))
		for i := range *l {
			a := &(*l)[i]
			a.kind = addrKind(d.byte())
			if a.kind > addrGroupEnd {
				d.fail()
			}
			a.name, a.adl, a.mailbox, a.host = d.str(), d.str(), d.str(), d.str()
		}
	}
	return env
}

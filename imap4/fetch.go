package imap4

import (
	"errors"
	"io"
	"log/slog"
	"slices"

	"github.com/mailfront/mailfront"
	"github.com/mailfront/mailfront/imap4/internal/imapmsg"
	"github.com/mailfront/mailfront/imap4/internal/imapwire"
)

// fetchPlan is a parsed FETCH, ready to run per message.
type fetchPlan struct {
	atts         []imapwire.FetchAtt
	needsStruct  bool // ENVELOPE, BODY, BODYSTRUCTURE, sections, BINARY
	needsContent bool // sections and BINARY read the message
	setsSeen     bool
	hasFlags     bool
	hasModSeq    bool
	opts         imapmsg.RenderOptions
	// per message, reused: the prepared section readers, by att index
	readers []sectionData
}

// sectionData is one prepared section of a message.
type sectionData struct {
	r    io.Reader
	size int64
	lit8 bool // BINARY data that may hold NUL: sent as a literal8
}

func (c *conn) cmdFetch(cmd *command) error {
	d := cmd.d
	d.SP()
	set := d.SequenceSet()
	d.SP()
	atts := d.FetchAtts()
	var changedSince ModSeq
	hasChangedSince, vanished := false, false
	if d.Accept(' ') {
		d.List(func() {
			switch m := d.Keyword(); m {
			case "CHANGEDSINCE":
				d.SP()
				changedSince = ModSeq(d.Number64())
				hasChangedSince = true
			case "VANISHED":
				vanished = true
			default:
				d.Failf("unknown FETCH modifier %s", m)
			}
		})
	}
	if err := cmd.end(); err != nil {
		return err
	}
	if vanished && !(cmd.uid && c.qresync && hasChangedSince) {
		return bad("", "VANISHED needs UID FETCH, QRESYNC enabled and CHANGEDSINCE")
	}
	sel := c.sel
	spans, err := sel.resolve(set, cmd.uid)
	if err != nil {
		return err
	}
	p := c.newFetchPlan(atts, cmd.uid, hasChangedSince)
	if p.hasModSeq {
		c.enableCondstore()
	}
	if vanished {
		if err := c.fetchVanished(set, changedSince); err != nil {
			return err
		}
	}
	seen := c.implicitSeen(p, spans, hasChangedSince, changedSince)
	var result error
	for _, sp := range spans {
		for i := sp.lo; i < sp.hi; i++ {
			if hasChangedSince && sel.modseqs[i] <= changedSince {
				continue
			}
			_, setSeen := slices.BinarySearch(seen, sel.uids[i])
			if err := c.fetchOne(p, i, setSeen); err != nil {
				if c.enc.Err() != nil {
					// The connection, or the message being sent, broke
					// mid-literal: the session cannot go on.
					c.log(slog.LevelWarn, "FETCH failed while sending", slog.Any("err", c.enc.Err()))
					c.nc.SetCloseReason(mailfront.ReadError)
					c.end = true
					return errSent
				}
				if st := c.mapError(err); st == nil {
					return errShutdown
				} else if result == nil || st.code != string(CodeExpungeIssued) {
					result = st
				}
			}
		}
	}
	if st, isStatus := result.(*status); isStatus && st.code == string(CodeExpungeIssued) {
		return ok(string(CodeExpungeIssued), "Some messages were expunged meanwhile")
	}
	return result
}

// newFetchPlan normalises the items: UID first for UID FETCH, MODSEQ
// added with CHANGEDSINCE (RFC 7162 §3.1.4.1), duplicates dropped.
func (c *conn) newFetchPlan(atts []imapwire.FetchAtt, uid, changedSince bool) *fetchPlan {
	p := &fetchPlan{opts: imapmsg.RenderOptions{UTF8: c.utf8Names()}}
	has := func(item imapwire.FetchItem) bool {
		for i := range p.atts {
			if p.atts[i].Item == item {
				return true
			}
		}
		return false
	}
	if uid {
		p.atts = append(p.atts, imapwire.FetchAtt{Item: imapwire.FetchUID})
	}
	for _, a := range atts {
		switch a.Item {
		case imapwire.FetchUID, imapwire.FetchFlags, imapwire.FetchModSeq, imapwire.FetchEnvelope,
			imapwire.FetchInternalDate, imapwire.FetchRFC822Size, imapwire.FetchBody, imapwire.FetchBodyStructure:
			if has(a.Item) {
				continue
			}
		}
		p.atts = append(p.atts, a)
	}
	if changedSince && !has(imapwire.FetchModSeq) {
		p.atts = append(p.atts, imapwire.FetchAtt{Item: imapwire.FetchModSeq})
	}
	for i := range p.atts {
		a := &p.atts[i]
		switch a.Item {
		case imapwire.FetchEnvelope, imapwire.FetchBody, imapwire.FetchBodyStructure:
			p.needsStruct = true
		case imapwire.FetchBodySection, imapwire.FetchBinary, imapwire.FetchBinarySize,
			imapwire.FetchRFC822, imapwire.FetchRFC822Header, imapwire.FetchRFC822Text:
			p.needsStruct = true
			p.needsContent = true
		case imapwire.FetchFlags:
			p.hasFlags = true
		case imapwire.FetchModSeq:
			p.hasModSeq = true
		}
		if a.SetsSeen() && !c.sel.readOnly {
			p.setsSeen = true
		}
	}
	p.readers = make([]sectionData, len(p.atts))
	return p
}

// implicitSeen sets \Seen on the messages a FETCH of body content will
// read (RFC 9051 §6.4.5), before they are read, and returns the UIDs whose
// flags changed so that their FETCH responses include FLAGS.
func (c *conn) implicitSeen(p *fetchPlan, spans []span, hasChangedSince bool, changedSince ModSeq) []UID {
	if !p.setsSeen {
		return nil
	}
	sel := c.sel
	var uids []UID
	for _, sp := range spans {
		for i := sp.lo; i < sp.hi; i++ {
			if sel.bits(i)&bitSeen == 0 && !(hasChangedSince && sel.modseqs[i] <= changedSince) {
				uids = append(uids, sel.uids[i])
			}
		}
	}
	if len(uids) == 0 {
		return nil
	}
	res, err := setFlags(c.nc.Ctx, sel.mb, uids, StoreAdd, []string{FlagSeen}, nil)
	if err != nil {
		c.mapError(err) // logged; the FETCH goes on without \Seen
		return nil
	}
	changed := make([]UID, 0, len(res.Updated))
	for k := range res.Updated {
		if c.applyMeta(&res.Updated[k]) {
			changed = append(changed, res.Updated[k].UID)
		}
	}
	slices.Sort(changed)
	return changed
}

// applyMeta records a message's new flags and mod-sequence, as a
// SetFlags by this session returned them, and reports whether it is in
// the view.
func (c *conn) applyMeta(m *MessageMeta) bool {
	sel := c.sel
	i, in := sel.find(m.UID)
	if !in {
		return false
	}
	sel.flags[i] = sel.ft.intern(m.Flags)
	sel.modseqs[i] = m.ModSeq
	return true
}

// fetchVanished reports, for UID FETCH ... (CHANGEDSINCE m VANISHED), the
// UIDs in the set expunged since m (RFC 7162 §3.2.6).
func (c *conn) fetchVanished(set imapwire.SeqSet, since ModSeq) error {
	sel := c.sel
	sd, err := syncMailbox(c.nc.Ctx, sel.mb, since)
	if err != nil {
		return err
	}
	var rs []imapwire.Range
	if set.Saved {
		rs = nil
	} else {
		rs = set.Resolve(uint32(max(sel.lastUID(), sel.uidNext-1)))
	}
	var out []UID
	for _, u := range sd.Expunged {
		if _, in := sel.find(u); in && !slices.Contains(sel.pending, u) {
			continue
		}
		if set.Saved || inRanges(rs, uint32(u)) {
			out = append(out, u)
		}
	}
	slices.Sort(out)
	if len(out) > 0 {
		c.enc.Raw("* VANISHED (EARLIER) ")
		c.enc.Buf = imapwire.AppendSet(c.enc.Buf, out)
		c.enc.CRLF()
	}
	return nil
}

// fetchOne writes the FETCH response of message i. Everything that can
// fail (opening the message, finding sections) happens before anything is
// written, so a message expunged meanwhile yields no partial response.
func (c *conn) fetchOne(p *fetchPlan, i int, setSeen bool) error {
	sel := c.sel
	var msg Message
	var st *imapmsg.Structure
	if p.needsStruct {
		var err error
		if p.needsContent {
			if msg, err = sel.mb.Open(c.nc.Ctx, sel.uids[i]); err != nil {
				return err
			}
			defer msg.Close()
		}
		if st, err = c.structure(i, msg); err != nil {
			return err
		}
		if p.needsContent {
			if err := c.prepareSections(p, st, msg); err != nil {
				return err
			}
		}
	}
	e := &c.enc
	e.Buf = append(e.Buf, "* "...)
	e.Number(uint64(i + 1))
	e.Buf = append(e.Buf, " FETCH ("...)
	for k := range p.atts {
		if k > 0 {
			e.Buf = append(e.Buf, ' ')
		}
		a := &p.atts[k]
		switch a.Item {
		case imapwire.FetchUID:
			e.Buf = append(e.Buf, "UID "...)
			e.Number(uint64(sel.uids[i]))
		case imapwire.FetchFlags:
			e.Buf = append(e.Buf, "FLAGS "...)
			e.Buf = c.appendFlags(e.Buf, i)
		case imapwire.FetchModSeq:
			e.Buf = append(e.Buf, "MODSEQ ("...)
			e.Number(uint64(sel.modseqs[i]))
			e.Buf = append(e.Buf, ')')
		case imapwire.FetchInternalDate:
			e.Buf = append(e.Buf, "INTERNALDATE "...)
			e.Buf = appendDate(e.Buf, sel.dates[i])
		case imapwire.FetchRFC822Size:
			e.Buf = append(e.Buf, "RFC822.SIZE "...)
			e.Number(uint64(max(sel.sizes[i], 0)))
		case imapwire.FetchEnvelope:
			e.Buf = append(e.Buf, "ENVELOPE "...)
			e.Buf = st.AppendEnvelope(e.Buf, p.opts)
		case imapwire.FetchBody:
			e.Buf = append(e.Buf, "BODY "...)
			e.Buf = st.AppendBodyStructure(e.Buf, false, p.opts)
		case imapwire.FetchBodyStructure:
			e.Buf = append(e.Buf, "BODYSTRUCTURE "...)
			e.Buf = st.AppendBodyStructure(e.Buf, true, p.opts)
		case imapwire.FetchBinarySize:
			e.Buf = a.AppendName(e.Buf)
			e.Buf = append(e.Buf, ' ')
			e.Number(uint64(p.readers[k].size))
		default: // sections and BINARY
			e.Buf = a.AppendName(e.Buf)
			e.Buf = append(e.Buf, ' ')
			sd := &p.readers[k]
			e.Literal(sd.r, sd.size, sd.lit8)
			sd.r = nil
		}
	}
	if setSeen && !p.hasFlags {
		e.Buf = append(e.Buf, " FLAGS "...)
		e.Buf = c.appendFlags(e.Buf, i)
	}
	if (setSeen || p.hasFlags) && c.condstore && !p.hasModSeq {
		e.Buf = append(e.Buf, " MODSEQ ("...)
		e.Number(uint64(sel.modseqs[i]))
		e.Buf = append(e.Buf, ')')
	}
	e.Byte(')').CRLF()
	return e.Err()
}

// prepareSections finds the octets of every section and BINARY item of a
// message, applying partial ranges.
func (c *conn) prepareSections(p *fetchPlan, st *imapmsg.Structure, msg Message) error {
	for k := range p.atts {
		a := &p.atts[k]
		var r io.Reader
		var size int64
		var err error
		switch a.Item {
		case imapwire.FetchRFC822:
			r, size, err = st.SectionReader(msg, imapmsg.Section{})
		case imapwire.FetchRFC822Header:
			r, size, err = st.SectionReader(msg, imapmsg.Section{Specifier: imapmsg.SpecHeader})
		case imapwire.FetchRFC822Text:
			r, size, err = st.SectionReader(msg, imapmsg.Section{Specifier: imapmsg.SpecText})
		case imapwire.FetchBodySection:
			r, size, err = st.SectionReader(msg, imapmsg.Section{Part: a.Section.Part, Specifier: a.Section.Specifier, Fields: a.Section.Fields})
		case imapwire.FetchBinary:
			r, size, err = st.BinaryReader(msg, a.Section.Part)
		case imapwire.FetchBinarySize:
			size, err = st.BinarySize(msg, a.Section.Part)
		default:
			continue
		}
		if errors.Is(err, imapmsg.ErrUnknownEncoding) {
			return no(string(CodeUnknownCTE), "Unknown Content-Transfer-Encoding")
		}
		if err != nil {
			return err
		}
		if a.Partial {
			r, size = partial(r, size, int64(a.Offset), int64(a.Count))
		}
		// Decoded base64 and quoted-printable is binary data, sent as a
		// literal8; 7bit and 8bit data, which has no NUL, as a literal
		// (RFC 3516 §4.3), as Dovecot does.
		lit8 := a.Item == imapwire.FetchBinary && st.BinaryLiteral8(a.Section.Part)
		p.readers[k] = sectionData{r, size, lit8}
	}
	return nil
}

// partial narrows a section to <offset.count>.
func partial(r io.Reader, size, offset, count int64) (io.Reader, int64) {
	if offset >= size {
		return eofReader{}, 0
	}
	n := min(count, size-offset)
	if s, ok := r.(io.Seeker); ok {
		if _, err := s.Seek(offset, io.SeekCurrent); err == nil {
			return r, n
		}
	}
	return &skipReader{r: r, skip: offset}, n
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// skipReader drops the first skip bytes of r.
type skipReader struct {
	r    io.Reader
	skip int64
}

func (s *skipReader) Read(p []byte) (int, error) {
	if s.skip > 0 {
		if _, err := io.CopyN(io.Discard, s.r, s.skip); err != nil {
			return 0, err
		}
		s.skip = 0
	}
	return s.r.Read(p)
}

// structure returns the parsed structure of message i: from the session,
// from the backend's StructureCache, or by parsing the message (opened
// here when msg is nil), which is then cached.
func (c *conn) structure(i int, msg Message) (*imapmsg.Structure, error) {
	sel := c.sel
	uid := sel.uids[i]
	if st := sel.structs[uid]; st != nil {
		return st, nil
	}
	if sel.cache != nil {
		if data, ok := sel.cache.CachedStructure(c.nc.Ctx, uid); ok {
			if st, err := imapmsg.Unmarshal(data); err == nil {
				c.keepStructure(uid, st)
				return st, nil
			}
		}
	}
	if msg == nil {
		m, err := sel.mb.Open(c.nc.Ctx, uid)
		if err != nil {
			return nil, err
		}
		defer m.Close()
		msg = m
	}
	st, err := imapmsg.Parse(msg, msg.Size())
	if err != nil {
		return nil, err
	}
	if sel.cache != nil {
		if data, err := st.MarshalBinary(); err == nil {
			sel.cache.CacheStructure(c.nc.Ctx, uid, data)
		}
	}
	c.keepStructure(uid, st)
	return st, nil
}

// keepStructure remembers a structure for the session, within a bound.
func (c *conn) keepStructure(uid UID, st *imapmsg.Structure) {
	sel := c.sel
	if sel.structs == nil || len(sel.structs) >= maxSessionStructs {
		sel.structs = make(map[UID]*imapmsg.Structure)
	}
	sel.structs[uid] = st
}

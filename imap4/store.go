package imap4

import (
	"slices"
	"strings"

	"github.com/mailfront/mailfront/imap4/internal/imapwire"
)

// parseFlags normalises flags from STORE or APPEND: system flags spelled
// as the Flag constants, keywords as sent; \Recent, \* and unknown system
// flags are refused.
func parseFlags(flags []string) ([]string, error) {
	out := make([]string, 0, len(flags))
	for _, f := range flags {
		if strings.HasPrefix(f, `\`) {
			known := false
			for _, sf := range systemFlags {
				if strings.EqualFold(f, sf.name) {
					f, known = sf.name, true
				}
			}
			if !known {
				return nil, bad("", "Flag "+cleanText(f)+" cannot be stored")
			}
		}
		dup := false
		for _, o := range out {
			if strings.EqualFold(o, f) {
				dup = true
			}
		}
		if !dup {
			out = append(out, f)
		}
	}
	return out, nil
}

func (c *conn) cmdStore(cmd *command) error {
	d := cmd.d
	d.SP()
	set := d.SequenceSet()
	d.SP()
	var opts StoreOptions
	hasUnchanged := false
	if d.Peek() == '(' {
		d.List(func() {
			if m := d.Keyword(); m != "UNCHANGEDSINCE" && d.Err() == nil {
				d.Failf("unknown STORE modifier %s", m)
			}
			d.SP()
			opts.UnchangedSince = ModSeq(d.Number64())
			hasUnchanged = true
		})
		d.SP()
	}
	item := d.Keyword()
	d.SP()
	var raw []string
	if d.Peek() == '(' {
		raw = d.FlagList()
	} else {
		for {
			raw = append(raw, d.Flag())
			if d.AtEnd() {
				break
			}
			d.SP()
		}
	}
	if err := cmd.end(); err != nil {
		return err
	}
	var op StoreOp
	silent := strings.HasSuffix(item, ".SILENT")
	switch strings.TrimSuffix(item, ".SILENT") {
	case "FLAGS":
		op = StoreReplace
	case "+FLAGS":
		op = StoreAdd
	case "-FLAGS":
		op = StoreRemove
	default:
		return bad("", "Unknown STORE item "+cleanText(item))
	}
	flags, err := parseFlags(raw)
	if err != nil {
		return err
	}
	sel := c.sel
	spans, err := sel.resolve(set, cmd.uid)
	if err != nil {
		return err
	}
	if hasUnchanged {
		c.enableCondstore()
	}
	if sel.readOnly {
		return no("READ-ONLY", "Mailbox is read-only")
	}
	uids := sel.uidsIn(spans)
	if len(uids) == 0 {
		return nil
	}
	var res *StoreResult
	switch {
	case hasUnchanged && opts.UnchangedSince == 0:
		// UNCHANGEDSINCE 0 always fails (RFC 7162 §3.1.3).
		res = &StoreResult{Modified: uids}
	case hasUnchanged:
		res, err = setFlags(c.nc.Ctx, sel.mb, uids, op, flags, &opts)
	default:
		res, err = setFlags(c.nc.Ctx, sel.mb, uids, op, flags, nil)
	}
	if err != nil {
		return err
	}
	updated := make(map[UID]bool, len(res.Updated))
	for k := range res.Updated {
		if c.applyMeta(&res.Updated[k]) {
			updated[res.Updated[k].UID] = true
		}
	}
	if sel.ft.newKW {
		c.writeFlags() // a new keyword: before the FETCH that shows it
	}
	modified := make(map[UID]bool, len(res.Modified))
	for _, u := range res.Modified {
		modified[u] = true
	}
	for _, sp := range spans {
		for i := sp.lo; i < sp.hi && i < len(sel.uids); i++ {
			u := sel.uids[i]
			switch {
			case modified[u]:
			case !silent:
				c.writeFlagsFetch(i, c.condstore)
			case c.condstore && updated[u]:
				// RFC 7162 §3.1.3: the new mod-sequence is reported even
				// with .SILENT.
				c.enc.Raw("* ").Number(uint64(i + 1)).Raw(" FETCH (UID ").Number(uint64(u)).
					Raw(" MODSEQ (").Number(uint64(sel.modseqs[i])).Raw("))").CRLF()
			}
		}
	}
	if len(res.Modified) > 0 {
		var nums []uint32
		for _, u := range res.Modified {
			if cmd.uid {
				nums = append(nums, uint32(u))
			} else if i, in := sel.find(u); in {
				nums = append(nums, uint32(i+1))
			}
		}
		slices.Sort(nums)
		return ok("MODIFIED "+string(imapwire.AppendSet(nil, nums)), "Conditional STORE failed")
	}
	return nil
}

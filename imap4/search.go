package imap4

import (
	"strings"

	"github.com/mailfront/mailfront/imap4/internal/imapwire"
)

// searchReturn holds the RETURN options of SEARCH (RFC 4731, RFC 5182).
type searchReturn struct {
	min, max, all, count, save bool
	esearch                    bool // answer with ESEARCH
}

func (c *conn) cmdSearch(cmd *command) error {
	d := cmd.d
	d.SP()
	var ret searchReturn
	if d.PeekString("RETURN ") || d.PeekString("RETURN(") {
		d.Keyword()
		d.SP()
		ret.esearch = true
		d.List(func() {
			switch o := d.Keyword(); o {
			case "MIN":
				ret.min = true
			case "MAX":
				ret.max = true
			case "ALL":
				ret.all = true
			case "COUNT":
				ret.count = true
			case "SAVE":
				ret.save = true
			default:
				d.Failf("unknown SEARCH return option %s", o)
			}
		})
		d.SP()
		if !ret.min && !ret.max && !ret.count && !ret.save {
			ret.all = true // RETURN () means ALL
		}
	}
	if d.PeekString("CHARSET ") {
		d.Keyword()
		d.SP()
		cs := strings.ToUpper(d.AString())
		if d.Err() == nil && cs != "UTF-8" && cs != "US-ASCII" {
			// The rest of the command is not parsed: skip it.
			return no("BADCHARSET (UTF-8 US-ASCII)", "Unsupported charset")
		}
		d.SP()
	}
	keys := d.SearchKeys()
	if err := cmd.end(); err != nil {
		return err
	}
	if c.rev2 && !ret.esearch {
		ret.esearch, ret.all = true, true
	}
	sel := c.sel
	prog, err := c.compileSearch(&keys)
	if err != nil {
		return err
	}
	if prog.usesModSeq {
		c.enableCondstore()
	}
	matches, highest, err := c.runSearch(prog)
	if err != nil {
		return err
	}
	if ret.save {
		c.saveResult(matches, &ret)
	}
	if ret.esearch {
		if ret.save && !ret.min && !ret.max && !ret.all && !ret.count {
			return nil // SAVE alone: no ESEARCH response (RFC 5182 §2.4)
		}
		c.writeESearch(cmd, matches, highest, &ret)
		return nil
	}
	e := &c.enc
	e.Raw("* SEARCH")
	for _, i := range matches {
		e.SP()
		if cmd.uid {
			e.Number(uint64(sel.uids[i]))
		} else {
			e.Number(uint64(i + 1))
		}
	}
	if prog.usesModSeq && len(matches) > 0 {
		e.Raw(" (MODSEQ ").Number(uint64(highest)).Byte(')')
	}
	e.CRLF()
	return nil
}

// saveResult keeps the result for "$" (RFC 5182): all matches, or just
// the minimum and/or maximum when only those were asked for.
func (c *conn) saveResult(matches []int, ret *searchReturn) {
	sel := c.sel
	sel.saved = sel.saved[:0]
	if len(matches) == 0 {
		return
	}
	if (ret.min || ret.max) && !ret.all && !ret.count {
		if ret.min {
			sel.saved = append(sel.saved, sel.uids[matches[0]])
		}
		if ret.max && (!ret.min || len(matches) > 1) {
			sel.saved = append(sel.saved, sel.uids[matches[len(matches)-1]])
		}
		return
	}
	for _, i := range matches {
		sel.saved = append(sel.saved, sel.uids[i])
	}
}

// writeESearch writes "* ESEARCH (TAG "a") [UID] MIN .. MAX .. COUNT ..
// ALL .. [MODSEQ ..]".
func (c *conn) writeESearch(cmd *command, matches []int, highest ModSeq, ret *searchReturn) {
	sel := c.sel
	num := func(i int) uint32 {
		if cmd.uid {
			return uint32(sel.uids[i])
		}
		return uint32(i + 1)
	}
	e := &c.enc
	e.Raw("* ESEARCH (TAG ").Quoted(cmd.tag).Byte(')')
	if cmd.uid {
		e.Raw(" UID")
	}
	if len(matches) > 0 {
		if ret.min {
			e.Raw(" MIN ").Number(uint64(num(matches[0])))
		}
		if ret.max {
			e.Raw(" MAX ").Number(uint64(num(matches[len(matches)-1])))
		}
	}
	if ret.count {
		e.Raw(" COUNT ").Number(uint64(len(matches)))
	}
	if ret.all && len(matches) > 0 {
		nums := make([]uint32, len(matches))
		for k, i := range matches {
			nums[k] = num(i)
		}
		e.Raw(" ALL ")
		e.Buf = imapwire.AppendSet(e.Buf, nums)
	}
	if highest > 0 && len(matches) > 0 {
		e.Raw(" MODSEQ ").Number(uint64(highest))
	}
	e.CRLF()
}

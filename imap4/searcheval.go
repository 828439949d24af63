package imap4

import (
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/mailfront/mailfront/imap4/internal/imapmsg"
	"github.com/mailfront/mailfront/imap4/internal/imapwire"
)

// A searchNode is a compiled search key: sets resolved to the view,
// keywords to flag sets, dates to day numbers, and text criteria possibly
// answered by the backend's Searcher.
type searchNode struct {
	op       imapwire.SearchOp
	sub      []*searchNode
	bit      uint8  // system flag of SearchFlag/SearchNoFlag; 0 for a keyword
	inSet    []bool // keyword: by flag set index; seq/UID set: by view index
	num      uint64
	day      int64
	field, s string
	hits     []bool // text criterion answered by the Searcher, by view index
	cost     int    // 0: view only, 1: structure, 2: message content
}

type searchProgram struct {
	root       *searchNode
	usesModSeq bool
}

// compileSearch prepares a parsed search for evaluation against the view.
func (c *conn) compileSearch(k *imapwire.SearchKey) (*searchProgram, error) {
	p := &searchProgram{}
	root, err := c.compileKey(k, p)
	if err != nil {
		return nil, err
	}
	p.root = root
	if c.sel.searcher != nil {
		if err := c.indexedSearch(root); err != nil {
			return nil, err
		}
		setCosts(root)
	}
	return p, nil
}

func (c *conn) compileKey(k *imapwire.SearchKey, p *searchProgram) (*searchNode, error) {
	sel := c.sel
	n := &searchNode{op: k.Op, num: k.Num, field: k.Field, s: k.Str}
	switch k.Op {
	case imapwire.SearchAnd, imapwire.SearchOr, imapwire.SearchNot:
		for i := range k.Sub {
			sub, err := c.compileKey(&k.Sub[i], p)
			if err != nil {
				return nil, err
			}
			n.sub = append(n.sub, sub)
			n.cost = max(n.cost, sub.cost)
		}
		if k.Op == imapwire.SearchAnd {
			slices.SortStableFunc(n.sub, func(a, b *searchNode) int { return a.cost - b.cost })
		}
	case imapwire.SearchSeqSet, imapwire.SearchUID:
		spans, err := sel.resolve(k.Set, k.Op == imapwire.SearchUID)
		if err != nil {
			return nil, err
		}
		n.inSet = make([]bool, len(sel.uids))
		for _, sp := range spans {
			for i := sp.lo; i < sp.hi; i++ {
				n.inSet[i] = true
			}
		}
	case imapwire.SearchFlag, imapwire.SearchNoFlag:
		for _, sf := range systemFlags {
			if strings.EqualFold(k.Str, sf.name) {
				n.bit = sf.bit
			}
		}
		if n.bit == 0 {
			n.inSet = make([]bool, len(sel.ft.sets))
			for i := range sel.ft.sets {
				for _, f := range sel.ft.sets[i].flags {
					if strings.EqualFold(f, k.Str) {
						n.inSet[i] = true
					}
				}
			}
		}
	case imapwire.SearchBefore, imapwire.SearchOn, imapwire.SearchSince,
		imapwire.SearchSentBefore, imapwire.SearchSentOn, imapwire.SearchSentSince:
		n.day = floorDiv(k.Date.Unix(), 86400)
		if k.Op >= imapwire.SearchSentBefore {
			n.cost = 1
		}
	case imapwire.SearchHeader, imapwire.SearchBody, imapwire.SearchText:
		n.cost = 2
	case imapwire.SearchModSeq:
		p.usesModSeq = true
	}
	return n, nil
}

// indexedSearch asks the backend's Searcher for every text criterion.
func (c *conn) indexedSearch(n *searchNode) error {
	for _, sub := range n.sub {
		if err := c.indexedSearch(sub); err != nil {
			return err
		}
	}
	var q SearchQuery
	switch n.op {
	case imapwire.SearchHeader:
		q = SearchQuery{Kind: SearchHeader, Field: n.field, Value: n.s}
	case imapwire.SearchBody:
		q = SearchQuery{Kind: SearchBody, Value: n.s}
	case imapwire.SearchText:
		q = SearchQuery{Kind: SearchText, Value: n.s}
	default:
		return nil
	}
	sel := c.sel
	found, err := sel.searcher.Search(c.nc.Ctx, q, slices.Clone(sel.uids))
	if errors.Is(err, ErrCannot) {
		return nil
	}
	if err != nil {
		return err
	}
	n.hits = make([]bool, len(sel.uids))
	for _, u := range found {
		if i, in := sel.find(u); in {
			n.hits[i] = true
		}
	}
	n.cost = 0
	return nil
}

// setCosts recomputes the costs after the Searcher answered some leaves.
func setCosts(n *searchNode) int {
	if len(n.sub) > 0 {
		n.cost = 0
		for _, sub := range n.sub {
			n.cost = max(n.cost, setCosts(sub))
		}
		if n.op == imapwire.SearchAnd {
			slices.SortStableFunc(n.sub, func(a, b *searchNode) int { return a.cost - b.cost })
		}
	}
	return n.cost
}

// evalCtx evaluates one message, opening its content only when a
// criterion needs it.
type evalCtx struct {
	c   *conn
	i   int
	msg Message
	st  *imapmsg.Structure
	err error
}

func (x *evalCtx) structure() *imapmsg.Structure {
	if x.st == nil && x.err == nil {
		x.st, x.err = x.c.structure(x.i, x.msg)
	}
	return x.st
}

func (x *evalCtx) content() (Message, *imapmsg.Structure) {
	if x.msg == nil && x.err == nil {
		x.msg, x.err = x.c.sel.mb.Open(x.c.nc.Ctx, x.c.sel.uids[x.i])
	}
	if x.err != nil {
		return nil, nil
	}
	return x.msg, x.structure()
}

func (x *evalCtx) close() {
	if x.msg != nil {
		x.msg.Close()
		x.msg = nil
	}
	x.st = nil
	x.err = nil
}

// runSearch evaluates the program over the view and returns the matching
// view indexes and the highest mod-sequence among them.
func (c *conn) runSearch(p *searchProgram) ([]int, ModSeq, error) {
	sel := c.sel
	var matches []int
	var highest ModSeq
	x := &evalCtx{c: c}
	for i := range sel.uids {
		x.i = i
		ok := x.eval(p.root)
		err := x.err
		x.close()
		if err != nil {
			if errors.Is(err, ErrNoSuchMessage) {
				continue // expunged meanwhile: it does not match
			}
			return nil, 0, err
		}
		if ok {
			matches = append(matches, i)
			highest = max(highest, sel.modseqs[i])
		}
	}
	if !p.usesModSeq {
		highest = 0
	}
	return matches, highest, nil
}

func (x *evalCtx) eval(n *searchNode) bool {
	sel := x.c.sel
	i := x.i
	switch n.op {
	case imapwire.SearchAll:
		return true
	case imapwire.SearchRecent:
		return sel.isRecent(sel.uids[i])
	case imapwire.SearchNew:
		return sel.bits(i)&bitSeen == 0 && sel.isRecent(sel.uids[i])
	case imapwire.SearchOld:
		return !sel.isRecent(sel.uids[i])
	case imapwire.SearchAnd:
		for _, sub := range n.sub {
			if !x.eval(sub) || x.err != nil {
				return false
			}
		}
		return true
	case imapwire.SearchOr:
		return x.eval(n.sub[0]) || x.eval(n.sub[1])
	case imapwire.SearchNot:
		return !x.eval(n.sub[0])
	case imapwire.SearchSeqSet, imapwire.SearchUID:
		return n.inSet[i]
	case imapwire.SearchFlag, imapwire.SearchNoFlag:
		var has bool
		if n.bit != 0 {
			has = sel.bits(i)&n.bit != 0
		} else {
			fi := sel.flags[i]
			has = int(fi) < len(n.inSet) && n.inSet[fi]
		}
		return has == (n.op == imapwire.SearchFlag)
	case imapwire.SearchBefore:
		return sel.dayOf(i) < n.day
	case imapwire.SearchOn:
		return sel.dayOf(i) == n.day
	case imapwire.SearchSince:
		return sel.dayOf(i) >= n.day
	case imapwire.SearchSentBefore, imapwire.SearchSentOn, imapwire.SearchSentSince:
		day := sel.dayOf(i)
		if st := x.structure(); st != nil {
			if t, ok := st.Date(); ok {
				day = civilDay(t)
			}
		}
		switch n.op {
		case imapwire.SearchSentBefore:
			return day < n.day
		case imapwire.SearchSentOn:
			return day == n.day
		}
		return day >= n.day
	case imapwire.SearchLarger:
		return uint64(max(sel.sizes[i], 0)) > n.num
	case imapwire.SearchSmaller:
		return uint64(max(sel.sizes[i], 0)) < n.num
	case imapwire.SearchModSeq:
		return uint64(sel.modseqs[i]) >= n.num
	case imapwire.SearchHeader, imapwire.SearchBody, imapwire.SearchText:
		if n.hits != nil {
			return n.hits[i]
		}
		msg, st := x.content()
		if st == nil {
			return false
		}
		var ok bool
		var err error
		switch n.op {
		case imapwire.SearchHeader:
			ok, err = st.MatchHeader(msg, n.field, n.s)
		case imapwire.SearchBody:
			ok, err = st.MatchBody(msg, n.s)
		default:
			if ok, err = st.MatchHeader(msg, "", n.s); err == nil && !ok {
				ok, err = st.MatchBody(msg, n.s)
			}
		}
		if err != nil && x.err == nil {
			x.err = err
		}
		return ok
	}
	return false
}

// civilDay returns the day of t in its own zone, as days since 1970-01-01.
func civilDay(t time.Time) int64 {
	y, m, d := t.Date()
	return floorDiv(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix(), 86400)
}

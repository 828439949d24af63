package dovecotdiff_test

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// This file holds every normalisation the comparison applies, each with
// the reason the difference it removes is legitimate. Anything not
// normalised here must be identical.

// normalizer turns one server's replies into comparable lines. It keeps
// per-server state: the values of UIDVALIDITY seen so far.
type normalizer struct {
	uidValidity map[string]string // server's value -> "<uidvalidity-N>"
	opt         stepOptions       // of the reply being normalised
}

func newNormalizer() *normalizer { return &normalizer{uidValidity: map[string]string{}} }

// stepOptions adjust the comparison of one command.
type stepOptions struct {
	// unordered sorts the untagged responses: for commands whose
	// responses the RFC lets a server send in any order (SELECT's
	// untagged data, LIST).
	unordered bool
	// expungeAsSet replaces a run of "* n EXPUNGE" by the set of
	// original sequence numbers it removes: a server may announce the
	// expunges of one command in any order (RFC 9051 §7.5.1, each
	// number relative to the state after the previous ones).
	expungeAsSet bool
	// dropUID removes the UID item from FETCH responses to commands
	// that did not ask for it (not a UID command, not a FETCH of UID):
	// RFC 9051 §7.5.2 lets a server add data items the client did not
	// ask for, and mailfront adds UID to every FETCH response of a STORE
	// and to every unilateral one so that clients can track messages by
	// UID; Dovecot only where a UID command needs it.
	dropUID bool
	// storeSubset compares the FETCH responses of a STORE as a subset:
	// mailfront reports the flags of every message in the set (RFC 9051
	// §6.4.6: "the server SHOULD return the new value of the flags for
	// each message"), Dovecot only of those whose flags changed; every
	// FETCH response Dovecot sends must be among mailfront's.
	storeSubset bool
	// dropChildAttrs and dropSpecialUse drop the mailbox attributes an
	// extended LIST or an LSUB did not ask for (see listOptions).
	dropChildAttrs, dropSpecialUse bool
	// dropFlagsUpdates ignores untagged FLAGS and PERMANENTFLAGS: a
	// server may announce its flag list at any time (RFC 9051 §7.3.5),
	// and Dovecot does when a SEARCH names a keyword it had not seen.
	dropFlagsUpdates bool
	// dropModSeq removes MODSEQ from the FETCH responses of a FETCH that
	// did not ask for it: once CONDSTORE is enabled, mailfront adds the
	// mod-sequence to every FETCH response that carries flags (RFC 7162
	// §3.2 asks for it in those caused by flag changes; elsewhere it is
	// an extra data item, which RFC 9051 §7.5.2 allows), Dovecot only
	// where the RFC requires it.
	dropModSeq bool
	// noKeywords drops the keywords from FLAGS and PERMANENTFLAGS (see
	// keywordsNotCompared).
	noKeywords bool
}

// keywordsNotCompared is for a SELECT of a mailbox whose messages with
// keywords have all been expunged: Dovecot keeps listing every keyword
// the mailbox ever had in FLAGS and PERMANENTFLAGS, mailfront those that
// messages have. RFC 9051 §7.3.5 leaves the list to the server.
func keywordsNotCompared(o *stepOptions) { o.noKeywords = true }

// optionsFor derives the normalisations a command's reply needs.
func optionsFor(command string) stepOptions {
	var opt stepOptions
	up := strings.ToUpper(command)
	verb := up
	if strings.HasPrefix(verb, "UID ") {
		verb = verb[4:]
	}
	if i := strings.IndexAny(verb, " \r\n"); i >= 0 {
		verb = verb[:i]
	}
	opt.dropUID = !strings.HasPrefix(up, "UID ") && !(verb == "FETCH" && strings.Contains(up, "UID"))
	switch verb {
	case "SELECT", "EXAMINE":
		opt.unordered = true
	case "EXPUNGE", "MOVE":
		opt.expungeAsSet = true
	case "STORE":
		opt.storeSubset = !strings.Contains(up, ".SILENT")
	case "SEARCH":
		opt.dropFlagsUpdates = true
	case "FETCH":
		opt.dropModSeq = !strings.Contains(up, "MODSEQ") && !strings.Contains(up, "CHANGEDSINCE")
	case "LIST", "LSUB":
		opt.unordered = true
		opt.dropChildAttrs, opt.dropSpecialUse = listOptions(up)
	}
	return opt
}

// listOptions says which attributes of a LIST or LSUB reply are not
// compared:
//   - special-use attributes in LSUB, which RFC 6154 defines for LIST;
//     Dovecot adds them to LSUB too;
//   - in an extended LIST (RFC 5258: selection options, several
//     patterns or return options), \HasChildren and \HasNoChildren
//     unless RETURN (CHILDREN) asks for them, and special-use attributes
//     unless SPECIAL-USE is asked for: the server MAY send them
//     unasked, mailfront does, Dovecot does not.
func listOptions(up string) (dropChildAttrs, dropSpecialUse bool) {
	if strings.HasPrefix(up, "LSUB") {
		return false, true
	}
	rest := strings.TrimPrefix(up, "LIST ")
	ret := ""
	if i := strings.Index(rest, " RETURN ("); i >= 0 {
		rest, ret = rest[:i], rest[i:]
	}
	extended := ret != "" || strings.HasPrefix(rest, "(") || strings.HasSuffix(rest, ")")
	if !extended {
		return false, false
	}
	return !strings.Contains(ret, "CHILDREN"), !strings.Contains(up, "SPECIAL-USE")
}

// reply normalises a command's reply.
func (nz *normalizer) reply(r reply, opt stepOptions) ([]string, error) {
	nz.opt = opt
	tagged, err := parseResponse(r.tagged)
	if err != nil {
		return nil, fmt.Errorf("parsing %q: %w", r.tagged, err)
	}
	failed := len(tagged) >= 2 && !tagged[1].isAtom("OK")
	var out []string
	var expunged []int
	for _, u := range r.untagged {
		nodes, err := parseResponse(u)
		if err != nil {
			return nil, fmt.Errorf("parsing %q: %w", u, err)
		}
		if opt.expungeAsSet && len(nodes) == 3 && nodes[2].isAtom("EXPUNGE") {
			n, _ := strconv.Atoi(nodes[1].text)
			expunged = append(expunged, n)
			continue
		}
		if failed && isUIDOnlyFetch(nodes) {
			// Dovecot starts a FETCH response with the UID before it
			// finds that it cannot decode a part (NO [UNKNOWN-CTE]) and
			// sends what it has; nothing else was asked for.
			continue
		}
		if opt.dropFlagsUpdates && isFlagsUpdate(nodes) {
			continue
		}
		if line, keep := nz.untagged(nodes, opt); keep {
			out = append(out, line)
		}
	}
	if len(expunged) > 0 {
		out = append(out, "* EXPUNGE (as a set of original numbers) "+originalNumbers(expunged))
	}
	if opt.unordered {
		sort.Strings(out)
	}
	out = append(out, nz.status("TAG", tagged))
	return out, nil
}

// isUIDOnlyFetch reports "* n FETCH (UID u)".
func isUIDOnlyFetch(nodes []*node) bool {
	return len(nodes) == 4 && nodes[2].isAtom("FETCH") && nodes[3].kind == listNode &&
		len(nodes[3].list) == 2 && nodes[3].list[0].isAtom("UID")
}

// originalNumbers turns sequence numbers of successive EXPUNGE responses
// (each relative to the mailbox after the previous one) into the sorted
// original numbers.
func originalNumbers(seqs []int) string {
	var removed []int // original numbers, sorted
	for _, s := range seqs {
		// s counts the messages still present: find the original number.
		orig := s
		for _, r := range removed {
			if r <= orig {
				orig++
			}
		}
		removed = append(removed, orig)
		slices.Sort(removed)
	}
	parts := make([]string, len(removed))
	for i, r := range removed {
		parts[i] = strconv.Itoa(r)
	}
	return strings.Join(parts, ",")
}

// status renders a status response (tagged or untagged): the status word
// and the response code, without the human-readable text, which is the
// server's own (RFC 9051 §7.1: resp-text is for humans).
func (nz *normalizer) status(tag string, nodes []*node) string {
	if len(nodes) < 2 {
		return tag + " ?"
	}
	s := tag + " " + strings.ToUpper(nodes[1].text)
	if len(nodes) >= 3 && nodes[2].kind == codeNode {
		if code := nz.code(nodes[2]); code != "" {
			s += " [" + code + "]"
		}
	}
	return s
}

// code normalises a response code, or returns "" to leave it out.
func (nz *normalizer) code(c *node) string {
	if len(c.list) == 0 {
		return ""
	}
	name := strings.ToUpper(c.list[0].text)
	args := c.list[1:]
	switch name {
	case "CAPABILITY":
		// Capability lists differ by design (the servers implement
		// different extensions); they are not compared.
		return ""
	case "NONEXISTENT", "CLIENTBUG", "CANNOT":
		// RFC 5530 codes are optional: mailfront says NONEXISTENT when
		// a mailbox does not exist and CANNOT for DELETE INBOX, Dovecot
		// 2.3 gives no code there; Dovecot says CLIENTBUG for a STATUS of
		// the selected mailbox (RFC 9051 §6.3.11 advises against it),
		// mailfront nothing.
		return ""
	case "BADCHARSET":
		// The list of supported charsets is optional (RFC 9051 §7.1).
		return name
	case "UIDVALIDITY":
		if len(args) == 1 {
			return name + " " + nz.validity(args[0].text)
		}
	case "HIGHESTMODSEQ", "NOMODSEQ":
		// Mod-sequence values are server-specific (RFC 7162 only asks
		// that they increase); their presence is compared.
		return name
	case "PERMANENTFLAGS":
		if len(args) == 1 && args[0].kind == listNode {
			return name + " " + flagList(keywordsOut(args[0], nz.opt))
		}
	case "APPENDUID":
		if len(args) == 2 {
			return name + " " + nz.validity(args[0].text) + " " + canonicalSet(args[1].text)
		}
	case "COPYUID":
		if len(args) == 3 {
			return name + " " + nz.validity(args[0].text) + " " + canonicalSet(args[1].text) + " " + canonicalSet(args[2].text)
		}
	}
	if len(args) == 0 {
		return name
	}
	return name + " " + joinNodes(args)
}

// validity maps a UIDVALIDITY value to a placeholder numbered in order of
// appearance, so that "the same mailbox keeps its value" and "another
// mailbox has another value" are still compared while the values, which
// each server chooses, are not.
func (nz *normalizer) validity(v string) string {
	if p, ok := nz.uidValidity[v]; ok {
		return p
	}
	p := fmt.Sprintf("<uidvalidity-%d>", len(nz.uidValidity)+1)
	nz.uidValidity[v] = p
	return p
}

// untagged normalises an untagged response; keep is false for responses
// that are not compared.
func (nz *normalizer) untagged(nodes []*node, opt stepOptions) (line string, keep bool) {
	if len(nodes) < 2 {
		return "* ?", true
	}
	first := strings.ToUpper(nodes[1].text)
	if isStatusWord(first) {
		hasCode := len(nodes) >= 3 && nodes[2].kind == codeNode
		if first == "OK" && !hasCode {
			// An untagged OK without a code is informational text only.
			return "", false
		}
		if hasCode && nz.code(nodes[2]) == "" && first == "OK" {
			return "", false // * OK [CAPABILITY ...]
		}
		return nz.status("*", nodes), true
	}
	if nodes[1].kind == atomNode && isNumber(nodes[1].text) && len(nodes) >= 3 {
		kind := strings.ToUpper(nodes[2].text)
		if kind == "FETCH" && len(nodes) == 4 {
			return "* " + nodes[1].text + " FETCH " + nz.fetch(nodes[3], opt), true
		}
		return "* " + nodes[1].text + " " + kind, true
	}
	rest := nodes[2:]
	switch first {
	case "CAPABILITY", "ID":
		// Server-specific by design.
		return "", false
	case "FLAGS":
		if len(rest) == 1 && rest[0].kind == listNode {
			return "* FLAGS " + flagList(keywordsOut(rest[0], opt)), true
		}
	case "LIST", "LSUB":
		return "* " + first + " " + nz.list(rest, opt), true
	case "STATUS":
		return "* STATUS " + nz.statusData(rest), true
	case "SEARCH":
		return "* SEARCH " + searchData(rest), true
	case "ESEARCH":
		return "* ESEARCH " + esearchData(rest), true
	case "VANISHED":
		return "* VANISHED " + vanishedData(rest), true
	case "ENABLED":
		words := make([]string, len(rest))
		for i, n := range rest {
			words[i] = strings.ToUpper(n.text)
		}
		sort.Strings(words)
		return "* ENABLED " + strings.Join(words, " "), true
	}
	return "* " + first + " " + joinNodes(rest), true
}

func isNumber(s string) bool {
	_, err := strconv.ParseUint(s, 10, 32)
	return err == nil
}

// flagList renders a flag list sorted, system flags capitalised as the
// RFC spells them: flags form a set and compare case-insensitively
// (RFC 9051 §2.3.2).
func flagList(l *node) string {
	flags := make([]string, 0, len(l.list))
	for _, f := range l.list {
		flags = append(flags, canonicalFlag(f.text))
	}
	sort.Strings(flags)
	return "(" + strings.Join(flags, " ") + ")"
}

func canonicalFlag(f string) string {
	if strings.HasPrefix(f, `\`) && len(f) > 1 {
		return `\` + strings.ToUpper(f[1:2]) + strings.ToLower(f[2:])
	}
	return f
}

// list normalises LIST and LSUB data: attributes form a set and compare
// case-insensitively; the name may be sent as an atom, a quoted string or
// a literal; an extended-data list (RFC 5258) is kept.
func (nz *normalizer) list(rest []*node, opt stepOptions) string {
	if len(rest) < 3 || rest[0].kind != listNode {
		return joinNodes(rest)
	}
	attrs := make([]string, 0, len(rest[0].list))
	for _, a := range rest[0].list {
		f := canonicalFlag(a.text)
		if opt.dropChildAttrs && (f == `\Haschildren` || f == `\Hasnochildren`) {
			continue
		}
		if opt.dropSpecialUse && specialUse[f] {
			continue
		}
		attrs = append(attrs, f)
	}
	sort.Strings(attrs)
	name := rest[2].text
	s := "(" + strings.Join(attrs, " ") + ") " + rest[1].String() + " " + strconv.Quote(name)
	if len(rest) > 3 && rest[3].kind == listNode {
		// Extended data (RFC 5258): each item's tag is an astring, sent
		// as an atom by Dovecot and quoted by mailfront (as in the RFC's
		// examples).
		items := make([]string, 0, len(rest[3].list))
		for i := 0; i+1 < len(rest[3].list); i += 2 {
			items = append(items, strings.ToUpper(rest[3].list[i].text)+" "+rest[3].list[i+1].String())
		}
		sort.Strings(items)
		s += " (" + strings.Join(items, " ") + ")"
	}
	return s
}

var specialUse = map[string]bool{
	`\All`: true, `\Archive`: true, `\Drafts`: true, `\Flagged`: true,
	`\Junk`: true, `\Sent`: true, `\Trash`: true, `\Important`: true,
}

// isFlagsUpdate reports an untagged FLAGS or OK [PERMANENTFLAGS].
func isFlagsUpdate(nodes []*node) bool {
	if len(nodes) < 2 {
		return false
	}
	if nodes[1].isAtom("FLAGS") {
		return true
	}
	return nodes[1].isAtom("OK") && len(nodes) >= 3 && nodes[2].kind == codeNode &&
		len(nodes[2].list) > 0 && nodes[2].list[0].isAtom("PERMANENTFLAGS")
}

// statusData normalises STATUS data: items in any order; UIDVALIDITY
// and HIGHESTMODSEQ values as for the response codes.
func (nz *normalizer) statusData(rest []*node) string {
	if len(rest) != 2 || rest[1].kind != listNode {
		return joinNodes(rest)
	}
	items := rest[1].list
	var pairs []string
	for i := 0; i+1 < len(items); i += 2 {
		name := strings.ToUpper(items[i].text)
		v := items[i+1].text
		switch name {
		case "UIDVALIDITY":
			v = nz.validity(v)
		case "HIGHESTMODSEQ":
			v = "<modseq>"
		}
		pairs = append(pairs, name+" "+v)
	}
	sort.Strings(pairs)
	return strconv.Quote(rest[0].text) + " (" + strings.Join(pairs, " ") + ")"
}

// searchData sorts the numbers of a SEARCH response (RFC 9051 does not
// order them) and hides the value of a CONDSTORE (MODSEQ n).
func searchData(rest []*node) string {
	var nums []int
	var tail string
	for _, n := range rest {
		if n.kind == listNode {
			tail = " (MODSEQ <modseq>)"
			continue
		}
		v, _ := strconv.Atoi(n.text)
		nums = append(nums, v)
	}
	slices.Sort(nums)
	parts := make([]string, len(nums))
	for i, v := range nums {
		parts[i] = strconv.Itoa(v)
	}
	return strings.Join(parts, " ") + tail
}

// esearchData normalises an ESEARCH response: the tag correlator's value
// is the client's tag, which differs between the two sessions only by
// chance, so only its presence is kept; return items in any order; ALL
// as a canonical set; MODSEQ's value hidden.
func esearchData(rest []*node) string {
	var parts []string
	var items []string
	for i := 0; i < len(rest); i++ {
		n := rest[i]
		switch {
		case n.kind == listNode:
			parts = append(parts, "(TAG)")
		case n.isAtom("UID"):
			parts = append(parts, "UID")
		case i+1 < len(rest):
			name := strings.ToUpper(n.text)
			v := rest[i+1].text
			switch name {
			case "ALL", "PARTIAL":
				v = canonicalSet(v)
			case "MODSEQ":
				v = "<modseq>"
			}
			items = append(items, name+" "+v)
			i++
		default:
			items = append(items, strings.ToUpper(n.text))
		}
	}
	sort.Strings(items)
	return strings.Join(append(parts, items...), " ")
}

// vanishedData normalises VANISHED: the UID set in canonical form.
func vanishedData(rest []*node) string {
	var parts []string
	for _, n := range rest {
		if n.kind == listNode {
			parts = append(parts, n.String())
			continue
		}
		parts = append(parts, canonicalSet(n.text))
	}
	return strings.Join(parts, " ")
}

// canonicalSet rewrites a sequence set of numbers as sorted, merged
// ranges: "3,1:2" and "1,2,3" are the same set, and a server may send
// either.
func canonicalSet(s string) string {
	var nums []int
	for _, part := range strings.Split(s, ",") {
		lo, hi, found := strings.Cut(part, ":")
		a, err1 := strconv.Atoi(lo)
		b := a
		var err2 error
		if found {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil {
			return s // "*" or garbage: compared as it is
		}
		if a > b {
			a, b = b, a
		}
		if b-a > 100000 {
			return s
		}
		for v := a; v <= b; v++ {
			nums = append(nums, v)
		}
	}
	slices.Sort(nums)
	nums = slices.Compact(nums)
	var out []string
	for i := 0; i < len(nums); {
		j := i
		for j+1 < len(nums) && nums[j+1] == nums[j]+1 {
			j++
		}
		if i == j {
			out = append(out, strconv.Itoa(nums[i]))
		} else {
			out = append(out, strconv.Itoa(nums[i])+":"+strconv.Itoa(nums[j]))
		}
		i = j + 1
	}
	return strings.Join(out, ",")
}

// fetch normalises FETCH data: the items in name order (RFC 9051 §7.5.2
// does not order them), item names upper-cased (a section echoes the
// client's spelling, which is case-insensitive), and the values of some
// items as described at each.
func (nz *normalizer) fetch(l *node, opt stepOptions) string {
	if l.kind != listNode {
		return l.String()
	}
	var items []string
	for i := 0; i+1 < len(l.list); i += 2 {
		name := strings.ToUpper(l.list[i].text)
		v := l.list[i+1]
		var vs string
		switch {
		case name == "UID" && opt.dropUID:
			continue
		case name == "FLAGS" && v.kind == listNode:
			vs = flagList(v)
		case name == "ENVELOPE":
			vs = envelope(v).String()
		case name == "INTERNALDATE":
			vs = internalDate(v.text)
		case name == "MODSEQ" && opt.dropModSeq:
			continue
		case name == "MODSEQ":
			vs = "(<modseq>)"
		case name == "BODYSTRUCTURE" || name == "BODY":
			vs = bodyStructure(v)
		case strings.HasPrefix(name, "BINARY[]") && v.kind == stringNode:
			// Whether BINARY[] of a whole message goes as a literal8 is
			// not compared: Dovecot sends a literal when nothing in the
			// message needed decoding, unless an earlier BINARY.SIZE[]
			// of it was computed, then a literal8 (its cache decides).
			// mailfront: a literal8 when a part was decoded.
			vs = strconv.Quote(v.text)
		default:
			vs = v.String()
		}
		items = append(items, name+" "+vs)
	}
	sort.Strings(items)
	return "(" + strings.Join(items, " ") + ")"
}

// internalDate shows the instant of an INTERNALDATE in UTC: RFC 9051
// §2.3.3 asks servers to keep the instant; whether the zone given at
// APPEND is kept or the server's own is used is the server's choice
// (Dovecot keeps the file's mtime and shows it in its zone).
func internalDate(s string) string {
	t, err := time.Parse("_2-Jan-2006 15:04:05 -0700", s)
	if err != nil {
		return strconv.Quote(s) + " (unparsable)"
	}
	return t.UTC().Format(time.RFC3339)
}

// bodyStructure normalises BODY and BODYSTRUCTURE: the MIME type and
// subtype, parameter names, transfer encoding and disposition type
// compare case-insensitively (RFC 2045 §5.1, §6.1; RFC 2183 §2), and
// servers differ in the case they send them in (Dovecot lower-cases what
// it defaults, upper-cases nothing), so they are upper-cased.
func bodyStructure(n *node) string {
	return bodyPart(n).String()
}

func bodyPart(n *node) *node {
	if n.kind != listNode || len(n.list) == 0 {
		return n
	}
	out := &node{kind: listNode, list: slices.Clone(n.list)}
	if out.list[0].kind == listNode {
		// Multipart: parts, then the subtype, then extension data
		// (parameters, disposition, language, location).
		i := 0
		for i < len(out.list) && out.list[i].kind == listNode {
			out.list[i] = bodyPart(out.list[i])
			i++
		}
		if i < len(out.list) {
			out.list[i] = upper(out.list[i])
		}
		if i+1 < len(out.list) {
			out.list[i+1] = params(out.list[i+1])
		}
		if i+2 < len(out.list) {
			out.list[i+2] = disposition(out.list[i+2])
		}
		return out
	}
	// Single part: type subtype params id description encoding size ...
	l := out.list
	if len(l) < 7 {
		return out
	}
	l[0], l[1], l[2], l[5] = upper(l[0]), upper(l[1]), params(l[2]), upper(l[5])
	ext := 7 // first extension field after size
	t, st := strings.ToUpper(l[0].text), strings.ToUpper(l[1].text)
	switch {
	case t == "TEXT":
		ext = 8 // lines
	case t == "MESSAGE" && (st == "RFC822" || st == "GLOBAL"):
		if len(l) > 8 {
			l[8] = bodyPart(l[8])
		}
		ext = 10 // envelope, body, lines
	}
	// Extension data: md5, disposition, language, location.
	if ext+1 < len(l) {
		l[ext+1] = disposition(l[ext+1])
	}
	return out
}

func upper(n *node) *node {
	if n.kind != stringNode && n.kind != atomNode {
		return n
	}
	return &node{kind: n.kind, text: strings.ToUpper(n.text)}
}

// params upper-cases parameter names (not values).
func params(n *node) *node {
	if n.kind != listNode {
		return n
	}
	out := &node{kind: listNode, list: slices.Clone(n.list)}
	for i := 0; i < len(out.list); i += 2 {
		out.list[i] = upper(out.list[i])
	}
	return out
}

// disposition upper-cases the disposition type and its parameter names.
func disposition(n *node) *node {
	if n.kind != listNode || len(n.list) == 0 {
		return n
	}
	out := &node{kind: listNode, list: slices.Clone(n.list)}
	out.list[0] = upper(out.list[0])
	if len(out.list) > 1 {
		out.list[1] = params(out.list[1])
	}
	return out
}

// envelope normalises the white space of ENVELOPE strings: runs of
// spaces and tabs become one space, and leading and trailing white space
// goes. RFC 5322 §2.2.3 unfolding removes only the CRLF, so a folded
// "a\r\n\tb" is "a\tb" (mailfront) but Dovecot turns the tab into a
// space, and Dovecot keeps the white space that began a folded field's
// value (" <id@host>") where mailfront trims it; neither changes what a
// client shows.
func envelope(n *node) *node {
	switch n.kind {
	case stringNode:
		return &node{kind: stringNode, text: strings.Join(strings.Fields(strings.ReplaceAll(n.text, "\t", " ")), " ")}
	case listNode:
		out := &node{kind: listNode, list: make([]*node, len(n.list))}
		for i, c := range n.list {
			out.list[i] = envelope(c)
		}
		return out
	}
	return n
}

// keywordsOut returns a flag list without its keywords when opt says so.
func keywordsOut(l *node, opt stepOptions) *node {
	if !opt.noKeywords {
		return l
	}
	out := &node{kind: listNode}
	for _, f := range l.list {
		if strings.HasPrefix(f.text, `\`) {
			out.list = append(out.list, f)
		}
	}
	return out
}

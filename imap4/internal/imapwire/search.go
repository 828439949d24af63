package imapwire

import (
	"time"
)

// A SearchOp is the kind of a search key.
type SearchOp int

// Search keys (RFC 9051 §6.4.4, RFC 3501 NEW/OLD/RECENT, RFC 7162 MODSEQ).
const (
	SearchAll        SearchOp = iota + 1
	SearchAnd                 // a parenthesised list, or the top level: Sub
	SearchOr                  // Sub[0] OR Sub[1]
	SearchNot                 // NOT Sub[0]
	SearchSeqSet              // a sequence set: Set
	SearchUID                 // UID Set
	SearchFlag                // ANSWERED, DELETED, DRAFT, FLAGGED, SEEN, KEYWORD: Str is the flag
	SearchNoFlag              // UNANSWERED ... UNKEYWORD: Str is the flag
	SearchNew                 // NEW (rev1): RECENT UNSEEN; we have no \Recent, so nothing
	SearchOld                 // OLD (rev1): NOT RECENT, so everything
	SearchRecent              // RECENT (rev1): nothing
	SearchBefore              // internal date < Date (day resolution)
	SearchOn                  // internal date on Date
	SearchSince               // internal date >= Date
	SearchSentBefore          // Date: header, same comparisons
	SearchSentOn
	SearchSentSince
	SearchLarger  // RFC822.SIZE > Num
	SearchSmaller // RFC822.SIZE < Num
	SearchHeader  // HEADER Field Str; BCC, CC, FROM, SUBJECT, TO are HEADER with the field
	SearchBody    // BODY Str
	SearchText    // TEXT Str
	SearchModSeq  // MODSEQ >= Num
)

// A SearchKey is a node of a parsed search program.
type SearchKey struct {
	Op    SearchOp
	Str   string // flag, header value, text
	Field string // header field name for SearchHeader
	Num   uint64
	Date  time.Time // midnight UTC of the day
	Set   SeqSet
	Sub   []SearchKey
}

// systemFlagKeys maps the flag search keys to their flag and sense.
var systemFlagKeys = map[string]struct {
	flag string
	set  bool
}{
	"ANSWERED":   {`\Answered`, true},
	"DELETED":    {`\Deleted`, true},
	"DRAFT":      {`\Draft`, true},
	"FLAGGED":    {`\Flagged`, true},
	"SEEN":       {`\Seen`, true},
	"UNANSWERED": {`\Answered`, false},
	"UNDELETED":  {`\Deleted`, false},
	"UNDRAFT":    {`\Draft`, false},
	"UNFLAGGED":  {`\Flagged`, false},
	"UNSEEN":     {`\Seen`, false},
}

var headerKeys = map[string]string{
	"BCC": "Bcc", "CC": "Cc", "FROM": "From", "SUBJECT": "Subject", "TO": "To",
}

var dateKeys = map[string]SearchOp{
	"BEFORE": SearchBefore, "ON": SearchOn, "SINCE": SearchSince,
	"SENTBEFORE": SearchSentBefore, "SENTON": SearchSentOn, "SENTSINCE": SearchSentSince,
}

// SearchKeys reads one or more search keys separated by spaces up to the
// end of the command, and returns them as one SearchAnd node.
func (d *Decoder) SearchKeys() SearchKey {
	k := SearchKey{Op: SearchAnd}
	for d.err == nil {
		k.Sub = append(k.Sub, d.SearchKey())
		if d.AtEnd() {
			break
		}
		d.SP()
	}
	return k
}

// SearchKey reads one search-key.
func (d *Decoder) SearchKey() SearchKey {
	var k SearchKey
	if d.err != nil {
		return k
	}
	switch c := d.Peek(); {
	case c == '(':
		k.Op = SearchAnd
		d.List(func() { k.Sub = append(k.Sub, d.SearchKey()) })
		if len(k.Sub) == 0 && d.err == nil {
			d.Failf("empty search key list")
		}
		return k
	case c == '$' || c == '*' || ('0' <= c && c <= '9'):
		k.Op = SearchSeqSet
		k.Set = d.SequenceSet()
		return k
	}
	name := d.Keyword()
	if d.err != nil {
		return k
	}
	if f, ok := systemFlagKeys[name]; ok {
		k.Op = SearchNoFlag
		if f.set {
			k.Op = SearchFlag
		}
		k.Str = f.flag
		return k
	}
	if field, ok := headerKeys[name]; ok {
		d.SP()
		k.Op, k.Field, k.Str = SearchHeader, field, d.AString()
		return k
	}
	if op, ok := dateKeys[name]; ok {
		d.SP()
		k.Op, k.Date = op, d.Date()
		return k
	}
	switch name {
	case "ALL":
		k.Op = SearchAll
	case "NEW":
		k.Op = SearchNew
	case "OLD":
		k.Op = SearchOld
	case "RECENT":
		k.Op = SearchRecent
	case "KEYWORD", "UNKEYWORD":
		d.SP()
		k.Op = SearchFlag
		if name == "UNKEYWORD" {
			k.Op = SearchNoFlag
		}
		k.Str = d.Atom()
	case "BODY", "TEXT":
		d.SP()
		k.Op = SearchBody
		if name == "TEXT" {
			k.Op = SearchText
		}
		k.Str = d.AString()
	case "HEADER":
		d.SP()
		k.Op = SearchHeader
		k.Field = d.AString()
		d.SP()
		k.Str = d.AString()
		if d.err == nil && !validFieldName(k.Field) {
			d.Failf("invalid header field name")
		}
	case "LARGER", "SMALLER":
		d.SP()
		k.Op = SearchLarger
		if name == "SMALLER" {
			k.Op = SearchSmaller
		}
		k.Num = d.Number64()
	case "UID":
		d.SP()
		k.Op = SearchUID
		k.Set = d.SequenceSet()
	case "NOT":
		d.SP()
		if !d.Enter() {
			return k
		}
		k.Op = SearchNot
		k.Sub = []SearchKey{d.SearchKey()}
		d.Leave()
	case "OR":
		d.SP()
		if !d.Enter() {
			return k
		}
		k.Op = SearchOr
		a := d.SearchKey()
		d.SP()
		b := d.SearchKey()
		k.Sub = []SearchKey{a, b}
		d.Leave()
	case "MODSEQ":
		d.SP()
		k.Op = SearchModSeq
		if d.Peek() == '"' {
			// entry-name SP entry-type-req: accepted and ignored, as
			// the server keeps one mod-sequence per message.
			d.Quoted()
			d.SP()
			switch t := d.Keyword(); t {
			case "PRIV", "SHARED", "ALL":
			default:
				d.Failf("invalid MODSEQ entry type")
			}
			d.SP()
		}
		k.Num = d.Number64()
	default:
		d.Failf("unknown search key %q", truncate(name, 40))
	}
	return k
}

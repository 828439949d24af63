package imapmsg

import (
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Bounds applied by [Parse] so that hostile messages cost bounded memory and
// time.
const (
	// maxDepth is the deepest nesting of multiparts and embedded messages
	// that is split into parts (Dovecot's max_nested_mime_parts is 100).
	// A multipart or message/rfc822 part deeper than this is a leaf.
	maxDepth = 100
	// maxParts is the most parts one message is split into (Dovecot's
	// max_total_mime_parts). Past it, boundaries are no longer recognised
	// and every open part ends at the end of the message.
	maxParts = 10000
	// maxBoundary is the longest boundary that is compared; longer ones
	// are truncated and match by prefix (RFC 2046 allows 70 characters).
	maxBoundary = 80
	// maxFieldValue is the most bytes of one header field value that are
	// kept for interpretation; the rest of the field is ignored.
	maxFieldValue = 256 << 10
	// maxKeptTotal is the most header bytes kept for the whole message.
	// Fields past it are not interpreted (the byte offsets stay exact).
	maxKeptTotal = 4 << 20
)

// Structure is the parsed MIME structure of one message: everything needed
// to render ENVELOPE and BODYSTRUCTURE and to locate any section by byte
// offsets, without parsing again. Build one with [Parse] or [Unmarshal].
//
// A Structure is immutable except for the decoded sizes that
// [Structure.BinarySize] remembers (atomically), so it is safe for
// concurrent use.
type Structure struct {
	size   int64
	root   *part
	fields []field // kept top-level header fields, see keptField

	dateOK   bool
	dateUnix int64
	dateOff  int32 // zone offset in seconds east of UTC
}

// field is one header field kept from the top-level header: its name as
// written and its raw value, unfolded (CR and LF removed) and trimmed.
type field struct {
	name, value string
}

// partKind says how a part's body is structured.
type partKind uint8

const (
	kindLeaf      partKind = iota // a body that is not split further
	kindMultipart                 // multipart/* with a boundary: children are its parts
	kindMessage                   // message/rfc822 or message/global: children[0] is the embedded message
)

// part is one node of the MIME tree: the top-level message, a part of a
// multipart, or the message embedded in a message/rfc822 part.
//
// The header is content[hdrOff:bodyOff] (including the blank line that
// ends it, if any) and the body is content[bodyOff:end].
type part struct {
	hdrOff, bodyOff, end int64
	lines                int64 // LF octets in the body

	kind partKind
	// typ and sub are the media type and subtype as written; typ is empty
	// when the part has the default type (no usable Content-Type).
	typ, sub   string
	params     []param
	id         string // Content-ID, raw ("" = absent)
	desc       string // Content-Description, raw
	enc        string // Content-Transfer-Encoding token as written
	md5        string // Content-MD5, raw
	loc        string // Content-Location, raw
	disp       string // Content-Disposition type ("" = absent)
	dispParams []param
	lang       []string // Content-Language tags

	children []*part
	env      *envelope // for message-level parts: the root and embedded messages

	// binSize is the decoded size plus one (0 = not yet computed).
	binSize atomic.Int64
}

// param is one MIME parameter. RFC 2231 continuations are merged; a value
// with a charset keeps the "*" on its name and its charset'language'
// prefix, as Dovecot renders them.
type param struct {
	name, value string
}

// envelope holds what ENVELOPE renders for one message.
type envelope struct {
	has                                 uint8 // envDate...: which strings are present
	date, subject, inReplyTo, messageID string
	// Address lists; an empty list renders NIL (sender and reply-to
	// render from instead).
	from, sender, replyTo, to, cc, bcc []address
}

// Presence bits of envelope.has.
const (
	envDate uint8 = 1 << iota
	envSubject
	envInReplyTo
	envMessageID
)

// address is one element of an ENVELOPE address list.
type address struct {
	kind                     addrKind
	name, adl, mailbox, host string
}

// addrKind distinguishes mailboxes from the markers of RFC 5322 groups.
type addrKind uint8

const (
	addrMailbox    addrKind = iota // (name adl mailbox host); empty name/adl render NIL
	addrGroupStart                 // (NIL NIL group-name NIL)
	addrGroupEnd                   // (NIL NIL NIL NIL)
)

// Size returns the size of the message in octets, as given to [Parse].
func (s *Structure) Size() int64 { return s.size }

// fieldID identifies one of keptNames (its index plus one); 0 is any
// other field.
type fieldID uint8

// The kept fields.
const (
	idOther fieldID = iota
	idDate
	idSubject
	idFrom
	idSender
	idReplyTo
	idTo
	idCc
	idBcc
	idInReplyTo
	idMessageID
	idReferences
	idMIMEVersion
	idContentType
	idContentTransferEncoding
	idContentDisposition
	idContentLanguage
	idContentID
	idContentDescription
	idContentLocation
	idContentMD5
	idListID
)

// keptNames are the top-level header fields a Structure keeps, for
// [Structure.HeaderValue]. The ENVELOPE fields and Content-* fields are
// also interpreted; the others are kept for SORT and threading.
var keptNames = [...]string{
	idDate - 1:                    "Date",
	idSubject - 1:                 "Subject",
	idFrom - 1:                    "From",
	idSender - 1:                  "Sender",
	idReplyTo - 1:                 "Reply-To",
	idTo - 1:                      "To",
	idCc - 1:                      "Cc",
	idBcc - 1:                     "Bcc",
	idInReplyTo - 1:               "In-Reply-To",
	idMessageID - 1:               "Message-ID",
	idReferences - 1:              "References",
	idMIMEVersion - 1:             "MIME-Version",
	idContentType - 1:             "Content-Type",
	idContentTransferEncoding - 1: "Content-Transfer-Encoding",
	idContentDisposition - 1:      "Content-Disposition",
	idContentLanguage - 1:         "Content-Language",
	idContentID - 1:               "Content-ID",
	idContentDescription - 1:      "Content-Description",
	idContentLocation - 1:         "Content-Location",
	idContentMD5 - 1:              "Content-MD5",
	idListID - 1:                  "List-Id",
}

// fieldIDOf returns the kept field that name is, compared as
// strings.EqualFold compares (so "Content-Deſcription", with a long s, is
// Content-Description), or idOther.
func fieldIDOf(name string) fieldID {
	ascii := true
	for i := 0; i < len(name); i++ {
		if name[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	for i, k := range keptNames {
		// An ASCII name can only fold to a name of its length.
		if (!ascii || len(k) == len(name)) && strings.EqualFold(k, name) {
			return fieldID(i + 1)
		}
	}
	return idOther
}

// HeaderKept reports whether [Structure.HeaderValue] can answer for the
// named field: a Structure keeps only the top-level fields of ENVELOPE
// (Date, Subject, From, Sender, Reply-To, To, Cc, Bcc, In-Reply-To,
// Message-ID), References, MIME-Version, List-Id and the Content-* fields.
// For any other field use [Structure.MatchHeader] or a HEADER.FIELDS
// section, which read the message.
func HeaderKept(name string) bool {
	return fieldIDOf(name) != idOther
}

// HeaderValue returns the first raw value of a top-level header field
// (not decoded; unfolded and trimmed), and ok false if the message has no
// such field. Only the fields for which [HeaderKept] is true are kept;
// for other names HeaderValue returns ok false.
func (s *Structure) HeaderValue(name string) (string, bool) {
	for _, f := range s.fields {
		if strings.EqualFold(f.name, name) {
			return f.value, true
		}
	}
	return "", false
}

// Date returns the parsed Date: header of the message, for SENTBEFORE,
// SENTON and SENTSINCE, in the time zone the header gives. It returns ok
// false if the field is absent or cannot be parsed. Parsing accepts the
// common malformed variants: missing day of week or seconds, two-digit
// years, obsolete and unknown zone names, comments, extra spaces.
func (s *Structure) Date() (time.Time, bool) {
	if !s.dateOK {
		return time.Time{}, false
	}
	return time.Unix(s.dateUnix, 0).In(zoneFor(int(s.dateOff))), true
}

// zoneFor returns a fixed zone for a UTC offset in seconds.
func zoneFor(off int) *time.Location {
	if off == 0 {
		return time.UTC
	}
	return time.FixedZone("", off)
}

// isText reports whether the part is text/* (or has the default type,
// text/plain).
func (p *part) isText() bool {
	return p.kind == kindLeaf && (p.typ == "" || strings.EqualFold(p.typ, "text"))
}

// param returns the value of the named parameter of Content-Type.
func (p *part) param(name string) string {
	for _, pr := range p.params {
		if strings.EqualFold(pr.name, name) {
			return pr.value
		}
	}
	return ""
}

package imapmsg

import (
	"strconv"
	"strings"
)

// AppendEnvelope appends the message's ENVELOPE value (RFC 9051 §7.5.2),
// parentheses included: date, subject, from, sender, reply-to, to, cc,
// bcc, in-reply-to and message-id. Strings are the raw header values
// (unfolded, not decoded), NIL where a field is absent; sender and
// reply-to are from's value when absent or empty; address groups appear
// as RFC 9051 describes (a start and an end marker).
func (s *Structure) AppendEnvelope(dst []byte, o RenderOptions) []byte {
	var env *envelope
	if s != nil && s.root != nil {
		env = s.root.env
	}
	return appendEnvelope(dst, env, o)
}

func appendEnvelope(dst []byte, env *envelope, o RenderOptions) []byte {
	if env == nil {
		env = &envelope{}
	}
	dst = append(dst, '(')
	dst = appendEnvString(dst, env.date, env.has&envDate != 0, o)
	dst = append(dst, ' ')
	dst = appendEnvString(dst, env.subject, env.has&envSubject != 0, o)
	dst = append(dst, ' ')
	dst = appendAddresses(dst, env.from, o)
	dst = append(dst, ' ')
	if len(env.sender) > 0 {
		dst = appendAddresses(dst, env.sender, o)
	} else {
		dst = appendAddresses(dst, env.from, o)
	}
	dst = append(dst, ' ')
	if len(env.replyTo) > 0 {
		dst = appendAddresses(dst, env.replyTo, o)
	} else {
		dst = appendAddresses(dst, env.from, o)
	}
	dst = append(dst, ' ')
	dst = appendAddresses(dst, env.to, o)
	dst = append(dst, ' ')
	dst = appendAddresses(dst, env.cc, o)
	dst = append(dst, ' ')
	dst = appendAddresses(dst, env.bcc, o)
	dst = append(dst, ' ')
	dst = appendEnvString(dst, env.inReplyTo, env.has&envInReplyTo != 0, o)
	dst = append(dst, ' ')
	dst = appendEnvString(dst, env.messageID, env.has&envMessageID != 0, o)
	return append(dst, ')')
}

func appendEnvString(dst []byte, s string, present bool, o RenderOptions) []byte {
	if !present {
		return append(dst, "NIL"...)
	}
	return AppendString(dst, s, o)
}

func appendAddresses(dst []byte, list []address, o RenderOptions) []byte {
	if len(list) == 0 {
		return append(dst, "NIL"...)
	}
	dst = append(dst, '(')
	for i := range list {
		a := &list[i]
		switch a.kind {
		case addrGroupStart:
			dst = append(dst, "(NIL NIL "...)
			dst = AppendString(dst, a.mailbox, o)
			dst = append(dst, " NIL)"...)
		case addrGroupEnd:
			dst = append(dst, "(NIL NIL NIL NIL)"...)
		default:
			dst = append(dst, '(')
			dst = appendNStringOrNil(dst, a.name, o)
			dst = append(dst, ' ')
			dst = appendNStringOrNil(dst, a.adl, o)
			dst = append(dst, ' ')
			dst = AppendString(dst, a.mailbox, o)
			dst = append(dst, ' ')
			dst = AppendString(dst, a.host, o)
			dst = append(dst, ')')
		}
	}
	return append(dst, ')')
}

// AppendBodyStructure appends the message's BODY (extended false) or
// BODYSTRUCTURE (extended true) value (RFC 9051 §7.5.2), parentheses
// included: for each part its type and subtype, parameters, id,
// description, encoding and size; the line count of text parts; the
// envelope, structure and line count of message/rfc822 and
// message/global parts; the subtype of multiparts; and with extended,
// the extension data (parameters, disposition, language and location,
// plus MD5 for non-multipart parts).
//
// The rendering follows Dovecot's where RFC 9051 leaves room: type,
// subtype and parameters as written in the message (RFC 2231
// continuations merged, see [Parse]), text parts without a charset get
// ("charset" "us-ascii") added, a missing encoding is "7bit", and a
// multipart without parts shows one empty text/plain part. Sizes are the
// octets of the body as stored (what BODY[section] returns); line counts
// are the LF octets in the body, so a part whose last line runs into the
// CRLF of the next boundary delimiter (which belongs to the delimiter)
// does not count that line, as with Dovecot.
func (s *Structure) AppendBodyStructure(dst []byte, extended bool, o RenderOptions) []byte {
	if s == nil || s.root == nil {
		return appendEmptyBody(dst, extended)
	}
	return appendBody(dst, s.root, extended, o)
}

func appendEmptyBody(dst []byte, extended bool) []byte {
	if extended {
		return append(dst, `("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)`...)
	}
	return append(dst, `("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0)`...)
}

func appendBody(dst []byte, p *part, extended bool, o RenderOptions) []byte {
	if p.kind == kindMultipart {
		dst = append(dst, '(')
		if len(p.children) == 0 {
			dst = appendEmptyBody(dst, extended)
		}
		for _, c := range p.children {
			dst = appendBody(dst, c, extended, o)
		}
		dst = append(dst, ' ')
		dst = AppendString(dst, p.sub, o)
		if extended {
			dst = append(dst, ' ')
			dst = appendParams(dst, p.params, false, o)
			dst = appendExtCommon(dst, p, o)
		}
		return append(dst, ')')
	}

	dst = append(dst, '(')
	text := false
	switch {
	case p.typ == "" && p.kind == kindMessage:
		dst = append(dst, `"message" "rfc822"`...)
	case p.typ == "":
		text = true
		dst = append(dst, `"text" "plain"`...)
	default:
		text = p.kind == kindLeaf && strings.EqualFold(p.typ, "text")
		dst = AppendString(dst, p.typ, o)
		dst = append(dst, ' ')
		dst = AppendString(dst, p.sub, o)
	}
	dst = append(dst, ' ')
	dst = appendParams(dst, p.params, text, o)
	dst = append(dst, ' ')
	dst = appendNStringOrNil(dst, p.id, o)
	dst = append(dst, ' ')
	dst = appendNStringOrNil(dst, p.desc, o)
	dst = append(dst, ' ')
	if p.enc != "" {
		dst = AppendString(dst, p.enc, o)
	} else {
		dst = append(dst, `"7bit"`...)
	}
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, p.end-p.bodyOff, 10)
	switch {
	case text:
		dst = append(dst, ' ')
		dst = strconv.AppendInt(dst, p.lines, 10)
	case p.kind == kindMessage:
		child := p.children[0]
		dst = append(dst, ' ')
		dst = appendEnvelope(dst, child.env, o)
		dst = append(dst, ' ')
		dst = appendBody(dst, child, extended, o)
		dst = append(dst, ' ')
		dst = strconv.AppendInt(dst, p.lines, 10)
	}
	if extended {
		dst = append(dst, ' ')
		dst = appendNStringOrNil(dst, p.md5, o)
		dst = appendExtCommon(dst, p, o)
	}
	return append(dst, ')')
}

// appendParams appends a parameter list, or NIL. defaultCharset adds
// ("charset" "us-ascii") when the list has no charset (text parts).
func appendParams(dst []byte, params []param, defaultCharset bool, o RenderOptions) []byte {
	if len(params) == 0 && !defaultCharset {
		return append(dst, "NIL"...)
	}
	dst = append(dst, '(')
	seenCharset := false
	for i, pr := range params {
		if i > 0 {
			dst = append(dst, ' ')
		}
		if defaultCharset && strings.EqualFold(pr.name, "charset") {
			seenCharset = true
		}
		dst = AppendString(dst, pr.name, o)
		dst = append(dst, ' ')
		dst = AppendString(dst, pr.value, o)
	}
	if defaultCharset && !seenCharset {
		if len(params) > 0 {
			dst = append(dst, ' ')
		}
		dst = append(dst, `"charset" "us-ascii"`...)
	}
	return append(dst, ')')
}

// appendExtCommon appends the disposition, language and location
// extension fields, each preceded by a space.
func appendExtCommon(dst []byte, p *part, o RenderOptions) []byte {
	dst = append(dst, ' ')
	if p.disp == "" {
		dst = append(dst, "NIL"...)
	} else {
		dst = append(dst, '(')
		dst = AppendString(dst, p.disp, o)
		dst = append(dst, ' ')
		dst = appendParams(dst, p.dispParams, false, o)
		dst = append(dst, ')')
	}
	dst = append(dst, ' ')
	if len(p.lang) == 0 {
		dst = append(dst, "NIL"...)
	} else {
		dst = append(dst, '(')
		for i, l := range p.lang {
			if i > 0 {
				dst = append(dst, ' ')
			}
			dst = AppendString(dst, l, o)
		}
		dst = append(dst, ')')
	}
	dst = append(dst, ' ')
	return appendNStringOrNil(dst, p.loc, o)
}

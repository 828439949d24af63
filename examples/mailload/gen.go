package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math"
	"math/rand/v2"
	"mime/quotedprintable"
	"strings"
	"time"
)

// The generated mailbox: messages of the shapes found in real mailboxes,
// each determined by the seed and its index alone (so the first 10,000
// messages of a 100,000-message population are the 10,000 of a smaller one).
//
//	55%  text/plain (7bit or quoted-printable), 0.5-6 KB
//	30%  multipart/alternative: text/plain and text/html, 2-15 KB
//	15%  multipart/mixed: a text part and an attachment (PDF, PNG, CSV or
//	     DOCX; base64), 8-160 KB
//
// Headers have Received lines, sometimes a DKIM-Signature, a List-Id,
// Cc, encoded UTF-8 names and subjects, and replies (In-Reply-To,
// References). About 1% of the messages hold the word of [searchNeedle] in
// their text.

// searchNeedle is the word that about 1% of the generated messages hold.
const searchNeedle = "zeppelin"

var words = strings.Fields(`the of and to in is that for it as with was on be by this are
from at or have an they which one you had not but what all were when we there can
been has more if will would their about so said some these into time could them
other only than then its now over also after new two our first well way even back
any because most people year work report quarter budget meeting project review team
customer release schedule invoice contract draft update please attached thanks regards
agenda minutes proposal figures numbers deadline server backup migration ticket issue
question answer office travel lunch friday monday approval summary details change
plan launch design testing support account payment order delivery shipping address`)

var firstNames = []string{"Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter", "Zoë", "José", "Françoise", "Jürgen", "Søren"}
var lastNames = []string{"Smith", "Jones", "Martin", "Bernard", "Dubois", "Müller", "García", "Rossi", "Novak", "Kowalski", "Larsen", "O'Brien", "Nakamura", "Silva"}
var domains = []string{"example.org", "example.com", "example.net", "mail.example.org", "lists.example.com"}
var subjects = []string{"Quarterly report", "Meeting notes", "Re: budget", "Invoice %d", "Your order #%d has shipped", "Weekly update", "Lunch on Friday?", "Draft proposal for review", "Ticket %d: server backup", "Résumé des points", "Besprechung am Montag", "Travel plans", "Migration schedule", "Release %d.%d"}

type msgShape int

const (
	shapePlain msgShape = iota
	shapeAlternative
	shapeAttachment
)

// genMessage returns message i of the population of seed, with CRLF line
// endings, and its date and flags (maildir letters).
func genMessage(seed uint64, i int) (msg []byte, date time.Time, flags string) {
	r := rand.New(rand.NewPCG(seed, uint64(i)*0x9e3779b97f4a7c15+1))
	g := &gen{r: r, b: &bytes.Buffer{}}
	base := time.Date(2021, 1, 1, 8, 0, 0, 0, time.UTC)
	date = base.Add(time.Duration(i)*7*time.Minute + time.Duration(r.IntN(300))*time.Second)

	var shape msgShape
	switch p := r.IntN(100); {
	case p < 55:
		shape = shapePlain
	case p < 85:
		shape = shapeAlternative
	default:
		shape = shapeAttachment
	}
	fromName, fromAddr := g.person()
	toName, toAddr := g.person()
	needle := r.IntN(100) == 0
	g.header(i, date, fromName, fromAddr, toName, toAddr)
	boundary := fmt.Sprintf("=_mailload_%d_%x", i, r.Uint32())
	switch shape {
	case shapePlain:
		g.plainPart(true, needle, 500+r.IntN(5500))
	case shapeAlternative:
		g.line("MIME-Version: 1.0")
		g.line(`Content-Type: multipart/alternative; boundary="` + boundary + `"`)
		g.line("")
		g.line("This is a multi-part message in MIME format.")
		g.alternative(boundary, needle, 1000+r.IntN(6000))
	case shapeAttachment:
		g.line("MIME-Version: 1.0")
		g.line(`Content-Type: multipart/mixed; boundary="` + boundary + `"`)
		g.line("")
		g.line("--" + boundary)
		if r.IntN(2) == 0 {
			g.plainPart(false, needle, 300+r.IntN(2000))
		} else {
			inner := boundary + "_alt"
			g.line(`Content-Type: multipart/alternative; boundary="` + inner + `"`)
			g.line("")
			g.alternative(inner, needle, 300+r.IntN(2000))
		}
		g.line("--" + boundary)
		g.attachment(8<<10 + int(math.Exp(r.Float64()*math.Log(20)))*(7<<10))
		g.line("--" + boundary + "--")
	}
	switch p := r.IntN(100); {
	case p < 10:
		flags = ""
	case p < 15:
		flags = "FS"
	case p < 25:
		flags = "RS"
	default:
		flags = "S"
	}
	return g.b.Bytes(), date, flags
}

// gen writes a message.
type gen struct {
	r *rand.Rand
	b *bytes.Buffer
}

func (g *gen) line(s string) { g.b.WriteString(s); g.b.WriteString("\r\n") }

func (g *gen) pick(list []string) string { return list[g.r.IntN(len(list))] }

func (g *gen) person() (name, addr string) {
	first, last := g.pick(firstNames), g.pick(lastNames)
	local := strings.ToLower(strings.NewReplacer("'", "", "ë", "e", "é", "e", "ç", "c", "ü", "u", "í", "i", "ø", "o").Replace(first + "." + last))
	return first + " " + last, local + "@" + g.pick(domains)
}

// encodedWord returns s, RFC 2047-encoded when it is not ASCII.
func encodedWord(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return "=?UTF-8?B?" + base64.StdEncoding.EncodeToString([]byte(s)) + "?="
		}
	}
	return s
}

func mailbox(name, addr string) string {
	enc := encodedWord(name)
	if enc == name && strings.ContainsAny(name, `'.,"`) {
		enc = `"` + name + `"`
	}
	return enc + " <" + addr + ">"
}

func (g *gen) header(i int, date time.Time, fromName, fromAddr, toName, toAddr string) {
	r := g.r
	g.line("Return-Path: <" + fromAddr + ">")
	for h := range 1 + r.IntN(3) {
		g.line(fmt.Sprintf("Received: from mx%d.%s (mx%d.%s [192.0.2.%d])", h, g.pick(domains), h, g.pick(domains), 1+r.IntN(250)))
		g.line(fmt.Sprintf("\tby mail.example.net (Postfix) with ESMTPS id %X; %s", r.Uint64(), date.Add(-time.Duration(h)*time.Second).Format(time.RFC1123Z)))
	}
	if r.IntN(3) == 0 {
		sig := make([]byte, 192)
		for k := range sig {
			sig[k] = byte(r.Uint32())
		}
		b64 := base64.StdEncoding.EncodeToString(sig)
		g.line("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=" + strings.SplitN(fromAddr, "@", 2)[1] + "; s=sel1;")
		g.line("\th=from:to:subject:date:message-id; bh=" + b64[:44] + ";")
		g.line("\tb=" + b64[44:120])
		g.line("\t " + b64[120:])
	}
	g.line("From: " + mailbox(fromName, fromAddr))
	g.line("To: " + mailbox(toName, toAddr))
	if r.IntN(4) == 0 {
		n1, a1 := g.person()
		n2, a2 := g.person()
		g.line("Cc: " + mailbox(n1, a1) + ",\r\n " + mailbox(n2, a2))
	}
	subj := g.pick(subjects)
	if strings.Contains(subj, "%d") {
		if strings.Count(subj, "%d") == 2 {
			subj = fmt.Sprintf(subj, 1+r.IntN(9), r.IntN(20))
		} else {
			subj = fmt.Sprintf(subj, 1000+r.IntN(9000))
		}
	}
	reply := r.IntN(3) == 0
	if reply && !strings.HasPrefix(subj, "Re:") {
		subj = "Re: " + subj
	}
	g.line("Subject: " + encodedWord(subj))
	g.line("Date: " + date.Format(time.RFC1123Z))
	g.line(fmt.Sprintf("Message-ID: <%d.%x@%s>", i, r.Uint64(), strings.SplitN(fromAddr, "@", 2)[1]))
	if reply && i > 0 {
		parent := fmt.Sprintf("<%d.%x@example.org>", r.IntN(i), r.Uint32())
		g.line("In-Reply-To: " + parent)
		g.line("References: " + parent)
	}
	if r.IntN(5) == 0 {
		g.line("List-Id: Team discussion <team.lists.example.com>")
		g.line("List-Unsubscribe: <mailto:team-unsubscribe@lists.example.com>")
	}
	g.line("X-Mailer: mailload " + []string{"Thunderbird", "Outlook", "Apple Mail", "mutt"}[r.IntN(4)])
}

// text returns about n octets of sentences, wrapped at 72 columns.
func (g *gen) text(n int, needle bool) string {
	var b strings.Builder
	col := 0
	at := -1
	if needle {
		at = g.r.IntN(max(n, 1))
	}
	for b.Len() < n {
		w := g.pick(words)
		if at >= 0 && b.Len() >= at {
			w, at = searchNeedle, -1
		}
		if col+len(w) > 72 {
			b.WriteString("\n")
			col = 0
		} else if col > 0 {
			b.WriteString(" ")
			col++
		}
		b.WriteString(w)
		col += len(w)
		if g.r.IntN(12) == 0 {
			b.WriteString(".")
			col++
			if g.r.IntN(4) == 0 {
				b.WriteString("\n\n")
				col = 0
			}
		}
	}
	b.WriteString("\n")
	return b.String()
}

// crlf converts LF line endings to CRLF.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// plainPart writes a text/plain part (the whole body when top).
func (g *gen) plainPart(top, needle bool, n int) {
	body := g.text(n, needle)
	if top {
		g.line("MIME-Version: 1.0")
	}
	if g.r.IntN(3) == 0 {
		g.line("Content-Type: text/plain; charset=utf-8; format=flowed")
		g.line("Content-Transfer-Encoding: quoted-printable")
		g.line("")
		var qp bytes.Buffer
		w := quotedprintable.NewWriter(&qp)
		w.Write([]byte(strings.Replace(body, "the ", "thé ", 3)))
		w.Close()
		g.b.WriteString(crlf(strings.ReplaceAll(qp.String(), "\r\n", "\n")))
	} else {
		g.line("Content-Type: text/plain; charset=us-ascii")
		g.line("Content-Transfer-Encoding: 7bit")
		g.line("")
		g.b.WriteString(crlf(body))
	}
}

// alternative writes the parts of a multipart/alternative body and its
// closing delimiter.
func (g *gen) alternative(boundary string, needle bool, n int) {
	body := g.text(n, needle)
	g.line("--" + boundary)
	g.line("Content-Type: text/plain; charset=utf-8")
	g.line("Content-Transfer-Encoding: quoted-printable")
	g.line("")
	var qp bytes.Buffer
	w := quotedprintable.NewWriter(&qp)
	w.Write([]byte(body))
	w.Close()
	g.b.WriteString(crlf(strings.ReplaceAll(qp.String(), "\r\n", "\n")))
	g.line("--" + boundary)
	g.line("Content-Type: text/html; charset=utf-8")
	g.line("Content-Transfer-Encoding: quoted-printable")
	g.line("")
	html := "<html><head><style>p{font-family:sans-serif}</style></head><body>\n<p>" +
		strings.ReplaceAll(strings.TrimSpace(body), "\n\n", "</p>\n<p>") + "</p>\n</body></html>\n"
	qp.Reset()
	w = quotedprintable.NewWriter(&qp)
	w.Write([]byte(html))
	w.Close()
	g.b.WriteString(crlf(strings.ReplaceAll(qp.String(), "\r\n", "\n")))
	g.line("--" + boundary + "--")
}

// attachment writes a base64 attachment part of about n octets (decoded).
func (g *gen) attachment(n int) {
	kinds := []struct{ ctype, name string }{
		{"application/pdf", "report.pdf"}, {"image/png", "photo.png"},
		{"text/csv; charset=utf-8", "figures.csv"},
		{"application/vnd.openxmlformats-officedocument.wordprocessingml.document", "draft.docx"},
	}
	k := kinds[g.r.IntN(len(kinds))]
	data := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := g.r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			data[i+j] = byte(v >> (8 * j))
		}
	}
	g.line("Content-Type: " + k.ctype + `; name="` + k.name + `"`)
	g.line(`Content-Disposition: attachment; filename="` + k.name + `"`)
	g.line("Content-Transfer-Encoding: base64")
	g.line("")
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 76 {
		g.line(enc[:76])
		enc = enc[76:]
	}
	g.line(enc)
}

// sizedMessage returns a text/plain message of exactly size octets (at
// least its header) from from to to, with CRLF line endings.
func sizedMessage(from, to string, size int, id string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: <%s>\r\nTo: <%s>\r\nSubject: mailload %s\r\nDate: %s\r\nMessage-ID: <%s@mailload.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n",
		from, to, id, time.Now().Format(time.RFC1123Z), id)
	const line = "The quick brown fox jumps over the lazy dog; mailload fills the message.\r\n"
	for b.Len()+len(line) <= size {
		b.WriteString(line)
	}
	if rest := size - b.Len(); rest >= 2 {
		b.WriteString(strings.Repeat("x", rest-2) + "\r\n")
	}
	return b.Bytes()
}

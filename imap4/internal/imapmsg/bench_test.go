package imapmsg_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand"
	"mime/quotedprintable"
	"strings"
	"testing"

	"github.com/mailfront/mailfront/imap4/internal/imapmsg"
)

// typicalMessage builds a message shaped like everyday mail of about 10
// KB: a header of a few Received fields, DKIM and list headers, and a
// multipart/alternative with quoted-printable text and HTML.
func typicalMessage() []byte {
	var b strings.Builder
	for i := 0; i < 4; i++ {
		fmt.Fprintf(&b, "Received: from mx%d.example.net (mx%d.example.net [192.0.2.%d])\r\n\tby mail.example.com (Postfix) with ESMTPS id 4Y%dQ\r\n\tfor <bob@example.com>; Tue, 14 Jan 2025 09:30:1%d +0100 (CET)\r\n", i, i, i, i, i)
	}
	b.WriteString("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.net; s=2024;\r\n\th=from:to:subject:date:message-id:mime-version:content-type;\r\n\tbh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\r\n\tb=" + strings.Repeat("AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", 10) + "\r\n")
	b.WriteString("From: \"Alice Example\" <alice@example.net>\r\nTo: Bob <bob@example.com>, \"Carol C.\" <carol@example.org>\r\nCc: team@example.com\r\n")
	b.WriteString("Subject: =?UTF-8?Q?Re:_Quarterly_planning_=E2=80=93_agenda?=\r\nDate: Tue, 14 Jan 2025 09:30:00 +0100\r\n")
	b.WriteString("Message-ID: <CAF=abc123def456@mail.example.net>\r\nIn-Reply-To: <CAF=xyz789@mail.example.com>\r\nReferences: <CAF=xyz789@mail.example.com>\r\n")
	b.WriteString("List-Id: Team <team.example.com>\r\nList-Unsubscribe: <mailto:leave@example.com>\r\nMIME-Version: 1.0\r\n")
	b.WriteString("Content-Type: multipart/alternative; boundary=\"000000000000a1b2c3d4e5f6\"\r\n\r\n")
	text := strings.Repeat("Hello Bob, here is the agenda for Thursday’s planning meeting. Café at 10. ", 40)
	var qp bytes.Buffer
	w := quotedprintable.NewWriter(&qp)
	w.Write([]byte(text))
	w.Close()
	b.WriteString("--000000000000a1b2c3d4e5f6\r\nContent-Type: text/plain; charset=\"UTF-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	b.WriteString(strings.ReplaceAll(qp.String(), "\n", "\r\n"))
	b.WriteString("\r\n\r\n--000000000000a1b2c3d4e5f6\r\nContent-Type: text/html; charset=\"UTF-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	qp.Reset()
	w = quotedprintable.NewWriter(&qp)
	w.Write([]byte("<div dir=\"ltr\">" + strings.ReplaceAll(text, ". ", ".<br>") + "</div>"))
	w.Close()
	b.WriteString(strings.ReplaceAll(qp.String(), "\n", "\r\n"))
	b.WriteString("\r\n\r\n--000000000000a1b2c3d4e5f6--\r\n")
	return []byte(b.String())
}

// attachmentMessage builds a 5 MB message: a short text and two base64
// attachments.
func attachmentMessage() []byte {
	rng := rand.New(rand.NewSource(1))
	blob := func(n int) string {
		raw := make([]byte, n)
		rng.Read(raw)
		enc := base64.StdEncoding.EncodeToString(raw)
		var b strings.Builder
		for len(enc) > 76 {
			b.WriteString(enc[:76])
			b.WriteString("\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc)
		return b.String()
	}
	var b strings.Builder
	b.WriteString("From: Alice <alice@example.net>\r\nTo: Bob <bob@example.com>\r\nSubject: photos and the contract\r\nDate: Tue, 14 Jan 2025 09:30:00 +0100\r\nMessage-ID: <big@example.net>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"=_mixed\"\r\n\r\n")
	b.WriteString("--=_mixed\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee attached.\r\n\r\n")
	b.WriteString("--=_mixed\r\nContent-Type: application/pdf; name=\"contract.pdf\"\r\nContent-Disposition: attachment; filename=\"contract.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	b.WriteString(blob(1500 << 10))
	b.WriteString("\r\n--=_mixed\r\nContent-Type: image/jpeg; name=\"photo.jpg\"\r\nContent-Disposition: attachment; filename=\"photo.jpg\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	b.WriteString(blob(2250 << 10))
	b.WriteString("\r\n--=_mixed--\r\n")
	return []byte(b.String())
}

func benchParse(b *testing.B, msg []byte) {
	r := bytes.NewReader(msg)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := imapmsg.Parse(r, int64(len(msg))); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse10KB(b *testing.B) { benchParse(b, typicalMessage()) }
func BenchmarkParse5MB(b *testing.B)  { benchParse(b, attachmentMessage()) }

// BenchmarkParseParams parses a small message whose Content-Type and
// Content-Disposition fields have several parameters each, as
// Thunderbird and Outlook write them.
func BenchmarkParseParams(b *testing.B) {
	benchParse(b, []byte("From: a@example.net\r\nContent-Type: multipart/mixed; boundary=\"xx\"; charset=utf-8\r\n\r\n"+
		"--xx\r\nContent-Type: text/plain; charset=UTF-8; format=flowed; delsp=yes\r\n\r\nhi\r\n"+
		"--xx\r\nContent-Type: application/pdf; name=\"a.pdf\"\r\nContent-Disposition: attachment; filename=\"a.pdf\"; size=1234;\r\n"+
		" creation-date=\"Tue, 14 Jan 2025 09:30:00 GMT\"; modification-date=\"Tue, 14 Jan 2025 09:30:00 GMT\"\r\n\r\nJVBERi0=\r\n--xx--\r\n"))
}

// BenchmarkRender renders ENVELOPE and BODYSTRUCTURE of a parsed typical
// message into a reused buffer, as FETCH does for each message.
func BenchmarkRender(b *testing.B) {
	msg := typicalMessage()
	s, err := imapmsg.Parse(bytes.NewReader(msg), int64(len(msg)))
	if err != nil {
		b.Fatal(err)
	}
	var buf []byte
	o := imapmsg.RenderOptions{}
	b.ReportAllocs()
	for b.Loop() {
		buf = s.AppendEnvelope(buf[:0], o)
		buf = s.AppendBodyStructure(buf, true, o)
	}
	b.ReportMetric(float64(len(buf)), "bytes/op-out")
}

// BenchmarkRenderNested renders the nested RFC 9051 example message.
func BenchmarkRenderNested(b *testing.B) {
	msg := loadMessage(b, "nested-rfc822.eml")
	s := parseBytes(b, msg)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = s.AppendEnvelope(buf[:0], imapmsg.RenderOptions{})
		buf = s.AppendBodyStructure(buf, true, imapmsg.RenderOptions{})
	}
}

func BenchmarkMarshal(b *testing.B) {
	msg := typicalMessage()
	s := parseBytes(b, msg)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.MarshalBinary(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	msg := typicalMessage()
	data, err := parseBytes(b, msg).MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := imapmsg.Unmarshal(data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(data)), "encoded-bytes")
}

func BenchmarkMatchBody10KB(b *testing.B) {
	msg := typicalMessage()
	s := parseBytes(b, msg)
	r := bytes.NewReader(msg)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		ok, err := s.MatchBody(r, "not in the message")
		if err != nil || ok {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkMatchBodyUnicode10KB searches 8-bit UTF-8 text in several
// scripts (Latin, Greek, Cyrillic, Chinese, Japanese), so that most runes
// go through the rune-by-rune folding.
func BenchmarkMatchBodyUnicode10KB(b *testing.B) {
	text := strings.Repeat("Grüße aus München – Καλημέρα κόσμε – Привет, мир – 你好，世界。会議は木曜日です。 ", 60)
	msg := []byte("From: a@example.net\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + text)
	s := parseBytes(b, msg)
	r := bytes.NewReader(msg)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		ok, err := s.MatchBody(r, "not in the message")
		if err != nil || ok {
			b.Fatal(ok, err)
		}
	}
}

func BenchmarkMatchHeader10KB(b *testing.B) {
	msg := typicalMessage()
	s := parseBytes(b, msg)
	r := bytes.NewReader(msg)
	b.ReportAllocs()
	for b.Loop() {
		ok, err := s.MatchHeader(r, "Subject", "agenda")
		if err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkMatchHeaderAny10KB is the header half of SEARCH TEXT: every
// field decoded and searched, without a match.
func BenchmarkMatchHeaderAny10KB(b *testing.B) {
	msg := typicalMessage()
	s := parseBytes(b, msg)
	r := bytes.NewReader(msg)
	b.ReportAllocs()
	for b.Loop() {
		ok, err := s.MatchHeader(r, "", "not in the message")
		if err != nil || ok {
			b.Fatal(ok, err)
		}
	}
}

func BenchmarkBinarySize5MB(b *testing.B) {
	msg := attachmentMessage()
	r := bytes.NewReader(msg)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		s := parseBytes(b, msg) // fresh, so the size is not remembered
		if _, err := s.BinarySize(r, []int{3}); err != nil {
			b.Fatal(err)
		}
	}
}

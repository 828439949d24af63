package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pyPrelude is shared by the python scripts: argv carries the CA file and
// the ports, and check() prints one line per outcome for the Go side.
const pyPrelude = `
import imaplib, poplib, smtplib, ssl, sys, socket
ca, ports = sys.argv[1], dict(p.split("=") for p in sys.argv[2].split(","))
ctx = ssl.create_default_context(cafile=ca)
H = "localhost"
def port(name): return int(ports[name])
def check(name, value): print("%s=%s" % (name, value), flush=True)
`

func (s *mailServer) pyArgs() []string {
	var ps []string
	for name, p := range s.ports {
		ps = append(ps, name+"="+s.port(name))
		_ = p
	}
	return []string{s.caFile(), strings.Join(ps, ",")}
}

// results parses "name=value" lines.
func results(out string) map[string]string {
	m := map[string]string{}
	for _, l := range lines(out) {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

// TestInteropPython: smtplib submits (STARTTLS + PLAIN, SMTPS + LOGIN),
// imaplib reads it back byte for byte and works the mailbox, poplib
// retrieves and deletes; the refusals are checked too.
func TestInteropPython(t *testing.T) {
	s := startServer(t)
	msg1 := message(alice, bob, "Python one", "first body\r\n.leading dot line")
	msg2 := message(alice, bob, "Python two", "second body")
	script := pyPrelude + `
msg1, msg2 = sys.argv[3], sys.argv[4]
A, AP, B, BP = "alice@example.org", "alice-Secret-1", "bob@example.org", "bob-Secret-2"

# Submission on 587: AUTH is not offered before STARTTLS.
s = smtplib.SMTP(H, port("submission"))
s.ehlo()
check("smtp_auth_before_tls", s.has_extn("auth"))
try:
    s.sendmail(A, [B], msg1)
    check("smtp_send_without_auth", "accepted")
except smtplib.SMTPSenderRefused as e:
    check("smtp_send_without_auth", e.smtp_code)
s.starttls(context=ctx)
s.ehlo()
check("smtp_auth_after_tls", s.has_extn("auth"))
s.user, s.password = A, AP
s.auth("PLAIN", s.auth_plain)
try:
    s.sendmail(B, [B], msg1)
    check("smtp_spoof_envelope", "accepted")
except smtplib.SMTPSenderRefused as e:
    check("smtp_spoof_envelope", e.smtp_code)
try:
    s.sendmail(A, [B], msg1.replace("From: alice@example.org", "From: bob@example.org"))
    check("smtp_spoof_header", "accepted")
except smtplib.SMTPDataError as e:
    check("smtp_spoof_header", e.smtp_code)
try:
    s.sendmail(A, ["nobody@elsewhere.example"], msg1)
    check("smtp_relay", "accepted")
except smtplib.SMTPRecipientsRefused as e:
    check("smtp_relay", list(e.recipients.values())[0][0])
check("smtp_send1", s.sendmail(A, [B], msg1))
s.quit()

# Submission on 465: implicit TLS, AUTH LOGIN.
s = smtplib.SMTP_SSL(H, port("submissions"), context=ctx)
s.ehlo()
s.user, s.password = A, AP
s.auth("LOGIN", s.auth_login)
check("smtps_send2", s.sendmail(A, [B], msg2))
s.quit()

# IMAP on 143: LOGINDISABLED and PRIVACYREQUIRED before STARTTLS.
m = imaplib.IMAP4(H, port("imap"))
check("imap_logindisabled", "LOGINDISABLED" in m.capabilities)
try:
    m.login(B, BP)
    check("imap_login_plain", "accepted")
except imaplib.IMAP4.error as e:
    check("imap_login_plain", "PRIVACYREQUIRED" in str(e))
m.starttls(ssl_context=ctx)
check("imap_logindisabled_after_tls", "LOGINDISABLED" in m.capabilities)
m.login(B, BP)
typ, data = m.select("INBOX")
check("imap_exists", data[0].decode())
typ, data = m.uid("SEARCH", None, "SUBJECT", '"Python one"')
uid1 = data[0].split()[0]
typ, data = m.uid("FETCH", uid1, "(BODY.PEEK[] FLAGS)")
raw = data[0][1]
check("imap_body_exact", raw.endswith(msg1.encode()))
check("imap_received", raw.startswith(b"Received: "))
typ, data = m.uid("STORE", uid1, "+FLAGS", "(\\Flagged)")
check("imap_store", typ)
typ, data = m.uid("SEARCH", None, "FLAGGED")
check("imap_flagged", data[0].decode())
typ, data = m.uid("COPY", uid1, "Archive")
check("imap_copy", typ + " " + str(m.response("COPYUID")[1][0] is not None))
typ, data = m.uid("SEARCH", None, "TEXT", '"second body"')
uid2 = data[0].decode()
typ, data = m.uid("MOVE", uid2, "Trash")
check("imap_move", typ)
typ, data = m.append("Drafts", "(\\Draft)", None, b"Subject: draft\r\n\r\ndraft body\r\n")
check("imap_append", typ + " " + str(m.response("APPENDUID")[1][0] is not None))
typ, data = m.status("Archive", "(MESSAGES UIDNEXT)")
check("imap_status_archive", data[0].decode())
m.close()
typ, data = m.select("Trash")
check("imap_trash", data[0].decode())
m.store("1", "+FLAGS", "\\Deleted")
typ, data = m.expunge()
check("imap_expunge", data[0].decode())
m.logout()

# IMAPS on 993.
m = imaplib.IMAP4_SSL(H, port("imaps"), ssl_context=ctx)
m.login(B, BP)
typ, data = m.select("INBOX")
check("imaps_exists", data[0].decode())
typ, data = m.fetch("1", "(FLAGS)")
check("imaps_flags", data[0].decode())
m.logout()

# POP3 on 110: USER refused before STLS, then STLS.
p = poplib.POP3(H, port("pop3"))
try:
    p.user(B)
    check("pop3_user_plain", "accepted")
except poplib.error_proto as e:
    check("pop3_user_plain", e.args[0].decode())
p.stls(context=ctx)
p.user(B)
p.pass_(BP)
n, size = p.stat()
check("pop3_stat", n)
resp, lines, octets = p.retr(1)
check("pop3_retr_exact", (b"\r\n".join(lines) + b"\r\n").endswith(msg1.encode()))
p.dele(1)
p.quit()

# POP3S on 995: the deletion took effect at QUIT.
p = poplib.POP3_SSL(H, port("pop3s"), context=ctx)
p.user(B)
p.pass_(BP)
check("pop3s_stat_after_dele", p.stat()[0])
p.quit()
`
	out, err := python(t, script, append(s.pyArgs(), msg1, msg2)...)
	require.NoError(t, err, out)
	r := results(out)
	want := map[string]string{
		"smtp_auth_before_tls":         "False",
		"smtp_send_without_auth":       "530",
		"smtp_auth_after_tls":          "True",
		"smtp_spoof_envelope":          "553",
		"smtp_spoof_header":            "550",
		"smtp_relay":                   "550",
		"smtp_send1":                   "{}",
		"smtps_send2":                  "{}",
		"imap_logindisabled":           "True",
		"imap_login_plain":             "True",
		"imap_logindisabled_after_tls": "False",
		"imap_exists":                  "2",
		"imap_body_exact":              "True",
		"imap_received":                "True",
		"imap_store":                   "OK",
		"imap_copy":                    "OK True",
		"imap_move":                    "OK",
		"imap_append":                  "OK True",
		"imap_trash":                   "1",
		"imap_expunge":                 "1",
		"imaps_exists":                 "1",
		"pop3_stat":                    "1",
		"pop3_retr_exact":              "True",
		"pop3s_stat_after_dele":        "0",
	}
	for k, v := range want {
		assert.Equal(t, v, r[k], "%s (script output:\n%s)", k, out)
	}
	assert.Contains(t, r["imap_flagged"], "", "flag search ran")
	assert.Contains(t, r["imap_status_archive"], "MESSAGES 1")
	assert.Contains(t, r["imaps_flags"], `\Flagged`)
	assert.Contains(t, r["pop3_user_plain"], "[AUTH]")
	assert.Contains(t, r["pop3_user_plain"], "use STLS or the TLS port first")
}

// TestInteropMaildirDelivery: a message written into new/ by another
// program appears over IMAP and POP3 without a restart.
func TestInteropMaildirDelivery(t *testing.T) {
	s := startServer(t)
	msg := message("someone@elsewhere.example", bob, "Dropped in", "delivered by procmail\nwith bare LF")
	s.deliverToMaildir(bob, "1700000000.P1.host", msg)
	out, err := python(t, pyPrelude+`
m = imaplib.IMAP4_SSL(H, port("imaps"), ssl_context=ctx)
m.login("bob@example.org", "bob-Secret-2")
typ, data = m.select("INBOX")
check("exists", data[0].decode())
typ, data = m.fetch("1", "(RFC822.SIZE BODY.PEEK[])")
check("crlf", b"\n" not in data[0][1].replace(b"\r\n", b""))
check("size_matches", ("RFC822.SIZE %d" % len(data[0][1])).encode() in data[0][0])
m.logout()
p = poplib.POP3_SSL(H, port("pop3s"), context=ctx)
p.user("bob@example.org"); p.pass_("bob-Secret-2")
check("pop3", p.stat()[0])
p.quit()
`, s.pyArgs()...)
	require.NoError(t, err, out)
	r := results(out)
	assert.Equal(t, "1", r["exists"], out)
	assert.Equal(t, "True", r["crlf"], "bare LF served as CRLF: %s", out)
	assert.Equal(t, "True", r["size_matches"], out)
	assert.Equal(t, "1", r["pop3"], out)
	entries, err := os.ReadDir(filepath.Join(s.data, "mail", bob, "cur"))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "the message was adopted into cur/")
}

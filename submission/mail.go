package submission

import (
	"errors"
	"log/slog"
	"strconv"
	"strings"

	"github.com/mailfront/mailfront"
	"github.com/mailfront/mailfront/submission/internal/smtpwire"
)

// maxEnvID bounds the DSN ENVID parameter (RFC 3461 §4.4: 100 characters).
const maxEnvID = 100

// pathError is the reply to a path that failed to parse.
func pathError(err error, sender bool) reply {
	enh, who := EnhancedCode("5.1.3"), "recipient"
	if sender {
		enh, who = "5.1.7", "sender"
	}
	switch {
	case errors.Is(err, smtpwire.ErrAddressTooLong):
		return reply{501, enh, "The " + who + " address is too long"}
	case errors.Is(err, smtpwire.ErrAddress):
		return reply{501, enh, "Bad " + who + " address syntax"}
	case errors.Is(err, smtpwire.ErrDuplicateParam):
		return reply{501, "5.5.4", "Duplicate parameter"}
	case errors.Is(err, smtpwire.ErrParam):
		return reply{501, "5.5.4", "Malformed parameter"}
	}
	if sender {
		return reply{501, "5.5.4", "Syntax: MAIL FROM:<address> [parameters]"}
	}
	return reply{501, "5.5.4", "Syntax: RCPT TO:<address> [parameters]"}
}

// cmdMail starts a transaction (RFC 5321 §4.1.1.2) after checking that the
// authenticated user may send as the reverse-path.
func (c *conn) cmdMail(arg string) action {
	if c.tx != nil {
		return c.refused(reply{503, "5.5.1", "Nested MAIL command"})
	}
	p, params, err := smtpwire.ParseMailArg(arg, "FROM")
	if err != nil {
		return c.refused(pathError(err, true))
	}
	switch {
	case p.Null():
		return c.refused(reply{553, "5.7.1", "The null sender <> is not allowed on submission"})
	case p.Domain == "":
		return c.refused(reply{501, "5.1.7", "Bad sender address syntax"})
	}
	env := Envelope{Identity: *c.id, From: p.Addr}
	for _, prm := range params {
		if r, ok := c.mailParam(&env, prm); !ok {
			if r.code == 552 {
				c.reply(r) // a size the client announced: not a protocol error
				return proceed
			}
			return c.refused(r)
		}
	}
	if p.UTF8 && !env.SMTPUTF8 {
		return c.refused(reply{553, "5.6.7", "A non-ASCII address requires the SMTPUTF8 parameter"})
	}
	if err := c.cfg.checkSender(c.nc.Ctx, *c.id, EnvelopeSender, p.Addr); err != nil {
		if errors.Is(err, ErrSenderNotAllowed) {
			c.nc.Logger.LogAttrs(c.nc.Ctx, slog.LevelWarn, "sender address refused", slog.String("field", string(EnvelopeSender)), slog.String("addr", p.Addr))
			return c.refused(reply{553, "5.7.1", "Sender address <" + p.Addr + "> is not allowed for user " + c.id.Username})
		}
		r, fatal := c.errorReply(err, "SenderPolicy")
		if fatal {
			return c.fatal(r, mailfront.Shutdown)
		}
		c.reply(r)
		return proceed
	}
	c.ntx++
	env.ID = c.nc.ID() + "." + strconv.Itoa(c.ntx)
	c.tx = &transaction{env: env}
	c.reply(reply{250, "2.1.0", "Sender <" + p.Addr + "> OK"})
	return proceed
}

// mailParam applies one MAIL parameter; ok is false with the refusal.
func (c *conn) mailParam(env *Envelope, p smtpwire.Param) (r reply, ok bool) {
	bad := reply{501, "5.5.4", "Malformed " + p.Key + " parameter"}
	switch p.Key {
	case "SIZE": // RFC 1870
		if !p.HasValue || len(p.Value) > 20 || strings.Trim(p.Value, "0123456789") != "" {
			return bad, false
		}
		n, err := strconv.ParseInt(p.Value, 10, 64)
		if err != nil || (c.cfg.maxMessage > 0 && n > c.cfg.maxMessage) {
			return reply{552, "5.3.4", "Message size exceeds fixed maximum message size"}, false
		}
		env.Size = n
	case "BODY": // RFC 6152, RFC 3030
		switch b := BodyType(strings.ToUpper(p.Value)); b {
		case Body7Bit, Body8BitMIME, BodyBinaryMIME:
			env.Body = b
		default:
			return bad, false
		}
	case "SMTPUTF8": // RFC 6531
		if p.HasValue {
			return bad, false
		}
		env.SMTPUTF8 = true
	case "RET": // RFC 3461 §4.3
		switch v := strings.ToUpper(p.Value); v {
		case "FULL", "HDRS":
			env.Ret = v
		default:
			return bad, false
		}
	case "ENVID": // RFC 3461 §4.4
		v, err := smtpwire.DecodeXtext(p.Value)
		if !p.HasValue || len(p.Value) > maxEnvID || err != nil {
			return bad, false
		}
		env.EnvID = v
	case "AUTH": // RFC 4954 §5: accepted, and not trusted
		if p.Value != "<>" {
			if _, err := smtpwire.DecodeXtext(p.Value); !p.HasValue || err != nil {
				return bad, false
			}
		}
	case "REQUIRETLS": // RFC 8689, advertised only with TLS
		if c.nc.TLS() == nil {
			return reply{555, "5.5.4", "REQUIRETLS is only available over TLS"}, false
		}
		if p.HasValue {
			return bad, false
		}
		env.RequireTLS = true
	default:
		return reply{555, "5.5.4", "Unsupported parameter " + p.Key}, false
	}
	return reply{}, true
}

// cmdRcpt adds a recipient (RFC 5321 §4.1.1.3), asking the backend's
// RecipientChecker if it has one.
func (c *conn) cmdRcpt(arg string) action {
	tx := c.tx
	switch {
	case tx == nil:
		return c.refused(replyNeedMail)
	case tx.bdat != nil:
		return c.refused(reply{503, "5.5.1", "RCPT is not permitted after BDAT"})
	}
	p, params, err := smtpwire.ParseMailArg(arg, "TO")
	if err != nil {
		return c.refused(pathError(err, false))
	}
	if p.Null() {
		return c.refused(reply{501, "5.1.3", "Bad recipient address syntax"})
	}
	tx.rcptTried = true
	if c.cfg.maxRcpts > 0 && len(tx.env.Recipients) >= c.cfg.maxRcpts {
		c.reply(replyTooManyRcpts)
		return proceed
	}
	rcpt := Recipient{Address: p.Addr}
	for _, prm := range params {
		switch prm.Key {
		case "NOTIFY": // RFC 3461 §4.1
			notify, ok := parseNotify(prm.Value)
			if !ok {
				return c.refused(reply{501, "5.5.4", "Malformed NOTIFY parameter"})
			}
			rcpt.Notify = notify
		case "ORCPT": // RFC 3461 §4.2
			v, err := smtpwire.DecodeORCPT(prm.Value)
			if err != nil {
				return c.refused(reply{501, "5.5.4", "Malformed ORCPT parameter"})
			}
			rcpt.ORCPT = v
		default:
			return c.refused(reply{555, "5.5.4", "Unsupported parameter " + prm.Key})
		}
	}
	if p.UTF8 && !tx.env.SMTPUTF8 {
		return c.refused(reply{553, "5.6.7", "A non-ASCII address requires the SMTPUTF8 parameter"})
	}
	if rc := c.cfg.rcptChecker; rc != nil {
		if err := rc.CheckRecipient(c.nc.Ctx, &tx.env, rcpt); err != nil {
			r, fatal := c.errorReply(err, "CheckRecipient")
			if fatal {
				return c.fatal(r, mailfront.Shutdown)
			}
			c.reply(r)
			return proceed
		}
	}
	tx.env.Recipients = append(tx.env.Recipients, rcpt)
	c.reply(reply{250, "2.1.5", "Recipient <" + p.Addr + "> OK"})
	return proceed
}

// parseNotify parses NOTIFY's value: NEVER, or a list of SUCCESS, FAILURE
// and DELAY without repeats.
func parseNotify(v string) ([]string, bool) {
	if v == "" {
		return nil, false
	}
	var out []string
	for item := range strings.SplitSeq(strings.ToUpper(v), ",") {
		switch item {
		case "NEVER", "SUCCESS", "FAILURE", "DELAY":
		default:
			return nil, false
		}
		for _, o := range out {
			if o == item {
				return nil, false
			}
		}
		out = append(out, item)
	}
	for _, o := range out {
		if o == "NEVER" && len(out) > 1 {
			return nil, false
		}
	}
	return out, true
}

package submission

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/mail"
	"runtime/debug"

	"github.com/emersion/go-message/textproto"

	"github.com/mailfront/mailfront"
	"github.com/mailfront/mailfront/internal/wire"
)

// Errors the backend's message stream returns, besides the client's read
// errors and [ErrMessageTooLarge].
var (
	// errBareLineEnding: the data broke the line-ending rule.
	errBareLineEnding = errors.New("submission: bare CR or LF in message data")
	// errAborted: the client ended the transaction (RSET, QUIT, a new
	// EHLO, STARTTLS) or the connection before the end of the message.
	errAborted = errors.New("submission: transaction aborted by the client")
	// errBackendPanic: the backend (or a hook) panicked.
	errBackendPanic = errors.New("submission: backend panicked")
	// errStop: a header check refused the message before the backend saw it.
	errStop = errors.New("submission: message refused")
)

// A delivery is one message on its way from the client to the backend: it
// reads the header (bounded), checks From and Sender, adds the trace header
// and the missing fields, and calls Submit with the rest streamed. It runs
// on the connection's goroutine (DATA) or on its own (BDAT, whose chunks
// arrive between commands); its outcome is read only after run returns.
type delivery struct {
	cfg   *config
	ctx   context.Context
	log   *slog.Logger
	env   *Envelope
	trace []byte        // the Received header field, with its CRLF
	br    *bufio.Reader // the connection's, reset for each message

	refusal     *reply // the server refused the header
	senderErr   error  // the sender policy refused (or failed on) a header address
	senderField SenderField
	senderAddr  string
	srcErr      error // the first error reading the client's data
	eof         bool  // the backend read the message to its end
	submitted   bool  // Submit was called
	panicked    bool
}

func (c *conn) newDelivery(tx *transaction) *delivery {
	if c.msgReader == nil {
		c.msgReader = bufio.NewReaderSize(nil, 4096)
	}
	return &delivery{cfg: c.cfg, ctx: c.nc.Ctx, log: c.nc.Logger, env: &tx.env, trace: c.receivedHeader(&tx.env), br: c.msgReader}
}

// run delivers the message read from src and returns the backend's error.
func (d *delivery) run(src io.Reader) (err error) {
	defer func() {
		if v := recover(); v != nil {
			d.log.LogAttrs(d.ctx, slog.LevelError, "panic in backend or hook",
				slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
			d.panicked = true
			err = errBackendPanic
		}
	}()
	br := d.br
	br.Reset(&sourceReader{r: src, d: d})
	defer br.Reset(nil)
	block, sep, err := d.readHeader(br)
	if err != nil {
		return err
	}
	prefix, err := d.prepareHeader(block, sep)
	if err != nil {
		return err
	}
	d.submitted = true
	return d.cfg.backend.Submit(d.ctx, d.env, &messageReader{prefix: prefix, rest: br})
}

// messageReader is the message as the backend reads it: the prepared
// header, then the rest of the client's data. It has only Read, so that
// io.Copy uses the destination's ReadFrom or a pooled buffer rather than
// io.MultiReader's WriteTo, which allocates 32 KiB a call.
type messageReader struct {
	prefix []byte
	rest   io.Reader
}

func (m *messageReader) Read(p []byte) (int, error) {
	if len(m.prefix) > 0 {
		n := copy(p, m.prefix)
		m.prefix = m.prefix[n:]
		return n, nil
	}
	return m.rest.Read(p)
}

// sourceReader records the first error of the client's data and gives the
// backend errors it can recognise.
type sourceReader struct {
	r io.Reader
	d *delivery
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	switch {
	case err == nil:
	case err == io.EOF:
		s.d.eof = true
	default:
		if s.d.srcErr == nil {
			s.d.srcErr = err
		}
		switch {
		case errors.Is(err, wire.ErrMessageTooLarge):
			err = ErrMessageTooLarge
		case errors.Is(err, wire.ErrBareLineEnding):
			err = errBareLineEnding
		}
	}
	return n, err
}

// readHeader reads the header block up to and including the empty line
// that ends it, whose length it returns as sep (0 when the message ends
// inside its header). The block is bounded by MaxHeaderBytes.
func (d *delivery) readHeader(br *bufio.Reader) (block []byte, sep int, err error) {
	lineStart := 0
	for {
		chunk, err := br.ReadSlice('\n')
		block = append(block, chunk...)
		if d.cfg.maxHeader > 0 && len(block) > d.cfg.maxHeader {
			d.refusal = &reply{552, "5.3.4", "Message header exceeds the maximum header size"}
			return nil, 0, errStop
		}
		switch err {
		case nil:
			line := block[lineStart:]
			lineStart = len(block)
			if string(line) == "\r\n" || string(line) == "\n" {
				return block, len(line), nil
			}
		case bufio.ErrBufferFull:
		case io.EOF:
			return block, 0, nil
		default:
			return nil, 0, err
		}
	}
}

// fixLineEndings applies the line-ending policy to the header block. The
// DATA path and BDAT without BINARYMIME have done so already; a
// BODY=BINARYMIME message is checked here, for its header only, since its
// body may legitimately hold any octet.
func (d *delivery) fixLineEndings(block []byte) ([]byte, bool) {
	clean := true
	for i, b := range block {
		if (b == '\n' && (i == 0 || block[i-1] != '\r')) || (b == '\r' && (i+1 == len(block) || block[i+1] != '\n')) {
			clean = false
			break
		}
	}
	if clean {
		return block, true
	}
	if !d.cfg.normalize {
		return nil, false
	}
	out := make([]byte, 0, len(block)+16)
	for i, b := range block {
		switch {
		case b == '\r' && i+1 < len(block) && block[i+1] == '\n':
			out = append(out, '\r')
		case b == '\r', b == '\n' && (i == 0 || block[i-1] != '\r'):
			out = append(out, '\r', '\n')
		default:
			out = append(out, b)
		}
	}
	return out, true
}

// addressParser parses From, Sender and their Resent- forms. Only the addresses matter, so
// display names in any charset are accepted as they are.
var addressParser = mail.AddressParser{WordDecoder: &mime.WordDecoder{
	CharsetReader: func(_ string, r io.Reader) (io.Reader, error) { return r, nil },
}}

// prepareHeader checks the header and returns what precedes the body: the
// trace header, the client's header fields, the fields added (RFC 6409 §8)
// and the empty line.
func (d *delivery) prepareHeader(block []byte, sep int) ([]byte, error) {
	block, ok := d.fixLineEndings(block)
	if !ok {
		d.srcErr = wire.ErrBareLineEnding
		return nil, errStop
	}
	if sep > 0 {
		sep = 2 // "\n" became "\r\n"
	}
	h, err := textproto.ReadHeader(bufio.NewReaderSize(bytes.NewReader(block), len(block)))
	if err != nil {
		d.refusal = &reply{550, "5.6.0", "Malformed message header"}
		return nil, errStop
	}
	var added bytes.Buffer
	froms := h.Values("From")
	switch {
	case len(froms) == 0 && d.cfg.addHeaders:
		added.WriteString("From: <" + d.env.From + ">\r\n")
	case len(froms) > 1:
		d.refusal = &reply{550, "5.6.0", "More than one From header field"}
		return nil, errStop
	}
	senders := h.Values("Sender")
	if len(senders) > 1 {
		d.refusal = &reply{550, "5.6.0", "More than one Sender header field"}
		return nil, errStop
	}
	resentFrom, resentSender := topResentBlock(block)
	for _, f := range []struct {
		field  SenderField
		values []string
		list   bool
	}{
		{HeaderFrom, froms, true},
		{HeaderSender, senders, false},
		{HeaderResentFrom, nonEmpty(resentFrom), true},
		{HeaderResentSender, nonEmpty(resentSender), false},
	} {
		if len(f.values) == 1 && !d.checkField(f.field, f.values[0], f.list) {
			return nil, errStop
		}
	}
	if d.cfg.addHeaders {
		if !h.Has("Date") {
			added.WriteString("Date: " + d.cfg.now().Format(dateLayout) + "\r\n")
		}
		if !h.Has("Message-Id") {
			added.WriteString("Message-ID: " + d.cfg.newMessageID() + "\r\n")
		}
	}
	fields := block[:len(block)-sep]
	out := make([]byte, 0, len(d.trace)+len(block)+added.Len()+2)
	out = append(out, d.trace...)
	out = append(out, fields...)
	if added.Len() > 0 && len(fields) > 0 && fields[len(fields)-1] != '\n' {
		out = append(out, '\r', '\n') // a header-only message without a final CRLF
	}
	out = append(out, added.Bytes()...)
	out = append(out, block[len(fields):]...)
	return out, nil
}

// checkField parses a sender header field (an address list for From and
// Resent-From, one address otherwise) and applies the sender policy to
// each address; false means refused (d.refusal or d.senderErr says why).
func (d *delivery) checkField(field SenderField, value string, list bool) bool {
	var addrs []*mail.Address
	var err error
	if list {
		addrs, err = addressParser.ParseList(value)
	} else {
		var a *mail.Address
		a, err = addressParser.Parse(value)
		addrs = []*mail.Address{a}
	}
	if err != nil || len(addrs) == 0 {
		d.refusal = &reply{550, "5.6.0", "Malformed " + string(field) + " header field"}
		return false
	}
	for _, a := range addrs {
		if !d.allowed(field, a.Address) {
			return false
		}
	}
	return true
}

// nonEmpty returns []string{s}, or nil for "".
func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// allowed applies the sender policy to a header address.
func (d *delivery) allowed(field SenderField, addr string) bool {
	if err := d.cfg.checkSender(d.ctx, d.env.Identity, field, addr); err != nil {
		d.senderErr, d.senderField, d.senderAddr = err, field, addr
		return false
	}
	return true
}

// verdict decides the reply to a message whose data has been read to its
// end: the server's own refusals first, then the backend's answer. restErr
// is a policy error found in data the backend did not read. reason is set
// when the connection must close.
func (c *conn) verdict(d *delivery, berr, restErr error) (r reply, reason mailfront.CloseReason) {
	switch {
	case d.panicked:
		return replyInternal, mailfront.InternalError
	case d.refusal != nil:
		return *d.refusal, mailfront.NotClosed
	case d.senderErr != nil:
		if errors.Is(d.senderErr, ErrSenderNotAllowed) {
			c.nc.Logger.LogAttrs(c.nc.Ctx, slog.LevelWarn, "sender address refused",
				slog.String("field", string(d.senderField)), slog.String("addr", d.senderAddr))
			return reply{550, "5.7.1", string(d.senderField) + " header address <" + d.senderAddr +
				"> is not allowed for user " + d.env.Identity.Username}, mailfront.NotClosed
		}
		r, fatal := c.errorReply(d.senderErr, "SenderPolicy")
		if fatal {
			return r, mailfront.Shutdown
		}
		return r, mailfront.NotClosed
	}
	srcErr := d.srcErr
	if srcErr == nil {
		srcErr = restErr
	}
	if srcErr != nil {
		r := replyTempFailure
		switch {
		case errors.Is(srcErr, wire.ErrMessageTooLarge), errors.Is(srcErr, ErrMessageTooLarge):
			r = replyTooBig
		case errors.Is(srcErr, wire.ErrBareLineEnding):
			r = replyBareLine
		}
		if d.submitted && berr == nil {
			c.nc.Logger.LogAttrs(c.nc.Ctx, slog.LevelError,
				"backend accepted a message whose data failed; it must not commit after a read error",
				slog.String("id", d.env.ID), slog.Any("err", srcErr))
		}
		return r, mailfront.NotClosed
	}
	if berr != nil {
		r, fatal := c.errorReply(berr, "Submit")
		if fatal {
			return r, mailfront.Shutdown
		}
		return r, mailfront.NotClosed
	}
	if !d.eof {
		c.nc.Logger.LogAttrs(c.nc.Ctx, slog.LevelError, "backend returned before reading the whole message",
			slog.String("id", d.env.ID))
	}
	c.nc.Logger.LogAttrs(c.nc.Ctx, slog.LevelDebug, "message submitted", slog.String("id", d.env.ID),
		slog.String("from", d.env.From), slog.Int("rcpts", len(d.env.Recipients)))
	return reply{250, "2.0.0", "OK: queued as " + d.env.ID}, mailfront.NotClosed
}

// finish writes the verdict.
func (c *conn) finish(d *delivery, berr, restErr error) action {
	r, reason := c.verdict(d, berr, restErr)
	if reason != mailfront.NotClosed {
		return c.fatal(r, reason)
	}
	if d.senderErr != nil && errors.Is(d.senderErr, ErrSenderNotAllowed) {
		return c.refused(r)
	}
	c.reply(r)
	return proceed
}

// topResentBlock returns the Resent-From and Resent-Sender values of the
// header's first (most recent, RFC 5322 §3.6.6: each resending prepends its
// block) resent block: the run of Resent-* fields that starts at the first
// one and ends at the first other field or at a second Resent-From.
// Empty strings when there is none.
func topResentBlock(header []byte) (from, sender string) {
	in := false
	var cur *string // the field being read (for folded lines), or nil
	for len(header) > 0 {
		line := header
		if i := bytes.IndexByte(header, '\n'); i >= 0 {
			line, header = header[:i], header[i+1:]
		} else {
			header = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			if cur != nil {
				*cur += " " + string(bytes.TrimSpace(line))
			}
			continue
		}
		cur = nil
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		name = bytes.TrimSpace(name)
		resent := len(name) > 7 && bytes.EqualFold(name[:7], []byte("Resent-"))
		switch {
		case !resent && in:
			return from, sender
		case !resent:
			continue
		}
		in = true
		v := string(bytes.TrimSpace(value))
		switch {
		case bytes.EqualFold(name, []byte("Resent-From")):
			if from != "" {
				return from, sender // the next block
			}
			from, cur = v, &from
		case bytes.EqualFold(name, []byte("Resent-Sender")):
			if sender == "" {
				sender, cur = v, &sender
			}
		}
	}
	return from, sender
}

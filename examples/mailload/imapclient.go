package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// imapConn is a minimal IMAP client: tagged commands, untagged responses
// seen one by one, literals skipped.
type imapConn struct {
	*textConn
	tag    int
	caps   map[string]bool
	exists int64 // the last * N EXISTS
	long   []byte
}

// dialIMAP connects client i, reads the greeting and does STARTTLS when
// asked, recording the "connect" phase.
func dialIMAP(ctx context.Context, d *dialer, i int, rec *recorder) (*imapConn, error) {
	t0 := time.Now()
	tc, err := d.dialText(ctx, i)
	if err != nil {
		return nil, err
	}
	c := &imapConn{textConn: tc}
	c.deadline()
	greeting, err := c.readLine(&c.long)
	if err != nil {
		c.close()
		return nil, fmt.Errorf("IMAP greeting: %w", err)
	}
	if !bytes.HasPrefix(greeting, []byte("* OK")) {
		c.close()
		return nil, protoErr("IMAP greeting", greeting)
	}
	c.noteCaps(greeting)
	if d.tlsMode == "starttls" {
		if _, err := c.command("STARTTLS", nil); err != nil {
			c.close()
			return nil, err
		}
		if err := c.startTLS(ctx); err != nil {
			c.close()
			return nil, err
		}
		c.caps = nil
	}
	if rec != nil {
		rec.add("connect", time.Since(t0))
	}
	return c, nil
}

// noteCaps remembers the capabilities of a [CAPABILITY ...] code or a
// * CAPABILITY response in line.
func (c *imapConn) noteCaps(line []byte) {
	s := string(bytes.TrimRight(line, "\r\n"))
	var list string
	if i := strings.Index(s, "[CAPABILITY "); i >= 0 {
		list, _, _ = strings.Cut(s[i+len("[CAPABILITY "):], "]")
	} else if rest, ok := strings.CutPrefix(s, "* CAPABILITY "); ok {
		list = rest
	} else {
		return
	}
	c.caps = map[string]bool{}
	for f := range strings.FieldsSeq(list) {
		c.caps[strings.ToUpper(f)] = true
	}
}

// capabilities makes sure the capabilities are known, asking for them if
// neither the greeting nor the last response gave them.
func (c *imapConn) capabilities() (map[string]bool, error) {
	if c.caps == nil {
		if _, err := c.command("CAPABILITY", nil); err != nil {
			return nil, err
		}
		if c.caps == nil {
			c.caps = map[string]bool{}
		}
	}
	return c.caps, nil
}

// response reads one whole response, skipping its literals. It returns
// the first line (valid until the next read) and whether the response held
// a literal. Literal octets after the first line are not returned.
func (c *imapConn) response() ([]byte, error) {
	line, err := c.readLine(&c.long)
	if err != nil {
		return nil, err
	}
	first, copied := line, false
	for {
		n, ok := literalSize(line)
		if !ok {
			return first, nil
		}
		if !copied {
			first, copied = bytes.Clone(first), true // the buffer is about to be reused
		}
		if _, err := c.r.Discard(int(n)); err != nil {
			return nil, err
		}
		if line, err = c.readLine(&c.long); err != nil {
			return nil, err
		}
	}
}

// literalSize returns N when line ends with {N}CRLF (or {N+}, ~{N}).
func literalSize(line []byte) (int64, bool) {
	l := bytes.TrimRight(line, "\r\n")
	if len(l) < 3 || l[len(l)-1] != '}' {
		return 0, false
	}
	i := bytes.LastIndexByte(l, '{')
	if i < 0 {
		return 0, false
	}
	digits := bytes.TrimSuffix(l[i+1:len(l)-1], []byte("+"))
	n, err := strconv.ParseInt(string(digits), 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// An imapStatus is a tagged response.
type imapStatus struct {
	line string
}

func (s imapStatus) code(name string) (string, bool) {
	i := strings.Index(s.line, "["+name)
	if i < 0 {
		return "", false
	}
	rest, _, ok := strings.Cut(s.line[i+1:], "]")
	return rest, ok
}

// command sends "tag cmd" and reads responses up to the tagged one, giving
// each untagged response to untagged (which may be nil). A tagged response
// other than OK is an error.
func (c *imapConn) command(cmd string, untagged func(line []byte)) (imapStatus, error) {
	c.tag++
	tag := "a" + strconv.Itoa(c.tag)
	c.deadline()
	c.w.WriteString(tag)
	c.w.WriteByte(' ')
	c.w.WriteString(cmd)
	c.w.WriteString("\r\n")
	if err := c.w.Flush(); err != nil {
		return imapStatus{}, err
	}
	return c.finish(tag, cmd, untagged)
}

// finish reads the responses to the command tagged tag.
func (c *imapConn) finish(tag, cmd string, untagged func(line []byte)) (imapStatus, error) {
	verb, _, _ := strings.Cut(cmd, " ")
	if strings.EqualFold(verb, "UID") {
		verb = cmd[:min(len(cmd), strings.IndexByte(cmd[4:]+" ", ' ')+4)]
	}
	for {
		line, err := c.response()
		if err != nil {
			return imapStatus{}, fmt.Errorf("IMAP %s: %w", verb, err)
		}
		if len(line) > 2 && line[0] == '*' && line[1] == ' ' {
			c.untagged(line)
			if untagged != nil {
				untagged(line)
			}
			continue
		}
		if len(line) > len(tag) && string(line[:len(tag)]) == tag && line[len(tag)] == ' ' {
			st := imapStatus{line: strings.TrimRight(string(line[len(tag)+1:]), "\r\n")}
			c.noteCaps(line)
			if !strings.HasPrefix(st.line, "OK") {
				return st, fmt.Errorf("IMAP %s: %s", verb, st.line)
			}
			return st, nil
		}
		if line[0] == '+' {
			return imapStatus{}, protoErr("IMAP "+verb+": unexpected continuation", line)
		}
	}
}

// untagged notes what the client tracks of an untagged response.
func (c *imapConn) untagged(line []byte) {
	if n, ok := existsCount(line); ok {
		c.exists = n
		return
	}
	if bytes.HasPrefix(line, []byte("* CAPABILITY ")) || bytes.HasPrefix(line, []byte("* OK [CAPABILITY ")) {
		c.noteCaps(line)
	}
}

// existsCount parses "* N EXISTS".
func existsCount(line []byte) (int64, bool) {
	rest, ok := bytes.CutPrefix(line, []byte("* "))
	if !ok {
		return 0, false
	}
	num, word, ok := bytes.Cut(rest, []byte(" "))
	if !ok || !bytes.EqualFold(bytes.TrimRight(word, "\r\n"), []byte("EXISTS")) {
		return 0, false
	}
	n, err := strconv.ParseInt(string(num), 10, 64)
	return n, err == nil
}

// isFetch reports whether line is "* N FETCH ...".
func isFetch(line []byte) bool {
	rest, ok := bytes.CutPrefix(line, []byte("* "))
	if !ok {
		return false
	}
	_, word, ok := bytes.Cut(rest, []byte(" "))
	return ok && len(word) >= 5 && bytes.EqualFold(word[:5], []byte("FETCH"))
}

// quote returns s as an IMAP quoted string, or "" when it needs a literal.
func quote(s string) (string, bool) {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b == '\r' || b == '\n' || b == 0 || b >= 0x80 {
			return "", false
		}
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`, true
}

// login logs in with LOGIN, recording the "login" phase.
func (c *imapConn) login(ctx context.Context, cr credential, rec *recorder) error {
	t0 := time.Now()
	u, ok1 := quote(cr.user)
	p, ok2 := quote(cr.pass)
	if !ok1 || !ok2 {
		return errors.New("IMAP LOGIN: user names and passwords with CR, LF, NUL or non-ASCII octets are not supported")
	}
	c.caps = nil
	if _, err := c.command("LOGIN "+u+" "+p, nil); err != nil {
		return err
	}
	if rec != nil {
		rec.add("login", time.Since(t0))
	}
	return nil
}

// selectMailbox selects name, recording the "select" phase, and returns
// the number of messages.
func (c *imapConn) selectMailbox(name string, rec *recorder) (int64, error) {
	t0 := time.Now()
	q, ok := quote(name)
	if !ok {
		return 0, fmt.Errorf("mailbox name %q needs a literal; not supported", name)
	}
	c.exists = -1
	if _, err := c.command("SELECT "+q, nil); err != nil {
		return 0, err
	}
	if c.exists < 0 {
		return 0, errors.New("IMAP SELECT: no EXISTS response")
	}
	if rec != nil {
		rec.add("select", time.Since(t0))
	}
	return c.exists, nil
}

// logout sends LOGOUT and closes, recording the "logout" phase.
func (c *imapConn) logout(rec *recorder) {
	t0 := time.Now()
	_, err := c.command("LOGOUT", nil)
	c.close()
	if err == nil && rec != nil {
		rec.add("logout", time.Since(t0))
	}
}

// appendMessage appends msg to mailbox with the given flags (a
// parenthesised list or ""), as a non-synchronizing literal when the server
// offers LITERAL+ (or LITERAL- and the message is small enough), and
// returns the tagged response.
func (c *imapConn) appendMessage(mailbox, flags string, msg []byte) (imapStatus, error) {
	caps, err := c.capabilities()
	if err != nil {
		return imapStatus{}, err
	}
	q, ok := quote(mailbox)
	if !ok {
		return imapStatus{}, fmt.Errorf("mailbox name %q needs a literal; not supported", mailbox)
	}
	nonSync := caps["LITERAL+"] || (caps["LITERAL-"] && len(msg) <= 4096)
	c.tag++
	tag := "a" + strconv.Itoa(c.tag)
	c.deadline()
	fmt.Fprintf(c.w, "%s APPEND %s ", tag, q)
	if flags != "" {
		c.w.WriteString(flags + " ")
	}
	if nonSync {
		fmt.Fprintf(c.w, "{%d+}\r\n", len(msg))
	} else {
		fmt.Fprintf(c.w, "{%d}\r\n", len(msg))
		if err := c.w.Flush(); err != nil {
			return imapStatus{}, err
		}
		for {
			line, err := c.response()
			if err != nil {
				return imapStatus{}, fmt.Errorf("IMAP APPEND: %w", err)
			}
			if line[0] == '+' {
				break
			}
			if bytes.HasPrefix(line, []byte(tag+" ")) {
				return imapStatus{}, protoErr("IMAP APPEND", line[len(tag)+1:])
			}
			c.untagged(line)
		}
	}
	c.w.Write(msg)
	c.w.WriteString("\r\n")
	if err := c.w.Flush(); err != nil {
		return imapStatus{}, err
	}
	return c.finish(tag, "APPEND", nil)
}

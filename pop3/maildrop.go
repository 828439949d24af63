package pop3

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mailfront/mailfront"
	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/internal/wire"
)

// The commands of the TRANSACTION state (RFC 1939 §5): STAT, LIST, UIDL,
// RETR, TOP, DELE, RSET, NOOP, and QUIT with its UPDATE state (§6).

// message is one message of the session's maildrop, numbered from 1 by its
// index.
type message struct {
	uid     string // as the backend knows it
	wireUID string // as UIDL shows it: uid, or a stable substitute if uid is unusable
	size    int64
	deleted bool
}

// maildropSession is the maildrop of a logged-in session.
type maildropSession struct {
	md         Maildrop // nil before login
	top        TopOpener
	msgs       []message
	ndeleted   int
	expireDays int
	loginDelay time.Duration
}

// loggedIn opens the maildrop of an authenticated user and enters the
// TRANSACTION state (RFC 1939 §4). A failure here ends the connection, as
// RFC 1939 §7 allows: the client was authenticated but cannot be served
// now.
func (c *conn) loggedIn(id auth.Identity) {
	ctx := c.nc.Ctx
	md, err := c.s.Backend.OpenMaildrop(ctx, id)
	if err != nil {
		c.maildropFailed("OpenMaildrop", err)
		return
	}
	if md == nil {
		c.log(slog.LevelError, "backend returned a nil Maildrop")
		c.closeWith(mailfront.InternalError, CodeSysTemp, "Internal error; try again later")
		return
	}
	c.maildrop.md = md
	list, err := md.Messages(ctx)
	if err != nil {
		c.maildropFailed("Messages", err)
		return
	}
	c.maildrop.msgs = c.checkMessages(list)
	c.maildrop.top, _ = findOptional[TopOpener](md)
	c.maildrop.expireDays, c.maildrop.loginDelay = c.s.ExpireDays, c.s.LoginDelay
	if pp, ok := findOptional[PolicyProvider](md); ok {
		p := pp.Policy()
		if p.ExpireDays != 0 {
			c.maildrop.expireDays = p.ExpireDays
		}
		if p.LoginDelay != 0 {
			c.maildrop.loginDelay = p.LoginDelay
		}
	}
	if d := c.maildrop.loginDelay; d > 0 && !c.s.logins.admit(id.Username, d, time.Now()) {
		c.log(slog.LevelInfo, "login refused: too soon after the previous one", slog.Duration("login_delay", d))
		c.closeWith(mailfront.LimitExceeded, CodeLoginDelay, "Logged in too recently; wait "+
			strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10)+" seconds between logins")
		return
	}
	c.state = stateTransaction
	c.bad = 0
	c.user = ""
	n, size := c.maildrop.count()
	c.ok("Logged in; maildrop has " + plural(n, "message") + " (" + strconv.FormatInt(size, 10) + " octets)")
}

// maildropFailed answers a failure to open or list the maildrop after a
// successful login, and ends the connection.
func (c *conn) maildropFailed(op string, err error) {
	code, text, shutdown := c.backendReply(op, err)
	reason := mailfront.InternalError
	switch {
	case shutdown:
		reason = c.shutdownReason()
	case code == CodeInUse, code == CodeLoginDelay:
		reason = mailfront.LimitExceeded
	case code == "":
		code = CodeSysTemp
	}
	c.closeWith(reason, code, text)
}

// findOptional looks for an optional interface on md and down its chain of
// Unwrap() Maildrop methods.
func findOptional[T any](md Maildrop) (T, bool) {
	for range 16 { // bounded, in case a wrapper unwraps to itself
		if t, ok := md.(T); ok {
			return t, true
		}
		u, ok := md.(interface{ Unwrap() Maildrop })
		if !ok {
			break
		}
		if md = u.Unwrap(); md == nil {
			break
		}
	}
	var zero T
	return zero, false
}

// checkMessages copies the backend's list, protecting the wire from
// contract violations: a UID that is empty, too long or not printable ASCII
// (RFC 1939 §7) is replaced by a stable substitute derived from it, and a
// negative size counts as 0. Each is logged: it is a backend bug.
func (c *conn) checkMessages(list []MessageInfo) []message {
	msgs := make([]message, len(list))
	seen := make(map[string]struct{}, len(list))
	for i, m := range list {
		msgs[i] = message{uid: m.UID, wireUID: m.UID, size: m.Size}
		if !validUID(m.UID) {
			sum := sha256.Sum256([]byte(m.UID))
			msgs[i].wireUID = "x-" + hex.EncodeToString(sum[:20])
			c.log(slog.LevelError, "backend returned an invalid UID; using a substitute", slog.Int("msg", i+1))
		}
		if _, dup := seen[msgs[i].wireUID]; dup {
			c.log(slog.LevelError, "backend returned a duplicate UID", slog.Int("msg", i+1))
		}
		seen[msgs[i].wireUID] = struct{}{}
		if m.Size < 0 {
			msgs[i].size = 0
			c.log(slog.LevelError, "backend returned a negative size", slog.Int("msg", i+1))
		}
	}
	return msgs
}

// validUID reports whether s is a unique-id as RFC 1939 §7 defines it: 1 to
// 70 characters from 0x21 to 0x7E.
func validUID(s string) bool {
	if s == "" || len(s) > 70 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// count returns the number and total size of the messages not marked as
// deleted.
func (m *maildropSession) count() (int, int64) {
	var size int64
	for _, msg := range m.msgs {
		if !msg.deleted {
			size += msg.size
		}
	}
	return len(m.msgs) - m.ndeleted, size
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// message returns message number arg, or answers why not and returns nil.
func (c *conn) message(arg string) (int, *message) {
	n, ok := parseNumber(arg)
	if !ok {
		c.syntaxError("message number expected")
		return 0, nil
	}
	if n < 1 || n > int64(len(c.maildrop.msgs)) {
		c.err("", "No such message")
		return 0, nil
	}
	m := &c.maildrop.msgs[n-1]
	if m.deleted {
		c.err("", "Message "+strconv.FormatInt(n, 10)+" is deleted")
		return 0, nil
	}
	return int(n), m
}

func (c *conn) cmdStat(arg string) {
	if arg != "" {
		c.syntaxError("STAT")
		return
	}
	n, size := c.maildrop.count()
	c.ok(strconv.Itoa(n) + " " + strconv.FormatInt(size, 10))
}

func (c *conn) cmdList(arg string) {
	c.listing(arg, "LIST [msg]", func(n int, m *message) string {
		return strconv.Itoa(n) + " " + strconv.FormatInt(m.size, 10)
	})
}

func (c *conn) cmdUIDL(arg string) {
	c.listing(arg, "UIDL [msg]", func(n int, m *message) string {
		return strconv.Itoa(n) + " " + m.wireUID
	})
}

// listing runs LIST or UIDL: one message, or all not deleted.
func (c *conn) listing(arg, usage string, line func(n int, m *message) string) {
	f := fields(arg)
	switch len(f) {
	case 0:
		n, size := c.maildrop.count()
		c.ok(plural(n, "message") + " (" + strconv.FormatInt(size, 10) + " octets)")
		lines := make([]string, 0, n)
		for i := range c.maildrop.msgs {
			if m := &c.maildrop.msgs[i]; !m.deleted {
				lines = append(lines, line(i+1, m))
			}
		}
		c.multiLine(lines)
	case 1:
		if n, m := c.message(f[0]); m != nil {
			c.ok(line(n, m))
		}
	default:
		c.syntaxError(usage)
	}
}

func (c *conn) cmdRetr(arg string) {
	f := fields(arg)
	if len(f) != 1 {
		c.syntaxError("RETR msg")
		return
	}
	if n, m := c.message(f[0]); m != nil {
		c.sendMessage(n, m, -1)
	}
}

func (c *conn) cmdTop(arg string) {
	f := fields(arg)
	if len(f) != 2 {
		c.syntaxError("TOP msg lines")
		return
	}
	lines, ok := parseNumber(f[1])
	if !ok {
		c.syntaxError("TOP msg lines")
		return
	}
	if n, m := c.message(f[0]); m != nil {
		c.sendMessage(n, m, lines)
	}
}

// copyChunk is how much of a message is read and written at a time; the
// write deadline is renewed for each.
const copyChunk = 32 << 10

// sendMessage streams a message (lines < 0) or its header and first lines
// (TOP) through a DotWriter: dot-stuffing, CRLF line endings, and always the
// terminating line. Memory use is one chunk, whatever the message size.
func (c *conn) sendMessage(n int, m *message, lines int64) {
	ctx := c.nc.Ctx
	var r io.ReadCloser
	var err error
	if lines >= 0 && c.maildrop.top != nil {
		r, err = c.maildrop.top.OpenTop(ctx, m.uid, int(min(lines, 1<<31-1)))
	} else {
		r, err = c.maildrop.md.Open(ctx, m.uid)
	}
	if err != nil {
		code, text, shutdown := c.backendReply("Open", err)
		if errors.Is(err, ErrNoSuchMessage) {
			text = "Message " + strconv.Itoa(n) + " is no longer available"
		}
		if shutdown {
			c.closeWith(c.shutdownReason(), code, text)
			return
		}
		c.err(code, text)
		return
	}
	defer r.Close()

	if lines < 0 {
		c.ok(strconv.FormatInt(m.size, 10) + " octets")
	} else {
		c.ok("Top of message follows")
	}
	dw := wire.NewDotWriter(c.nc.W)
	var w io.Writer = dw
	if lines >= 0 {
		// Also over OpenTop: it is cheap and guarantees the contract.
		w = &topWriter{w: dw, remaining: lines}
	}
	if c.copyBuffer == nil {
		c.copyBuffer = make([]byte, copyChunk)
	}
	for {
		nr, rerr := r.Read(c.copyBuffer)
		if nr > 0 {
			c.nc.SetWriteTimeout(c.s.writeTimeout())
			if _, werr := w.Write(c.copyBuffer[:nr]); werr != nil {
				if werr == errTopDone {
					break
				}
				// The client is gone or stopped reading.
				c.nc.SetCloseReason(mailfront.ReadError)
				c.end = true
				return
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			// The +OK line is out: the only honest report is to end the
			// connection without the terminating line, so the client does
			// not take a truncated message as complete.
			if c.cancelled(rerr) {
				c.nc.SetCloseReason(c.shutdownReason())
			} else {
				c.log(slog.LevelError, "reading a message failed", slog.Int("msg", n), slog.Any("err", rerr))
				c.nc.SetCloseReason(mailfront.InternalError)
			}
			c.end = true
			return
		}
	}
	if err := dw.Close(); err != nil {
		c.nc.SetCloseReason(mailfront.ReadError)
		c.end = true
		return
	}
	if c.nc.TraceEnabled() {
		c.trace("S", "{"+strconv.FormatInt(dw.Written(), 10)+" bytes}")
	}
}

// errTopDone stops the copy once TOP has sent what was asked.
var errTopDone = errors.New("top: done")

// topWriter passes through a message's header, the blank line that ends
// it, and then at most remaining lines of the body (RFC 1939 §7 TOP). A
// message without a blank line is all header and is sent whole.
type topWriter struct {
	w         io.Writer
	remaining int64
	inBody    bool
	midLine   bool // inside a header line
	crOnly    bool // the header line so far is just "\r"
}

func (t *topWriter) Write(p []byte) (int, error) {
	if t.inBody && t.remaining <= 0 {
		return 0, errTopDone
	}
	for i, b := range p {
		if !t.inBody {
			switch {
			case b == '\n' && (!t.midLine || t.crOnly):
				// A blank line: the header ends with it.
				t.inBody = true
				if t.remaining <= 0 {
					return t.cut(p, i+1)
				}
			case b == '\n':
				t.midLine, t.crOnly = false, false
			case b == '\r' && !t.midLine:
				t.midLine, t.crOnly = true, true
			default:
				t.midLine, t.crOnly = true, false
			}
			continue
		}
		if b == '\n' {
			if t.remaining--; t.remaining <= 0 {
				return t.cut(p, i+1)
			}
		}
	}
	return t.w.Write(p)
}

// cut writes p[:n] and reports that TOP is done.
func (t *topWriter) cut(p []byte, n int) (int, error) {
	if _, err := t.w.Write(p[:n]); err != nil {
		return 0, err
	}
	return n, errTopDone
}

func (c *conn) cmdDele(arg string) {
	f := fields(arg)
	if len(f) != 1 {
		c.syntaxError("DELE msg")
		return
	}
	if n, m := c.message(f[0]); m != nil {
		m.deleted = true
		c.maildrop.ndeleted++
		c.ok("Message " + strconv.Itoa(n) + " deleted")
	}
}

func (c *conn) cmdRset(arg string) {
	if arg != "" {
		c.syntaxError("RSET")
		return
	}
	for i := range c.maildrop.msgs {
		c.maildrop.msgs[i].deleted = false
	}
	c.maildrop.ndeleted = 0
	n, size := c.maildrop.count()
	c.ok("Maildrop has " + plural(n, "message") + " (" + strconv.FormatInt(size, 10) + " octets)")
}

func (c *conn) cmdNoop(arg string) {
	if arg != "" {
		c.syntaxError("NOOP")
		return
	}
	c.ok("")
}

// cmdQuit ends the session. From TRANSACTION it enters the UPDATE state
// (RFC 1939 §6): the messages marked as deleted are removed, and only here.
func (c *conn) cmdQuit(arg string) {
	if arg != "" {
		c.syntaxError("QUIT")
		return
	}
	c.end = true
	if c.state != stateTransaction || c.maildrop.ndeleted == 0 {
		c.nc.SetCloseReason(mailfront.ClientQuit)
		c.ok("Goodbye")
		return
	}
	uids := make([]string, 0, c.maildrop.ndeleted)
	for _, m := range c.maildrop.msgs {
		if m.deleted {
			uids = append(uids, m.uid)
		}
	}
	if err := c.maildrop.md.Delete(c.nc.Ctx, uids); err != nil {
		code, text, shutdown := c.backendReply("Delete", err)
		if shutdown {
			c.nc.SetCloseReason(c.shutdownReason())
		}
		c.nc.SetCloseReason(mailfront.ClientQuit)
		if code == "" {
			code = CodeSysTemp
		}
		c.err(code, "Some deleted messages not removed: "+text)
		return
	}
	c.nc.SetCloseReason(mailfront.ClientQuit)
	c.log(slog.LevelDebug, "deleted messages", slog.Int("count", len(uids)))
	n, _ := c.maildrop.count()
	c.ok("Goodbye; " + plural(n, "message") + " left")
}

// closeMaildrop releases the maildrop however the session ended.
func (c *conn) closeMaildrop() {
	if c.maildrop.md == nil {
		return
	}
	md := c.maildrop.md
	c.maildrop.md = nil
	if err := md.Close(); err != nil {
		c.log(slog.LevelError, "closing the maildrop failed", slog.Any("err", err))
	}
}

// loginTracker remembers recent logins for LOGIN-DELAY, per user, in
// memory bounded by the users who logged in within the longest delay.
type loginTracker struct {
	mu       sync.Mutex
	last     map[string]time.Time
	maxDelay time.Duration
}

// admit reports whether user may log in at now given delay, and if so
// records the login.
func (t *loginTracker) admit(user string, delay time.Duration, now time.Time) bool {
	key := strings.ToLower(user)
	t.mu.Lock()
	defer t.mu.Unlock()
	if prev, ok := t.last[key]; ok && now.Sub(prev) < delay {
		return false
	}
	if t.last == nil {
		t.last = make(map[string]time.Time)
	}
	t.maxDelay = max(t.maxDelay, delay)
	if len(t.last) >= 1024 && len(t.last)&1023 == 0 {
		for k, v := range t.last {
			if now.Sub(v) >= t.maxDelay {
				delete(t.last, k)
			}
		}
	}
	t.last[key] = now
	return true
}

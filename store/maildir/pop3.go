package maildir

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/pop3"
)

// OpenMaildrop implements pop3.Backend: the maildrop is the user's INBOX,
// locked for the session (a second session gets pop3.ErrMaildropLocked;
// the per-user process lock keeps other processes out). IMAP sessions may
// use the INBOX meanwhile; a message they expunge is reported gone by Open
// and skipped by Delete.
func (s *Store) OpenMaildrop(ctx context.Context, id auth.Identity) (pop3.Maildrop, error) {
	u, err := s.acquire(ctx, id.Username, true)
	if err != nil {
		return nil, err
	}
	u.mu.Lock()
	if u.pop3 {
		u.mu.Unlock()
		s.release(u)
		return nil, pop3.ErrMaildropLocked
	}
	f, err := u.folderLocked("INBOX")
	if err == nil {
		u.pop3 = true
	}
	u.mu.Unlock()
	if err != nil {
		s.release(u)
		return nil, err
	}
	return &maildrop{u: u, f: f}, nil
}

// maildrop is the pop3.Maildrop of one session.
type maildrop struct {
	u        *userState
	f        *folder
	validity uint32
	closed   bool
}

var _ pop3.Maildrop = (*maildrop)(nil)

// appendPopUID appends the UIDL of a message to b: UIDVALIDITY and UID in
// hex, 16 characters, never reused (a rebuilt index with a new UIDVALIDITY
// gives every message a new UIDL, which makes clients download again
// rather than skip a message).
func appendPopUID(b []byte, validity uint32, uid imap4.UID) []byte {
	const hex = "0123456789abcdef"
	for _, v := range [2]uint32{validity, uint32(uid)} {
		for shift := 28; shift >= 0; shift -= 4 {
			b = append(b, hex[v>>shift&0xf])
		}
	}
	return b
}

// parsePopUID is the inverse of appendPopUID.
func parsePopUID(s string) (uint32, imap4.UID, bool) {
	if len(s) != 16 {
		return 0, 0, false
	}
	v, err1 := strconv.ParseUint(s[:8], 16, 32)
	u, err2 := strconv.ParseUint(s[8:], 16, 32)
	if err1 != nil || err2 != nil || u == 0 {
		return 0, 0, false
	}
	return uint32(v), imap4.UID(u), true
}

// Messages implements pop3.Maildrop: the INBOX in UID order (arrival
// order), sizes with CRLF line endings.
func (m *maildrop) Messages(ctx context.Context) ([]pop3.MessageInfo, error) {
	f := m.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.readyLocked(true); err != nil {
		return nil, err
	}
	m.validity = f.st.validity
	// The UIDLs are cut from one string: one allocation, not one each.
	const n = 16
	buf := make([]byte, 0, n*len(f.st.msgs))
	for _, e := range f.st.msgs {
		buf = appendPopUID(buf, m.validity, e.uid)
	}
	uidls := string(buf)
	out := make([]pop3.MessageInfo, len(f.st.msgs))
	for i, e := range f.st.msgs {
		out[i] = pop3.MessageInfo{UID: uidls[n*i : n*i+n], Size: e.size}
	}
	return out, nil
}

// uid returns the IMAP UID of a UIDL of this session.
func (m *maildrop) uid(s string) (imap4.UID, bool) {
	v, uid, ok := parsePopUID(s)
	return uid, ok && v == m.validity
}

// Open implements pop3.Maildrop.
func (m *maildrop) Open(ctx context.Context, uid string) (io.ReadCloser, error) {
	u, ok := m.uid(uid)
	if !ok {
		return nil, pop3.ErrNoSuchMessage
	}
	msg, err := m.f.open(u)
	if errors.Is(err, imap4.ErrNoSuchMessage) {
		return nil, fmt.Errorf("%w: %w", pop3.ErrNoSuchMessage, err)
	}
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(msg, 0, msg.Size()), msg}, nil
}

// Delete implements pop3.Maildrop: the messages are expunged from INBOX
// (IMAP sessions see them go); those already gone are skipped.
func (m *maildrop) Delete(ctx context.Context, uids []string) error {
	list := make([]imap4.UID, 0, len(uids))
	for _, s := range uids {
		if u, ok := m.uid(s); ok {
			list = append(list, u)
		}
	}
	_, err := m.f.expunge(list, false, nil)
	return err
}

// Close implements pop3.Maildrop: it releases the maildrop lock.
func (m *maildrop) Close() error {
	if m.closed {
		return nil
	}
	m.closed = true
	m.u.mu.Lock()
	m.u.pop3 = false
	m.u.mu.Unlock()
	m.u.s.release(m.u)
	return nil
}

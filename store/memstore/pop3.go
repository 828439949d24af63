package memstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/pop3"
)

// OpenMaildrop implements [pop3.Backend]: the maildrop is the user's
// INBOX, locked for the session (a second session gets an error wrapping
// [pop3.ErrMaildropLocked]). IMAP sessions and deliveries go on meanwhile;
// the POP3 session keeps the list it saw at the start. It creates the user
// on first use (see [Store.AddUser]).
//
// Unique ids are "UIDVALIDITY.UID" of the INBOX message, so they are stable
// across sessions and never reused.
func (s *Store) OpenMaildrop(ctx context.Context, id auth.Identity) (pop3.Maildrop, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	u, err := s.user(id.Username)
	if err != nil {
		return nil, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.gone {
		return nil, errUserGone
	}
	if u.pop3 {
		return nil, fmt.Errorf("memstore: %s: %w", quote(u.name), pop3.ErrMaildropLocked)
	}
	u.pop3 = true
	mb := u.boxes[inbox]
	md := &maildrop{u: u, mb: mb, list: make([]pop3.MessageInfo, len(mb.msgs))}
	for i, m := range mb.msgs {
		md.list[i] = pop3.MessageInfo{UID: uidl(mb.uidValidity, m.uid), Size: int64(len(m.data))}
	}
	return md, nil
}

// A maildrop is one POP3 session's locked INBOX.
type maildrop struct {
	u      *user
	mb     *mailbox
	list   []pop3.MessageInfo
	closed bool
}

var _ pop3.Maildrop = (*maildrop)(nil)

func uidl(validity uint32, uid imap4.UID) string {
	return strconv.FormatUint(uint64(validity), 10) + "." + strconv.FormatUint(uint64(uid), 10)
}

// parseUIDL returns the INBOX UID of a unique id of mb, or ok false.
func parseUIDL(mb *mailbox, id string) (imap4.UID, bool) {
	v, u, found := strings.Cut(id, ".")
	if !found || v != strconv.FormatUint(uint64(mb.uidValidity), 10) {
		return 0, false
	}
	n, err := strconv.ParseUint(u, 10, 32)
	if err != nil || n == 0 {
		return 0, false
	}
	return imap4.UID(n), true
}

func (md *maildrop) Messages(ctx context.Context) ([]pop3.MessageInfo, error) {
	return md.list, nil
}

func (md *maildrop) Open(ctx context.Context, id string) (io.ReadCloser, error) {
	md.u.mu.Lock()
	defer md.u.mu.Unlock()
	if uid, ok := parseUIDL(md.mb, id); ok && !md.mb.deleted {
		if i, ok := md.mb.find(uid); ok {
			return io.NopCloser(bytes.NewReader(md.mb.msgs[i].data)), nil
		}
	}
	return nil, fmt.Errorf("memstore: message %s: %w", quote(id), pop3.ErrNoSuchMessage)
}

// Delete expunges the messages from the INBOX; the ones already gone (an
// IMAP session expunged them) are ignored. IMAP sessions watching the INBOX
// are notified.
func (md *maildrop) Delete(ctx context.Context, ids []string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	md.u.mu.Lock()
	defer md.u.mu.Unlock()
	if md.mb.deleted {
		return errUserGone
	}
	uids := make([]imap4.UID, 0, len(ids))
	for _, id := range ids {
		if uid, ok := parseUIDL(md.mb, id); ok {
			uids = append(uids, uid)
		}
	}
	if gone := md.mb.expunge(uids, nil); len(gone) > 0 {
		md.mb.notify(nil)
	}
	return nil
}

// Close releases the maildrop lock.
func (md *maildrop) Close() error {
	md.u.mu.Lock()
	defer md.u.mu.Unlock()
	if md.closed {
		return errClosed
	}
	md.closed = true
	md.u.pop3 = false
	return nil
}

package memstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/internal/wire"
)

// This file holds the helpers for tests: put fixture messages into a
// store, look at what users received, wait for deliveries, and clean up
// between tests.

// A StoredMessage is a copy of one stored message, as [Store.Messages]
// returns it.
type StoredMessage struct {
	// UID is the message's UID in its mailbox.
	UID imap4.UID
	// Flags are its flags and keywords.
	Flags []string
	// InternalDate is when it arrived, or the date given to APPEND.
	InternalDate time.Time
	// ModSeq is its modification sequence.
	ModSeq imap4.ModSeq
	// Raw is the message as stored, with CRLF line endings.
	Raw []byte
	// Header is the parsed header; empty if the message has none that
	// net/mail can parse.
	Header mail.Header
	// Body is what follows the header and the blank line after it (all of
	// Raw if the header could not be parsed).
	Body []byte
}

// Subject returns the Subject header field, with RFC 2047 encoded words
// decoded (left as they are if they cannot be).
func (m *StoredMessage) Subject() string {
	s := m.Header.Get("Subject")
	if d, err := new(mime.WordDecoder).DecodeHeader(s); err == nil {
		return d
	}
	return s
}

// HasFlag reports whether the message has the flag, compared
// case-insensitively.
func (m *StoredMessage) HasFlag(flag string) bool {
	return slices.ContainsFunc(m.Flags, func(f string) bool { return strings.EqualFold(f, flag) })
}

// Deliver puts a message into a user's mailbox ("" means INBOX) as if it
// had just arrived, and returns its UID. It creates the user and the
// mailbox if they do not exist. Bare LF line endings in msg are stored as
// CRLF, so fixtures can be written as Go strings; msg is not retained.
// Sessions watching the mailbox are notified.
func (s *Store) Deliver(user, mailbox string, msg []byte) (imap4.UID, error) {
	var buf bytes.Buffer
	buf.Grow(len(msg) + len(msg)/32)
	if _, err := io.Copy(&buf, wire.NewCRLFReader(bytes.NewReader(msg))); err != nil {
		return 0, err
	}
	if mailbox == "" {
		mailbox = inbox
	}
	return s.deliver(user, mailbox, buf.Bytes(), nil)
}

// deliver stores data (which it keeps) as a new message, creating the
// user and the mailbox as needed.
func (s *Store) deliver(name, mailbox string, data []byte, flags []string) (imap4.UID, error) {
	clean, err := cleanName(mailbox)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", err, imap4.ErrCannot)
	}
	var u *user
	for {
		if u, err = s.user(name); err != nil {
			return 0, err
		}
		u.mu.Lock()
		if !u.gone {
			break
		}
		u.mu.Unlock() // Reset ran in between: look again
	}
	defer u.mu.Unlock()
	mb := u.boxes[clean]
	if mb == nil || mb.noSelect {
		u.makeParents(clean)
		mb = u.newMailbox(clean, "")
		u.boxes[clean] = mb
	}
	uid := mb.append(data, flags, time.Time{})
	mb.notify(nil)
	return uid, nil
}

// Messages returns copies of the messages in a user's mailbox ("" means
// INBOX), in UID order. An unknown user is an error wrapping
// [ErrNoSuchUser]; a missing mailbox, one wrapping [imap4.ErrNoSuchMailbox].
func (s *Store) Messages(user, mailbox string) ([]StoredMessage, error) {
	u := s.lookupUser(user)
	if u == nil {
		return nil, fmt.Errorf("memstore: %s: %w", quote(user), ErrNoSuchUser)
	}
	if mailbox == "" {
		mailbox = inbox
	}
	u.mu.Lock()
	mb, err := u.selectable(mailbox)
	if err != nil {
		u.mu.Unlock()
		return nil, err
	}
	msgs := slices.Clone(mb.msgs)
	u.mu.Unlock()

	out := make([]StoredMessage, len(msgs))
	for i, m := range msgs {
		out[i] = StoredMessage{
			UID:          m.uid,
			Flags:        slices.Clone(m.flags.list),
			InternalDate: m.date,
			ModSeq:       m.modseq,
			Raw:          bytes.Clone(m.data),
			Body:         bytes.Clone(m.data),
			Header:       mail.Header{},
		}
		if pm, err := mail.ReadMessage(bytes.NewReader(m.data)); err == nil {
			out[i].Header = pm.Header
			if body, err := io.ReadAll(pm.Body); err == nil {
				out[i].Body = body
			}
		}
	}
	return out, nil
}

// WaitForMessages waits until a user's mailbox ("" means INBOX) holds at
// least n messages, and returns them as [Store.Messages] does. The user
// and the mailbox need not exist yet. It wakes on each change to the
// store, never polls, and returns ctx.Err() (with the messages so far) if
// ctx ends first: give it a context with a deadline.
func (s *Store) WaitForMessages(ctx context.Context, user, mailbox string, n int) ([]StoredMessage, error) {
	s.waiters.Add(1)
	defer s.waiters.Add(-1)
	for {
		wake := s.waitChan() // before looking, so no change is missed
		msgs, err := s.Messages(user, mailbox)
		if err == nil && len(msgs) >= n {
			return msgs, nil
		}
		if errors.Is(err, errBadName) {
			return nil, err
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return msgs, ctx.Err()
		}
	}
}

// Purge removes every message from every mailbox of every user, keeping
// users, mailboxes and subscriptions. UIDs are not reused afterwards, and
// open sessions see the messages expunged.
func (s *Store) Purge() {
	for _, u := range s.allUsers() {
		u.mu.Lock()
		for _, mb := range u.boxes {
			if len(mb.msgs) == 0 {
				continue
			}
			uids := make([]imap4.UID, len(mb.msgs))
			for i := range mb.msgs {
				uids[i] = mb.msgs[i].uid
			}
			mb.expunge(uids, nil)
			mb.notify(nil)
		}
		u.mu.Unlock()
	}
}

// Reset removes every user and message, as if the store were new (except
// that UIDVALIDITY values are never handed out again). Open sessions fail
// from then on: their mailboxes are gone.
func (s *Store) Reset() {
	s.mu.Lock()
	users := s.users
	s.users = nil
	s.mu.Unlock()
	for _, u := range users {
		u.mu.Lock()
		u.gone = true
		for _, mb := range u.boxes {
			mb.detach()
		}
		u.mu.Unlock()
	}
	s.changed()
}

func (s *Store) allUsers() []*user {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*user, 0, len(s.users))
	for _, u := range s.users {
		out = append(out, u)
	}
	return out
}

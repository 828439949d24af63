package maildir

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/submission"
)

// isLocal reports whether addr is a local user: its directory exists, or
// Store.IsLocal says so.
func (s *Store) isLocal(ctx context.Context, addr string) (string, bool, error) {
	name, err := canonicalUser(addr)
	if err != nil {
		return "", false, nil // cannot be a directory: never local
	}
	if fi, err := s.fsys().Lstat(filepath.Join(s.Root, name)); err == nil && fi.IsDir() {
		return name, true, nil
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", false, err
	}
	if s.IsLocal != nil {
		ok, err := s.IsLocal(ctx, addr)
		return name, ok, err
	}
	return name, false, nil
}

// CheckRecipient implements submission.RecipientChecker: local users are
// accepted; other addresses are refused unless Store.Relay takes them.
func (s *Store) CheckRecipient(ctx context.Context, env *submission.Envelope, rcpt submission.Recipient) error {
	_, local, err := s.isLocal(ctx, rcpt.Address)
	if err != nil {
		return fmt.Errorf("%w: %w", submission.ErrTemporary, err)
	}
	if local {
		return nil
	}
	if s.Relay != nil {
		if rc, ok := s.Relay.(submission.RecipientChecker); ok {
			return rc.CheckRecipient(ctx, env, rcpt)
		}
		return nil
	}
	return fmt.Errorf("%w: not a local user", submission.ErrRecipientRejected)
}

// Submit implements submission.Backend. The message is written once to a
// temporary file (fsynced), linked into the INBOX of every local recipient
// (once per user, whatever the number of addresses), each copy made
// durable and indexed before the next, and then given to Store.Relay for
// recipients that are not local. Submit returns nil only when every copy
// is durable and the relay took the rest. It is all or nothing, as far as
// it can be: if a delivery or the relay fails, the copies already
// delivered are expunged again before the error is returned, so that the
// client's retry (the SMTP reply covers every recipient at once) does not
// give those recipients the message twice. Only a crash in between can
// leave them a copy.
func (s *Store) Submit(ctx context.Context, env *submission.Envelope, msg io.Reader) error {
	var users []string
	seen := make(map[string]bool)
	var remote []submission.Recipient
	for _, r := range env.Recipients {
		name, local, err := s.isLocal(ctx, r.Address)
		if err != nil {
			io.Copy(io.Discard, msg)
			return fmt.Errorf("%w: %w", submission.ErrTemporary, err)
		}
		switch {
		case local && !seen[name]:
			seen[name] = true
			users = append(users, name)
		case !local:
			remote = append(remote, r)
		}
	}
	if len(remote) > 0 && s.Relay == nil {
		io.Copy(io.Discard, msg)
		return fmt.Errorf("%w: not a local user", submission.ErrRecipientRejected)
	}
	relayEnv := *env
	relayEnv.Recipients = remote
	if len(users) == 0 {
		return s.Relay.Submit(ctx, &relayEnv, msg)
	}
	u0, err := s.acquire(ctx, users[0], true)
	if err != nil {
		io.Copy(io.Discard, msg)
		return submissionError(err)
	}
	defer s.release(u0)
	fsys := s.fsys()
	st, err := stage(ctx, fsys, filepath.Join(u0.root, "tmp"), msg, time.Time{})
	if err != nil {
		io.Copy(io.Discard, msg)
		return submissionError(err)
	}
	defer fsys.Remove(st.path)
	type copied struct {
		user string
		uid  imap4.UID
	}
	var done []copied
	undo := func(cause error) error {
		ctx := context.WithoutCancel(ctx)
		for _, c := range done {
			if err := s.undeliver(ctx, c.user, c.uid); err != nil {
				s.logger().LogAttrs(ctx, slog.LevelError, "maildir: removing a copy of a message whose submission failed; a retry will duplicate it",
					slog.String("user", c.user), slog.Uint64("uid", uint64(c.uid)), slog.Any("err", err))
			}
		}
		return cause
	}
	for _, name := range users {
		uid, err := s.deliver(ctx, name, st)
		if err != nil {
			return undo(submissionError(err))
		}
		done = append(done, copied{name, uid})
	}
	if len(remote) > 0 {
		r, err := fsys.OpenFile(st.path, os.O_RDONLY, 0)
		if err != nil {
			return undo(submissionError(err))
		}
		err = s.Relay.Submit(ctx, &relayEnv, r)
		r.Close()
		if err != nil {
			return undo(err)
		}
	}
	return nil
}

// deliver links a staged message into a user's INBOX.
func (s *Store) deliver(ctx context.Context, name string, st *staged) (imap4.UID, error) {
	u, err := s.acquire(ctx, name, true)
	if err != nil {
		return 0, err
	}
	defer s.release(u)
	f, err := u.folder("INBOX")
	if err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.loadedLocked(); err != nil {
		return 0, err
	}
	return f.deliverLocked(st, nil, true, nil)
}

// undeliver expunges a message deliver added.
func (s *Store) undeliver(ctx context.Context, name string, uid imap4.UID) error {
	u, err := s.acquire(ctx, name, false)
	if err != nil {
		return err
	}
	defer s.release(u)
	f, err := u.folder("INBOX")
	if err != nil {
		return err
	}
	_, err = f.expunge([]imap4.UID{uid}, false, nil)
	return err
}

// submissionError maps a full disk or quota to submission.ErrQuotaExceeded.
func submissionError(err error) error {
	if errors.Is(err, imap4.ErrQuotaExceeded) || isNoSpace(err) {
		return fmt.Errorf("%w: %w", submission.ErrQuotaExceeded, err)
	}
	return err
}

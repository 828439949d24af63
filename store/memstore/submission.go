package memstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/mailfront/mailfront/submission"
)

// localUser returns the local user an address is delivered to, or ok
// false.
func (s *Store) localUser(ctx context.Context, addr string) (string, bool) {
	if s.LocalRecipient != nil {
		return s.LocalRecipient(ctx, addr)
	}
	if u := s.lookupUser(addr); u != nil {
		return u.name, true
	}
	return "", false
}

// CheckRecipient implements [submission.RecipientChecker]: a local
// recipient is accepted; another is passed to the Relay's RecipientChecker,
// accepted if the Relay has none, and refused with an error wrapping
// [submission.ErrRecipientRejected] if there is no Relay.
func (s *Store) CheckRecipient(ctx context.Context, env *submission.Envelope, rcpt submission.Recipient) error {
	if _, ok := s.localUser(ctx, rcpt.Address); ok {
		return nil
	}
	if s.Relay == nil {
		return fmt.Errorf("memstore: %s is not a local user: %w", quote(rcpt.Address), submission.ErrRecipientRejected)
	}
	if rc, ok := s.Relay.(submission.RecipientChecker); ok {
		return rc.CheckRecipient(ctx, env, rcpt)
	}
	return nil
}

// Submit implements [submission.Backend]: it delivers the message, as
// read, into the INBOX of each local recipient (once per user, however
// many of the recipients name them), and hands it to the Relay for the
// others. If reading msg fails, or the Relay fails, nothing is delivered.
func (s *Store) Submit(ctx context.Context, env *submission.Envelope, msg io.Reader) error {
	data, err := readMessage(msg)
	if err != nil {
		return fmt.Errorf("memstore: reading the message: %w", err)
	}
	var local []string
	seen := make(map[string]bool)
	remote := *env
	remote.Recipients = nil
	for _, rcpt := range env.Recipients {
		name, ok := s.localUser(ctx, rcpt.Address)
		if !ok {
			remote.Recipients = append(remote.Recipients, rcpt)
			continue
		}
		if key := userKey(name); !seen[key] {
			seen[key] = true
			local = append(local, name)
		}
	}
	if len(remote.Recipients) > 0 {
		if s.Relay == nil {
			return fmt.Errorf("memstore: %s is not a local user: %w", quote(remote.Recipients[0].Address), submission.ErrRecipientRejected)
		}
		if err := s.Relay.Submit(ctx, &remote, bytes.NewReader(data)); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var errs []error
	for _, name := range local {
		if _, err := s.deliver(name, inbox, data, nil); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

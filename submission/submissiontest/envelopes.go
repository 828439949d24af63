package submissiontest

import (
	"context"
	"io"
	"slices"
	"sync"

	"github.com/mailfront/mailfront/store/memstore"
	"github.com/mailfront/mailfront/submission"
)

// Envelopes returns the envelopes of the messages this server has accepted
// since it started (or since the last Purge or Reset), in the order they
// were submitted: who logged in (Identity), the MAIL FROM address and the
// RCPT TO recipients, which a message's header fields do not show (Bcc
// recipients, bounce addresses). The envelope of a message is recorded
// before the message reaches the store, so it is there once
// WaitForMessages has seen the message. Nothing is recorded when the test
// set its own Server.Backend.
func (s *Server) Envelopes() []submission.Envelope {
	return s.rec.envelopes()
}

// recorder is the Backend Start sets: it records each envelope and
// delivers into the store.
type recorder struct {
	store *memstore.Store

	mu   sync.Mutex
	envs []*submission.Envelope
}

var _ submission.RecipientChecker = (*recorder)(nil)

// Submit records a copy of env, then delivers; the record is removed if
// the delivery fails.
func (r *recorder) Submit(ctx context.Context, env *submission.Envelope, msg io.Reader) error {
	c := *env
	c.Recipients = slices.Clone(env.Recipients)
	c.Identity.SendAs = slices.Clone(env.Identity.SendAs)
	r.mu.Lock()
	r.envs = append(r.envs, &c)
	r.mu.Unlock()
	err := r.store.Submit(ctx, env, msg)
	if err != nil {
		r.mu.Lock()
		if i := slices.Index(r.envs, &c); i >= 0 {
			r.envs = slices.Delete(r.envs, i, i+1)
		}
		r.mu.Unlock()
	}
	return err
}

// CheckRecipient asks the store.
func (r *recorder) CheckRecipient(ctx context.Context, env *submission.Envelope, rcpt submission.Recipient) error {
	return r.store.CheckRecipient(ctx, env, rcpt)
}

func (r *recorder) envelopes() []submission.Envelope {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]submission.Envelope, len(r.envs))
	for i, e := range r.envs {
		out[i] = *e
		out[i].Recipients = slices.Clone(e.Recipients)
		out[i].Identity.SendAs = slices.Clone(e.Identity.SendAs)
	}
	return out
}

func (r *recorder) reset() {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.envs = nil
}

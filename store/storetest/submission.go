package storetest

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/pop3"
	"github.com/mailfront/mailfront/submission"
)

// RunSubmission checks that the backends newBackend returns deliver
// submitted messages locally: a message submitted to a user's name as an
// address arrives in that user's INBOX byte for byte. It reads the INBOX
// through [imap4.Backend] or [pop3.Backend], so the backend must implement
// one of them too; otherwise the clauses are skipped (a backend that only
// relays has nothing here to check).
func RunSubmission(t *testing.T, newBackend func(t *testing.T) submission.Backend) {
	t.Helper()
	runClauses(t, newBackend, []clause[submission.Backend]{
		{"Deliver", submitDeliver},
		{"MultipleRecipients", submitMultipleRecipients},
		{"ReadErrorCommitsNothing", submitReadError},
		{"CheckRecipient", submitCheckRecipient},
		{"Concurrent", submitConcurrent},
	})
}

// inbox returns the contents of a user's INBOX, oldest first.
func (e *env) inbox(user string) []string {
	e.t.Helper()
	var out []string
	switch b := e.backend.(type) {
	case imap4.Backend:
		u, err := b.OpenUser(e.ctx, auth.Identity{Username: user})
		require.NoError(e.t, err, "OpenUser")
		defer u.Close()
		mb, err := u.OpenMailbox(e.ctx, "INBOX")
		require.NoError(e.t, err, "OpenMailbox(INBOX)")
		defer mb.Close()
		for _, m := range e.sync(mb, 0).Messages {
			out = append(out, e.read(mb, m.UID))
		}
	case pop3.Backend:
		md := e.maildrop(b, user)
		defer md.Close()
		for _, mi := range e.list(md) {
			out = append(out, e.retr(md, mi.UID))
		}
	default:
		e.t.Skipf("%T implements neither imap4.Backend nor pop3.Backend: the suite cannot read what was delivered", e.backend)
	}
	return out
}

// A message submitted to a user arrives in the user's INBOX unchanged.
func submitDeliver(e *env, b submission.Backend) {
	e.inbox(Bob) // skip early if delivery cannot be checked
	content := message("submitted") + "\r\n.\r\n..\r\n"
	require.NoError(e.t, b.Submit(e.ctx, envelope(Alice, Bob), strings.NewReader(content)), "Submit")
	assert.Equal(e.t, []string{content}, e.inbox(Bob), "Bob's INBOX")
	assert.Empty(e.t, e.inbox(Alice), "the sender's INBOX")
}

// Every recipient gets the message.
func submitMultipleRecipients(e *env, b submission.Backend) {
	e.inbox(Bob)
	content := message("to both")
	require.NoError(e.t, b.Submit(e.ctx, envelope(Alice, Bob, Alice), strings.NewReader(content)), "Submit")
	assert.Equal(e.t, []string{content}, e.inbox(Bob), "Bob's INBOX")
	assert.Equal(e.t, []string{content}, e.inbox(Alice), "Alice's INBOX")
}

// If reading the message fails, Submit fails and delivers nothing.
func submitReadError(e *env, b submission.Backend) {
	e.inbox(Bob)
	err := b.Submit(e.ctx, envelope(Alice, Bob), &failingReader{data: []byte(message("cut short")), err: errInjected})
	assert.Error(e.t, err, "Submit from a failing reader")
	assert.Empty(e.t, e.inbox(Bob), "Bob's INBOX after a failed Submit")
}

// A RecipientChecker accepts local users.
func submitCheckRecipient(e *env, b submission.Backend) {
	rc, ok := b.(submission.RecipientChecker)
	if !ok {
		e.t.Skipf("%T does not implement submission.RecipientChecker", b)
	}
	env := envelope(Alice)
	assert.NoError(e.t, rc.CheckRecipient(e.ctx, env, submission.Recipient{Address: Bob}), "CheckRecipient of a local user")
}

// Concurrent submissions are all delivered.
func submitConcurrent(e *env, b submission.Backend) {
	e.inbox(Bob)
	const workers, each = 8, 5
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				content := message(fmt.Sprintf("concurrent %d-%d", w, i))
				assert.NoError(e.t, b.Submit(e.ctx, envelope(Alice, Bob), io.NopCloser(strings.NewReader(content))), "Submit")
			}
		})
	}
	wg.Wait()
	got := e.inbox(Bob)
	var want []string
	for w := range workers {
		for i := range each {
			want = append(want, message(fmt.Sprintf("concurrent %d-%d", w, i)))
		}
	}
	assert.ElementsMatch(e.t, want, got, "Bob's INBOX after concurrent submissions")
}

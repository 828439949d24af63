package maildir_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/store/maildir"
	"github.com/mailfront/mailfront/submission"
)

func envelope(rcpts ...string) *submission.Envelope {
	env := &submission.Envelope{Identity: ident("alice@example.org"), From: "alice@example.org"}
	for _, r := range rcpts {
		env.Recipients = append(env.Recipients, submission.Recipient{Address: r})
	}
	return env
}

type recordingRelay struct {
	env  *submission.Envelope
	body string
}

func (r *recordingRelay) Submit(ctx context.Context, env *submission.Envelope, msg io.Reader) error {
	b, err := io.ReadAll(msg)
	r.env, r.body = env, string(b)
	return err
}

type errReader struct{ n int }

func (e *errReader) Read(p []byte) (int, error) {
	if e.n > 0 {
		k := min(len(p), e.n)
		for i := range p[:k] {
			p[i] = 'x'
		}
		e.n -= k
		return k, nil
	}
	return 0, errors.New("connection reset")
}

// Local delivery: every local recipient gets one copy in INBOX (a watching
// session is woken), non-local recipients are refused at RCPT unless a
// relay takes them, and a failing message stream delivers nothing.
func TestSubmission(t *testing.T) {
	s := newStore(t)
	require.NoError(t, s.CreateUser(ctx, "bob@example.org"))
	require.NoError(t, s.CreateUser(ctx, "carol@example.org"))
	bob := openUser(t, s, "bob@example.org")
	inbox := openMailbox(t, bob, "INBOX")
	w := inbox.Watch()
	drain(w)

	body := msg("hello", "submitted")
	env := envelope("Bob@Example.org", "carol@example.org", "bob@example.org")
	for _, r := range env.Recipients {
		assert.NoError(t, s.CheckRecipient(ctx, env, r), r.Address)
	}
	require.NoError(t, s.Submit(ctx, env, strings.NewReader(body)))
	waitWatch(t, w, "delivery during IDLE")
	sd := syncAll(t, inbox)
	require.Len(t, sd.Messages, 1, "one copy for bob, however often named")
	assert.Equal(t, body, readMsg(t, inbox, sd.Messages[0].UID))
	carol := openUser(t, s, "carol@example.org")
	assert.Len(t, syncAll(t, openMailbox(t, carol, "INBOX")).Messages, 1)

	// Nothing is left in tmp/.
	for _, user := range []string{"bob@example.org", "carol@example.org"} {
		dir, _ := s.UserDir(user)
		ents, err := os.ReadDir(filepath.Join(dir, "tmp"))
		require.NoError(t, err)
		assert.Empty(t, ents, "tmp/ of %s", user)
	}

	// Non-local and hostile recipients are refused at RCPT.
	for _, addr := range []string{"nobody@example.org", "../bob@example.org", "bob@example.org/../../x", ".hidden", "", "a\x00b"} {
		err := s.CheckRecipient(ctx, env, submission.Recipient{Address: addr})
		assert.ErrorIs(t, err, submission.ErrRecipientRejected, "%q", addr)
	}
	assert.ErrorIs(t, s.Submit(ctx, envelope("nobody@example.org"), strings.NewReader(body)), submission.ErrRecipientRejected)

	// A failing stream leaves nothing behind.
	drain(w)
	err := s.Submit(ctx, envelope("bob@example.org"), &errReader{n: 100000})
	require.Error(t, err)
	assert.Len(t, syncAll(t, inbox).Messages, 1)
	dir, _ := s.UserDir("bob@example.org")
	ents, err := os.ReadDir(filepath.Join(dir, "tmp"))
	require.NoError(t, err)
	assert.Empty(t, ents, "tmp/ after a failed submission")
}

// IsLocal makes users local before their directory exists; Relay takes the
// other recipients.
func TestSubmissionHooks(t *testing.T) {
	relay := &recordingRelay{}
	s := &maildir.Store{Root: t.TempDir(), PollInterval: -1, Relay: relay,
		IsLocal: func(ctx context.Context, addr string) (bool, error) {
			return strings.HasSuffix(strings.ToLower(addr), "@local.example"), nil
		}}
	t.Cleanup(func() { s.Close() })
	env := envelope("New@Local.example", "far@remote.example")
	for _, r := range env.Recipients {
		assert.NoError(t, s.CheckRecipient(ctx, env, r))
	}
	body := msg("mixed", "local and remote")
	require.NoError(t, s.Submit(ctx, env, strings.NewReader(body)))
	require.NotNil(t, relay.env)
	assert.Equal(t, []submission.Recipient{{Address: "far@remote.example"}}, relay.env.Recipients)
	assert.Equal(t, body, relay.body)
	u := openUser(t, s, "new@local.example")
	mb := openMailbox(t, u, "INBOX")
	sd := syncAll(t, mb)
	require.Len(t, sd.Messages, 1)
	assert.Equal(t, body, readMsg(t, mb, sd.Messages[0].UID))
	assert.Empty(t, sd.Messages[0].Flags)
}

// Messages the store writes are served exactly as given: a BINARYMIME
// body or a binary APPEND may hold bare LF, CR and NUL octets, which must
// not be converted.
func TestBinaryContentVerbatim(t *testing.T) {
	s := newStore(t)
	require.NoError(t, s.CreateUser(ctx, "bin@example.org"))
	binary := "Subject: bin\r\nContent-Transfer-Encoding: binary\r\n\r\n\x00\n\r\xff\n\n\r\r\n"
	env := envelope("bin@example.org")
	env.Body = submission.BodyBinaryMIME
	require.NoError(t, s.Submit(ctx, env, strings.NewReader(binary)))
	mb := openMailbox(t, openUser(t, s, "bin@example.org"), "INBOX")
	uid := appendMsg(t, mb, binary)
	sd := syncAll(t, mb)
	require.Len(t, sd.Messages, 2)
	for _, m := range sd.Messages {
		assert.Equal(t, int64(len(binary)), m.Size)
		assert.Equal(t, binary, readMsg(t, mb, m.UID))
	}
	md, err := s.OpenMaildrop(ctx, ident("bin@example.org"))
	require.NoError(t, err)
	defer md.Close()
	list, err := md.Messages(ctx)
	require.NoError(t, err)
	require.Len(t, list, 2)
	rc, err := md.Open(ctx, list[1].UID)
	require.NoError(t, err)
	assert.Equal(t, binary, readAllClose(t, rc))
	_ = uid
}

package memstore_test

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/pop3"
	"github.com/mailfront/mailfront/store/memstore"
	"github.com/mailfront/mailfront/submission"
)

func TestDeliver(t *testing.T) {
	s := memstore.New()
	uid, err := s.Deliver("bob", "Lists/Go", []byte("From: a@example.org\nSubject: hi\n\nline\r\nbare\n"))
	require.NoError(t, err)
	assert.Equal(t, imap4.UID(1), uid)

	msgs, err := s.Messages("bob", "Lists/Go")
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	m := msgs[0]
	assert.Equal(t, "From: a@example.org\r\nSubject: hi\r\n\r\nline\r\nbare\r\n", string(m.Raw), "bare LF stored as CRLF")
	assert.Equal(t, "hi", m.Subject())
	assert.Equal(t, "line\r\nbare\r\n", string(m.Body))
	assert.Empty(t, m.Flags)
	assert.False(t, m.InternalDate.IsZero())
	assert.NotZero(t, m.ModSeq)
	assert.False(t, m.HasFlag(imap4.FlagSeen))

	// The created mailbox and its parent are listed.
	list, err := openUser(t, s, "bob").ListMailboxes(t.Context())
	require.NoError(t, err)
	assert.Contains(t, list, imap4.MailboxInfo{Name: "Lists", NoSelect: true})
	assert.Contains(t, list, imap4.MailboxInfo{Name: "Lists/Go"})

	_, err = s.Deliver("bob", "../x", []byte("x"))
	assert.ErrorIs(t, err, imap4.ErrCannot)
	_, err = s.Deliver("", "", []byte("x"))
	assert.Error(t, err)
}

// Messages returns copies: changing them does not change the store.
func TestMessagesAreCopies(t *testing.T) {
	s := memstore.New()
	_, err := s.Deliver("bob", "", []byte("Subject: x\r\n\r\nbody\r\n"))
	require.NoError(t, err)
	in := openMailbox(t, openUser(t, s, "bob"), "INBOX")
	_, err = in.SetFlags(t.Context(), []imap4.UID{1}, imap4.StoreAdd, []string{imap4.FlagSeen}, nil)
	require.NoError(t, err)
	msgs, err := s.Messages("bob", "")
	require.NoError(t, err)
	assert.True(t, msgs[0].HasFlag(`\SEEN`))
	msgs[0].Raw[0] = 'X'
	msgs[0].Flags[0] = "mutated"
	again, err := s.Messages("bob", "")
	require.NoError(t, err)
	assert.Equal(t, "Subject: x\r\n\r\nbody\r\n", string(again[0].Raw))
	assert.Equal(t, []string{imap4.FlagSeen}, again[0].Flags)
}

func TestMessagesErrors(t *testing.T) {
	s := memstore.New()
	_, err := s.Messages("nobody", "")
	assert.ErrorIs(t, err, memstore.ErrNoSuchUser)
	require.NoError(t, s.AddUser("bob"))
	_, err = s.Messages("bob", "Missing")
	assert.ErrorIs(t, err, imap4.ErrNoSuchMailbox)
	msgs, err := s.Messages("bob", "")
	assert.NoError(t, err)
	assert.Empty(t, msgs)
}

// A message without a parsable header is still returned.
func TestMessagesUnparsable(t *testing.T) {
	s := memstore.New()
	_, err := s.Deliver("bob", "", []byte("no header here"))
	require.NoError(t, err)
	msgs, err := s.Messages("bob", "")
	require.NoError(t, err)
	assert.Equal(t, "no header here", string(msgs[0].Body))
	assert.Empty(t, msgs[0].Subject())
}

// WaitForMessages wakes on delivery, for a user that does not exist yet,
// and gives up when its context ends (fake clock: no real waiting).
func TestWaitForMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := memstore.New()
		go func() {
			time.Sleep(time.Minute)
			s.Deliver("carol", "", []byte("Subject: one\n\n"))
			time.Sleep(time.Minute)
			s.Deliver("carol", "", []byte("Subject: two\n\n"))
		}()
		ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
		defer cancel()
		start := time.Now()
		msgs, err := s.WaitForMessages(ctx, "carol", "", 2)
		require.NoError(t, err)
		assert.Len(t, msgs, 2)
		assert.Equal(t, 2*time.Minute, time.Since(start), "woke at the second delivery")

		ctx, cancel = context.WithTimeout(t.Context(), time.Hour)
		defer cancel()
		msgs, err = s.WaitForMessages(ctx, "carol", "", 3)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Len(t, msgs, 2, "the messages so far")

		_, err = s.WaitForMessages(t.Context(), "carol", "../bad", 1)
		assert.Error(t, err, "a bad mailbox name does not wait")
	})
}

// Purge empties every mailbox but keeps users, mailboxes and UIDs moving
// forward; open sessions see the expunges.
func TestPurge(t *testing.T) {
	s := memstore.New()
	_, err := s.Deliver("bob", "", []byte("Subject: 1\n\n"))
	require.NoError(t, err)
	_, err = s.Deliver("bob", "Work", []byte("Subject: 2\n\n"))
	require.NoError(t, err)
	in := openMailbox(t, openUser(t, s, "bob"), "INBOX")
	since := mustSync(t, in, 0).HighestModSeq

	s.Purge()
	select {
	case <-in.Watch():
	default:
		t.Error("Purge did not signal an open INBOX")
	}
	assert.Equal(t, []imap4.UID{1}, mustSync(t, in, since).Expunged)
	for _, box := range []string{"INBOX", "Work"} {
		msgs, err := s.Messages("bob", box)
		require.NoError(t, err, box)
		assert.Empty(t, msgs, box)
	}
	uid, err := s.Deliver("bob", "", []byte("Subject: 3\n\n"))
	require.NoError(t, err)
	assert.Equal(t, imap4.UID(2), uid, "UIDs are not reused after Purge")
}

// Reset removes users; sessions opened before fail.
func TestReset(t *testing.T) {
	s := memstore.New()
	require.NoError(t, s.AddUser("bob"))
	u := openUser(t, s, "bob")
	in := openMailbox(t, u, "INBOX")
	s.Reset()
	assert.Empty(t, s.Users())
	_, err := in.Sync(t.Context(), 0)
	assert.ErrorIs(t, err, imap4.ErrNoSuchMailbox)
	_, err = u.ListMailboxes(t.Context())
	assert.Error(t, err)
	_, err = s.Messages("bob", "")
	assert.ErrorIs(t, err, memstore.ErrNoSuchUser)

	// The user can come back, fresh.
	_, err = s.Deliver("bob", "", []byte("Subject: again\n\n"))
	require.NoError(t, err)
	msgs, err := s.Messages("bob", "")
	require.NoError(t, err)
	assert.Len(t, msgs, 1)
}

func TestPOP3Lock(t *testing.T) {
	s := memstore.New()
	id := auth.Identity{Username: "bob"}
	md, err := s.OpenMaildrop(t.Context(), id)
	require.NoError(t, err)
	_, err = s.OpenMaildrop(t.Context(), id)
	assert.ErrorIs(t, err, pop3.ErrMaildropLocked)
	_, err = s.OpenMaildrop(t.Context(), auth.Identity{Username: "BOB"})
	assert.ErrorIs(t, err, pop3.ErrMaildropLocked, "user names fold case")
	require.NoError(t, md.Close())
	assert.Error(t, md.Close(), "second Close")
	md, err = s.OpenMaildrop(t.Context(), id)
	require.NoError(t, err)
	require.NoError(t, md.Close())
}

func TestPOP3UIDL(t *testing.T) {
	s := memstore.New()
	_, err := s.Deliver("bob", "", []byte("Subject: 1\n\nx\n"))
	require.NoError(t, err)
	st, err := openUser(t, s, "bob").Status(t.Context(), "INBOX")
	require.NoError(t, err)
	md, err := s.OpenMaildrop(t.Context(), auth.Identity{Username: "bob"})
	require.NoError(t, err)
	defer md.Close()
	list, err := md.Messages(t.Context())
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, pop3.MessageInfo{UID: strings.Join([]string{itoa(st.UIDValidity), "1"}, "."), Size: 17}, list[0])
	for _, bad := range []string{"1", itoa(st.UIDValidity) + ".0", itoa(st.UIDValidity+1) + ".1", itoa(st.UIDValidity) + ".x", ".1"} {
		_, err := md.Open(t.Context(), bad)
		assert.ErrorIs(t, err, pop3.ErrNoSuchMessage, bad)
	}
	r, err := md.Open(t.Context(), list[0].UID)
	require.NoError(t, err)
	data, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.Equal(t, "Subject: 1\r\n\r\nx\r\n", string(data))
}

func itoa(v uint32) string { return strconv.FormatUint(uint64(v), 10) }

// POP3 Delete honours a cancelled context (a session cut off in UPDATE).
func TestPOP3DeleteCancelled(t *testing.T) {
	s := memstore.New()
	_, err := s.Deliver("bob", "", []byte("Subject: 1\n\n"))
	require.NoError(t, err)
	md, err := s.OpenMaildrop(t.Context(), auth.Identity{Username: "bob"})
	require.NoError(t, err)
	defer md.Close()
	list, err := md.Messages(t.Context())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	assert.Error(t, md.Delete(ctx, []string{list[0].UID}))
	msgs, err := s.Messages("bob", "")
	require.NoError(t, err)
	assert.Len(t, msgs, 1)
}

func envelope(from string, to ...string) *submission.Envelope {
	env := &submission.Envelope{Identity: auth.Identity{Username: from}, From: from}
	for _, rcpt := range to {
		env.Recipients = append(env.Recipients, submission.Recipient{Address: rcpt})
	}
	return env
}

func TestSubmitLocal(t *testing.T) {
	s := memstore.New()
	require.NoError(t, s.AddUser("bob@example.org"))
	ctx := t.Context()
	env := envelope("alice@example.org", "bob@example.org", "BOB@example.org")
	assert.NoError(t, s.CheckRecipient(ctx, env, submission.Recipient{Address: "Bob@Example.org"}))
	err := s.CheckRecipient(ctx, env, submission.Recipient{Address: "carol@example.org"})
	assert.ErrorIs(t, err, submission.ErrRecipientRejected, "not a local user")

	require.NoError(t, s.Submit(ctx, env, strings.NewReader("Subject: hi\r\n\r\n")))
	msgs, err := s.Messages("bob@example.org", "")
	require.NoError(t, err)
	assert.Len(t, msgs, 1, "one copy per user, however many recipients name them")

	err = s.Submit(ctx, envelope("alice@example.org", "bob@example.org", "carol@example.org"), strings.NewReader("Subject: 2\r\n\r\n"))
	assert.ErrorIs(t, err, submission.ErrRecipientRejected)
	msgs, err = s.Messages("bob@example.org", "")
	require.NoError(t, err)
	assert.Len(t, msgs, 1, "nothing delivered when a recipient is refused")
}

// fakeRelay records what it is given.
type fakeRelay struct {
	envs   []*submission.Envelope
	bodies []string
	err    error
	reject string
}

func (r *fakeRelay) Submit(ctx context.Context, env *submission.Envelope, msg io.Reader) error {
	data, err := io.ReadAll(msg)
	if err != nil {
		return err
	}
	r.envs = append(r.envs, env)
	r.bodies = append(r.bodies, string(data))
	return r.err
}

func (r *fakeRelay) CheckRecipient(ctx context.Context, env *submission.Envelope, rcpt submission.Recipient) error {
	if rcpt.Address == r.reject {
		return submission.ErrRecipientRejected
	}
	return nil
}

func TestSubmitRelay(t *testing.T) {
	relay := &fakeRelay{reject: "blocked@example.net"}
	s := &memstore.Store{Relay: relay}
	require.NoError(t, s.AddUser("bob@example.org"))
	ctx := t.Context()
	assert.NoError(t, s.CheckRecipient(ctx, envelope("bob@example.org"), submission.Recipient{Address: "far@example.net"}))
	assert.ErrorIs(t, s.CheckRecipient(ctx, envelope("bob@example.org"), submission.Recipient{Address: "blocked@example.net"}), submission.ErrRecipientRejected)

	content := "Subject: out\r\n\r\nbody\r\n"
	require.NoError(t, s.Submit(ctx, envelope("alice@example.org", "far@example.net", "bob@example.org"), strings.NewReader(content)))
	require.Len(t, relay.envs, 1)
	assert.Equal(t, []submission.Recipient{{Address: "far@example.net"}}, relay.envs[0].Recipients, "the relay gets only the remote recipients")
	assert.Equal(t, "alice@example.org", relay.envs[0].From)
	assert.Equal(t, content, relay.bodies[0])
	msgs, err := s.Messages("bob@example.org", "")
	require.NoError(t, err)
	assert.Len(t, msgs, 1)

	relay.err = errors.New("relay down")
	err = s.Submit(ctx, envelope("alice@example.org", "far@example.net", "bob@example.org"), strings.NewReader(content))
	assert.ErrorIs(t, err, relay.err)
	msgs, err = s.Messages("bob@example.org", "")
	require.NoError(t, err)
	assert.Len(t, msgs, 1, "nothing delivered locally when the relay fails")
}

// LocalRecipient maps addresses to users, creating them on delivery.
func TestLocalRecipient(t *testing.T) {
	s := &memstore.Store{LocalRecipient: func(ctx context.Context, addr string) (string, bool) {
		user, domain, _ := strings.Cut(addr, "@")
		return user, domain == "example.org"
	}}
	ctx := t.Context()
	assert.NoError(t, s.CheckRecipient(ctx, envelope("x"), submission.Recipient{Address: "dave@example.org"}))
	assert.ErrorIs(t, s.CheckRecipient(ctx, envelope("x"), submission.Recipient{Address: "dave@example.net"}), submission.ErrRecipientRejected)
	require.NoError(t, s.Submit(ctx, envelope("x", "dave@example.org"), strings.NewReader("Subject: d\r\n\r\n")))
	msgs, err := s.Messages("dave", "")
	require.NoError(t, err)
	assert.Len(t, msgs, 1)
}

// A submission whose reader fails, or whose context is cancelled, delivers
// nothing.
func TestSubmitFailures(t *testing.T) {
	s := memstore.New()
	require.NoError(t, s.AddUser("bob"))
	err := s.Submit(t.Context(), envelope("a", "bob"), io.MultiReader(strings.NewReader("Subject: x\r\n"), iotestErr{}))
	assert.Error(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	assert.ErrorIs(t, s.Submit(ctx, envelope("a", "bob"), strings.NewReader("Subject: x\r\n\r\n")), context.Canceled)
	msgs, err := s.Messages("bob", "")
	require.NoError(t, err)
	assert.Empty(t, msgs)
}

type iotestErr struct{}

func (iotestErr) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

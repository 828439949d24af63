package maildir_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/store/maildir"
)

var ctx = context.Background()

// newStore returns a store in a temporary directory, without polling
// unless a test asks for it.
func newStore(t testing.TB) *maildir.Store {
	t.Helper()
	s := &maildir.Store{Root: t.TempDir(), PollInterval: -1}
	t.Cleanup(func() { s.Close() })
	return s
}

func ident(name string) auth.Identity { return auth.Identity{Username: name} }

func openUser(t testing.TB, s *maildir.Store, name string) imap4.User {
	t.Helper()
	u, err := s.OpenUser(ctx, ident(name))
	require.NoError(t, err)
	t.Cleanup(func() { u.Close() })
	return u
}

func openMailbox(t testing.TB, u imap4.User, name string) imap4.Mailbox {
	t.Helper()
	mb, err := u.OpenMailbox(ctx, name)
	require.NoError(t, err)
	t.Cleanup(func() { mb.Close() })
	return mb
}

func appendMsg(t testing.TB, mb imap4.Mailbox, body string, flags ...string) imap4.UID {
	t.Helper()
	res, err := mb.Append(ctx, strings.NewReader(body), &imap4.AppendOptions{Flags: flags})
	require.NoError(t, err)
	require.NotZero(t, res.UIDValidity)
	return res.UID
}

func readMsg(t testing.TB, mb imap4.Mailbox, uid imap4.UID) string {
	t.Helper()
	m, err := mb.Open(ctx, uid)
	require.NoError(t, err)
	defer m.Close()
	b, err := io.ReadAll(io.NewSectionReader(m, 0, m.Size()))
	require.NoError(t, err)
	require.Equal(t, m.Size(), int64(len(b)))
	return string(b)
}

func syncAll(t testing.TB, mb imap4.Mailbox) *imap4.SyncData {
	t.Helper()
	sd, err := mb.Sync(ctx, 0)
	require.NoError(t, err)
	return sd
}

func msg(subject, body string) string {
	return "From: a@example.org\r\nTo: b@example.org\r\nSubject: " + subject + "\r\n\r\n" + body + "\r\n"
}

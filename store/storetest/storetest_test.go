package storetest_test

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/pop3"
	"github.com/mailfront/mailfront/store/memstore"
	"github.com/mailfront/mailfront/store/storetest"
)

// The suite must catch broken backends, not only pass good ones. Each case
// runs the suite against memstore with one rule broken by a wrapper, in a
// child process (a failing suite fails its test), and checks that the
// clauses named fail.
func TestSuiteCatchesBrokenBackends(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the suite in child processes")
	}
	for _, tc := range []struct {
		broken string
		fails  []string
	}{
		{"noexpunged", []string{"IMAP4/Sync/Delta", "IMAP4/Expunge/OtherSession", "IMAP4/Watch/POP3Delete"}},
		{"pathclean", []string{"IMAP4/Names/MailboxTraversal", "IMAP4/Names/RenameTraversal"}},
		{"nolock", []string{"POP3/Lock"}},
	} {
		t.Run(tc.broken, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestBrokenBackend$", "-test.v")
			cmd.Env = append(os.Environ(), "STORETEST_BROKEN="+tc.broken)
			out, err := cmd.CombinedOutput()
			require.Error(t, err, "the suite passed a backend with %s", tc.broken)
			for _, clause := range tc.fails {
				assert.Contains(t, string(out), "--- FAIL: TestBrokenBackend/"+clause+" ", "clause %s did not fail", clause)
			}
			assert.NotContains(t, string(out), "panic:", "the suite panicked")
		})
	}
}

// TestBrokenBackend runs the suite against a broken backend when
// TestSuiteCatchesBrokenBackends asks it to.
func TestBrokenBackend(t *testing.T) {
	kind := os.Getenv("STORETEST_BROKEN")
	if kind == "" {
		t.Skip("run by TestSuiteCatchesBrokenBackends")
	}
	storetest.Run(t, func(t *testing.T) any {
		s := memstore.New()
		for _, u := range storetest.Users() {
			require.NoError(t, s.AddUser(u))
		}
		return &broken{Store: s, kind: kind}
	})
}

// broken is a memstore with one rule broken.
type broken struct {
	*memstore.Store
	kind string
}

func (b *broken) OpenUser(ctx context.Context, id auth.Identity) (imap4.User, error) {
	u, err := b.Store.OpenUser(ctx, id)
	if err != nil {
		return nil, err
	}
	return &brokenUser{User: u, kind: b.kind}, nil
}

// OpenMaildrop, for "nolock", neither locks nor keeps a snapshot: each
// call sees the maildrop as it is now.
func (b *broken) OpenMaildrop(ctx context.Context, id auth.Identity) (pop3.Maildrop, error) {
	if b.kind != "nolock" {
		return b.Store.OpenMaildrop(ctx, id)
	}
	return &liveMaildrop{s: b.Store, id: id}, nil
}

type brokenUser struct {
	imap4.User
	kind string
}

// name is where "pathclean" breaks containment: it cleans names as paths.
func (u *brokenUser) name(n string) string {
	if u.kind == "pathclean" {
		if c := strings.Trim(path.Clean(n), "/."); c != "" {
			return c
		}
	}
	return n
}

func (u *brokenUser) Status(ctx context.Context, name string) (imap4.MailboxStatus, error) {
	return u.User.Status(ctx, u.name(name))
}

func (u *brokenUser) CreateMailbox(ctx context.Context, name string, opts *imap4.CreateOptions) error {
	return u.User.CreateMailbox(ctx, u.name(name), opts)
}

func (u *brokenUser) DeleteMailbox(ctx context.Context, name string) error {
	return u.User.DeleteMailbox(ctx, u.name(name))
}

func (u *brokenUser) RenameMailbox(ctx context.Context, oldName, newName string) error {
	return u.User.RenameMailbox(ctx, u.name(oldName), u.name(newName))
}

func (u *brokenUser) SetSubscribed(ctx context.Context, name string, subscribed bool) error {
	return u.User.SetSubscribed(ctx, u.name(name), subscribed)
}

func (u *brokenUser) OpenMailbox(ctx context.Context, name string) (imap4.Mailbox, error) {
	mb, err := u.User.OpenMailbox(ctx, u.name(name))
	if err != nil {
		return nil, err
	}
	return &brokenMailbox{Mailbox: mb, kind: u.kind}, nil
}

type brokenMailbox struct {
	imap4.Mailbox
	kind string
}

// Sync, for "noexpunged", forgets expunges.
func (m *brokenMailbox) Sync(ctx context.Context, since imap4.ModSeq) (*imap4.SyncData, error) {
	d, err := m.Mailbox.Sync(ctx, since)
	if err == nil && m.kind == "noexpunged" {
		d.Expunged = nil
	}
	return d, err
}

func (m *brokenMailbox) Unwrap() imap4.Mailbox { return m.Mailbox }

type liveMaildrop struct {
	s  *memstore.Store
	id auth.Identity
}

func (l *liveMaildrop) with(ctx context.Context, f func(md pop3.Maildrop) error) error {
	md, err := l.s.OpenMaildrop(ctx, l.id)
	if err != nil {
		return err
	}
	defer md.Close()
	return f(md)
}

func (l *liveMaildrop) Messages(ctx context.Context) (list []pop3.MessageInfo, err error) {
	err = l.with(ctx, func(md pop3.Maildrop) error {
		list, err = md.Messages(ctx)
		return err
	})
	return list, err
}

func (l *liveMaildrop) Open(ctx context.Context, uid string) (r io.ReadCloser, err error) {
	err = l.with(ctx, func(md pop3.Maildrop) error {
		r, err = md.Open(ctx, uid)
		return err
	})
	return r, err
}

func (l *liveMaildrop) Delete(ctx context.Context, uids []string) error {
	return l.with(ctx, func(md pop3.Maildrop) error { return md.Delete(ctx, uids) })
}

func (l *liveMaildrop) Close() error { return nil }

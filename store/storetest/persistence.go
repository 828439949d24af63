package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/pop3"
)

// RunPersistence checks what must survive a restart (ADVERSARIAL I11):
// UIDVALIDITY, UIDs, UIDNEXT (never lower, so a UID is never reused even
// if its message was expunged before the restart), HIGHESTMODSEQ (never
// lower), flags and keywords, internal dates, contents, mailboxes,
// subscriptions, special uses, and POP3 unique ids when the backend is a
// [pop3.Backend] too.
//
// open must return a new, empty backend and a function reopen that
// returns a new backend over the same storage, as after a restart of the
// process; reopen should release the old backend first if it needs to (the
// suite has closed every handle by then). It may be called more than once.
func RunPersistence(t *testing.T, open func(t *testing.T) (b imap4.Backend, reopen func() imap4.Backend)) {
	t.Helper()
	for _, c := range []struct {
		name string
		run  func(e *env, reopen func() imap4.Backend)
	}{
		{"UIDs", persistUIDs},
		{"UIDNotReusedAfterRestart", persistUIDNotReused},
		{"FlagsAndDates", persistFlagsAndDates},
		{"Mailboxes", persistMailboxes},
		{"DeleteRecreateAfterRestart", persistDeleteRecreate},
		{"POP3UniqueIDs", persistPOP3},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, reopen := open(t)
			c.run(newEnv(t, b), reopen)
		})
	}
}

// restart reopens the storage and moves the env to the new backend. The
// clause has closed its handles by then.
func (e *env) restart(reopen func() imap4.Backend) {
	e.t.Helper()
	b := reopen()
	require.NotNil(e.t, b, "reopen returned nil")
	e.backend = b
}

// withUser runs f with a user and closes it.
func (e *env) withUser(name string, f func(u imap4.User)) {
	e.t.Helper()
	u, err := e.imap().OpenUser(e.ctx, auth.Identity{Username: name})
	require.NoError(e.t, err, "OpenUser(%q)", name)
	defer func() { assert.NoError(e.t, u.Close(), "User.Close") }()
	f(u)
}

// withMailbox runs f with an open mailbox of Alice and closes both.
func (e *env) withMailbox(name string, f func(mb imap4.Mailbox)) {
	e.t.Helper()
	e.withUser(Alice, func(u imap4.User) {
		mb, err := u.OpenMailbox(e.ctx, name)
		require.NoError(e.t, err, "OpenMailbox(%q)", name)
		defer func() { assert.NoError(e.t, mb.Close(), "Mailbox.Close") }()
		f(mb)
	})
}

// UIDVALIDITY, UIDs, contents and the counters survive a restart.
func persistUIDs(e *env, reopen func() imap4.Backend) {
	var before *imap4.SyncData
	contents := make(map[imap4.UID]string)
	e.withUser(Alice, func(u imap4.User) { e.create(u, "Work/2024") })
	for _, name := range []string{"INBOX", "Work/2024"} {
		e.withMailbox(name, func(mb imap4.Mailbox) {
			uids := e.appendN(mb, 4)
			e.expunge(mb, uids[1:2])
		})
	}
	e.withMailbox("Work/2024", func(mb imap4.Mailbox) {
		before = e.sync(mb, 0)
		for _, m := range before.Messages {
			contents[m.UID] = e.read(mb, m.UID)
		}
	})
	e.restart(reopen)
	e.withMailbox("Work/2024", func(mb imap4.Mailbox) {
		after := e.sync(mb, 0)
		assert.Equal(e.t, before.UIDValidity, after.UIDValidity, "UIDVALIDITY after a restart")
		assert.GreaterOrEqual(e.t, after.UIDNext, before.UIDNext, "UIDNEXT went down after a restart")
		assert.GreaterOrEqual(e.t, after.HighestModSeq, before.HighestModSeq, "HIGHESTMODSEQ went down after a restart")
		assert.Equal(e.t, metaUIDs(before.Messages), metaUIDs(after.Messages), "UIDs after a restart")
		assert.Equal(e.t, before.Size, after.Size, "size after a restart")
		for _, m := range after.Messages {
			assert.Equal(e.t, contents[m.UID], e.read(mb, m.UID), "content of UID %d after a restart", m.UID)
			assert.LessOrEqual(e.t, m.ModSeq, after.HighestModSeq, "ModSeq after a restart")
		}
		// The delta from before the restart still makes sense.
		d := e.sync(mb, before.HighestModSeq)
		for _, m := range d.Messages {
			assert.NotContains(e.t, metaUIDs(before.Messages), m.UID, "Sync(HIGHESTMODSEQ before the restart) reports unchanged UID %d", m.UID)
		}
	})
}

// A UID whose message was expunged just before the restart is not given
// again after it.
func persistUIDNotReused(e *env, reopen func() imap4.Backend) {
	var highest imap4.UID
	var next imap4.UID
	e.withMailbox("INBOX", func(mb imap4.Mailbox) {
		uids := e.appendN(mb, 3)
		highest = uids[2]
		e.expunge(mb, uids[1:]) // the highest UIDs are gone
		next = e.status(mb).UIDNext
	})
	e.restart(reopen)
	e.withMailbox("INBOX", func(mb imap4.Mailbox) {
		assert.GreaterOrEqual(e.t, e.status(mb).UIDNext, next, "UIDNEXT went down after a restart")
		res := e.append(mb, message("after restart"), nil)
		assert.Greater(e.t, res.UID, highest, "UID %d reused after a restart", res.UID)
	})
	e.restart(reopen) // twice: nothing is lost on a restart that follows a restart
	e.withMailbox("INBOX", func(mb imap4.Mailbox) {
		res := e.append(mb, message("after the second restart"), nil)
		assert.Greater(e.t, res.UID, highest+1, "UID reused after a second restart")
	})
}

// Flags, keywords and internal dates survive a restart.
func persistFlagsAndDates(e *env, reopen func() imap4.Backend) {
	date := time.Date(2018, 7, 6, 5, 4, 3, 0, time.UTC)
	var before []imap4.MessageMeta
	e.withMailbox("INBOX", func(mb imap4.Mailbox) {
		e.append(mb, message("flags 1"), &imap4.AppendOptions{Flags: []string{imap4.FlagSeen, "$Forwarded", "Work"}, InternalDate: date})
		uids := e.appendN(mb, 2)
		e.setFlags(mb, uids[:1], imap4.StoreAdd, imap4.FlagAnswered, imap4.FlagFlagged, "$Label1")
		e.setFlags(mb, uids[1:], imap4.StoreAdd, imap4.FlagDraft)
		e.setFlags(mb, uids[1:], imap4.StoreRemove, imap4.FlagDraft)
		before = e.sync(mb, 0).Messages
	})
	e.restart(reopen)
	e.withMailbox("INBOX", func(mb imap4.Mailbox) {
		after := e.sync(mb, 0).Messages
		require.Equal(e.t, metaUIDs(before), metaUIDs(after), "UIDs after a restart")
		for i := range before {
			assert.ElementsMatch(e.t, before[i].Flags, after[i].Flags, "flags of UID %d after a restart", before[i].UID)
			assert.True(e.t, before[i].InternalDate.Equal(after[i].InternalDate), "InternalDate of UID %d after a restart: got %v, want %v",
				before[i].UID, after[i].InternalDate, before[i].InternalDate)
			assert.Equal(e.t, before[i].Size, after[i].Size, "size of UID %d after a restart", before[i].UID)
		}
		assert.True(e.t, date.Equal(after[0].InternalDate), "InternalDate given to Append after a restart")
	})
}

// Mailboxes, the hierarchy, subscriptions and special uses survive a
// restart.
func persistMailboxes(e *env, reopen func() imap4.Backend) {
	var before []imap4.MailboxInfo
	e.withUser(Alice, func(u imap4.User) {
		e.create(u, "Projects/Alpha")
		e.create(u, "Projects/Beta")
		require.NoError(e.t, u.DeleteMailbox(e.ctx, "Projects/Beta"), "DeleteMailbox")
		e.create(u, "Lists")
		require.NoError(e.t, u.RenameMailbox(e.ctx, "Lists", "Lists2"), "RenameMailbox")
		require.NoError(e.t, u.SetSubscribed(e.ctx, "Projects/Alpha", true), "SetSubscribed")
		require.NoError(e.t, u.SetSubscribed(e.ctx, "Not/Yet", true), "SetSubscribed to a missing mailbox")
		before = mustList(e, u)
	})
	e.restart(reopen)
	e.withUser(Alice, func(u imap4.User) {
		after := mustList(e, u)
		byName := func(list []imap4.MailboxInfo) map[string]imap4.MailboxInfo {
			m := make(map[string]imap4.MailboxInfo)
			for _, mi := range list {
				m[mi.Name] = mi
			}
			return m
		}
		want, got := byName(before), byName(after)
		for name, mi := range want {
			g, ok := got[name]
			if !assert.True(e.t, ok, "%q not listed after a restart", name) {
				continue
			}
			assert.Equal(e.t, mi.Subscribed, g.Subscribed, "%q Subscribed after a restart", name)
			assert.Equal(e.t, mi.SpecialUse, g.SpecialUse, "%q SpecialUse after a restart", name)
			assert.Equal(e.t, mi.NonExistent, g.NonExistent, "%q NonExistent after a restart", name)
			if !mi.NoSelect && !mi.NonExistent {
				assert.False(e.t, g.NoSelect, "%q became \\Noselect after a restart", name)
			}
		}
		for name, g := range got {
			if _, ok := want[name]; !ok && !g.NoSelect {
				assert.Fail(e.t, "a mailbox appeared after a restart", "%q", name)
			}
		}
	})
}

// A mailbox deleted and created again after a restart gets a UIDVALIDITY
// it never had before.
func persistDeleteRecreate(e *env, reopen func() imap4.Backend) {
	var seen []uint32
	e.withUser(Alice, func(u imap4.User) {
		e.create(u, "Cycle")
		st, err := u.Status(e.ctx, "Cycle")
		require.NoError(e.t, err, "Status")
		seen = append(seen, st.UIDValidity)
		require.NoError(e.t, u.DeleteMailbox(e.ctx, "Cycle"), "DeleteMailbox")
		e.create(u, "Cycle")
		st, err = u.Status(e.ctx, "Cycle")
		require.NoError(e.t, err, "Status")
		seen = append(seen, st.UIDValidity)
	})
	e.restart(reopen)
	e.withUser(Alice, func(u imap4.User) {
		st, err := u.Status(e.ctx, "Cycle")
		require.NoError(e.t, err, "Status")
		assert.Equal(e.t, seen[1], st.UIDValidity, "UIDVALIDITY after a restart")
		require.NoError(e.t, u.DeleteMailbox(e.ctx, "Cycle"), "DeleteMailbox")
		e.create(u, "Cycle")
		st, err = u.Status(e.ctx, "Cycle")
		require.NoError(e.t, err, "Status")
		assert.NotZero(e.t, st.UIDValidity, "UIDVALIDITY")
		assert.False(e.t, slices.Contains(seen, st.UIDValidity), "UIDVALIDITY %d of a re-created mailbox was used before the restart (%v)", st.UIDValidity, seen)
	})
}

// POP3 unique ids survive a restart.
func persistPOP3(e *env, reopen func() imap4.Backend) {
	if _, ok := e.backend.(pop3.Backend); !ok {
		e.t.Skipf("%T does not implement pop3.Backend", e.backend)
	}
	e.withMailbox("INBOX", func(mb imap4.Mailbox) { e.appendN(mb, 3) })
	list := func() []pop3.MessageInfo {
		md := e.maildrop(e.backend.(pop3.Backend), Alice)
		defer func() { assert.NoError(e.t, md.Close(), "Close") }()
		return e.list(md)
	}
	before := list()
	e.restart(reopen)
	_, ok := e.backend.(pop3.Backend)
	require.True(e.t, ok, "the reopened backend is not a pop3.Backend")
	assert.Equal(e.t, before, list(), "POP3 listing after a restart")
}

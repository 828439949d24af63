package storetest

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/pop3"
	"github.com/mailfront/mailfront/submission"
)

// RunPOP3 checks that the backends newBackend returns honour the
// [pop3.Backend] contract, one subtest per clause, each on a fresh backend.
//
// POP3 has no way to add messages, so the suite delivers them through
// [imap4.Backend] (an Append to INBOX) or [submission.Backend] (a Submit to
// the user) when the backend also implements one; otherwise the clauses
// that need messages are skipped.
func RunPOP3(t *testing.T, newBackend func(t *testing.T) pop3.Backend) {
	t.Helper()
	runClauses(t, newBackend, []clause[pop3.Backend]{
		{"Maildrop/Empty", pop3Empty},
		{"Maildrop/ListAndSizes", pop3ListAndSizes},
		{"Maildrop/UIDLStable", pop3UIDLStable},
		{"Maildrop/OpenMissing", pop3OpenMissing},
		{"Lock", pop3Lock},
		{"LockPerUser", pop3LockPerUser},
		{"Delete", pop3Delete},
		{"NoDeleteWithoutUpdate", pop3NoDeleteWithoutUpdate},
		{"DeleteToleratesGone", pop3DeleteToleratesGone},
	})
}

// deliver puts a message into a user's INBOX through whatever the backend
// offers besides POP3, or skips the clause.
func (e *env) deliver(user, content string) {
	e.t.Helper()
	switch b := e.backend.(type) {
	case imap4.Backend:
		u, err := b.OpenUser(e.ctx, auth.Identity{Username: user})
		require.NoError(e.t, err, "OpenUser")
		mb, err := u.OpenMailbox(e.ctx, "INBOX")
		require.NoError(e.t, err, "OpenMailbox(INBOX)")
		_, err = mb.Append(e.ctx, strings.NewReader(content), nil)
		require.NoError(e.t, err, "Append")
		require.NoError(e.t, mb.Close(), "Close")
		require.NoError(e.t, u.Close(), "User.Close")
	case submission.Backend:
		require.NoError(e.t, b.Submit(e.ctx, envelope(Alice, user), strings.NewReader(content)), "Submit")
	default:
		e.t.Skipf("%T implements neither imap4.Backend nor submission.Backend: the suite cannot deliver messages", e.backend)
	}
}

// maildrop opens a maildrop, to be closed by the clause.
func (e *env) maildrop(b pop3.Backend, user string) pop3.Maildrop {
	e.t.Helper()
	md, err := b.OpenMaildrop(e.ctx, auth.Identity{Username: user})
	require.NoError(e.t, err, "OpenMaildrop(%q)", user)
	require.NotNil(e.t, md, "OpenMaildrop(%q)", user)
	return md
}

// list returns the maildrop's messages, checking the unique-id rules.
func (e *env) list(md pop3.Maildrop) []pop3.MessageInfo {
	e.t.Helper()
	list, err := md.Messages(e.ctx)
	require.NoError(e.t, err, "Messages")
	seen := make(map[string]bool)
	for _, mi := range list {
		assert.True(e.t, validUIDL(mi.UID), "unique id %q: want 1 to 70 characters from 0x21 to 0x7E (RFC 1939 §7)", mi.UID)
		assert.False(e.t, seen[mi.UID], "unique id %q listed twice", mi.UID)
		seen[mi.UID] = true
	}
	return list
}

func validUIDL(s string) bool {
	if len(s) < 1 || len(s) > 70 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// retr returns a message's content.
func (e *env) retr(md pop3.Maildrop, uid string) string {
	e.t.Helper()
	r, err := md.Open(e.ctx, uid)
	require.NoError(e.t, err, "Open(%q)", uid)
	data, err := io.ReadAll(r)
	require.NoError(e.t, err, "reading %q", uid)
	require.NoError(e.t, r.Close(), "closing %q", uid)
	return string(data)
}

// A new user's maildrop is empty.
func pop3Empty(e *env, b pop3.Backend) {
	md := e.maildrop(b, Alice)
	defer md.Close()
	assert.Empty(e.t, e.list(md), "messages of a new user")
}

// Messages lists every message, oldest first, with its CRLF size, and Open
// returns the exact content.
func pop3ListAndSizes(e *env, b pop3.Backend) {
	contents := []string{message("pop one"), "Subject: two\r\n\r\n.dot\r\n", message("pop three, with a longer subject")}
	for _, c := range contents {
		e.deliver(Alice, c)
	}
	md := e.maildrop(b, Alice)
	defer md.Close()
	list := e.list(md)
	require.Len(e.t, list, len(contents), "messages")
	for i, mi := range list {
		assert.Equal(e.t, int64(len(contents[i])), mi.Size, "size of message %d (oldest first)", i+1)
		assert.Equal(e.t, contents[i], e.retr(md, mi.UID), "content of message %d (oldest first)", i+1)
	}
}

// Unique ids are stable across sessions and never reused.
func pop3UIDLStable(e *env, b pop3.Backend) {
	for i := range 3 {
		e.deliver(Alice, message(fmt.Sprintf("stable %d", i)))
	}
	md := e.maildrop(b, Alice)
	first := e.list(md)
	require.Len(e.t, first, 3, "messages")
	require.NoError(e.t, md.Close(), "Close")

	md = e.maildrop(b, Alice)
	second := e.list(md)
	assert.Equal(e.t, first, second, "the listing of a second session")
	require.NoError(e.t, md.Delete(e.ctx, []string{first[0].UID}), "Delete")
	require.NoError(e.t, md.Close(), "Close")

	e.deliver(Alice, message("stable new"))
	md = e.maildrop(b, Alice)
	defer md.Close()
	third := e.list(md)
	require.Len(e.t, third, 3, "messages after a delete and a delivery")
	assert.Equal(e.t, first[1:], third[:2], "unique ids of the remaining messages")
	assert.NotContains(e.t, []string{first[0].UID, first[1].UID, first[2].UID}, third[2].UID, "a unique id was reused")
	assert.Equal(e.t, message("stable new"), e.retr(md, third[2].UID), "the new message")
}

// Open of an unknown unique id is ErrNoSuchMessage.
func pop3OpenMissing(e *env, b pop3.Backend) {
	md := e.maildrop(b, Alice)
	defer md.Close()
	for _, uid := range []string{"nosuch", "0", "999999.999999", "../../etc/passwd"} {
		_, err := md.Open(e.ctx, uid)
		errorIs(e.t, err, pop3.ErrNoSuchMessage, "Open(%q)", uid)
	}
}

// A second session for the same user is refused with ErrMaildropLocked
// until the first closes (RFC 1939 §8; ADVERSARIAL P2) — or, for a
// backend that gives each session a snapshot, deletions in one never
// change the other's listing.
func pop3Lock(e *env, b pop3.Backend) {
	for i := range 2 {
		e.deliver(Alice, message(fmt.Sprintf("locked %d", i)))
	}
	md1 := e.maildrop(b, Alice)
	list1 := e.list(md1)
	md2, err := b.OpenMaildrop(e.ctx, auth.Identity{Username: Alice})
	if err != nil {
		errorIs(e.t, err, pop3.ErrMaildropLocked, "second OpenMaildrop of the same user")
		require.NoError(e.t, md1.Close(), "Close")
		md2 = e.maildrop(b, Alice)
		assert.Equal(e.t, list1, e.list(md2), "listing after the lock is released")
		require.NoError(e.t, md2.Close(), "Close")
		return
	}
	// Snapshot isolation.
	list2 := e.list(md2)
	require.Equal(e.t, list1, list2, "listings of two concurrent sessions")
	require.NoError(e.t, md1.Delete(e.ctx, []string{list1[0].UID}), "Delete in the first session")
	require.NoError(e.t, md1.Close(), "Close")
	again, err := md2.Messages(e.ctx)
	if err == nil {
		assert.Equal(e.t, list2, again, "a deletion in one session changed another's listing")
	}
	assert.NoError(e.t, md2.Delete(e.ctx, []string{list2[0].UID, list2[1].UID}), "Delete of a message another session deleted")
	require.NoError(e.t, md2.Close(), "Close")
}

// The lock is per user.
func pop3LockPerUser(e *env, b pop3.Backend) {
	md1 := e.maildrop(b, Alice)
	defer md1.Close()
	md2 := e.maildrop(b, Bob)
	defer md2.Close()
}

// Delete removes the named messages and only them.
func pop3Delete(e *env, b pop3.Backend) {
	for i := range 4 {
		e.deliver(Alice, message(fmt.Sprintf("delete %d", i)))
	}
	md := e.maildrop(b, Alice)
	list := e.list(md)
	require.Len(e.t, list, 4, "messages")
	require.NoError(e.t, md.Delete(e.ctx, []string{list[0].UID, list[2].UID}), "Delete")
	require.NoError(e.t, md.Close(), "Close")

	md = e.maildrop(b, Alice)
	defer md.Close()
	after := e.list(md)
	assert.Equal(e.t, []pop3.MessageInfo{list[1], list[3]}, after, "messages after Delete")
	for _, i := range []int{1, 3} {
		assert.Equal(e.t, message(fmt.Sprintf("delete %d", i)), e.retr(md, list[i].UID), "content of a kept message")
	}
	_, err := md.Open(e.ctx, list[0].UID)
	errorIs(e.t, err, pop3.ErrNoSuchMessage, "Open of a deleted message")
}

// A session that ends without Delete removes nothing (ADVERSARIAL P1: the
// server calls Delete only in the UPDATE state).
func pop3NoDeleteWithoutUpdate(e *env, b pop3.Backend) {
	for i := range 2 {
		e.deliver(Alice, message(fmt.Sprintf("kept %d", i)))
	}
	md := e.maildrop(b, Alice)
	list := e.list(md)
	e.retr(md, list[0].UID)
	require.NoError(e.t, md.Close(), "Close")
	md = e.maildrop(b, Alice)
	defer md.Close()
	assert.Equal(e.t, list, e.list(md), "messages after a session without Delete")
}

// Delete of messages another program already removed (here an IMAP
// expunge) succeeds and removes the others.
func pop3DeleteToleratesGone(e *env, b pop3.Backend) {
	ib, ok := b.(imap4.Backend)
	if !ok {
		e.t.Skipf("%T does not implement imap4.Backend", b)
	}
	for i := range 3 {
		e.deliver(Alice, message(fmt.Sprintf("gone %d", i)))
	}
	md := e.maildrop(b, Alice)
	list := e.list(md)
	require.Len(e.t, list, 3, "messages")

	u, err := ib.OpenUser(e.ctx, auth.Identity{Username: Alice})
	require.NoError(e.t, err, "OpenUser")
	defer u.Close()
	mb, err := u.OpenMailbox(e.ctx, "INBOX")
	require.NoError(e.t, err, "OpenMailbox")
	defer mb.Close()
	d, err := mb.Sync(e.ctx, 0)
	require.NoError(e.t, err, "Sync")
	first := d.Messages[0].UID
	_, err = mb.SetFlags(e.ctx, []imap4.UID{first}, imap4.StoreAdd, []string{imap4.FlagDeleted}, nil)
	require.NoError(e.t, err, "SetFlags")
	_, err = mb.Expunge(e.ctx, []imap4.UID{first})
	require.NoError(e.t, err, "Expunge")

	_, err = md.Open(e.ctx, list[0].UID)
	if err != nil {
		errorIs(e.t, err, pop3.ErrNoSuchMessage, "Open of a message expunged over IMAP")
	}
	assert.NoError(e.t, md.Delete(e.ctx, []string{list[0].UID, list[1].UID}), "Delete including a message already expunged")
	require.NoError(e.t, md.Close(), "Close")
	md = e.maildrop(b, Alice)
	defer md.Close()
	assert.Equal(e.t, list[2:], e.list(md), "messages left")
}

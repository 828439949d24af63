package storetest

import (
	"errors"
	"fmt"
	"slices"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/imap4"
)

// Clauses on the mailbox list: create, delete, rename, subscriptions,
// special use.
func mailboxClauses() []imapClause {
	return []imapClause{
		{"Mailbox/INBOXExists", mailboxINBOXExists},
		{"Mailbox/Create", mailboxCreate},
		{"Mailbox/CreateExisting", mailboxCreateExisting},
		{"Mailbox/CreateHierarchy", mailboxCreateHierarchy},
		{"Mailbox/CreateParentAfterChild", mailboxCreateParentAfterChild},
		{"Mailbox/Delete", mailboxDelete},
		{"Mailbox/DeleteWithChildren", mailboxDeleteWithChildren},
		{"Mailbox/DeleteRecreateUIDValidity", mailboxDeleteRecreate},
		{"Mailbox/Rename", mailboxRename},
		{"Mailbox/RenameHierarchy", mailboxRenameHierarchy},
		{"Mailbox/RenameErrors", mailboxRenameErrors},
		{"Mailbox/RenameINBOX", mailboxRenameINBOX},
		{"Mailbox/Subscriptions", mailboxSubscriptions},
		{"Mailbox/SpecialUse", mailboxSpecialUse},
		{"Mailbox/MissingErrors", mailboxMissingErrors},
	}
}

// A new user has an INBOX that can be opened, with a non-zero UIDVALIDITY.
func mailboxINBOXExists(e *env, _ imap4.Backend) {
	u := e.user(Alice)
	assert.True(e.t, e.selectable(u, "INBOX"), "INBOX not listed as a selectable mailbox")
	st, err := u.Status(e.ctx, "INBOX")
	require.NoError(e.t, err, "Status(INBOX)")
	assert.NotZero(e.t, st.UIDValidity, "INBOX UIDVALIDITY")
	assert.NotZero(e.t, st.UIDNext, "INBOX UIDNEXT")
	mb := e.open(u, "INBOX")
	assert.Equal(e.t, st.UIDValidity, e.status(mb).UIDValidity, "UIDVALIDITY from User.Status and Mailbox.Sync")
}

// A created mailbox is listed, empty, and can be opened.
func mailboxCreate(e *env, _ imap4.Backend) {
	u := e.user(Alice)
	e.create(u, "Projects")
	assert.True(e.t, e.selectable(u, "Projects"), "created mailbox not listed as selectable")
	st, err := u.Status(e.ctx, "Projects")
	require.NoError(e.t, err, "Status")
	assert.NotZero(e.t, st.UIDValidity, "UIDVALIDITY of a new mailbox")
	assert.NotZero(e.t, st.UIDNext, "UIDNEXT of a new mailbox")
	assert.Zero(e.t, st.Messages, "messages in a new mailbox")
	assert.Zero(e.t, st.Size, "size of a new mailbox")
	mb := e.open(u, "Projects")
	assert.Empty(e.t, e.sync(mb, 0).Messages, "messages in a new mailbox")

	// A second session sees it too.
	assert.True(e.t, e.selectable(e.user(Alice), "Projects"), "created mailbox not listed in another session")
}

// Creating an existing mailbox, or INBOX, is ErrMailboxExists.
func mailboxCreateExisting(e *env, _ imap4.Backend) {
	u := e.user(Alice)
	e.create(u, "Work")
	errorIs(e.t, u.CreateMailbox(e.ctx, "Work", nil), imap4.ErrMailboxExists, "CreateMailbox of an existing mailbox")
	errorIs(e.t, u.CreateMailbox(e.ctx, "INBOX", nil), imap4.ErrMailboxExists, "CreateMailbox(INBOX)")
}

// Creating a/b/c creates the levels above it.
func mailboxCreateHierarchy(e *env, _ imap4.Backend) {
	u := e.user(Alice)
	e.create(u, "a/b/c")
	for _, name := range []string{"a", "a/b", "a/b/c"} {
		assert.True(e.t, e.exists(u, name), "%q not listed after CreateMailbox(a/b/c)", name)
	}
	mb := e.open(u, "a/b/c")
	e.append(mb, message("deep"), nil)
}

// A level created as a parent can be created as a mailbox afterwards (or
// was one already).
func mailboxCreateParentAfterChild(e *env, _ imap4.Backend) {
	u := e.user(Alice)
	e.create(u, "Lists/go-nuts")
	err := u.CreateMailbox(e.ctx, "Lists", nil)
	if errors.Is(err, imap4.ErrMailboxExists) {
		assert.True(e.t, e.selectable(u, "Lists"), "CreateMailbox(Lists) says it exists, but it is not selectable")
	} else {
		require.NoError(e.t, err, "CreateMailbox of a parent level")
	}
	e.append(e.open(u, "Lists"), message("to the parent"), nil)
	assert.True(e.t, e.selectable(u, "Lists/go-nuts"), "child mailbox lost")
}

// A deleted mailbox is gone with its messages.
func mailboxDelete(e *env, _ imap4.Backend) {
	u := e.user(Alice)
	e.create(u, "Old")
	mb := e.openManual(u, "Old")
	e.appendN(mb, 2)
	require.NoError(e.t, mb.Close(), "Close")
	require.NoError(e.t, u.DeleteMailbox(e.ctx, "Old"), "DeleteMailbox")
	assert.False(e.t, e.exists(u, "Old"), "deleted mailbox still listed")
	_, err := u.OpenMailbox(e.ctx, "Old")
	errorIs(e.t, err, imap4.ErrNoSuchMailbox, "OpenMailbox of a deleted mailbox")
	_, err = u.Status(e.ctx, "Old")
	errorIs(e.t, err, imap4.ErrNoSuchMailbox, "Status of a deleted mailbox")
	errorIs(e.t, u.DeleteMailbox(e.ctx, "Old"), imap4.ErrNoSuchMailbox, "DeleteMailbox of a deleted mailbox")
}

// Deleting a mailbox with children leaves a \Noselect level (RFC 9051
// §6.3.9); a \Noselect level with children cannot be deleted.
func mailboxDeleteWithChildren(e *env, _ imap4.Backend) {
	u := e.user(Alice)
	e.create(u, "Parent/Child")
	err := u.CreateMailbox(e.ctx, "Parent", nil)
	if err != nil && !errors.Is(err, imap4.ErrMailboxExists) {
		require.NoError(e.t, err, "CreateMailbox(Parent)")
	}
	parent := e.openManual(u, "Parent")
	e.append(parent, message("in the parent"), nil)
	require.NoError(e.t, parent.Close(), "Close")
	child := e.open(u, "Parent/Child")
	childUID := e.append(child, message("in the child"), nil).UID

	require.NoError(e.t, u.DeleteMailbox(e.ctx, "Parent"), "DeleteMailbox of a mailbox with children")
	mi, ok := e.mailboxInfo(u, "Parent")
	require.True(e.t, ok, "a deleted mailbox with children must stay listed")
	assert.True(e.t, mi.NoSelect, "a deleted mailbox with children must be NoSelect")
	_, err = u.OpenMailbox(e.ctx, "Parent")
	assert.Error(e.t, err, "OpenMailbox of a \\Noselect level")
	assert.Equal(e.t, message("in the child"), e.read(child, childUID), "the child's message")

	errorIs(e.t, u.DeleteMailbox(e.ctx, "Parent"), imap4.ErrHasChildren, "DeleteMailbox of a \\Noselect level with children")
	require.NoError(e.t, u.DeleteMailbox(e.ctx, "Parent/Child"), "DeleteMailbox of the child")
	if e.exists(u, "Parent") {
		assert.NoError(e.t, u.DeleteMailbox(e.ctx, "Parent"), "DeleteMailbox of a \\Noselect level without children")
	}
	assert.False(e.t, e.exists(u, "Parent"), "Parent still listed")
}

// A mailbox deleted and created again has a new UIDVALIDITY and none of
// the old messages (RFC 9051 §2.3.1.1; ADVERSARIAL I11).
func mailboxDeleteRecreate(e *env, _ imap4.Backend) {
	u := e.user(Alice)
	e.create(u, "Box")
	mb := e.openManual(u, "Box")
	e.appendN(mb, 3)
	before := e.status(mb)
	require.NoError(e.t, mb.Close(), "Close")
	require.NoError(e.t, u.DeleteMailbox(e.ctx, "Box"), "DeleteMailbox")
	e.create(u, "Box")
	mb = e.open(u, "Box")
	after := e.status(mb)
	assert.NotZero(e.t, after.UIDValidity, "UIDVALIDITY")
	assert.NotEqual(e.t, before.UIDValidity, after.UIDValidity, "UIDVALIDITY must change when a mailbox is deleted and created again")
	assert.Empty(e.t, e.sync(mb, 0).Messages, "messages of the deleted mailbox came back")
}

// A renamed mailbox keeps its messages under the new name.
func mailboxRename(e *env, _ imap4.Backend) {
	u := e.user(Alice)
	e.create(u, "Before")
	mb := e.openManual(u, "Before")
	e.appendN(mb, 2)
	old := e.sync(mb, 0)
	require.NoError(e.t, mb.Close(), "Close")

	require.NoError(e.t, u.RenameMailbox(e.ctx, "Before", "After"), "RenameMailbox")
	assert.False(e.t, e.exists(u, "Before"), "old name still listed")
	assert.True(e.t, e.selectable(u, "After"), "new name not listed")
	_, err := u.OpenMailbox(e.ctx, "Before")
	errorIs(e.t, err, imap4.ErrNoSuchMailbox, "OpenMailbox of the old name")

	mb = e.open(u, "After")
	now := e.sync(mb, 0)
	require.Len(e.t, now.Messages, 2, "messages after rename")
	if now.UIDValidity == old.UIDValidity {
		assert.Equal(e.t, metaUIDs(old.Messages), metaUIDs(now.Messages), "UIDVALIDITY kept, so the UIDs must be too")
	}
	for i, m := range now.Messages {
		assert.Equal(e.t, message(fmt.Sprintf("message %d", i+1)), e.read(mb, m.UID), "message %d after rename", i+1)
	}
}

// Renaming a mailbox renames everything below it.
func mailboxRenameHierarchy(e *env, _ imap4.Backend) {
	u := e.user(Alice)
	e.create(u, "top")
	e.create(u, "top/mid/leaf")
	for _, name := range []string{"top", "top/mid/leaf"} {
		mb := e.openManual(u, name)
		e.append(mb, message(name), nil)
		require.NoError(e.t, mb.Close(), "Close")
	}
	require.NoError(e.t, u.RenameMailbox(e.ctx, "top", "renamed"), "RenameMailbox")
	for _, name := range []string{"top", "top/mid", "top/mid/leaf"} {
		assert.False(e.t, e.exists(u, name), "%q still listed after renaming top", name)
	}
	for _, name := range []string{"renamed", "renamed/mid", "renamed/mid/leaf"} {
		assert.True(e.t, e.exists(u, name), "%q not listed after renaming top", name)
	}
	for old, name := range map[string]string{"top": "renamed", "top/mid/leaf": "renamed/mid/leaf"} {
		mb := e.open(u, name)
		d := e.sync(mb, 0)
		if assert.Len(e.t, d.Messages, 1, "messages in %q", name) {
			assert.Equal(e.t, message(old), e.read(mb, d.Messages[0].UID), "message in %q", name)
		}
	}
}

// Renaming reports a missing source and an existing target.
func mailboxRenameErrors(e *env, _ imap4.Backend) {
	u := e.user(Alice)
	e.create(u, "One")
	e.create(u, "Two")
	errorIs(e.t, u.RenameMailbox(e.ctx, "Missing", "Three"), imap4.ErrNoSuchMailbox, "RenameMailbox of a missing mailbox")
	errorIs(e.t, u.RenameMailbox(e.ctx, "One", "Two"), imap4.ErrMailboxExists, "RenameMailbox onto an existing mailbox")
	errorIs(e.t, u.RenameMailbox(e.ctx, "One", "INBOX"), imap4.ErrMailboxExists, "RenameMailbox onto INBOX")
	assert.True(e.t, e.selectable(u, "One"), "failed rename removed the source")
	assert.True(e.t, e.selectable(u, "Two"), "failed rename removed the target")
}

// Renaming INBOX moves its messages to the new mailbox and leaves INBOX
// empty (RFC 9051 §6.3.10).
func mailboxRenameINBOX(e *env, _ imap4.Backend) {
	u := e.user(Alice)
	in := e.open(u, "INBOX")
	uids := e.appendN(in, 2)
	_, err := in.SetFlags(e.ctx, uids[:1], imap4.StoreAdd, []string{imap4.FlagSeen, "$Work"}, nil)
	require.NoError(e.t, err, "SetFlags")
	before := e.status(in)

	require.NoError(e.t, u.RenameMailbox(e.ctx, "INBOX", "Old Inbox"), "RenameMailbox(INBOX)")
	assert.True(e.t, e.selectable(u, "INBOX"), "INBOX must still exist after being renamed")
	assert.True(e.t, e.selectable(u, "Old Inbox"), "target of the INBOX rename not listed")

	in2 := e.open(u, "INBOX")
	after := e.sync(in2, 0)
	assert.Empty(e.t, after.Messages, "INBOX must be empty after being renamed")
	if after.UIDValidity == before.UIDValidity {
		assert.GreaterOrEqual(e.t, after.UIDNext, before.UIDNext, "INBOX UIDNEXT went down while UIDVALIDITY stayed")
	}
	moved := e.open(u, "Old Inbox")
	d := e.sync(moved, 0)
	require.Len(e.t, d.Messages, 2, "messages moved out of INBOX")
	assert.Equal(e.t, message("message 1"), e.read(moved, d.Messages[0].UID), "first moved message")
	assert.Equal(e.t, message("message 2"), e.read(moved, d.Messages[1].UID), "second moved message")
	assert.ElementsMatch(e.t, []string{imap4.FlagSeen, "$Work"}, d.Messages[0].Flags, "flags of a moved message")

	// New mail still reaches INBOX, not the renamed mailbox.
	e.append(in2, message("new"), nil)
	assert.Len(e.t, e.sync(moved, 0).Messages, 2, "renamed mailbox after an append to INBOX")
}

// Subscriptions: to existing mailboxes and to names that do not exist.
func mailboxSubscriptions(e *env, _ imap4.Backend) {
	u := e.user(Alice)
	e.create(u, "Sub")
	require.NoError(e.t, u.SetSubscribed(e.ctx, "Sub", true), "SetSubscribed(Sub, true)")
	mi, ok := e.mailboxInfo(u, "Sub")
	require.True(e.t, ok, "Sub not listed")
	assert.True(e.t, mi.Subscribed, "Sub not subscribed")
	assert.False(e.t, mi.NonExistent, "existing Sub listed as NonExistent")

	require.NoError(e.t, u.SetSubscribed(e.ctx, "Sub", false), "SetSubscribed(Sub, false)")
	mi, _ = e.mailboxInfo(u, "Sub")
	assert.False(e.t, mi.Subscribed, "Sub still subscribed")

	require.NoError(e.t, u.SetSubscribed(e.ctx, "Elsewhere/Later", true), "SetSubscribed of a mailbox that does not exist")
	mi, ok = e.mailboxInfo(u, "Elsewhere/Later")
	require.True(e.t, ok, "subscription to a missing mailbox not listed")
	assert.True(e.t, mi.Subscribed, "subscription to a missing mailbox: Subscribed")
	assert.True(e.t, mi.NonExistent, "subscription to a missing mailbox: NonExistent")
	_, err := u.OpenMailbox(e.ctx, "Elsewhere/Later")
	errorIs(e.t, err, imap4.ErrNoSuchMailbox, "OpenMailbox of a subscribed name that does not exist")

	e.create(u, "Elsewhere/Later")
	mi, ok = e.mailboxInfo(u, "Elsewhere/Later")
	require.True(e.t, ok, "created mailbox not listed")
	assert.True(e.t, mi.Subscribed, "subscription lost when the mailbox was created")
	assert.False(e.t, mi.NonExistent, "created mailbox still NonExistent")

	require.NoError(e.t, u.SetSubscribed(e.ctx, "Elsewhere/Later", false), "SetSubscribed(false)")
	mi, _ = e.mailboxInfo(u, "Elsewhere/Later")
	assert.False(e.t, mi.Subscribed, "still subscribed")

	// Subscriptions are per user and survive a new session.
	require.NoError(e.t, u.SetSubscribed(e.ctx, "Ghost", true), "SetSubscribed(Ghost)")
	mi, ok = e.mailboxInfo(e.user(Alice), "Ghost")
	assert.True(e.t, ok && mi.Subscribed, "subscription not seen by another session")
	_, ok = e.mailboxInfo(e.user(Bob), "Ghost")
	assert.False(e.t, ok, "Alice's subscription listed for Bob")
}

var specialUses = []string{`\Drafts`, `\Sent`, `\Trash`, `\Junk`, `\Archive`, `\All`, `\Flagged`}

// Listed special uses are RFC 6154 attributes; CREATE with a special use
// either honours it or fails with ErrCannot and creates nothing.
func mailboxSpecialUse(e *env, _ imap4.Backend) {
	u := e.user(Alice)
	list, err := u.ListMailboxes(e.ctx)
	require.NoError(e.t, err, "ListMailboxes")
	for _, mi := range list {
		if mi.SpecialUse != "" {
			assert.Contains(e.t, specialUses, mi.SpecialUse, "special use of %q", mi.Name)
		}
	}

	err = u.CreateMailbox(e.ctx, "My Archive", &imap4.CreateOptions{SpecialUse: `\Archive`})
	if errors.Is(err, imap4.ErrCannot) {
		assert.False(e.t, e.exists(u, "My Archive"), "CreateMailbox failed with ErrCannot but created the mailbox")
	} else if assert.NoError(e.t, err, "CreateMailbox with SpecialUse \\Archive") {
		mi, ok := e.mailboxInfo(u, "My Archive")
		assert.True(e.t, ok, "created mailbox not listed")
		assert.Equal(e.t, `\Archive`, mi.SpecialUse, "special use of the created mailbox")
	}

	err = u.CreateMailbox(e.ctx, "Bogus", &imap4.CreateOptions{SpecialUse: `\NoSuchUse`})
	errorIs(e.t, err, imap4.ErrCannot, "CreateMailbox with an unknown special use")
	assert.False(e.t, e.exists(u, "Bogus"), "CreateMailbox failed but created the mailbox")
}

// Operations on a mailbox that does not exist are ErrNoSuchMailbox.
func mailboxMissingErrors(e *env, _ imap4.Backend) {
	u := e.user(Alice)
	_, err := u.OpenMailbox(e.ctx, "Nowhere")
	errorIs(e.t, err, imap4.ErrNoSuchMailbox, "OpenMailbox")
	_, err = u.Status(e.ctx, "Nowhere")
	errorIs(e.t, err, imap4.ErrNoSuchMailbox, "Status")
	errorIs(e.t, u.DeleteMailbox(e.ctx, "Nowhere"), imap4.ErrNoSuchMailbox, "DeleteMailbox")
	mb := e.open(u, "INBOX")
	uids := e.appendN(mb, 1)
	_, err = mb.CopyTo(e.ctx, uids, "Nowhere")
	errorIs(e.t, err, imap4.ErrNoSuchMailbox, "CopyTo")
	if mv, ok := mb.(imap4.Mover); ok {
		_, err = mv.MoveTo(e.ctx, uids, "Nowhere")
		errorIs(e.t, err, imap4.ErrNoSuchMailbox, "MoveTo")
		assert.Len(e.t, e.sync(mb, 0).Messages, 1, "a failed MoveTo removed the message")
	}
	list, err := u.ListMailboxes(e.ctx)
	require.NoError(e.t, err, "ListMailboxes")
	assert.False(e.t, slices.ContainsFunc(list, func(mi imap4.MailboxInfo) bool { return mi.Name == "Nowhere" }),
		"a failed operation created the mailbox")
}

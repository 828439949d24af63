package storetest

import (
	"strings"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/imap4"
)

// Clauses on hostile mailbox and user names (ADVERSARIAL I7). The frontend
// validates names, but a backend must not trust it: each name must be
// refused with an error, or contained — kept as an opaque name that
// reaches no other mailbox and no other user.
func hostileNameClauses() []imapClause {
	return []imapClause{
		{"Names/MailboxTraversal", namesMailboxTraversal},
		{"Names/RenameTraversal", namesRenameTraversal},
		{"Names/UserTraversal", namesUserTraversal},
		{"Names/UserPrefixIsolation", namesUserPrefixIsolation},
	}
}

// hostileNames are mailbox names a broken frontend might pass on.
func hostileNames() []string {
	return []string{
		"..",
		".",
		"../INBOX",
		"../../x",
		"a/../../b",
		"a/../INBOX",
		"/abs",
		"/",
		"//",
		"a//b",
		"trailing/",
		"INBOX/..",
		"INBOX/../..",
		"../" + Bob + "/INBOX",
		"../../" + Bob,
		"..\\..\\x",
		"nul\x00byte",
		"cr\rlf\nname",
		"tab\tname",
		"star*",
		"percent%",
		"\xff\xfe invalid utf-8",
		strings.Repeat("x", 4096),
		strings.Repeat("deep/", 999) + "deep",
		"",
	}
}

// sentinel puts a known message in Alice's INBOX, Alice's "Safe" mailbox
// and Bob's INBOX, and returns a function that checks they are still the
// only messages there.
func (e *env) sentinel() func(after string) {
	e.t.Helper()
	alice := e.user(Alice)
	e.create(alice, "Safe")
	for _, target := range []struct{ user, box string }{{Alice, "INBOX"}, {Alice, "Safe"}, {Bob, "INBOX"}} {
		u := alice
		if target.user == Bob {
			u = e.user(Bob)
		}
		mb := e.openManual(u, target.box)
		e.append(mb, message("sentinel "+target.user+" "+target.box), nil)
		require.NoError(e.t, mb.Close(), "Close")
	}
	return func(after string) {
		e.t.Helper()
		for _, target := range []struct{ user, box string }{{Alice, "INBOX"}, {Alice, "Safe"}, {Bob, "INBOX"}} {
			u := e.user(target.user)
			mb, err := u.OpenMailbox(e.ctx, target.box)
			if !assert.NoError(e.t, err, "%s's %s gone after %s", target.user, target.box, after) {
				continue
			}
			d := e.sync(mb, 0)
			if assert.Len(e.t, d.Messages, 1, "%s's %s changed after %s", target.user, target.box, after) {
				assert.Equal(e.t, message("sentinel "+target.user+" "+target.box), e.read(mb, d.Messages[0].UID),
					"%s's %s changed after %s", target.user, target.box, after)
			}
			assert.NoError(e.t, mb.Close(), "Close")
		}
	}
}

// Each hostile name is refused, or is a mailbox of its own that reaches
// nothing else.
func namesMailboxTraversal(e *env, _ imap4.Backend) {
	check := e.sentinel()
	u := e.user(Alice)
	for _, name := range hostileNames() {
		q := quoteName(name)

		// Opening without creating must not reach an existing mailbox.
		if mb, err := u.OpenMailbox(e.ctx, name); err == nil {
			assert.Empty(e.t, e.sync(mb, 0).Messages, "OpenMailbox(%s) of a name never created reached a mailbox with messages", q)
			assert.NoError(e.t, mb.Close(), "Close")
		}
		if st, err := u.Status(e.ctx, name); err == nil {
			assert.Zero(e.t, st.Messages, "Status(%s) of a name never created reached a mailbox with messages", q)
		}

		if err := u.CreateMailbox(e.ctx, name, nil); err != nil {
			continue // refused: fine
		}
		// Contained: an opaque name with a mailbox of its own.
		mb, err := u.OpenMailbox(e.ctx, name)
		if !assert.NoError(e.t, err, "CreateMailbox(%s) succeeded but OpenMailbox fails", q) {
			continue
		}
		d := e.sync(mb, 0)
		assert.Empty(e.t, d.Messages, "CreateMailbox(%s) made a mailbox with messages in it: it aliases another", q)
		_, err = mb.Append(e.ctx, strings.NewReader(message("hostile")), nil)
		assert.NoError(e.t, err, "Append to %s", q)
		assert.NoError(e.t, mb.Close(), "Close")
		check("CreateMailbox and Append to " + q)
		assert.NoError(e.t, u.DeleteMailbox(e.ctx, name), "DeleteMailbox(%s) after creating it", q)
		check("DeleteMailbox(" + q + ")")
	}

	// Deleting or subscribing hostile names must not touch anything else.
	for _, name := range hostileNames() {
		_ = u.DeleteMailbox(e.ctx, name)
		_ = u.SetSubscribed(e.ctx, name, true)
		_ = u.SetSubscribed(e.ctx, name, false)
	}
	check("DeleteMailbox and SetSubscribed of hostile names")
	assert.True(e.t, e.selectable(u, "Safe"), "Safe no longer listed")

	// Copying to a hostile name must not reach another mailbox.
	in := e.open(u, "INBOX")
	uids := metaUIDs(e.sync(in, 0).Messages)
	for _, name := range hostileNames() {
		_, _ = in.CopyTo(e.ctx, uids, name)
	}
	for _, mi := range mustList(e, e.user(Bob)) {
		if mi.Name == "INBOX" {
			continue
		}
		bmb, err := e.user(Bob).OpenMailbox(e.ctx, mi.Name)
		if err == nil {
			assert.Empty(e.t, e.sync(bmb, 0).Messages, "CopyTo a hostile name put messages in Bob's %q", mi.Name)
			assert.NoError(e.t, bmb.Close(), "Close")
		}
	}
	check("CopyTo hostile names")
}

// Renaming to or from a hostile name is refused or contained.
func namesRenameTraversal(e *env, _ imap4.Backend) {
	check := e.sentinel()
	u := e.user(Alice)
	e.create(u, "Movable")
	for _, name := range hostileNames() {
		q := quoteName(name)
		if err := u.RenameMailbox(e.ctx, name, "Stolen"); err == nil {
			assert.Fail(e.t, "RenameMailbox from a hostile name that was never created succeeded", "name %s", q)
			_ = u.RenameMailbox(e.ctx, "Stolen", name)
		}
		check("RenameMailbox(" + q + ", Stolen)")
		if err := u.RenameMailbox(e.ctx, "Movable", name); err != nil {
			continue
		}
		mb, err := u.OpenMailbox(e.ctx, name)
		if assert.NoError(e.t, err, "RenameMailbox(Movable, %s) succeeded but OpenMailbox fails", q) {
			assert.Empty(e.t, e.sync(mb, 0).Messages, "mailbox renamed to %s holds messages of another", q)
			assert.NoError(e.t, mb.Close(), "Close")
		}
		check("RenameMailbox(Movable, " + q + ")")
		require.NoError(e.t, u.RenameMailbox(e.ctx, name, "Movable"), "renaming %s back", q)
	}
}

// Hostile user names reach no other user's mail.
func namesUserTraversal(e *env, b imap4.Backend) {
	check := e.sentinel()
	for _, name := range []string{
		"../" + Bob,
		Bob + "/..",
		Bob + "/../" + Bob,
		"./" + Bob,
		"/" + Bob,
		"..",
		".",
		"",
		Bob + "\x00",
		"x/../../" + Bob,
	} {
		q := quoteName(name)
		u, err := b.OpenUser(e.ctx, auth.Identity{Username: name})
		if err != nil {
			continue
		}
		list, err := u.ListMailboxes(e.ctx)
		if err == nil {
			for _, mi := range list {
				if mi.NoSelect || mi.NonExistent {
					continue
				}
				if mb, err := u.OpenMailbox(e.ctx, mi.Name); err == nil {
					for _, m := range e.sync(mb, 0).Messages {
						c := e.read(mb, m.UID)
						assert.NotContains(e.t, c, "sentinel", "user %s reached another user's message in %q", q, mi.Name)
					}
					_, _ = mb.Append(e.ctx, strings.NewReader(message("from "+name)), nil)
					assert.NoError(e.t, mb.Close(), "Close")
				}
			}
		}
		_ = u.CreateMailbox(e.ctx, "Safe", nil)
		_ = u.DeleteMailbox(e.ctx, "Safe")
		assert.NoError(e.t, u.Close(), "User.Close")
		check("opening user " + q)
	}
}

// Users whose names are prefixes of each other ("adm", "admin") have
// separate stores, whatever mailbox names they use.
func namesUserPrefixIsolation(e *env, _ imap4.Backend) {
	adm, admin := e.user(Adm), e.user(Admin)
	admIn, adminIn := e.open(adm, "INBOX"), e.open(admin, "INBOX")
	e.append(adminIn, message("for admin only"), nil)
	e.create(adm, "in")
	e.create(admin, "Secret")

	assert.Empty(e.t, e.sync(admIn, 0).Messages, "adm sees admin's INBOX")
	assert.False(e.t, e.exists(adm, "Secret"), "adm sees admin's mailbox")
	assert.False(e.t, e.exists(admin, "in"), "admin sees adm's mailbox")
	for _, name := range []string{"in/INBOX", "in/Secret", "../admin/INBOX", "../admin", "../" + Admin + "/Secret"} {
		if mb, err := adm.OpenMailbox(e.ctx, name); err == nil {
			assert.Empty(e.t, e.sync(mb, 0).Messages, "adm's %q reaches admin's mail", name)
			assert.NoError(e.t, mb.Close(), "Close")
		}
	}
	e.append(admIn, message("for adm only"), nil)
	d := e.sync(adminIn, 0)
	if assert.Len(e.t, d.Messages, 1, "admin's INBOX after a delivery to adm") {
		assert.Equal(e.t, message("for admin only"), e.read(adminIn, d.Messages[0].UID), "admin's message")
	}
}

func mustList(e *env, u imap4.User) []imap4.MailboxInfo {
	e.t.Helper()
	list, err := u.ListMailboxes(e.ctx)
	require.NoError(e.t, err, "ListMailboxes")
	return list
}

// quoteName shortens and quotes a name for messages.
func quoteName(name string) string {
	if len(name) > 40 {
		name = name[:40] + "..."
	}
	return strings.ToValidUTF8(strings.NewReplacer("\x00", `\0`, "\r", `\r`, "\n", `\n`, "\t", `\t`).Replace(`"`+name+`"`), "?")
}

package storetest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/imap4"
)

// Clauses on flags and STORE.
func flagClauses() []imapClause {
	return []imapClause{
		{"Flags/AddRemoveReplace", flagsAddRemoveReplace},
		{"Flags/Keywords", flagsKeywords},
		{"Flags/SystemFlagSpelling", flagsSystemSpelling},
		{"Flags/UnchangedSince", flagsUnchangedSince},
		{"Flags/MissingUIDs", flagsMissingUIDs},
		{"Flags/SharedBetweenSessions", flagsSharedBetweenSessions},
	}
}

// StoreAdd, StoreRemove and StoreReplace, on messages with various flags.
func flagsAddRemoveReplace(e *env, _ imap4.Backend) {
	for _, tc := range []struct {
		name  string
		start []string
		op    imap4.StoreOp
		flags []string
		want  []string
	}{
		{"add to none", nil, imap4.StoreAdd, []string{imap4.FlagSeen}, []string{imap4.FlagSeen}},
		{"add two", []string{imap4.FlagSeen}, imap4.StoreAdd, []string{imap4.FlagAnswered, imap4.FlagFlagged}, []string{imap4.FlagSeen, imap4.FlagAnswered, imap4.FlagFlagged}},
		{"add present and new", []string{imap4.FlagSeen}, imap4.StoreAdd, []string{imap4.FlagSeen, imap4.FlagDraft}, []string{imap4.FlagSeen, imap4.FlagDraft}},
		{"remove one", []string{imap4.FlagSeen, imap4.FlagDeleted}, imap4.StoreRemove, []string{imap4.FlagDeleted}, []string{imap4.FlagSeen}},
		{"remove absent and present", []string{imap4.FlagSeen, "$Label1"}, imap4.StoreRemove, []string{imap4.FlagFlagged, "$Label1"}, []string{imap4.FlagSeen}},
		{"remove all", []string{imap4.FlagSeen, imap4.FlagAnswered}, imap4.StoreRemove, []string{imap4.FlagSeen, imap4.FlagAnswered}, nil},
		{"replace", []string{imap4.FlagSeen, "$Label1"}, imap4.StoreReplace, []string{imap4.FlagFlagged, "$Label2"}, []string{imap4.FlagFlagged, "$Label2"}},
		{"replace with none", []string{imap4.FlagSeen, imap4.FlagDraft}, imap4.StoreReplace, nil, nil},
		{"duplicates", nil, imap4.StoreAdd, []string{imap4.FlagSeen, imap4.FlagSeen}, []string{imap4.FlagSeen}},
	} {
		e.t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, e.backend)
			mb := e.open(e.user(Alice), "INBOX")
			res := e.append(mb, message(tc.name), &imap4.AppendOptions{Flags: tc.start})
			other := e.append(mb, message("bystander"), &imap4.AppendOptions{Flags: tc.start})
			sr := e.setFlags(mb, []imap4.UID{res.UID}, tc.op, tc.flags...)
			got := e.meta(mb, res.UID).Flags
			assert.ElementsMatch(t, tc.want, got, "flags after SetFlags")
			if len(sr.Updated) == 1 {
				assert.ElementsMatch(t, tc.want, sr.Updated[0].Flags, "flags in StoreResult.Updated")
			}
			assert.ElementsMatch(t, tc.start, e.meta(mb, other.UID).Flags, "flags of a message not named")
		})
	}
}

// Keywords are kept as stored, alongside system flags, and can be removed.
func flagsKeywords(e *env, _ imap4.Backend) {
	mb := e.open(e.user(Alice), "INBOX")
	uids := e.appendN(mb, 2)
	keywords := []string{"$Forwarded", "$MDNSent", "$Junk", "Work", "project_x"}
	e.setFlags(mb, uids, imap4.StoreAdd, keywords...)
	e.setFlags(mb, uids[:1], imap4.StoreAdd, imap4.FlagSeen)
	assert.ElementsMatch(e.t, append([]string{imap4.FlagSeen}, keywords...), e.meta(mb, uids[0]).Flags, "flags with keywords")
	assert.ElementsMatch(e.t, keywords, e.meta(mb, uids[1]).Flags, "keywords")
	e.setFlags(mb, uids, imap4.StoreRemove, "Work")
	assert.NotContains(e.t, e.meta(mb, uids[0]).Flags, "Work", "removed keyword")
	assert.Contains(e.t, e.meta(mb, uids[0]).Flags, "$Forwarded", "kept keyword")
}

// System flags come back spelled as the Flag constants, whatever the case
// they were given in (IMAP flags are case-insensitive).
func flagsSystemSpelling(e *env, _ imap4.Backend) {
	mb := e.open(e.user(Alice), "INBOX")
	res := e.append(mb, message("spelling"), &imap4.AppendOptions{Flags: []string{`\SEEN`}})
	assert.Equal(e.t, []string{imap4.FlagSeen}, e.meta(mb, res.UID).Flags, `\SEEN given to Append`)
	e.setFlags(mb, []imap4.UID{res.UID}, imap4.StoreAdd, `\flagged`)
	assert.ElementsMatch(e.t, []string{imap4.FlagSeen, imap4.FlagFlagged}, e.meta(mb, res.UID).Flags, `\flagged given to SetFlags`)
	e.setFlags(mb, []imap4.UID{res.UID}, imap4.StoreRemove, `\sEeN`)
	assert.Equal(e.t, []string{imap4.FlagFlagged}, e.meta(mb, res.UID).Flags, `\sEeN removed`)
}

// UnchangedSince skips the messages changed after it and reports them in
// Modified (RFC 7162 §3.1.3).
func flagsUnchangedSince(e *env, _ imap4.Backend) {
	mb := e.open(e.user(Alice), "INBOX")
	uids := e.appendN(mb, 3)
	since := e.status(mb).HighestModSeq
	e.setFlags(mb, uids[1:2], imap4.StoreAdd, "$Changed") // changed after since

	res, err := mb.SetFlags(e.ctx, uids, imap4.StoreAdd, []string{imap4.FlagSeen}, &imap4.StoreOptions{UnchangedSince: since})
	require.NoError(e.t, err, "SetFlags with UnchangedSince")
	assert.Equal(e.t, []imap4.UID{uids[1]}, res.Modified, "StoreResult.Modified")
	assert.ElementsMatch(e.t, []imap4.UID{uids[0], uids[2]}, metaUIDs(res.Updated), "StoreResult.Updated")
	assert.Equal(e.t, []string{"$Changed"}, e.meta(mb, uids[1]).Flags, "flags of the message changed since")
	assert.Equal(e.t, []string{imap4.FlagSeen}, e.meta(mb, uids[0]).Flags, "flags of a message not changed since")

	// UnchangedSince equal to the message's own ModSeq applies.
	m := e.meta(mb, uids[1])
	res, err = mb.SetFlags(e.ctx, []imap4.UID{uids[1]}, imap4.StoreAdd, []string{imap4.FlagSeen}, &imap4.StoreOptions{UnchangedSince: m.ModSeq})
	require.NoError(e.t, err, "SetFlags with UnchangedSince equal to the ModSeq")
	assert.Empty(e.t, res.Modified, "Modified with UnchangedSince equal to the ModSeq")
	assert.Len(e.t, res.Updated, 1, "Updated with UnchangedSince equal to the ModSeq")
}

// UIDs that do not exist are ignored.
func flagsMissingUIDs(e *env, _ imap4.Backend) {
	mb := e.open(e.user(Alice), "INBOX")
	uids := e.appendN(mb, 2)
	e.expunge(mb, uids[:1])
	res := e.setFlags(mb, []imap4.UID{uids[0], uids[1], uids[1] + 50}, imap4.StoreAdd, imap4.FlagSeen)
	assert.Equal(e.t, []imap4.UID{uids[1]}, metaUIDs(res.Updated), "StoreResult.Updated")
	assert.Len(e.t, e.sync(mb, 0).Messages, 1, "messages after SetFlags of missing UIDs")
}

// A flag change made in one session is seen by another.
func flagsSharedBetweenSessions(e *env, _ imap4.Backend) {
	a := e.open(e.user(Alice), "INBOX")
	b := e.open(e.user(Alice), "INBOX")
	uids := e.appendN(a, 1)
	e.setFlags(b, uids, imap4.StoreAdd, imap4.FlagAnswered)
	assert.Equal(e.t, []string{imap4.FlagAnswered}, e.meta(a, uids[0]).Flags, "flags seen by the other session")
}

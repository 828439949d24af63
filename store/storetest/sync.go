package storetest

import (
	"fmt"
	"strings"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/imap4"
)

// Clauses on Sync and Expunge.
func syncClauses() []imapClause {
	return []imapClause{
		{"Sync/Full", syncFull},
		{"Sync/Delta", syncDelta},
		{"Sync/AppendedThenExpunged", syncAppendedThenExpunged},
		{"Sync/NoChange", syncNoChange},
		{"Sync/ManyExpunges", syncManyExpunges},
		{"Expunge/Result", expungeResult},
		{"Expunge/OtherSession", expungeOtherSession},
	}
}

// Sync(0) lists every message with its metadata and no expunges.
func syncFull(e *env, _ imap4.Backend) {
	mb := e.open(e.user(Alice), "INBOX")
	date := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	uids := e.appendN(mb, 3)
	res := e.append(mb, message("dated"), &imap4.AppendOptions{InternalDate: date, Flags: []string{imap4.FlagSeen}})
	uids = append(uids, res.UID)
	e.expunge(mb, uids[:1])
	d := e.sync(mb, 0)
	assert.Equal(e.t, uids[1:], metaUIDs(d.Messages), "Sync(0) UIDs")
	assert.Empty(e.t, d.Expunged, "Sync(0).Expunged")
	assert.EqualValues(e.t, 3, d.MailboxStatus.Messages, "Sync(0) message count")
	last := d.Messages[len(d.Messages)-1]
	assert.Equal(e.t, []string{imap4.FlagSeen}, last.Flags, "flags in Sync(0)")
	assert.True(e.t, date.Equal(last.InternalDate), "InternalDate in Sync(0): got %v, want %v", last.InternalDate, date)
	assert.Equal(e.t, int64(len(message("dated"))), last.Size, "Size in Sync(0)")
}

// Sync(since) returns exactly what was added or changed after since, and
// the UIDs expunged after it.
func syncDelta(e *env, _ imap4.Backend) {
	mb := e.open(e.user(Alice), "INBOX")
	uids := e.appendN(mb, 4)
	e.setFlags(mb, uids[3:], imap4.StoreAdd, imap4.FlagDeleted)
	since := e.status(mb).HighestModSeq

	e.setFlags(mb, uids[:1], imap4.StoreAdd, imap4.FlagSeen) // changed
	gone, err := mb.Expunge(e.ctx, uids[3:])                 // expunged
	require.NoError(e.t, err, "Expunge")
	require.Equal(e.t, uids[3:], gone, "Expunge result")
	added := e.append(mb, message("added"), nil).UID // added

	d := e.sync(mb, since)
	assert.Equal(e.t, []imap4.UID{uids[0], added}, metaUIDs(d.Messages), "Sync(since).Messages: the changed and the added")
	e.assertExpunged(mb, d.Expunged, uids[3:], "Sync(since).Expunged")
	if len(d.Messages) == 2 {
		assert.Equal(e.t, []string{imap4.FlagSeen}, d.Messages[0].Flags, "flags of the changed message")
	}
	full := e.sync(mb, 0)
	assert.Equal(e.t, full.MailboxStatus, d.MailboxStatus, "Sync(since) and Sync(0) counters")

	// Applying the delta to the earlier full view gives the new full view.
	next := e.sync(mb, full.HighestModSeq)
	assert.Empty(e.t, next.Messages, "Sync(HIGHESTMODSEQ).Messages")
	e.assertExpunged(mb, next.Expunged, nil, "Sync(HIGHESTMODSEQ).Expunged")
}

// A message added and expunged after since is at most in Expunged.
func syncAppendedThenExpunged(e *env, _ imap4.Backend) {
	mb := e.open(e.user(Alice), "INBOX")
	e.appendN(mb, 1)
	since := e.status(mb).HighestModSeq
	uid := e.append(mb, message("short-lived"), nil).UID
	e.expunge(mb, []imap4.UID{uid})
	d := e.sync(mb, since)
	assert.NotContains(e.t, metaUIDs(d.Messages), uid, "Sync(since).Messages holds an expunged message")
	assert.Greater(e.t, d.HighestModSeq, since, "HIGHESTMODSEQ after an append and an expunge")
}

// Sync at the current HIGHESTMODSEQ returns nothing.
func syncNoChange(e *env, _ imap4.Backend) {
	mb := e.open(e.user(Alice), "INBOX")
	e.appendN(mb, 2)
	st := e.status(mb)
	d := e.sync(mb, st.HighestModSeq)
	assert.Empty(e.t, d.Messages, "Messages")
	e.assertExpunged(mb, d.Expunged, nil, "Expunged")
	assert.Equal(e.t, st, d.MailboxStatus, "counters")
}

// Many expunges in small steps are all reported to a Sync from before them
// (possibly with a superset, which SyncData allows).
func syncManyExpunges(e *env, _ imap4.Backend) {
	mb := e.open(e.user(Alice), "INBOX")
	const n = 300
	uids := make([]imap4.UID, n)
	for i := range uids {
		res, err := mb.Append(e.ctx, strings.NewReader(message(fmt.Sprint("many ", i))), nil)
		require.NoError(e.t, err, "Append")
		uids[i] = res.UID
	}
	since := e.status(mb).HighestModSeq
	e.setFlags(mb, uids, imap4.StoreAdd, imap4.FlagDeleted)
	for i := 0; i < n-1; i += 2 {
		gone, err := mb.Expunge(e.ctx, uids[i:i+1])
		require.NoError(e.t, err, "Expunge")
		require.Equal(e.t, uids[i:i+1], gone, "Expunge result")
	}
	d := e.sync(mb, since)
	var want []imap4.UID
	for i := 0; i < n-1; i += 2 {
		want = append(want, uids[i])
	}
	e.assertExpunged(mb, d.Expunged, want, "Sync(since).Expunged")
}

// Expunge returns the UIDs it removed, in order, and ignores UIDs not in
// the mailbox.
func expungeResult(e *env, _ imap4.Backend) {
	mb := e.open(e.user(Alice), "INBOX")
	uids := e.appendN(mb, 4)
	e.setFlags(mb, uids, imap4.StoreAdd, imap4.FlagDeleted)
	gone, err := mb.Expunge(e.ctx, []imap4.UID{uids[2], uids[0], uids[3] + 10})
	require.NoError(e.t, err, "Expunge")
	assert.Equal(e.t, []imap4.UID{uids[0], uids[2]}, gone, "Expunge result (ascending, only existing UIDs)")
	gone, err = mb.Expunge(e.ctx, []imap4.UID{uids[0]})
	require.NoError(e.t, err, "second Expunge")
	assert.Empty(e.t, gone, "Expunge of an expunged UID")
	assert.Equal(e.t, []imap4.UID{uids[1], uids[3]}, metaUIDs(e.sync(mb, 0).Messages), "messages left")
}

// An expunge by one session is seen by another's Sync.
func expungeOtherSession(e *env, _ imap4.Backend) {
	a := e.open(e.user(Alice), "INBOX")
	b := e.open(e.user(Alice), "INBOX")
	uids := e.appendN(a, 2)
	since := e.status(b).HighestModSeq
	e.expunge(a, uids[:1])
	d := e.sync(b, since)
	e.assertExpunged(b, d.Expunged, uids[:1], "Expunged seen by the other session")
	assert.Equal(e.t, uids[1:], metaUIDs(e.sync(b, 0).Messages), "messages seen by the other session")
}

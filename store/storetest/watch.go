package storetest

import (
	"strings"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/pop3"
	"github.com/mailfront/mailfront/submission"
)

// Clauses on the change feed (Mailbox.Watch).
func watchClauses() []imapClause {
	return []imapClause{
		{"Watch/SameChannel", watchSameChannel},
		{"Watch/ClosedByClose", watchClosedByClose},
		{"Watch/OtherSession", watchOtherSession},
		{"Watch/OtherHandleSameSession", watchOtherHandleSameSession},
		{"Watch/CopyInto", watchCopyInto},
		{"Watch/Coalesces", watchCoalesces},
		{"Watch/POP3Delete", watchPOP3Delete},
		{"Watch/SubmissionDelivery", watchSubmission},
	}
}

// Watch returns the same channel on every call.
func watchSameChannel(e *env, _ imap4.Backend) {
	mb := e.open(e.user(Alice), "INBOX")
	first := mb.Watch()
	assert.True(e.t, first == mb.Watch(), "Watch returned different channels")
}

// Close closes the Watch channel.
func watchClosedByClose(e *env, _ imap4.Backend) {
	u := e.user(Alice)
	mb := e.openManual(u, "INBOX")
	ch := mb.Watch()
	e.append(e.open(e.user(Alice), "INBOX"), message("pending"), nil) // maybe a pending value
	require.NoError(e.t, mb.Close(), "Close")
	timer := time.NewTimer(WatchTimeout)
	defer timer.Stop()
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-timer.C:
			e.t.Fatalf("Watch channel not closed within %v of Close", WatchTimeout)
		}
	}
}

// watchChanges makes changes through writer and checks that watched is
// signalled after each, and that Sync then shows it.
func (e *env) watchChanges(watched, writer imap4.Mailbox, how string) {
	e.t.Helper()
	ch := watched.Watch()
	drain(ch)
	since := e.status(watched).HighestModSeq

	uid := e.append(writer, message("watched"), nil).UID
	e.waitWatch(ch, "an Append "+how)
	d := e.sync(watched, since)
	assert.Contains(e.t, metaUIDs(d.Messages), uid, "Sync after the Append signal")
	since = d.HighestModSeq
	drain(ch)

	e.setFlags(writer, []imap4.UID{uid}, imap4.StoreAdd, imap4.FlagFlagged)
	e.waitWatch(ch, "a SetFlags "+how)
	d = e.sync(watched, since)
	if assert.Equal(e.t, []imap4.UID{uid}, metaUIDs(d.Messages), "Sync after the SetFlags signal") {
		assert.Equal(e.t, []string{imap4.FlagFlagged}, d.Messages[0].Flags, "flags after the SetFlags signal")
	}
	e.setFlags(writer, []imap4.UID{uid}, imap4.StoreAdd, imap4.FlagDeleted)
	drain(ch)
	since = e.status(watched).HighestModSeq

	gone, err := writer.Expunge(e.ctx, []imap4.UID{uid})
	require.NoError(e.t, err, "Expunge")
	require.Equal(e.t, []imap4.UID{uid}, gone, "Expunge result")
	e.waitWatch(ch, "an Expunge "+how)
	e.assertExpunged(watched, e.sync(watched, since).Expunged, []imap4.UID{uid}, "Sync after the Expunge signal")
}

// Changes by another session signal the Watch channel.
func watchOtherSession(e *env, _ imap4.Backend) {
	watched := e.open(e.user(Alice), "INBOX")
	writer := e.open(e.user(Alice), "INBOX")
	e.watchChanges(watched, writer, "by another session")
}

// Changes through another handle of the same User signal the Watch
// channel.
func watchOtherHandleSameSession(e *env, _ imap4.Backend) {
	u := e.user(Alice)
	e.watchChanges(e.open(u, "INBOX"), e.open(u, "INBOX"), "through another handle of the same User")
}

// A copy into a mailbox signals its watchers.
func watchCopyInto(e *env, _ imap4.Backend) {
	u := e.user(Alice)
	e.create(u, "Target")
	watched := e.open(e.user(Alice), "Target")
	drain(watched.Watch())
	since := e.status(watched).HighestModSeq
	src := e.open(u, "INBOX")
	uids := e.appendN(src, 2)
	res, err := src.CopyTo(e.ctx, uids, "Target")
	require.NoError(e.t, err, "CopyTo")
	e.waitWatch(watched.Watch(), "CopyTo into the watched mailbox")
	assert.ElementsMatch(e.t, res.Dest, metaUIDs(e.sync(watched, since).Messages), "Sync after CopyTo")
}

// Many changes with nobody reading the channel never block the writer,
// and leave a value that stands for all of them.
func watchCoalesces(e *env, _ imap4.Backend) {
	watched := e.open(e.user(Alice), "INBOX")
	writer := e.open(e.user(Alice), "INBOX")
	drain(watched.Watch())
	since := e.status(watched).HighestModSeq
	uids := e.appendN(writer, 40)
	e.setFlags(writer, uids, imap4.StoreAdd, imap4.FlagSeen)
	e.waitWatch(watched.Watch(), "40 appends and a SetFlags not read")
	d := e.sync(watched, since)
	// A backend that signals late may have signalled before the last
	// change: Sync again after any further value.
	for len(d.Messages) < len(uids) {
		e.waitWatch(watched.Watch(), "the rest of 40 appends")
		d = e.sync(watched, since)
	}
	assert.Equal(e.t, uids, metaUIDs(d.Messages), "Sync after coalesced changes")
}

// A POP3 deletion signals IMAP sessions on the INBOX (when the backend
// implements pop3.Backend too).
func watchPOP3Delete(e *env, b imap4.Backend) {
	pb, ok := b.(pop3.Backend)
	if !ok {
		e.t.Skipf("%T does not implement pop3.Backend", b)
	}
	watched := e.open(e.user(Alice), "INBOX")
	uids := e.appendN(watched, 3)
	since := e.status(watched).HighestModSeq

	md, err := pb.OpenMaildrop(e.ctx, auth.Identity{Username: Alice})
	require.NoError(e.t, err, "OpenMaildrop")
	list, err := md.Messages(e.ctx)
	require.NoError(e.t, err, "Messages")
	require.Len(e.t, list, 3, "maildrop messages")
	drain(watched.Watch())
	require.NoError(e.t, md.Delete(e.ctx, []string{list[1].UID}), "Delete")
	require.NoError(e.t, md.Close(), "Close")

	e.waitWatch(watched.Watch(), "a POP3 Delete")
	e.assertExpunged(watched, e.sync(watched, since).Expunged, []imap4.UID{uids[1]}, "Sync after a POP3 Delete")
	assert.Equal(e.t, []imap4.UID{uids[0], uids[2]}, metaUIDs(e.sync(watched, 0).Messages), "messages left after a POP3 Delete")
}

// A submission to a user signals IMAP sessions on the user's INBOX (when
// the backend implements submission.Backend too).
func watchSubmission(e *env, b imap4.Backend) {
	sb, ok := b.(submission.Backend)
	if !ok {
		e.t.Skipf("%T does not implement submission.Backend", b)
	}
	watched := e.open(e.user(Bob), "INBOX")
	drain(watched.Watch())
	since := e.status(watched).HighestModSeq
	content := message("submitted")
	err := sb.Submit(e.ctx, envelope(Alice, Bob), strings.NewReader(content))
	require.NoError(e.t, err, "Submit")
	e.waitWatch(watched.Watch(), "a submission to the user")
	d := e.sync(watched, since)
	require.Len(e.t, d.Messages, 1, "Sync after a submission")
	assert.Equal(e.t, content, e.read(watched, d.Messages[0].UID), "submitted content")
}

// envelope returns a submission envelope from one user to others.
func envelope(from string, to ...string) *submission.Envelope {
	env := &submission.Envelope{Identity: auth.Identity{Username: from}, From: from}
	for _, rcpt := range to {
		env.Recipients = append(env.Recipients, submission.Recipient{Address: rcpt})
	}
	return env
}

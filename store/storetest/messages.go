package storetest

import (
	"bytes"
	"slices"
	"strings"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/imap4"
)

// Clauses on messages: content, UIDs and modification sequences.
func messageClauses() []imapClause {
	return []imapClause{
		{"Message/AppendOpen", messageAppendOpen},
		{"Message/LargeMessage", messageLarge},
		{"Message/AppendFlagsAndDate", messageAppendFlagsAndDate},
		{"Message/AppendDefaultDate", messageAppendDefaultDate},
		{"Message/AppendReadError", messageAppendReadError},
		{"Message/OpenMissing", messageOpenMissing},
		{"Message/StatusCounters", messageStatusCounters},
		{"UID/Ascending", uidAscending},
		{"UID/NotReusedAfterExpunge", uidNotReusedAfterExpunge},
		{"UID/NotReusedAcrossSessions", uidNotReusedAcrossSessions},
		{"UID/UIDValidityNonZero", uidValidityNonZero},
		{"ModSeq/Arrival", modseqArrival},
		{"ModSeq/FlagChange", modseqFlagChange},
		{"ModSeq/UnchangedFlags", modseqUnchangedFlags},
		{"ModSeq/Expunge", modseqExpunge},
	}
}

// Open returns exactly the appended bytes, and Size and the metadata agree
// with them.
func messageAppendOpen(e *env, _ imap4.Backend) {
	u := e.user(Alice)
	mb := e.open(u, "INBOX")
	for name, content := range map[string]string{
		"plain":         message("plain"),
		"no body":       "Subject: header only\r\n\r\n",
		"8-bit":         "Subject: =?utf-8?q?gr=C3=BC=C3=9Fe?=\r\n\r\n\x80\x81\xfe\xff bytes \xc3\xa9\r\n",
		"dot lines":     "Subject: dots\r\n\r\n.\r\n..\r\n.x\r\n",
		"no final CRLF": "Subject: unterminated\r\n\r\nlast line",
	} {
		res := e.append(mb, content, nil)
		got := e.read(mb, res.UID)
		equalBytes(e.t, []byte(content), []byte(got), "Open after Append (%s)", name)
		m := e.meta(mb, res.UID)
		assert.Equal(e.t, int64(len(content)), m.Size, "MessageMeta.Size (%s)", name)

		msg, err := mb.Open(e.ctx, res.UID)
		require.NoError(e.t, err, "Open")
		assert.Equal(e.t, int64(len(content)), msg.Size(), "Message.Size (%s)", name)
		if len(content) > 10 {
			part := make([]byte, 5)
			n, err := msg.ReadAt(part, 7)
			assert.Equal(e.t, 5, n, "ReadAt(5 bytes, 7) count (%s): %v", name, err)
			assert.Equal(e.t, content[7:12], string(part[:n]), "ReadAt(5 bytes, 7) (%s)", name)
		}
		assert.NoError(e.t, msg.Close(), "Message.Close")
	}
	st := e.status(mb)
	var total int64
	for _, m := range e.sync(mb, 0).Messages {
		total += m.Size
	}
	assert.Equal(e.t, total, st.Size, "MailboxStatus.Size is the sum of the message sizes")
}

// A message of a few megabytes is stored and read back whole and in parts.
func messageLarge(e *env, _ imap4.Backend) {
	mb := e.open(e.user(Alice), "INBOX")
	var b strings.Builder
	b.WriteString("Subject: large\r\n\r\n")
	for i := 0; b.Len() < 3<<20; i++ {
		b.WriteString(strings.Repeat(string(rune('a'+i%26)), 76))
		b.WriteString("\r\n")
	}
	content := b.String()
	res := e.append(mb, content, nil)
	msg, err := mb.Open(e.ctx, res.UID)
	require.NoError(e.t, err, "Open")
	defer msg.Close()
	assert.Equal(e.t, int64(len(content)), msg.Size(), "Size")
	tail := make([]byte, 100)
	n, err := msg.ReadAt(tail, int64(len(content)-100))
	assert.Equal(e.t, 100, n, "ReadAt of the last 100 bytes: %v", err)
	assert.Equal(e.t, content[len(content)-100:], string(tail), "last 100 bytes")
	whole, err := readAll(msg)
	require.NoError(e.t, err, "reading")
	assert.True(e.t, bytes.Equal([]byte(content), whole), "content of a large message differs")
}

// Flags, keywords and the internal date given to Append are kept.
func messageAppendFlagsAndDate(e *env, _ imap4.Backend) {
	mb := e.open(e.user(Alice), "INBOX")
	date := time.Date(2021, 3, 4, 5, 6, 7, 0, time.FixedZone("", 2*3600))
	flags := []string{imap4.FlagSeen, imap4.FlagFlagged, imap4.FlagDraft, "$Forwarded", "Project-X"}
	res := e.append(mb, message("flagged"), &imap4.AppendOptions{Flags: flags, InternalDate: date})
	m := e.meta(mb, res.UID)
	assert.ElementsMatch(e.t, flags, m.Flags, "flags given to Append")
	assert.True(e.t, date.Equal(m.InternalDate), "InternalDate: got %v, want %v", m.InternalDate, date)

	res = e.append(mb, message("plain"), &imap4.AppendOptions{})
	assert.Empty(e.t, e.meta(mb, res.UID).Flags, "flags of a message appended without flags")
}

// Append without a date records the time of arrival.
func messageAppendDefaultDate(e *env, _ imap4.Backend) {
	mb := e.open(e.user(Alice), "INBOX")
	before := time.Now().Add(-2 * time.Second) // allow for second-precision storage
	res := e.append(mb, message("now"), nil)
	after := time.Now().Add(2 * time.Second)
	date := e.meta(mb, res.UID).InternalDate
	assert.False(e.t, date.IsZero(), "InternalDate of a message appended without a date is zero")
	assert.True(e.t, !date.Before(before) && !date.After(after), "InternalDate %v is not the time of the Append (%v to %v)", date, before, after)
}

// A failing reader leaves nothing behind.
func messageAppendReadError(e *env, _ imap4.Backend) {
	mb := e.open(e.user(Alice), "INBOX")
	e.appendN(mb, 1)
	before := e.sync(mb, 0)
	_, err := mb.Append(e.ctx, &failingReader{data: []byte(message("partial")), err: errInjected}, nil)
	require.Error(e.t, err, "Append from a failing reader")
	after := e.sync(mb, 0)
	assert.Equal(e.t, metaUIDs(before.Messages), metaUIDs(after.Messages), "Append from a failing reader left a message")
	assert.Equal(e.t, before.Messages, after.Messages, "Append from a failing reader changed the mailbox")
	assert.Equal(e.t, before.Size, after.Size, "Append from a failing reader changed the size")
	// The mailbox still works.
	e.append(mb, message("after the failure"), nil)
}

// Open of a UID that does not exist is ErrNoSuchMessage.
func messageOpenMissing(e *env, _ imap4.Backend) {
	mb := e.open(e.user(Alice), "INBOX")
	uids := e.appendN(mb, 2)
	_, err := mb.Open(e.ctx, uids[1]+100)
	errorIs(e.t, err, imap4.ErrNoSuchMessage, "Open of a UID never assigned")
	e.expunge(mb, uids[:1])
	_, err = mb.Open(e.ctx, uids[0])
	errorIs(e.t, err, imap4.ErrNoSuchMessage, "Open of an expunged UID")
}

// Messages, Unseen, Deleted and Size follow the messages, and User.Status
// agrees with Mailbox.Sync.
func messageStatusCounters(e *env, _ imap4.Backend) {
	u := e.user(Alice)
	mb := e.open(u, "INBOX")
	uids := e.appendN(mb, 4)
	e.setFlags(mb, uids[:2], imap4.StoreAdd, imap4.FlagSeen)
	e.setFlags(mb, uids[1:3], imap4.StoreAdd, imap4.FlagDeleted)
	st := e.status(mb)
	assert.EqualValues(e.t, 4, st.Messages, "Messages")
	assert.EqualValues(e.t, 2, st.Unseen, "Unseen")
	assert.EqualValues(e.t, 2, st.Deleted, "Deleted")
	assert.EqualValues(e.t, 4*len(message("message 1")), st.Size, "Size")
	other, err := e.user(Alice).Status(e.ctx, "INBOX")
	require.NoError(e.t, err, "User.Status")
	assert.Equal(e.t, st, other, "User.Status from another session and Mailbox.Sync")

	e.expunge(mb, uids[1:3])
	st = e.status(mb)
	assert.EqualValues(e.t, 2, st.Messages, "Messages after expunge")
	assert.EqualValues(e.t, 1, st.Unseen, "Unseen after expunge")
	assert.EqualValues(e.t, 0, st.Deleted, "Deleted after expunge")
	other, err = u.Status(e.ctx, "INBOX")
	require.NoError(e.t, err, "User.Status")
	assert.Equal(e.t, st, other, "User.Status and Mailbox.Sync after expunge")
}

// UIDs ascend in the order of arrival.
func uidAscending(e *env, _ imap4.Backend) {
	mb := e.open(e.user(Alice), "INBOX")
	uids := e.appendN(mb, 5)
	assert.True(e.t, isStrictlyAscending(uids), "UIDs of successive appends: %v", uids)
	assert.Equal(e.t, uids, metaUIDs(e.sync(mb, 0).Messages), "Sync(0) UIDs")
}

// A UID is never given again after its message is expunged, even when it
// was the highest, and UIDNEXT never goes down (ADVERSARIAL I10).
func uidNotReusedAfterExpunge(e *env, _ imap4.Backend) {
	mb := e.open(e.user(Alice), "INBOX")
	uids := e.appendN(mb, 3)
	next := e.status(mb).UIDNext
	e.expunge(mb, uids[2:])
	assert.GreaterOrEqual(e.t, e.status(mb).UIDNext, next, "UIDNEXT went down after an expunge")
	res := e.append(mb, message("after"), nil)
	assert.Greater(e.t, res.UID, uids[2], "UID %d reused after expunge", res.UID)
	e.expunge(mb, slices.Concat(uids[:2], []imap4.UID{res.UID}))
	res2 := e.append(mb, message("after all gone"), nil)
	assert.Greater(e.t, res2.UID, res.UID, "UID reused after expunging every message")
}

// UIDs and UIDVALIDITY hold across sessions (a new OpenUser is the nearest
// thing to a restart the suite can do; see RunPersistence for real ones).
func uidNotReusedAcrossSessions(e *env, b imap4.Backend) {
	u := e.user(Alice)
	mb := e.openManual(u, "INBOX")
	uids := e.appendN(mb, 3)
	e.expunge(mb, uids[2:])
	before := e.status(mb)
	require.NoError(e.t, mb.Close(), "Close")

	mb = e.open(e.user(Alice), "INBOX")
	after := e.status(mb)
	assert.Equal(e.t, before.UIDValidity, after.UIDValidity, "UIDVALIDITY in a new session")
	assert.GreaterOrEqual(e.t, after.UIDNext, before.UIDNext, "UIDNEXT went down in a new session")
	assert.Equal(e.t, uids[:2], metaUIDs(e.sync(mb, 0).Messages), "UIDs in a new session")
	res := e.append(mb, message("new session"), nil)
	assert.Greater(e.t, res.UID, uids[2], "UID reused in a new session")
}

// UIDVALIDITY is never 0, for INBOX and created mailboxes alike (I11).
func uidValidityNonZero(e *env, _ imap4.Backend) {
	u := e.user(Alice)
	e.create(u, "V1")
	e.create(u, "V1/V2")
	for _, name := range []string{"INBOX", "V1", "V1/V2"} {
		st, err := u.Status(e.ctx, name)
		require.NoError(e.t, err, "Status(%q)", name)
		assert.NotZero(e.t, st.UIDValidity, "UIDVALIDITY of %q", name)
	}
}

// An arrival gets a ModSeq above every earlier one.
func modseqArrival(e *env, _ imap4.Backend) {
	mb := e.open(e.user(Alice), "INBOX")
	for i := range 3 {
		before := e.status(mb).HighestModSeq
		res := e.append(mb, message("arrival"), nil)
		m := e.meta(mb, res.UID)
		assert.Greater(e.t, m.ModSeq, before, "ModSeq of arrival %d", i+1)
		assert.GreaterOrEqual(e.t, e.status(mb).HighestModSeq, m.ModSeq, "HIGHESTMODSEQ after arrival %d", i+1)
	}
}

// A flag change gets a new ModSeq, reported in StoreResult.Updated.
func modseqFlagChange(e *env, _ imap4.Backend) {
	mb := e.open(e.user(Alice), "INBOX")
	uids := e.appendN(mb, 2)
	before := e.status(mb).HighestModSeq
	res := e.setFlags(mb, uids[:1], imap4.StoreAdd, imap4.FlagSeen)
	require.Len(e.t, res.Updated, 1, "StoreResult.Updated")
	assert.Equal(e.t, uids[0], res.Updated[0].UID, "updated UID")
	assert.Greater(e.t, res.Updated[0].ModSeq, before, "ModSeq after a flag change")
	assert.Contains(e.t, res.Updated[0].Flags, imap4.FlagSeen, "flags in StoreResult.Updated")
	m := e.meta(mb, uids[0])
	assert.Equal(e.t, res.Updated[0].ModSeq, m.ModSeq, "ModSeq in Sync and in StoreResult")
	assert.GreaterOrEqual(e.t, e.status(mb).HighestModSeq, m.ModSeq, "HIGHESTMODSEQ after a flag change")
	assert.LessOrEqual(e.t, e.meta(mb, uids[1]).ModSeq, before, "an unchanged message got a new ModSeq")
}

// A SetFlags that changes nothing changes no ModSeq and reports nothing.
func modseqUnchangedFlags(e *env, _ imap4.Backend) {
	mb := e.open(e.user(Alice), "INBOX")
	uids := e.appendN(mb, 2)
	e.setFlags(mb, uids, imap4.StoreAdd, imap4.FlagSeen)
	before := e.sync(mb, 0)
	for _, tc := range []struct {
		op    imap4.StoreOp
		flags []string
	}{
		{imap4.StoreAdd, []string{imap4.FlagSeen}},
		{imap4.StoreRemove, []string{imap4.FlagFlagged}},
		{imap4.StoreReplace, []string{imap4.FlagSeen}},
	} {
		res, err := mb.SetFlags(e.ctx, uids, tc.op, tc.flags, nil)
		require.NoError(e.t, err, "SetFlags")
		assert.Empty(e.t, res.Updated, "SetFlags(%v, %v) that changes nothing reported updates", tc.op, tc.flags)
		after := e.sync(mb, 0)
		assert.Equal(e.t, before.HighestModSeq, after.HighestModSeq, "HIGHESTMODSEQ after SetFlags(%v, %v) that changes nothing", tc.op, tc.flags)
		assert.Equal(e.t, before.Messages, after.Messages, "messages after SetFlags(%v, %v) that changes nothing", tc.op, tc.flags)
	}
}

// An expunge raises HIGHESTMODSEQ (RFC 7162 §3.1.1 counts expunges).
func modseqExpunge(e *env, _ imap4.Backend) {
	mb := e.open(e.user(Alice), "INBOX")
	uids := e.appendN(mb, 3)
	e.setFlags(mb, uids[1:2], imap4.StoreAdd, imap4.FlagDeleted)
	before := e.status(mb).HighestModSeq
	e.expunge(mb, uids[1:2])
	after := e.status(mb).HighestModSeq
	assert.Greater(e.t, after, before, "HIGHESTMODSEQ after an expunge")
	d := e.sync(mb, before)
	e.assertExpunged(mb, d.Expunged, []imap4.UID{uids[1]}, "Sync(HIGHESTMODSEQ before the expunge).Expunged")
}

// setFlags calls SetFlags and requires success.
func (e *env) setFlags(mb imap4.Mailbox, uids []imap4.UID, op imap4.StoreOp, flags ...string) *imap4.StoreResult {
	e.t.Helper()
	res, err := mb.SetFlags(e.ctx, uids, op, flags, nil)
	require.NoError(e.t, err, "SetFlags(%v, %v, %v)", uids, op, flags)
	require.NotNil(e.t, res, "StoreResult")
	return res
}

// expunge flags the messages \Deleted and expunges them, requiring that
// exactly they go.
func (e *env) expunge(mb imap4.Mailbox, uids []imap4.UID) {
	e.t.Helper()
	e.setFlags(mb, uids, imap4.StoreAdd, imap4.FlagDeleted)
	gone, err := mb.Expunge(e.ctx, uids)
	require.NoError(e.t, err, "Expunge(%v)", uids)
	want := slices.Clone(uids)
	slices.Sort(want)
	require.Equal(e.t, want, gone, "Expunge result")
}

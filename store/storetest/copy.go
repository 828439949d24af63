package storetest

import (
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/imap4"
)

// Clauses on CopyTo, MoveTo and the structure cache.
func copyClauses() []imapClause {
	return []imapClause{
		{"Copy/Mapping", copyMapping},
		{"Copy/SameMailbox", copySameMailbox},
		{"Copy/MissingUIDs", copyMissingUIDs},
		{"Move/Mapping", moveMapping},
		{"StructureCache", structureCache},
	}
}

// copyFixture appends three messages with distinct flags and dates to
// Alice's INBOX and creates "Dest".
func (e *env) copyFixture() (imap4.User, imap4.Mailbox, []imap4.UID) {
	u := e.user(Alice)
	e.create(u, "Dest")
	src := e.open(u, "INBOX")
	var uids []imap4.UID
	for i, flags := range [][]string{{imap4.FlagSeen}, nil, {imap4.FlagFlagged, "$Label"}} {
		date := time.Date(2019, time.Month(i+1), 10, 8, 0, 0, 0, time.UTC)
		uids = append(uids, e.append(src, message("copy "+string(rune('A'+i))), &imap4.AppendOptions{Flags: flags, InternalDate: date}).UID)
	}
	return u, src, uids
}

// checkCopied checks that dest holds copies of the given source messages
// at the mapped UIDs.
func (e *env) checkCopied(src, dst imap4.Mailbox, res *imap4.CopyResult, before map[imap4.UID]imap4.MessageMeta, contents map[imap4.UID]string) {
	e.t.Helper()
	require.Equal(e.t, len(res.Source), len(res.Dest), "CopyResult: Source and Dest lengths")
	assert.Equal(e.t, e.status(dst).UIDValidity, res.UIDValidity, "CopyResult.UIDValidity is the destination's")
	seen := make(map[imap4.UID]bool)
	for _, d := range res.Dest {
		assert.False(e.t, seen[d], "CopyResult.Dest holds UID %d twice", d)
		seen[d] = true
	}
	for i, s := range res.Source {
		d := res.Dest[i]
		want, ok := before[s]
		if !assert.True(e.t, ok, "CopyResult.Source holds UID %d, which was not in the source", s) {
			continue
		}
		got := e.meta(dst, d)
		assert.ElementsMatch(e.t, want.Flags, got.Flags, "flags of UID %d copied to %d", s, d)
		assert.True(e.t, want.InternalDate.Equal(got.InternalDate), "InternalDate of UID %d copied to %d: got %v, want %v", s, d, got.InternalDate, want.InternalDate)
		assert.Equal(e.t, want.Size, got.Size, "Size of UID %d copied to %d", s, d)
		assert.Equal(e.t, contents[s], e.read(dst, d), "content of UID %d copied to %d", s, d)
	}
}

// snapshot returns the metadata and contents of every message.
func (e *env) snapshot(mb imap4.Mailbox) (map[imap4.UID]imap4.MessageMeta, map[imap4.UID]string) {
	e.t.Helper()
	metas := make(map[imap4.UID]imap4.MessageMeta)
	contents := make(map[imap4.UID]string)
	for _, m := range e.sync(mb, 0).Messages {
		metas[m.UID] = m
		contents[m.UID] = e.read(mb, m.UID)
	}
	return metas, contents
}

// CopyTo copies content, flags and dates, reports the mapping, and leaves
// the source alone.
func copyMapping(e *env, _ imap4.Backend) {
	u, src, uids := e.copyFixture()
	dst := e.open(u, "Dest")
	e.appendN(dst, 1) // the copies do not start at UID 1
	metas, contents := e.snapshot(src)
	srcBefore := e.sync(src, 0)
	dstNext := e.status(dst).UIDNext

	res, err := src.CopyTo(e.ctx, []imap4.UID{uids[2], uids[0]}, "Dest")
	require.NoError(e.t, err, "CopyTo")
	assert.ElementsMatch(e.t, []imap4.UID{uids[0], uids[2]}, res.Source, "CopyResult.Source")
	for _, d := range res.Dest {
		assert.GreaterOrEqual(e.t, d, dstNext, "copied UID below the destination's UIDNEXT")
	}
	e.checkCopied(src, dst, res, metas, contents)
	assert.Len(e.t, e.sync(dst, 0).Messages, 3, "messages in the destination")
	srcAfter := e.sync(src, 0)
	assert.Equal(e.t, srcBefore.Messages, srcAfter.Messages, "CopyTo changed the source")
}

// Copying into the same mailbox makes new messages with new UIDs.
func copySameMailbox(e *env, _ imap4.Backend) {
	_, src, uids := e.copyFixture()
	metas, contents := e.snapshot(src)
	res, err := src.CopyTo(e.ctx, uids[:2], "INBOX")
	require.NoError(e.t, err, "CopyTo the same mailbox")
	require.Len(e.t, res.Dest, 2, "CopyResult.Dest")
	for _, d := range res.Dest {
		assert.Greater(e.t, d, uids[2], "copy into the same mailbox reused a UID")
	}
	e.checkCopied(src, src, res, metas, contents)
	assert.Len(e.t, e.sync(src, 0).Messages, 5, "messages after copying two into the same mailbox")
}

// UIDs not in the mailbox are left out of the mapping.
func copyMissingUIDs(e *env, _ imap4.Backend) {
	u, src, uids := e.copyFixture()
	e.expunge(src, uids[1:2])
	res, err := src.CopyTo(e.ctx, []imap4.UID{uids[0], uids[1], uids[2] + 7}, "Dest")
	require.NoError(e.t, err, "CopyTo with missing UIDs")
	assert.Equal(e.t, []imap4.UID{uids[0]}, res.Source, "CopyResult.Source")
	assert.Len(e.t, res.Dest, 1, "CopyResult.Dest")
	assert.Len(e.t, e.sync(e.open(u, "Dest"), 0).Messages, 1, "messages in the destination")
}

// MoveTo (when the mailbox is a Mover) copies with a mapping and expunges
// the sources, which another session sees as expunges.
func moveMapping(e *env, _ imap4.Backend) {
	u, src, uids := e.copyFixture()
	mv, ok := src.(imap4.Mover)
	if !ok {
		e.t.Skipf("%T does not implement imap4.Mover", src)
	}
	other := e.open(e.user(Alice), "INBOX")
	drain(other.Watch())
	dst := e.open(u, "Dest")
	metas, contents := e.snapshot(src)
	since := e.status(src).HighestModSeq

	res, err := mv.MoveTo(e.ctx, []imap4.UID{uids[0], uids[2]}, "Dest")
	require.NoError(e.t, err, "MoveTo")
	assert.ElementsMatch(e.t, []imap4.UID{uids[0], uids[2]}, res.Source, "CopyResult.Source")
	e.checkCopied(src, dst, res, metas, contents)
	assert.Equal(e.t, []imap4.UID{uids[1]}, metaUIDs(e.sync(src, 0).Messages), "messages left in the source")
	e.waitWatch(other.Watch(), "MoveTo out of the mailbox by another session")
	e.assertExpunged(other, e.sync(other, since).Expunged, []imap4.UID{uids[0], uids[2]}, "expunges seen by another session after MoveTo")
	_, err = src.Open(e.ctx, uids[0])
	errorIs(e.t, err, imap4.ErrNoSuchMessage, "Open of a moved UID in the source")
}

// The structure cache (when the mailbox is a StructureCache) returns what
// was stored, and nothing for messages it has no entry for.
func structureCache(e *env, _ imap4.Backend) {
	u := e.user(Alice)
	mb := e.open(u, "INBOX")
	sc, ok := mb.(imap4.StructureCache)
	if !ok {
		e.t.Skipf("%T does not implement imap4.StructureCache", mb)
	}
	uids := e.appendN(mb, 2)
	if data, ok := sc.CachedStructure(e.ctx, uids[0]); ok {
		assert.Fail(e.t, "CachedStructure of a message never cached", "got %q", data)
	}
	stored := []byte("v1 opaque structure \x00\xff")
	sc.CacheStructure(e.ctx, uids[0], stored)
	stored[0] = 'X' // the cache must have kept its own copy
	if data, ok := sc.CachedStructure(e.ctx, uids[0]); ok {
		assert.Equal(e.t, []byte("v1 opaque structure \x00\xff"), data, "CachedStructure after CacheStructure")
	}
	_, ok = sc.CachedStructure(e.ctx, uids[1])
	assert.False(e.t, ok, "CachedStructure of another message")

	// Another session of the mailbox may use the entry.
	other := e.open(e.user(Alice), "INBOX")
	if osc, ok := other.(imap4.StructureCache); ok {
		if data, ok := osc.CachedStructure(e.ctx, uids[0]); ok {
			assert.Equal(e.t, []byte("v1 opaque structure \x00\xff"), data, "CachedStructure from another session")
		}
	}
	_, ok = sc.CachedStructure(e.ctx, uids[1]+100)
	assert.False(e.t, ok, "CachedStructure of a UID never assigned")
}

package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/imap4"
)

// Clauses on concurrent sessions (ADVERSARIAL M6 and I10). Run them with
// -race.
func concurrencyClauses() []imapClause {
	return []imapClause{
		{"Concurrency/Sessions", concurrencySessions},
		{"Concurrency/SnapshotStable", concurrencySnapshotStable},
		{"Concurrency/OpenAfterExpunge", concurrencyOpenAfterExpunge},
	}
}

// A view is one session's idea of a mailbox, kept up to date with
// Sync(since) deltas as the frontend does.
type view struct {
	t        *testing.T
	name     string
	mb       imap4.Mailbox
	msgs     map[imap4.UID]imap4.MessageMeta
	expunged map[imap4.UID]bool
	status   imap4.MailboxStatus
}

// update applies a Sync delta and checks the rules a session relies on:
// counters never go back, and an expunged UID never comes back. It uses
// only assert, so it may run on any goroutine.
func (v *view) update(e *env) bool {
	since := v.status.HighestModSeq
	if v.msgs == nil {
		since = 0
		v.msgs = make(map[imap4.UID]imap4.MessageMeta)
		v.expunged = make(map[imap4.UID]bool)
	}
	d, err := v.mb.Sync(e.ctx, since)
	if !assert.NoError(v.t, err, "%s: Sync(%d)", v.name, since) || !checkSyncData(v.t, d, since) {
		return false
	}
	ok := true
	if since != 0 {
		ok = assert.Equal(v.t, v.status.UIDValidity, d.UIDValidity, "%s: UIDVALIDITY changed", v.name) && ok
		ok = assert.GreaterOrEqual(v.t, d.UIDNext, v.status.UIDNext, "%s: UIDNEXT went down", v.name) && ok
		ok = assert.GreaterOrEqual(v.t, d.HighestModSeq, v.status.HighestModSeq, "%s: HIGHESTMODSEQ went down", v.name) && ok
	}
	for _, u := range d.Expunged {
		delete(v.msgs, u)
		v.expunged[u] = true
	}
	for _, m := range d.Messages {
		ok = assert.False(v.t, v.expunged[m.UID], "%s: UID %d came back after being expunged", v.name, m.UID) && ok
		v.msgs[m.UID] = m
	}
	v.status = d.MailboxStatus
	return ok
}

// uids returns the UIDs in the view, ascending.
func (v *view) uids() []imap4.UID {
	return slices.Sorted(maps.Keys(v.msgs))
}

// concurrentLog collects what the sessions did, for the checks at the end.
type concurrentLog struct {
	mu       sync.Mutex
	appended map[imap4.UID]string // UID -> token of its content
	read     map[imap4.UID]string // UID -> token read from it
}

func (l *concurrentLog) record(m map[imap4.UID]string, uid imap4.UID, token string) (previous string, dup bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	previous, dup = m[uid]
	if !dup {
		m[uid] = token
	}
	return previous, dup
}

// Fifty sessions append, change flags, expunge, read and watch one
// mailbox at once. Every session's view, kept with Sync deltas, ends equal
// to a fresh Sync(0); UIDs are unique; no read returns another message's
// content.
func concurrencySessions(e *env, b imap4.Backend) {
	sessions, ops := 50, 15
	if testing.Short() {
		sessions, ops = 10, 5
	}
	setup := e.open(e.user(Alice), "INBOX")
	e.appendN(setup, 10)

	log := &concurrentLog{appended: make(map[imap4.UID]string), read: make(map[imap4.UID]string)}
	views := make([]*view, sessions)
	for i := range views {
		u, err := b.OpenUser(e.ctx, auth.Identity{Username: Alice})
		require.NoError(e.t, err, "OpenUser")
		e.t.Cleanup(func() { assert.NoError(e.t, u.Close(), "User.Close") })
		mb := e.open(u, "INBOX")
		views[i] = &view{t: e.t, name: fmt.Sprintf("session %d", i), mb: mb}
		require.True(e.t, views[i].update(e), "initial Sync")
	}

	stop := make(chan struct{})
	var writers, watchers sync.WaitGroup
	for i, v := range views {
		if i%5 == 4 {
			watchers.Go(func() { watchLoop(e, v, stop) })
			continue
		}
		writers.Go(func() {
			for j := range ops {
				if !v.update(e) {
					return
				}
				switch i % 5 {
				case 0:
					appendOne(e, v, log, fmt.Sprintf("s%d-%d", i, j))
				case 1:
					flagSome(e, v, i+j)
				case 2:
					expungeOne(e, v, i+j)
				case 3:
					readSome(e, v, log)
				}
			}
		})
	}
	writers.Wait()
	close(stop)
	watchers.Wait()
	if e.t.Failed() {
		return
	}

	for _, v := range views {
		require.True(e.t, v.update(e), "final Sync")
		full := e.sync(v.mb, 0)
		assert.Equal(e.t, metaUIDs(full.Messages), v.uids(), "%s: view kept with Sync deltas differs from Sync(0)", v.name)
		for _, m := range full.Messages {
			vm := v.msgs[m.UID]
			assert.ElementsMatch(e.t, m.Flags, vm.Flags, "%s: flags of UID %d in the view", v.name, m.UID)
			assert.Equal(e.t, m.ModSeq, vm.ModSeq, "%s: ModSeq of UID %d in the view", v.name, m.UID)
		}
		assert.Equal(e.t, full.MailboxStatus, v.status, "%s: counters", v.name)
	}
	for uid, token := range log.read {
		if want, ok := log.appended[uid]; ok {
			assert.Equal(e.t, want, token, "UID %d read with another message's content", uid)
		}
	}
}

// watchLoop keeps a view up to date on every Watch signal until stop.
func watchLoop(e *env, v *view, stop <-chan struct{}) {
	ch := v.mb.Watch()
	for {
		select {
		case <-stop:
			return
		case _, ok := <-ch:
			if !ok {
				assert.Fail(v.t, "Watch channel closed while the mailbox is open", v.name)
				return
			}
			if !v.update(e) {
				return
			}
		}
	}
}

func appendOne(e *env, v *view, log *concurrentLog, token string) {
	res, err := v.mb.Append(e.ctx, strings.NewReader(message(token)), nil)
	if !assert.NoError(v.t, err, "%s: Append", v.name) {
		return
	}
	assert.Equal(v.t, v.status.UIDValidity, res.UIDValidity, "%s: AppendResult.UIDValidity", v.name)
	assert.GreaterOrEqual(v.t, res.UID, v.status.UIDNext, "%s: appended UID below the UIDNEXT seen before", v.name)
	if prev, dup := log.record(log.appended, res.UID, token); dup {
		assert.Fail(v.t, "UID given twice", "%s: UID %d given to %q and %q", v.name, res.UID, prev, token)
	}
}

func flagSome(e *env, v *view, seed int) {
	uids := v.uids()
	if len(uids) == 0 {
		return
	}
	pick := []imap4.UID{uids[seed%len(uids)], uids[(seed*7)%len(uids)]}
	ops := []imap4.StoreOp{imap4.StoreAdd, imap4.StoreRemove, imap4.StoreReplace}
	flags := [][]string{{imap4.FlagSeen}, {imap4.FlagFlagged, "$Label"}, {imap4.FlagAnswered}}
	res, err := v.mb.SetFlags(e.ctx, pick, ops[seed%3], flags[(seed/3)%3], nil)
	if assert.NoError(v.t, err, "%s: SetFlags", v.name) {
		for _, m := range res.Updated {
			assert.Greater(v.t, m.ModSeq, v.status.HighestModSeq, "%s: ModSeq of an update not above the HIGHESTMODSEQ seen before it", v.name)
		}
	}
}

func expungeOne(e *env, v *view, seed int) {
	uids := v.uids()
	if len(uids) < 5 { // keep some messages for the readers
		return
	}
	pick := []imap4.UID{uids[seed%len(uids)]}
	if _, err := v.mb.SetFlags(e.ctx, pick, imap4.StoreAdd, []string{imap4.FlagDeleted}, nil); !assert.NoError(v.t, err, "%s: SetFlags", v.name) {
		return
	}
	gone, err := v.mb.Expunge(e.ctx, pick)
	if assert.NoError(v.t, err, "%s: Expunge", v.name) {
		assert.Subset(v.t, pick, gone, "%s: Expunge returned UIDs not asked for", v.name)
	}
}

func readSome(e *env, v *view, log *concurrentLog) {
	for _, uid := range v.uids() {
		m, err := v.mb.Open(e.ctx, uid)
		if errors.Is(err, imap4.ErrNoSuchMessage) {
			continue // expunged by another session meanwhile
		}
		if !assert.NoError(v.t, err, "%s: Open(%d)", v.name, uid) {
			return
		}
		data, err := readAll(m)
		assert.NoError(v.t, m.Close(), "Message.Close")
		if !assert.NoError(v.t, err, "%s: reading UID %d", v.name, uid) {
			return
		}
		if token, ok := subjectOf(data); ok {
			log.record(log.read, uid, token)
		}
		if size := v.msgs[uid].Size; size != 0 {
			assert.Equal(v.t, size, int64(len(data)), "%s: size of UID %d", v.name, uid)
		}
	}
}

// subjectOf returns the Subject of a message made by message().
func subjectOf(data []byte) (string, bool) {
	_, rest, ok := bytes.Cut(data, []byte("\r\nSubject: "))
	if !ok {
		return "", false
	}
	subject, _, ok := bytes.Cut(rest, []byte("\r\n"))
	return string(subject), ok
}

// What Sync returned to one session does not change when other sessions
// change the mailbox (the frontend keeps it as its snapshot).
func concurrencySnapshotStable(e *env, _ imap4.Backend) {
	a := e.open(e.user(Alice), "INBOX")
	b := e.open(e.user(Alice), "INBOX")
	uids := e.appendN(a, 4)
	e.setFlags(a, uids[:2], imap4.StoreAdd, imap4.FlagSeen)
	snap := e.sync(a, 0)
	want := deepCopy(snap)

	e.setFlags(b, uids, imap4.StoreAdd, imap4.FlagFlagged, "$New")
	e.setFlags(b, uids[:1], imap4.StoreRemove, imap4.FlagSeen)
	e.setFlags(b, uids[1:2], imap4.StoreReplace, imap4.FlagAnswered)
	e.expunge(b, uids[2:3])
	e.appendN(b, 2)
	assert.Equal(e.t, want, snap, "SyncData returned earlier was modified by later changes")
}

func deepCopy(d *imap4.SyncData) *imap4.SyncData {
	c := *d
	c.Messages = slices.Clone(d.Messages)
	for i := range c.Messages {
		c.Messages[i].Flags = slices.Clone(c.Messages[i].Flags)
	}
	c.Expunged = slices.Clone(d.Expunged)
	return &c
}

// A message expunged by another session is never read as another
// message's content: an open Message keeps its content or fails, and Open
// of the UID fails with ErrNoSuchMessage or returns the same content.
func concurrencyOpenAfterExpunge(e *env, _ imap4.Backend) {
	a := e.open(e.user(Alice), "INBOX")
	b := e.open(e.user(Alice), "INBOX")
	uids := e.appendN(a, 3)
	want := message("message 2")
	msg, err := a.Open(e.ctx, uids[1])
	require.NoError(e.t, err, "Open")
	defer msg.Close()

	e.expunge(b, uids[1:2])
	e.append(b, message("newcomer with a longer subject than the others"), nil)

	if data, err := readAll(msg); err == nil {
		assert.Equal(e.t, want, string(data), "content of a Message opened before its expunge")
	}
	m, err := a.Open(e.ctx, uids[1])
	if err != nil {
		errorIs(e.t, err, imap4.ErrNoSuchMessage, "Open of a UID expunged by another session")
		return
	}
	defer m.Close()
	if data, err := readAll(m); err == nil {
		assert.Equal(e.t, want, string(data), "Open of a UID expunged by another session returned other content")
	}
}

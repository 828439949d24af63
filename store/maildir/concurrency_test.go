package maildir_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/pop3"
	"github.com/mailfront/mailfront/store/maildir"
)

func concBody(id string) string { return msg("conc "+id, "body of "+id) }

// concID returns the id of a message written by concBody, or "".
func concID(content string) string {
	var id string
	if _, err := fmt.Sscanf(content, "From: a@example.org\r\nTo: b@example.org\r\nSubject: conc %s\r\n", &id); err != nil || concBody(id) != content {
		return ""
	}
	return id
}

// M6 and I10 on disk: sessions append, flag, expunge, copy, read and sync
// one INBOX in parallel while deliveries arrive and POP3 deletes, under
// the race detector. UIDs are unique and ascending, UIDNEXT and
// HIGHESTMODSEQ never go down for any observer, and a message read is
// always the message its UID was given to, or gone.
func TestConcurrentSessions(t *testing.T) {
	s := &maildir.Store{Root: t.TempDir(), PollInterval: 5 * time.Millisecond}
	t.Cleanup(func() { s.Close() })
	const user = "lee@example.org"
	require.NoError(t, s.CreateUser(ctx, user))
	var mu sync.Mutex
	owner := map[imap4.UID]string{} // UID -> id, for appends
	var wg sync.WaitGroup
	const sessions, ops = 10, 25
	for i := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			u, err := s.OpenUser(ctx, ident(user))
			if !assert.NoError(t, err) {
				return
			}
			defer u.Close()
			mb, err := u.OpenMailbox(ctx, "INBOX")
			if !assert.NoError(t, err) {
				return
			}
			defer mb.Close()
			var lastNext imap4.UID
			var lastMod imap4.ModSeq
			for j := range ops {
				drain(mb.Watch())
				sd, err := mb.Sync(ctx, 0)
				if !assert.NoError(t, err) {
					return
				}
				assert.GreaterOrEqual(t, sd.UIDNext, lastNext, "UIDNEXT went down")
				assert.GreaterOrEqual(t, sd.HighestModSeq, lastMod, "HIGHESTMODSEQ went down")
				lastNext, lastMod = sd.UIDNext, sd.HighestModSeq
				uids := metaUIDs(sd.Messages)
				for k := 1; k < len(uids); k++ {
					assert.Less(t, uids[k-1], uids[k], "UIDs not ascending")
				}
				pick := func() []imap4.UID {
					if len(uids) == 0 {
						return nil
					}
					return []imap4.UID{uids[rng.IntN(len(uids))]}
				}
				switch rng.IntN(6) {
				case 0, 1:
					id := fmt.Sprintf("s%d-%d", i, j)
					res, err := mb.Append(ctx, strings.NewReader(concBody(id)), nil)
					if assert.NoError(t, err) {
						mu.Lock()
						_, dup := owner[res.UID]
						assert.False(t, dup, "UID %d given twice", res.UID)
						owner[res.UID] = id
						mu.Unlock()
					}
				case 2:
					_, err := mb.SetFlags(ctx, pick(), imap4.StoreAdd, []string{imap4.FlagSeen, fmt.Sprintf("k%d", rng.IntN(3))}, nil)
					assert.NoError(t, err)
				case 3:
					p := pick()
					_, err := mb.SetFlags(ctx, p, imap4.StoreAdd, []string{imap4.FlagDeleted}, nil)
					assert.NoError(t, err)
					_, err = mb.Expunge(ctx, p)
					assert.NoError(t, err)
				case 4:
					_, err := mb.CopyTo(ctx, pick(), "Trash")
					assert.NoError(t, err)
				case 5:
					for _, uid := range pick() {
						m, err := mb.Open(ctx, uid)
						if errors.Is(err, imap4.ErrNoSuchMessage) {
							continue
						}
						if !assert.NoError(t, err) {
							continue
						}
						buf := make([]byte, m.Size())
						_, err = m.ReadAt(buf, 0)
						assert.NoError(t, err)
						m.Close()
						id := concID(string(buf))
						assert.NotEmpty(t, id, "UID %d: unknown content", uid)
						mu.Lock()
						if want, ok := owner[uid]; ok {
							assert.Equal(t, want, id, "UID %d holds another message", uid)
						}
						mu.Unlock()
					}
				}
			}
		}()
	}
	wg.Add(2)
	go func() { // deliveries
		defer wg.Done()
		for j := range 20 {
			assert.NoError(t, s.Submit(ctx, envelope(user), strings.NewReader(concBody(fmt.Sprintf("d-%d", j)))))
		}
	}()
	go func() { // POP3 sessions deleting one message each
		defer wg.Done()
		for range 5 {
			md, err := s.OpenMaildrop(ctx, ident(user))
			if errors.Is(err, pop3.ErrMaildropLocked) {
				continue
			}
			if !assert.NoError(t, err) {
				return
			}
			list, err := md.Messages(ctx)
			assert.NoError(t, err)
			if len(list) > 0 {
				assert.NoError(t, md.Delete(ctx, []string{list[0].UID}))
			}
			assert.NoError(t, md.Close())
		}
	}()
	wg.Wait()
	require.NoError(t, s.Close())

	// After a restart everything is consistent and readable.
	s2 := &maildir.Store{Root: s.Root, PollInterval: -1}
	t.Cleanup(func() { s2.Close() })
	mb := openMailbox(t, openUser(t, s2, user), "INBOX")
	sd := syncAll(t, mb)
	for _, m := range sd.Messages {
		content := readMsg(t, mb, m.UID)
		id := concID(content)
		assert.NotEmpty(t, id)
		if want, ok := owner[m.UID]; ok {
			assert.Equal(t, want, id)
		}
	}
}

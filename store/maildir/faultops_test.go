package maildir_test

import (
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/store/maildir"
)

// folderState is the content of a folder: message bodies with flags.
type folderState map[string][]string

func stateOf(t *testing.T, mb imap4.Mailbox) folderState {
	t.Helper()
	st := folderState{}
	for _, m := range syncAll(t, mb).Messages {
		body := readMsg(t, mb, m.UID)
		_, dup := st[body]
		require.False(t, dup, "a message twice in one folder")
		fl := slices.Clone(m.Flags)
		slices.Sort(fl)
		st[body] = fl
	}
	return st
}

// M4 for the other operations: when a rename, link, removal, directory
// fsync or journal write fails, the operation fails and the store stays
// consistent, now and after a restart: flag changes and copies are undone,
// a message being moved is in exactly one of the two folders, and nothing
// is lost that was not being expunged.
func TestFaultOps(t *testing.T) {
	type op struct {
		name string
		run  func(inbox imap4.Mailbox, uids []imap4.UID) error
		// unchanged: a failure leaves both folders as they were.
		unchanged bool
	}
	ops := []op{
		{"SetFlags", func(mb imap4.Mailbox, uids []imap4.UID) error {
			_, err := mb.SetFlags(ctx, uids, imap4.StoreAdd, []string{imap4.FlagFlagged, "NewKeyword"}, nil)
			return err
		}, true},
		{"CopyTo", func(mb imap4.Mailbox, uids []imap4.UID) error {
			_, err := mb.CopyTo(ctx, uids, "Work")
			return err
		}, true},
		{"MoveTo", func(mb imap4.Mailbox, uids []imap4.UID) error {
			_, err := mb.(imap4.Mover).MoveTo(ctx, uids, "Work")
			return err
		}, false},
		{"Expunge", func(mb imap4.Mailbox, uids []imap4.UID) error {
			_, err := mb.Expunge(ctx, uids)
			return err
		}, false},
	}
	type failFunc = func(op, p string) error
	faults := []struct {
		name string
		fail func() failFunc
	}{
		{"JournalWrite", func() failFunc {
			return func(op, p string) error {
				return when(op == "write" && strings.HasSuffix(p, "mailfront-index.log"), syscall.ENOSPC)
			}
		}},
		{"JournalSync", func() failFunc {
			return func(op, p string) error {
				return when(op == "sync" && strings.HasSuffix(p, "mailfront-index.log"), syscall.EIO)
			}
		}},
		{"DirSync", func() failFunc {
			return func(op, p string) error { return when(op == "syncdir" && strings.HasSuffix(p, "/cur"), syscall.EIO) }
		}},
		{"SecondRenameOrLink", func() failFunc {
			// The second rename, link or removal in cur/ fails, and so
			// does, afterwards, the data copy a failed link falls back to.
			n := 0
			return func(op, p string) error {
				if (op == "rename" || op == "link" || op == "remove") && strings.Contains(p, "/cur/") {
					n++
					return when(n == 2, syscall.EIO)
				}
				return when(n >= 2 && op == "open" && strings.Contains(p, "/tmp/"), syscall.ENOSPC)
			}
		}},
	}
	for _, o := range ops {
		for _, fl := range faults {
			t.Run(o.name+"/"+fl.name, func(t *testing.T) {
				root := t.TempDir()
				ffs := &faultFS{}
				s := &maildir.Store{Root: root, PollInterval: -1}
				maildir.SetFS(s, ffs)
				defer s.Close()
				u := openUser(t, s, "omar@example.org")
				require.NoError(t, u.CreateMailbox(ctx, "Work", nil))
				inbox := openMailbox(t, u, "INBOX")
				work := openMailbox(t, u, "Work")
				var uids []imap4.UID
				for i := range 4 {
					uids = append(uids, appendMsg(t, inbox, msg("fault", string(rune('a'+i))), imap4.FlagDeleted))
				}
				appendMsg(t, work, msg("work", "already there"))
				before := map[string]folderState{"INBOX": stateOf(t, inbox), "Work": stateOf(t, work)}

				ffs.setFail(fl.fail())
				err := o.run(inbox, uids[:3])
				ffs.setFail(nil)
				require.Error(t, err)

				check := func(t *testing.T, inbox, work imap4.Mailbox) {
					after := map[string]folderState{"INBOX": stateOf(t, inbox), "Work": stateOf(t, work)}
					if o.unchanged {
						assert.Equal(t, before, after)
						return
					}
					// Every message is somewhere exactly once (moved or
					// not), unless it was being expunged.
					for body := range before["INBOX"] {
						_, inInbox := after["INBOX"][body]
						_, inWork := after["Work"][body]
						being := strings.Contains(body, "Subject: fault\r") && !strings.Contains(body, "\r\nd\r\n")
						switch o.name {
						case "MoveTo":
							assert.True(t, inInbox != inWork || (!being && inInbox && !inWork), "message in %v/%v", inInbox, inWork)
						case "Expunge":
							assert.False(t, inWork)
							if !being {
								assert.True(t, inInbox, "a message not being expunged is lost")
							}
						}
					}
				}
				check(t, inbox, work)
				require.NoError(t, inbox.Close())
				require.NoError(t, work.Close())
				require.NoError(t, u.Close())
				require.NoError(t, s.Close())

				s2 := &maildir.Store{Root: root, PollInterval: -1}
				defer s2.Close()
				u2 := openUser(t, s2, "omar@example.org")
				check(t, openMailbox(t, u2, "INBOX"), openMailbox(t, u2, "Work"))
			})
		}
	}
}

package maildir_test

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/store/maildir"
)

// watchTimeout bounds the wait for a Watch signal; a correct store signals
// within a poll interval, the bound only keeps a broken one from hanging.
const watchTimeout = 30 * time.Second

func waitWatch(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case _, ok := <-ch:
		require.True(t, ok, "Watch channel closed (%s)", what)
	case <-time.After(watchTimeout):
		t.Fatalf("Watch not signalled (%s)", what)
	}
}

func drain(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// deliverFile writes a message file as another program would: in tmp/,
// then renamed into dir (new/ or cur/).
func deliverFile(t *testing.T, folderDir, sub, name, content string) string {
	t.Helper()
	tmp := filepath.Join(folderDir, "tmp", name)
	require.NoError(t, os.WriteFile(tmp, []byte(content), 0o600))
	dst := filepath.Join(folderDir, sub, name)
	require.NoError(t, os.Rename(tmp, dst))
	return dst
}

func curFiles(t *testing.T, folderDir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(folderDir, "cur"))
	require.NoError(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func toCRLF(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}

// Messages written into new/ and cur/ by other programs (bare LF, info
// flags) appear to a watching session without a restart, with the right
// flags, CRLF content and CRLF sizes; renames by other programs change
// flags without renumbering; removals are expunges.
func TestInteropOtherPrograms(t *testing.T) {
	s := &maildir.Store{Root: t.TempDir(), PollInterval: 20 * time.Millisecond}
	t.Cleanup(func() { s.Close() })
	u := openUser(t, s, "carol@example.org")
	mb := openMailbox(t, u, "INBOX")
	own := appendMsg(t, mb, msg("own", "appended over IMAP"))
	root, err := s.UserDir("carol@example.org")
	require.NoError(t, err)
	w := mb.Watch()
	drain(w)

	lf := "From: postfix@example.org\nSubject: delivered by postfix\n\nline one\nline two\n"
	deliverFile(t, root, "new", "1700000000.V801I1M1.mx", lf)
	mixed := "Subject: mutt\r\n\nbare\rcr\r\nand\n"
	deliverFile(t, root, "cur", "1700000001.V801I2M2.laptop:2,FS", mixed)
	waitWatch(t, w, "files written into new/ and cur/")

	sd := syncAll(t, mb)
	require.Len(t, sd.Messages, 3)
	assert.Equal(t, own, sd.Messages[0].UID)
	byUID := map[imap4.UID]imap4.MessageMeta{}
	for _, m := range sd.Messages {
		byUID[m.UID] = m
	}
	// Adoption order is by name; both get UIDs above the appended one.
	postfix, muttMsg := sd.Messages[1], sd.Messages[2]
	assert.Greater(t, postfix.UID, own)
	assert.Empty(t, postfix.Flags)
	assert.ElementsMatch(t, []string{imap4.FlagFlagged, imap4.FlagSeen}, muttMsg.Flags)
	assert.Equal(t, int64(len(toCRLF(lf))), postfix.Size)
	assert.Equal(t, toCRLF(lf), readMsg(t, mb, postfix.UID))
	wantMixed := "Subject: mutt\r\n\r\nbare\rcr\r\nand\r\n"
	assert.Equal(t, int64(len(wantMixed)), muttMsg.Size)
	assert.Equal(t, wantMixed, readMsg(t, mb, muttMsg.UID))
	assert.Equal(t, sd.Size, int64(len(msg("own", "appended over IMAP"))+len(toCRLF(lf))+len(wantMixed)))

	// Partial reads at every offset agree with the whole.
	m, err := mb.Open(ctx, postfix.UID)
	require.NoError(t, err)
	whole := toCRLF(lf)
	for off := 0; off <= len(whole); off++ {
		for _, n := range []int{1, 2, 5, 100} {
			buf := make([]byte, n)
			k, err := m.ReadAt(buf, int64(off))
			want := whole[off:min(len(whole), off+n)]
			assert.Equal(t, want, string(buf[:k]), "ReadAt(%d bytes at %d)", n, off)
			if off+n > len(whole) {
				assert.ErrorIs(t, err, io.EOF)
			}
		}
	}
	require.NoError(t, m.Close())

	// The new/ file moved to cur/, with its UID and sizes in its name.
	names := curFiles(t, root)
	require.Len(t, names, 3)
	entries, err := os.ReadDir(filepath.Join(root, "new"))
	require.NoError(t, err)
	assert.Empty(t, entries, "new/ after adoption")
	var adopted string
	for _, n := range names {
		if strings.HasPrefix(n, "1700000000.V801I1M1.mx,") {
			adopted = n
		}
	}
	require.NotEmpty(t, adopted, "adopted file in %v", names)
	v, uid, ok := maildir.ParseFieldsUID(strings.SplitN(adopted, ":", 2)[0])
	require.True(t, ok, adopted)
	assert.Equal(t, sd.UIDValidity, v)
	assert.Equal(t, uint32(postfix.UID), uid)
	assert.Contains(t, adopted, ",S=", "physical size in the name")
	assert.Contains(t, adopted, ",W=", "CRLF size in the name")

	// mutt marks the postfix message seen and replied: a rename of the
	// info suffix. The UID stays; the flags and the modseq change.
	drain(w)
	require.NoError(t, os.Rename(filepath.Join(root, "cur", adopted), filepath.Join(root, "cur", strings.SplitN(adopted, ":", 2)[0]+":2,RS")))
	waitWatch(t, w, "a rename by another program")
	d := mustSync(t, mb, sd.HighestModSeq)
	require.Len(t, d.Messages, 1)
	assert.Equal(t, postfix.UID, d.Messages[0].UID)
	assert.ElementsMatch(t, []string{imap4.FlagAnswered, imap4.FlagSeen}, d.Messages[0].Flags)
	assert.Empty(t, d.Expunged)

	// mbsync-style rename of the unique part keeping the MF tag.
	drain(w)
	names = curFiles(t, root)
	for _, n := range names {
		if strings.HasPrefix(n, "1700000000.V801I1M1.mx,") {
			base, _, _ := strings.Cut(n, ":")
			require.NoError(t, os.Rename(filepath.Join(root, "cur", n), filepath.Join(root, "cur", base+",U=77:2,RS")))
		}
	}
	// Reading finds the file under its new name (the old one is gone).
	assert.Equal(t, toCRLF(lf), readMsg(t, mb, postfix.UID))
	before := syncAll(t, mb)
	assert.Equal(t, sd.UIDValidity, before.UIDValidity)
	assert.Equal(t, metaUIDs(sd.Messages), metaUIDs(before.Messages), "UIDs after a rename of the unique part")
	assert.Len(t, curFiles(t, root), 3, "files in cur/")

	// Another program deletes a message: it is expunged.
	drain(w)
	for _, n := range curFiles(t, root) {
		if strings.HasPrefix(n, "1700000001.V801I2M2.laptop") {
			require.NoError(t, os.Remove(filepath.Join(root, "cur", n)))
		}
	}
	waitWatch(t, w, "a deletion by another program")
	d = mustSync(t, mb, before.HighestModSeq)
	assert.Equal(t, []imap4.UID{muttMsg.UID}, d.Expunged)
	_, err = mb.Open(ctx, muttMsg.UID)
	assert.ErrorIs(t, err, imap4.ErrNoSuchMessage)

	// Flags set over IMAP are visible to other programs in the name.
	_, err = mb.SetFlags(ctx, []imap4.UID{own}, imap4.StoreReplace, []string{imap4.FlagDraft, imap4.FlagDeleted, "$Forwarded", "Work"}, nil)
	require.NoError(t, err)
	found := false
	for _, n := range curFiles(t, root) {
		v, uid, ok := maildir.ParseFieldsUID(strings.SplitN(n, ":", 2)[0])
		if ok && v == sd.UIDValidity && imap4.UID(uid) == own {
			found = true
			assert.True(t, strings.HasSuffix(n, ":2,DPTab"), "name %q: want the info suffix :2,DPTab (a: $Forwarded, b: Work)", n)
		}
	}
	assert.True(t, found, "appended message's file")
	kw, err := os.ReadFile(filepath.Join(root, "dovecot-keywords"))
	require.NoError(t, err)
	assert.Equal(t, "0 $Forwarded\n1 Work\n", string(kw), "the letters' keywords, for Dovecot (which knows P as no flag) and for a rebuild")
}

func mustSync(t *testing.T, mb imap4.Mailbox, since imap4.ModSeq) *imap4.SyncData {
	t.Helper()
	d, err := mb.Sync(ctx, since)
	require.NoError(t, err)
	return d
}

func metaUIDs(ms []imap4.MessageMeta) []imap4.UID {
	out := make([]imap4.UID, len(ms))
	for i, m := range ms {
		out[i] = m.UID
	}
	return out
}

// A Maildir made entirely by another program (no mailfront files) is
// adopted on first use: every message gets a UID in name order, its flags
// from the info suffix, and the folders are listed.
func TestInteropExistingMaildir(t *testing.T) {
	s := newStore(t)
	root, err := s.UserDir("dave@example.org")
	require.NoError(t, err)
	for _, d := range []string{"cur", "new", "tmp", ".Lists/cur", ".Lists/new", ".Lists/tmp", ".Lists.Go/cur", ".Lists.Go/new", ".Lists.Go/tmp"} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, d), 0o700))
	}
	deliverFile(t, root, "cur", "1600000000.A.host:2,S", "Subject: a\n\nA\n")
	deliverFile(t, root, "cur", "1600000001.B.host:2,", "Subject: b\n\nB\n")
	deliverFile(t, root, "new", "1600000002.C.host", "Subject: c\n\nC\n")
	deliverFile(t, filepath.Join(root, ".Lists.Go"), "cur", "1600000003.D.host:2,RS", "Subject: d\n\nD\n")
	// Not messages: hidden files, a directory, a file in tmp/.
	require.NoError(t, os.WriteFile(filepath.Join(root, "cur", ".hidden"), []byte("x"), 0o600))
	require.NoError(t, os.Mkdir(filepath.Join(root, "cur", "adir"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(root, "tmp", "inprogress"), []byte("Subject: partial"), 0o600))

	u := openUser(t, s, "dave@example.org")
	mb := openMailbox(t, u, "INBOX")
	sd := syncAll(t, mb)
	require.Len(t, sd.Messages, 3)
	assert.Equal(t, []imap4.UID{1, 2, 3}, metaUIDs(sd.Messages))
	assert.Equal(t, []string{imap4.FlagSeen}, sd.Messages[0].Flags)
	assert.Empty(t, sd.Messages[1].Flags)
	assert.Equal(t, "Subject: c\r\n\r\nC\r\n", readMsg(t, mb, 3))

	list, err := u.ListMailboxes(ctx)
	require.NoError(t, err)
	names := map[string]bool{}
	for _, mi := range list {
		names[mi.Name] = true
	}
	for _, want := range []string{"INBOX", "Lists", "Lists/Go", "Sent", "Drafts", "Trash", "Junk", "Archive"} {
		assert.True(t, names[want], "%q listed in %v", want, list)
	}
	goBox := openMailbox(t, u, "Lists/Go")
	gd := syncAll(t, goBox)
	require.Len(t, gd.Messages, 1)
	assert.ElementsMatch(t, []string{imap4.FlagAnswered, imap4.FlagSeen}, gd.Messages[0].Flags)
}

// A Maildir from Dovecot carries keywords as letters a-z in its file names,
// mapped by dovecot-keywords: the store reads them, keeps them true (a
// removed keyword's letter leaves the file name), and an index rebuilt
// from the file names has them again but never a removed one.
func TestInteropDovecotKeywords(t *testing.T) {
	root := t.TempDir()
	s := &maildir.Store{Root: root, PollInterval: -1}
	dir, err := s.UserDir("erin@example.org")
	require.NoError(t, err)
	for _, d := range []string{"cur", "new", "tmp"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, d), 0o700))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "dovecot-keywords"),
		[]byte("0 $Label1\n1 Junk\n3 $Forwarded\nnot a line\n30 TooFar\n4 bad(atom\n"), 0o600))
	deliverFile(t, dir, "cur", "1600000000.A.host:2,Sad", "Subject: a\n\nA\n")
	deliverFile(t, dir, "cur", "1600000001.B.host:2,b", "Subject: b\n\nB\n")
	deliverFile(t, dir, "cur", "1600000002.C.host:2,ez", "Subject: c\n\nC\n") // letters that map to nothing

	u, err := s.OpenUser(ctx, ident("erin@example.org"))
	require.NoError(t, err)
	mb, err := u.OpenMailbox(ctx, "INBOX")
	require.NoError(t, err)
	sd := syncAll(t, mb)
	require.Len(t, sd.Messages, 3)
	assert.ElementsMatch(t, []string{imap4.FlagSeen, "$Label1", "$Forwarded"}, sd.Messages[0].Flags)
	assert.ElementsMatch(t, []string{"Junk"}, sd.Messages[1].Flags)
	assert.Empty(t, sd.Messages[2].Flags)

	// $Label1 removed, a new keyword added: a's letter goes, "d" stays;
	// the new keyword gets the first free letter, c.
	_, err = mb.SetFlags(ctx, []imap4.UID{sd.Messages[0].UID}, imap4.StoreRemove, []string{"$label1"}, nil)
	require.NoError(t, err)
	_, err = mb.SetFlags(ctx, []imap4.UID{sd.Messages[1].UID}, imap4.StoreAdd, []string{"$Mine"}, nil)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"2,PSd", "2,bc", "2,ez"}, infoParts(t, filepath.Join(dir, "cur")), "$Forwarded is also the P flag")
	kw, err := os.ReadFile(filepath.Join(dir, "dovecot-keywords"))
	require.NoError(t, err)
	assert.Equal(t, "0 $Label1\n1 Junk\n2 $Mine\n3 $Forwarded\n", string(kw), "what the file could read, and the new one")
	require.NoError(t, mb.Close())
	require.NoError(t, u.Close())
	require.NoError(t, s.Close())

	// The index is lost: the rebuild reads the letters again.
	removeIndexFiles(t, dir)
	s = &maildir.Store{Root: root, PollInterval: -1}
	t.Cleanup(func() { s.Close() })
	mb = openMailbox(t, openUser(t, s, "erin@example.org"), "INBOX")
	sd = syncAll(t, mb)
	require.Len(t, sd.Messages, 3)
	assert.ElementsMatch(t, []string{imap4.FlagSeen, "$Forwarded"}, sd.Messages[0].Flags, "$Label1 does not come back")
	assert.ElementsMatch(t, []string{"Junk", "$Mine"}, sd.Messages[1].Flags, "keywords set through the store are kept too")

	// $Forwarded removed: P and its letter both go.
	_, err = mb.SetFlags(ctx, []imap4.UID{sd.Messages[0].UID}, imap4.StoreRemove, []string{"$Forwarded"}, nil)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"2,S", "2,bc", "2,ez"}, infoParts(t, filepath.Join(dir, "cur")))
}

// infoParts returns the info parts ("2,S") of the file names in dir.
func infoParts(t *testing.T, dir string) []string {
	var infos []string
	for _, n := range listDir(t, dir) {
		_, info, _ := strings.Cut(n, ":")
		infos = append(infos, info)
	}
	return infos
}

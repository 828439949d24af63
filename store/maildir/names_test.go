package maildir_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/store/maildir"
)

// The directory encoding of mailbox names: modified UTF-7 per level, "."
// inside a level encoded, "/" between levels becoming ".".
func TestFolderDirName(t *testing.T) {
	for _, tc := range []struct{ name, dir string }{
		{"INBOX", ""},
		{"Sent", ".Sent"},
		{"Work/2024", ".Work.2024"},
		{"a.b", ".a&AC4-b"},
		{"Q&A", ".Q&-A"},
		{"Entwürfe", ".Entw&APw-rfe"},
		{"日本語/メール", ".&ZeVnLIqe-.&MOEw,DDr-"},
		{".hidden", ".&AC4-hidden"},
		{"a..b", ".a&AC4ALg-b"},
		{"cur", ".cur"},
		{"INBOX/Sub", ".INBOX.Sub"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, err := maildir.FolderDirName(tc.name)
			require.NoError(t, err)
			assert.Equal(t, tc.dir, dir)
			if tc.dir == "" {
				return
			}
			name, ok := maildir.FolderName(dir)
			assert.True(t, ok)
			assert.Equal(t, tc.name, name)
		})
	}
	for _, bad := range []string{"", "/", "/abs", "a/", "a//b", ".", "..", "a/../b", "../../x", "INBOX/..", "a/./b", "a\x00b", "a\rb", "a\nb", "\x7f", strings.Repeat("x", 300), strings.Repeat("a/", 200) + "a", "\xff"} {
		_, err := maildir.FolderDirName(bad)
		assert.ErrorIs(t, err, imap4.ErrCannot, "%q", bad)
	}
	// Directories not in the canonical encoding are not mailboxes, so two
	// directories never show as one name.
	for _, dir := range []string{"cur", ".", "..", ".a..b", ".&AGE-", ".a&AC4", ".&AC4-&AC4-", ".INBOX", ".inbox", ".a/b", ".&2AA-"} {
		_, ok := maildir.FolderName(dir)
		assert.False(t, ok, "%q", dir)
	}
}

// User names map to one safe path element, case-insensitively.
func TestCanonicalUser(t *testing.T) {
	c, err := maildir.CanonicalUser("Alice@Example.ORG")
	require.NoError(t, err)
	assert.Equal(t, "alice@example.org", c)
	for _, bad := range []string{"", ".", "..", ".alice", "../alice", "a/b", `a\b`, "a:b", "a b", "a\x00b", "a\nb", "\xff", strings.Repeat("a", 201)} {
		_, err := maildir.CanonicalUser(bad)
		assert.Error(t, err, "%q", bad)
	}
}

// I7: hostile user and mailbox names are refused, and whatever is tried,
// nothing appears outside the user's own directory; "adm" cannot reach
// "admin" (whose name it prefixes).
func TestTraversal(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "mail")
	s := &maildir.Store{Root: root, PollInterval: -1}
	t.Cleanup(func() { s.Close() })

	for _, name := range []string{"../evil", "../../etc", "a/b", ".", "..", ".hidden", "", "x\x00y", "/abs"} {
		_, err := s.OpenUser(ctx, ident(name))
		assert.Error(t, err, "OpenUser(%q)", name)
		_, err = s.OpenMaildrop(ctx, ident(name))
		assert.Error(t, err, "OpenMaildrop(%q)", name)
	}
	admin := openUser(t, s, "admin")
	require.NoError(t, admin.CreateMailbox(ctx, "Secret", nil))
	adminBox := openMailbox(t, admin, "Secret")
	appendMsg(t, adminBox, msg("secret", "for admin only"))

	adm := openUser(t, s, "adm")
	hostile := []string{
		"../../x", "a/../../b", "/abs", "INBOX/..", "../admin", "../admin/Secret", "..",
		"../../../../../../tmp/x", "a\x00b", "a\rb", "a\nb",
		strings.Repeat("x", 4096), strings.Repeat("a/", 1000) + "a",
		"*", "%", "a/%/b",
	}
	for _, name := range hostile {
		_ = adm.CreateMailbox(ctx, name, nil)
		_ = adm.RenameMailbox(ctx, "Sent", name)
		_ = adm.DeleteMailbox(ctx, name)
		_, _ = adm.Status(ctx, name)
		if mb, err := adm.OpenMailbox(ctx, name); err == nil {
			mb.Close()
		}
		_ = adm.SetSubscribed(ctx, name, true)
	}
	for _, name := range []string{"../admin/Secret", "../admin", "admin/Secret", "/admin/Secret"} {
		_, err := adm.OpenMailbox(ctx, name)
		assert.Error(t, err, "adm opening %q", name)
	}
	list, err := adm.ListMailboxes(ctx)
	require.NoError(t, err)
	for _, mi := range list {
		assert.NotEqual(t, "Secret", mi.Name, "adm sees admin's mailbox")
	}

	// Everything on disk is under root/adm or root/admin.
	require.NoError(t, filepath.WalkDir(parent, func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		rel, _ := filepath.Rel(parent, p)
		if rel == "." || rel == "mail" {
			return nil
		}
		first := strings.SplitN(filepath.ToSlash(rel), "/", 3)
		assert.True(t, len(first) >= 2 && first[0] == "mail" && (first[1] == "adm" || first[1] == "admin"), "unexpected path %q", rel)
		return nil
	}))
	// And the folders of adm are exactly what its listing shows.
	ents, err := os.ReadDir(filepath.Join(root, "adm"))
	require.NoError(t, err)
	listed := map[string]bool{}
	for _, mi := range list {
		if dir, err := maildir.FolderDirName(mi.Name); err == nil {
			listed[dir] = true
		}
	}
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), ".") {
			assert.True(t, listed[e.Name()], "directory %q not listed", e.Name())
		}
	}
}

package memstore_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/store/memstore"
)

// FuzzMailboxName feeds arbitrary names to CreateMailbox: a name the store
// accepts has no empty, "." or ".." level and no control character, is
// listed, and can be opened, renamed and deleted.
func FuzzMailboxName(f *testing.F) {
	for _, seed := range []string{
		"INBOX", "inbox/x", "a/b/c", "../x", "a/../b", "/abs", "a//b", "a/", ".", "..",
		"nul\x00", "cr\r\nlf", "*", "%", "Ünïcödé", "\xff\xfe", strings.Repeat("x/", 200),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, name string) {
		s := memstore.New()
		ctx := t.Context()
		u, err := s.OpenUser(ctx, auth.Identity{Username: "fuzz"})
		if err != nil {
			t.Fatal(err)
		}
		if err := u.CreateMailbox(ctx, name, nil); err != nil {
			return
		}
		if !utf8.ValidString(name) {
			t.Fatalf("accepted invalid UTF-8 %q", name)
		}
		for _, level := range strings.Split(name, "/") {
			if level == "" || level == "." || level == ".." {
				t.Fatalf("accepted %q with level %q", name, level)
			}
		}
		for _, r := range name {
			if r < 0x20 || r == 0x7f || r == '*' || r == '%' {
				t.Fatalf("accepted %q with %q", name, r)
			}
		}
		listed := false
		list, err := u.ListMailboxes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, mi := range list {
			if strings.EqualFold(mi.Name, name) && !mi.NoSelect {
				listed = true
			}
		}
		if !listed {
			t.Fatalf("created %q is not listed: %v", name, list)
		}
		mb, err := u.OpenMailbox(ctx, name)
		if err != nil {
			t.Fatalf("OpenMailbox(%q): %v", name, err)
		}
		mb.Close()
		if err := u.RenameMailbox(ctx, name, "renamed"); err != nil {
			t.Fatalf("RenameMailbox(%q): %v", name, err)
		}
		if err := u.DeleteMailbox(ctx, "renamed"); err != nil {
			t.Fatalf("DeleteMailbox: %v", err)
		}
	})
}

// FuzzFlags feeds arbitrary flags to SetFlags: an accepted flag is a valid
// atom and comes back in Flags (in its first or canonical spelling).
func FuzzFlags(f *testing.F) {
	for _, seed := range []string{`\Seen`, `\seen`, "$Label", "a b", "", `\`, "x)", "ü", `\Recent`, "a\\b"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, flag string) {
		s := memstore.New()
		ctx := t.Context()
		u, err := s.OpenUser(ctx, auth.Identity{Username: "fuzz"})
		if err != nil {
			t.Fatal(err)
		}
		mb, err := u.OpenMailbox(ctx, "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		defer mb.Close()
		res, err := mb.Append(ctx, strings.NewReader("Subject: x\r\n\r\n"), nil)
		if err != nil {
			t.Fatal(err)
		}
		sr, err := mb.SetFlags(ctx, []imap4.UID{res.UID}, imap4.StoreAdd, []string{flag}, nil)
		if err != nil {
			return
		}
		if flag == "" || strings.ContainsAny(flag, " (){%*\"]\x00\r\n") {
			t.Fatalf("accepted flag %q", flag)
		}
		if len(sr.Updated) != 1 || len(sr.Updated[0].Flags) != 1 || !strings.EqualFold(sr.Updated[0].Flags[0], flag) {
			t.Fatalf("SetFlags(+%q) gave %+v", flag, sr.Updated)
		}
	})
}

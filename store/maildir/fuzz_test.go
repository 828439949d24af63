package maildir_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/internal/wire"
	"github.com/mailfront/mailfront/store/maildir"
)

// FuzzMailboxName checks that the directory encoding of mailbox names is
// a safe path element and round-trips, and that decoding any directory
// name gives a name that encodes back to it (injectivity).
func FuzzMailboxName(f *testing.F) {
	for _, s := range []string{"INBOX", "Sent", "Work/2024", "a.b", "Q&A", "Entwürfe", "日本語/メール", "../x", ".&AC4-", "&-", ".a&AC4-b", "a/b/c", "\xff\xfe", "&Jjo-", ".&2D3cAQ-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if dir, err := maildir.FolderDirName(s); err == nil && dir != "" {
			if dir[0] != '.' || strings.ContainsAny(dir, "/\x00") || len(dir) > 255 || dir == "." || dir == ".." {
				t.Fatalf("FolderDirName(%q) = %q: not a safe folder directory", s, dir)
			}
			if !strings.EqualFold(s, "INBOX") {
				name, ok := maildir.FolderName(dir)
				if !ok || name != s {
					t.Fatalf("FolderName(FolderDirName(%q) = %q) = %q, %v", s, dir, name, ok)
				}
			}
		}
		if name, ok := maildir.FolderName(s); ok {
			dir, err := maildir.FolderDirName(name)
			if err != nil || dir != s {
				t.Fatalf("FolderDirName(FolderName(%q) = %q) = %q, %v", s, name, dir, err)
			}
		}
	})
}

// FuzzFileName checks the parsing of Maildir file names: the info suffix
// round-trips through its canonical form, and the MF tag is found only
// when well formed.
func FuzzFileName(f *testing.F) {
	for _, s := range []string{
		"1700000000.M1P2Q3.host,S=12,W=14,MF=1700000000.42:2,FS",
		"1600000000.A.host:2,S", "x:2,", "x:1,abc", "x", "a,MF=0.1", "a,MF=1.0", "a,MF=4294967296.1",
		"a,S=-1,W=x", "a,,,MF=1.2,MF=3.4:2,ZYXabcT",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		base, info, _ := strings.Cut(name, ":")
		flags, extra := maildir.ParseInfo(info)
		canon := maildir.FormatInfo(flags, extra)
		if !strings.HasPrefix(canon, "2,") || strings.ContainsAny(canon, "/:") {
			t.Fatalf("FormatInfo gave %q", canon)
		}
		f2, e2 := maildir.ParseInfo(canon)
		if f2 != flags || maildir.FormatInfo(f2, e2) != canon {
			t.Fatalf("info %q -> %q does not round-trip", info, canon)
		}
		if v, uid, ok := maildir.ParseFieldsUID(base); ok && (v == 0 || uid == 0) {
			t.Fatalf("tag with zero in %q", base)
		}
	})
}

// indexSeeds returns the index files of a small real folder.
func indexSeeds(f *testing.F) (snapshot, journal []byte) {
	root := f.TempDir()
	s := &maildir.Store{Root: root, PollInterval: -1}
	u, err := s.OpenUser(ctx, ident("fuzz@example.org"))
	if err != nil {
		f.Fatal(err)
	}
	mb, err := u.OpenMailbox(ctx, "INBOX")
	if err != nil {
		f.Fatal(err)
	}
	var uids []imap4.UID
	for i := range 4 {
		res, err := mb.Append(ctx, strings.NewReader(msg("seed", string(rune('a'+i)))), &imap4.AppendOptions{Flags: []string{"Kw" + string(rune('a'+i))}})
		if err != nil {
			f.Fatal(err)
		}
		uids = append(uids, res.UID)
	}
	mb.SetFlags(ctx, uids[:2], imap4.StoreAdd, []string{imap4.FlagDeleted, imap4.FlagSeen}, nil)
	mb.Expunge(ctx, uids[:1])
	mb.Close()
	u.Close()
	dir, _ := s.UserDir("fuzz@example.org")
	snapshot, _ = os.ReadFile(filepath.Join(dir, "mailfront-index"))
	journal, _ = os.ReadFile(filepath.Join(dir, "mailfront-index.log"))
	s.Close()
	return snapshot, journal
}

// FuzzIndex feeds arbitrary snapshots and journals to the index decoder:
// it must never panic or allocate without bound, and what it accepts must
// encode back to the same bytes.
func FuzzIndex(f *testing.F) {
	snap, journal := indexSeeds(f)
	f.Add(snap, journal)
	f.Add(snap, []byte{})
	f.Add([]byte("MFIDX\x00\x01\n"), journal)
	f.Fuzz(func(t *testing.T, snapshot, journal []byte) {
		maildir.DecodeIndex(snapshot, journal)
		if ok, equal := maildir.EncodeDecodeRoundTrip(snapshot); ok && !equal {
			t.Fatalf("snapshot accepted but does not re-encode to the same bytes")
		}
	})
}

// FuzzCRLFReaderAt checks that reading a bare-LF file through the
// converting ReaderAt at any offset and length gives the bytes
// wire.CRLFReader gives.
func FuzzCRLFReaderAt(f *testing.F) {
	f.Add([]byte("a\nb\r\nc\rd\n\n"), uint16(3), uint16(4))
	f.Add([]byte("\n\n\n"), uint16(1), uint16(1))
	f.Add([]byte("\r\n\r\r\n\n"), uint16(0), uint16(9))
	f.Fuzz(func(t *testing.T, raw []byte, off, n uint16) {
		want, err := io.ReadAll(wire.NewCRLFReader(bytes.NewReader(raw)))
		if err != nil {
			t.Fatal(err)
		}
		r := maildir.NewCRLFReaderAt(bytes.NewReader(raw), int64(len(raw)), int64(len(want)))
		// Read twice: the second read uses the checkpoints of the first.
		for range 2 {
			buf := make([]byte, n)
			k, err := r.ReadAt(buf, int64(off))
			end := min(int(off)+int(n), len(want))
			var exp []byte
			if int(off) < len(want) {
				exp = want[off:end]
			}
			if !bytes.Equal(buf[:k], exp) {
				t.Fatalf("ReadAt(%d, %d) = %q, want %q", n, off, buf[:k], exp)
			}
			if k < int(n) && err == nil {
				t.Fatalf("short read without error")
			}
		}
	})
}

// FuzzDovecotKeywords: any dovecot-keywords file (written by another
// program) parses without panicking, and maps letters only to valid
// keywords.
func FuzzDovecotKeywords(f *testing.F) {
	f.Add([]byte("0 $Label1\n1 Junk\n3 $Forwarded\n"), "abcd")
	f.Add([]byte("25 z\n26 toofar\n-1 neg\n 2  spaced \nnoline"), "zyc")
	f.Add([]byte("0 bad(atom\n0 \x00\n"), "a")
	f.Fuzz(func(t *testing.T, data []byte, extra string) {
		for _, kw := range maildir.DovecotKeywords(data, extra) {
			if kw == "" || strings.ContainsAny(kw, " (){%*\"\\]\r\n") {
				t.Fatalf("invalid keyword %q", kw)
			}
		}
	})
}

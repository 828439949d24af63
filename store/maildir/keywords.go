package maildir

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"strings"
)

// dovecotKeywordsFile is where Dovecot keeps, per Maildir folder, the
// keywords that the letters a-z stand for in the info part of its file
// names ("0 $Label1" makes "a" mean $Label1).
const dovecotKeywordsFile = "dovecot-keywords"

// dovecotKeywords maps the letters a-z to keywords (empty: unused).
type dovecotKeywords [26]string

// maxDovecotKeywordsFile bounds the file read: 26 keywords of at most 255
// octets, with room for comments and odd lines.
const maxDovecotKeywordsFile = 64 << 10

// Keyword letters: as Dovecot does, the store writes a message's keywords
// into its file name as the letters a-z, mapped by the folder's
// dovecot-keywords file (the first 26 keywords of a folder get one). The
// index stays the truth while it is there; the letters let an index rebuilt
// from the file names keep the keywords, and let Dovecot and the store
// read each other's Maildirs. The file is written (durably) before any file
// name uses a letter it maps; letters that map nothing are dropped when a
// file is renamed, since they could come to mean a keyword later.

// dovecotKeywordsLocked returns the folder's keyword letters, reading the
// file the first time.
func (f *folder) dovecotKeywordsLocked() *dovecotKeywords {
	if f.dkw == nil {
		f.dkw = f.readDovecotKeywords()
	}
	return f.dkw
}

// lettersLocked returns the info letters for a message with flags sys and
// keywords kw whose file name had the letters extra: extra's letters that
// are not keyword letters, and the letters of its keywords and of
// $Forwarded while it has the P flag (Dovecot knows $Forwarded only as a
// keyword), giving a letter to a keyword without one while one is free.
// If dovecot-keywords cannot be written, the new keywords get no letter
// (they are still in the index).
func (f *folder) lettersLocked(extra string, sys sysFlags, kw []uint16) string {
	if len(kw) == 0 && sys&flagPassed == 0 && !hasKeywordLetters(extra) {
		return extra // the common case (a STORE of system flags): nothing to map
	}
	m := f.dovecotKeywordsLocked()
	names := make([]string, 0, len(kw)+1)
	if sys&flagPassed != 0 {
		// Dovecot shows P as no flag: $Forwarded gets a letter too.
		names = append(names, keywordForwarded)
	}
	for _, k := range kw {
		names = append(names, f.st.keywords[k])
	}
	next, grown := *m, false
	for _, name := range names {
		if next.letter(name) >= 0 {
			continue
		}
		for i := range next {
			if next[i] == "" {
				next[i], grown = name, true
				break
			}
		}
	}
	if grown {
		if err := writeFileAtomic(f.fs(), f.path(dovecotKeywordsFile), next.format()); err != nil {
			f.logger().LogAttrs(context.Background(), slog.LevelWarn, "maildir: writing dovecot-keywords; new keywords stay in the index only",
				slog.String("dir", f.dir), slog.Any("err", err))
		} else {
			*m = next
		}
	}
	out := make([]byte, 0, len(extra)+len(kw))
	for i := 0; i < len(extra); i++ {
		if c := extra[i]; c < 'a' || c > 'z' {
			out = append(out, c) // not a keyword letter: kept as it is
		}
	}
	for _, name := range names {
		if i := m.letter(name); i >= 0 {
			out = append(out, byte('a'+i))
		}
	}
	return string(out)
}

// letter returns the index of the letter standing for keyword name, or -1.
func (m *dovecotKeywords) letter(name string) int {
	for i, n := range m {
		if n != "" && strings.EqualFold(n, name) {
			return i
		}
	}
	return -1
}

// format renders the map as a dovecot-keywords file.
func (m *dovecotKeywords) format() []byte {
	var b []byte
	for i, n := range m {
		if n != "" {
			b = strconv.AppendInt(b, int64(i), 10)
			b = append(b, ' ')
			b = append(b, n...)
			b = append(b, '\n')
		}
	}
	return b
}

// readDovecotKeywords reads the folder's dovecot-keywords file. A missing or
// unreadable file maps nothing; lines that are not "N keyword" with N in
// 0..25 and a valid keyword are skipped.
func (f *folder) readDovecotKeywords() *dovecotKeywords {
	var m dovecotKeywords
	fh, err := f.fs().OpenFile(f.path(dovecotKeywordsFile), os.O_RDONLY, 0)
	var data []byte
	if err == nil {
		data, err = io.ReadAll(io.LimitReader(fh, maxDovecotKeywordsFile))
		fh.Close()
	}
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			f.logger().LogAttrs(context.Background(), slog.LevelWarn, "maildir: reading dovecot-keywords",
				slog.String("dir", f.dir), slog.Any("err", err))
		}
		return &m
	}
	return parseDovecotKeywords(data)
}

// parseDovecotKeywords parses the content of a dovecot-keywords file.
func parseDovecotKeywords(data []byte) *dovecotKeywords {
	var m dovecotKeywords
	if len(data) > maxDovecotKeywordsFile {
		data = data[:maxDovecotKeywordsFile]
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		num, name, ok := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		name = strings.TrimSpace(name)
		i, err := strconv.Atoi(num)
		if !ok || err != nil || i < 0 || i >= len(m) || !validKeyword(name) {
			continue
		}
		m[i] = name
	}
	return &m
}

// names returns the keywords that the letters a-z of extra (the info
// letters that are not system flags) stand for.
func (m *dovecotKeywords) names(extra string) []string {
	var out []string
	for i := 0; i < len(extra); i++ {
		if c := extra[i]; c >= 'a' && c <= 'z' && m[c-'a'] != "" {
			out = append(out, m[c-'a'])
		}
	}
	return out
}

// covers reports whether every letter a-z of extra stands for a keyword.
func (m *dovecotKeywords) covers(extra string) bool {
	for i := 0; i < len(extra); i++ {
		if c := extra[i]; c >= 'a' && c <= 'z' && m[c-'a'] == "" {
			return false
		}
	}
	return true
}

// hasKeywordLetters reports whether extra holds any of the letters a-z.
func hasKeywordLetters(extra string) bool {
	for i := 0; i < len(extra); i++ {
		if extra[i] >= 'a' && extra[i] <= 'z' {
			return true
		}
	}
	return false
}

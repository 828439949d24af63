package maildir

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"slices"
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

// Keyword letters: a Maildir written by Dovecot (or a program following
// it) carries keywords as letters a-z in its file names. The store reads
// them when it adopts such files, so keywords survive a move from Dovecot,
// and keeps them true afterwards: when a keyword is removed, its letter
// leaves the file name, so that an index rebuilt from the file names
// never brings it back. Keywords the store sets live in its index only.

// dovecotKeywordsLocked returns the folder's keyword letters, reading the
// file the first time.
func (f *folder) dovecotKeywordsLocked() *dovecotKeywords {
	if f.dkw == nil {
		f.dkw = f.readDovecotKeywords()
	}
	return f.dkw
}

// keepLettersLocked returns the info letters extra without the keyword
// letters whose keyword a message with flags sys and kw no longer has
// (letters that stand for no keyword are kept as they are).
func (f *folder) keepLettersLocked(extra string, sys sysFlags, kw []uint16) string {
	if !hasKeywordLetters(extra) {
		return extra
	}
	m := f.dovecotKeywordsLocked()
	out := make([]byte, 0, len(extra))
	for i := 0; i < len(extra); i++ {
		c := extra[i]
		if c >= 'a' && c <= 'z' && m[c-'a'] != "" {
			name := m[c-'a']
			if b := sysFlagOf(name); b != 0 { // $Forwarded, kept as P
				if sys&b == 0 {
					continue
				}
			} else if k, ok := f.kwIndex[lower(name)]; !ok || !slices.Contains(kw, uint16(k)) {
				continue
			}
		}
		out = append(out, c)
	}
	return string(out)
}

// readDovecotKeywords reads the folder's dovecot-keywords file. A missing or
// unreadable file maps nothing; lines that are not "N keyword" with N in
// 0..25 and a valid keyword are skipped.
func (f *folder) readDovecotKeywords() *dovecotKeywords {
	var m dovecotKeywords
	data, err := readFile(f.fs(), f.path(dovecotKeywordsFile))
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

// hasKeywordLetters reports whether extra holds any of the letters a-z.
func hasKeywordLetters(extra string) bool {
	for i := 0; i < len(extra); i++ {
		if extra[i] >= 'a' && extra[i] <= 'z' {
			return true
		}
	}
	return false
}

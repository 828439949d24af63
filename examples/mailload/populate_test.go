package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/store/maildir"
)

// readMaildir returns the files of dir/sub by name.
func readMaildir(t *testing.T, dir, sub string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, sub))
	require.NoError(t, err)
	out := map[string][]byte{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, sub, e.Name()))
		require.NoError(t, err)
		out[e.Name()] = b
	}
	return out
}

func runPopulate(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	require.NoError(t, populateCmd(args, &out))
	return out.String()
}

var sizesRE = regexp.MustCompile(`,S=(\d+),W=(\d+)(:2,[A-Z]*)?$`)

func TestPopulateDeterministic(t *testing.T) {
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	out := runPopulate(t, "-maildir", a, "-n", "200")
	assert.Contains(t, out, "wrote 200 messages")
	runPopulate(t, "-maildir", b, "-n", "200")
	runPopulate(t, "-maildir", c, "-n", "200", "-seed", "2")
	ma, mb, mc := readMaildir(t, a, "cur"), readMaildir(t, b, "cur"), readMaildir(t, c, "cur")
	require.Len(t, ma, 200)
	assert.Equal(t, ma, mb, "the same seed writes the same files")
	assert.NotEqual(t, ma, mc, "another seed writes other messages")

	// A larger population starts with the smaller one.
	d := t.TempDir()
	runPopulate(t, "-maildir", d, "-n", "250")
	md := readMaildir(t, d, "cur")
	for name, body := range ma {
		assert.Equal(t, body, md[name], "message %s", name)
	}
}

func TestPopulateShape(t *testing.T) {
	dir := t.TempDir()
	runPopulate(t, "-maildir", dir, "-n", "300")
	types := map[string]int{}
	flags := map[string]int{}
	needles := 0
	for name, body := range readMaildir(t, dir, "cur") {
		m := sizesRE.FindStringSubmatch(name)
		require.NotNil(t, m, "file name %s has S= and W= sizes and flags", name)
		assert.Equal(t, strconv.Itoa(len(body)), m[1], "S= is the file size")
		assert.Equal(t, m[1], m[2], "CRLF files: W= is S=")
		flags[m[3]]++
		assert.NotContains(t, strings.ReplaceAll(string(body), "\r\n", ""), "\n", "CRLF line endings only")

		msg, err := mail.ReadMessage(bufio.NewReader(bytes.NewReader(body)))
		require.NoError(t, err, "message %s parses", name)
		for _, h := range []string{"From", "To", "Subject", "Date", "Message-Id"} {
			assert.NotEmpty(t, msg.Header.Get(h), "%s of %s", h, name)
		}
		_, err = msg.Header.Date()
		assert.NoError(t, err)
		mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
		require.NoError(t, err)
		types[mt]++
		if strings.HasPrefix(mt, "multipart/") {
			assert.Contains(t, string(body), "\r\n--"+params["boundary"]+"--\r\n", "closing delimiter of %s", name)
		}
		if bytes.Contains(body, []byte(searchNeedle)) {
			needles++
		}
		info, err := os.Stat(filepath.Join(dir, "cur", name))
		require.NoError(t, err)
		date, _ := msg.Header.Date()
		assert.Equal(t, date.Unix(), info.ModTime().Unix(), "the mtime is the message date (the internal date)")
		io.Copy(io.Discard, msg.Body)
	}
	for _, mt := range []string{"text/plain", "multipart/alternative", "multipart/mixed"} {
		assert.Greater(t, types[mt], 20, "%s messages: %v", mt, types)
	}
	assert.Greater(t, flags[":2,S"], 150, "most are seen: %v", flags)
	assert.Positive(t, flags[":2,"], "some are unseen: %v", flags)
	assert.Positive(t, needles, "some hold %q", searchNeedle)
	assert.Less(t, needles, 20)
}

func TestPopulateLFAndNew(t *testing.T) {
	dir := t.TempDir()
	runPopulate(t, "-maildir", dir, "-n", "20", "-lf", "-new", "-folder", "Archive")
	box := filepath.Join(dir, ".Archive")
	assert.FileExists(t, filepath.Join(box, "maildirfolder"))
	files := readMaildir(t, box, "new")
	require.Len(t, files, 20)
	for name, body := range files {
		m := sizesRE.FindStringSubmatch(name)
		require.NotNil(t, m, name)
		assert.Empty(t, m[3], "no flags in new/")
		assert.NotContains(t, string(body), "\r")
		w, _ := strconv.Atoi(m[2])
		assert.Equal(t, len(body)+bytes.Count(body, []byte("\n")), w, "W= counts CRLF")
	}
}

// TestPopulateServed checks that the maildir store serves what populate
// wrote under an examples/mailserver data directory.
func TestPopulateServed(t *testing.T) {
	data := t.TempDir()
	const user = "Load@Example.org"
	runPopulate(t, "-data", data, "-user", user, "-n", "50")
	st := &maildir.Store{Root: filepath.Join(data, "mail"), PollInterval: -1}
	defer st.Close()
	u, err := st.OpenUser(t.Context(), auth.Identity{Username: user})
	require.NoError(t, err)
	defer u.Close()
	mb, err := u.OpenMailbox(t.Context(), "INBOX")
	require.NoError(t, err)
	defer mb.Close()
	sd, err := mb.Sync(t.Context(), 0)
	require.NoError(t, err)
	assert.Len(t, sd.Messages, 50)
}

func TestPopulateErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-maildir", "x", "-data", "y"},
		{"-data", "y"},
		{"-data", "y", "-user", "../evil"},
		{"-maildir", t.TempDir(), "-folder", "a.b"},
		{"-maildir", t.TempDir(), "-n", "-1"},
		{"-maildir", t.TempDir(), "extra"},
	} {
		t.Run(fmt.Sprint(args), func(t *testing.T) {
			assert.Error(t, populateCmd(args, io.Discard))
		})
	}
}

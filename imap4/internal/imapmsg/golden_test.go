package imapmsg_test

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/imap4/internal/imapmsg"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// loadMessage reads a testdata message. The files are stored with LF line
// endings; content given to a Backend has CRLF, so LF becomes CRLF.
func loadMessage(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
}

func parseBytes(t testing.TB, msg []byte) *imapmsg.Structure {
	t.Helper()
	s, err := imapmsg.Parse(bytes.NewReader(msg), int64(len(msg)))
	require.NoError(t, err)
	return s
}

func pathString(path []int) string {
	var parts []string
	for _, n := range path {
		parts = append(parts, strconv.Itoa(n))
	}
	return strings.Join(parts, ".")
}

func readSection(t testing.TB, s *imapmsg.Structure, msg []byte, sec imapmsg.Section) []byte {
	t.Helper()
	r, n, err := s.SectionReader(bytes.NewReader(msg), sec)
	require.NoError(t, err)
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	require.Equal(t, n, int64(len(b)), "section size of %+v", sec)
	return b
}

func short(b []byte) string {
	if len(b) > 72 {
		return strconv.Quote(string(b[:72])) + "..."
	}
	return strconv.Quote(string(b))
}

// render produces the golden text of a message: its ENVELOPE, BODY and
// BODYSTRUCTURE (also in UTF-8 mode when that differs), its Date, and
// every section it has.
func render(t testing.TB, msg []byte) string {
	return renderStructure(t, parseBytes(t, msg), msg)
}

// renderStructure is render for an already parsed (or decoded) Structure.
func renderStructure(t testing.TB, s *imapmsg.Structure, msg []byte) string {
	var b strings.Builder
	o := imapmsg.RenderOptions{}
	u := imapmsg.RenderOptions{UTF8: true}
	env := s.AppendEnvelope(nil, o)
	fmt.Fprintf(&b, "ENVELOPE %s\n", env)
	if envU := s.AppendEnvelope(nil, u); !bytes.Equal(env, envU) {
		fmt.Fprintf(&b, "ENVELOPE.UTF8 %s\n", envU)
	}
	fmt.Fprintf(&b, "BODY %s\n", s.AppendBodyStructure(nil, false, o))
	bs := s.AppendBodyStructure(nil, true, o)
	fmt.Fprintf(&b, "BODYSTRUCTURE %s\n", bs)
	if bsU := s.AppendBodyStructure(nil, true, u); !bytes.Equal(bs, bsU) {
		fmt.Fprintf(&b, "BODYSTRUCTURE.UTF8 %s\n", bsU)
	}
	if d, ok := s.Date(); ok {
		fmt.Fprintf(&b, "DATE %s\n", d.Format("2006-01-02T15:04:05-07:00"))
	} else {
		fmt.Fprintf(&b, "DATE none\n")
	}
	sec := func(name string, sec imapmsg.Section) {
		c := readSection(t, s, msg, sec)
		fmt.Fprintf(&b, "%-22s %5d %s\n", name, len(c), short(c))
	}
	sec("[]", imapmsg.Section{})
	sec("[HEADER]", imapmsg.Section{Specifier: "HEADER"})
	sec("[TEXT]", imapmsg.Section{Specifier: "TEXT"})
	for _, p := range imapmsg.PartPaths(s) {
		ps := pathString(p)
		sec("["+ps+"]", imapmsg.Section{Part: p})
		sec("["+ps+".MIME]", imapmsg.Section{Part: p, Specifier: "MIME"})
		if imapmsg.IsMessagePart(s, p) {
			sec("["+ps+".HEADER]", imapmsg.Section{Part: p, Specifier: "HEADER"})
			sec("["+ps+".TEXT]", imapmsg.Section{Part: p, Specifier: "TEXT"})
		}
		rd, n, err := s.BinaryReader(bytes.NewReader(msg), p)
		if err != nil {
			fmt.Fprintf(&b, "%-22s error %v\n", "BINARY["+ps+"]", err)
			continue
		}
		c, err := io.ReadAll(rd)
		require.NoError(t, err)
		require.Equal(t, n, int64(len(c)), "binary size of %s", ps)
		fmt.Fprintf(&b, "%-22s %5d %s\n", "BINARY["+ps+"]", len(c), short(c))
	}
	return b.String()
}

// TestGolden renders every testdata message and compares with its
// .golden file (go test -update rewrites them; check the diff by hand
// against RFC 9051 §7.5.2 and Dovecot's rendering).
func TestGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.eml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(strings.TrimSuffix(name, ".eml"), func(t *testing.T) {
			got := render(t, loadMessage(t, name))
			golden := strings.TrimSuffix(f, ".eml") + ".golden"
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
				return
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err)
			assert.Equal(t, string(want), got)
		})
	}
}

// TestRFC9051Example renders the message of the FETCH example in RFC 9051
// §7.5.2 (the same in RFC 3501 §7.4.2) and compares with the RFC's text.
func TestRFC9051Example(t *testing.T) {
	msg := loadMessage(t, "rfc9051-example.eml")
	s := parseBytes(t, msg)
	o := imapmsg.RenderOptions{}
	assert.Equal(t, `("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev2 WG mtg summary and minutes" `+
		`(("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) `+
		`(("Terry Gray" NIL "gray" "cac.washington.edu")) ((NIL NIL "imap" "cac.washington.edu")) `+
		`((NIL NIL "minutes" "CNRI.Reston.VA.US")("John Klensin" NIL "KLENSIN" "MIT.EDU")) NIL NIL `+
		`"<B27397-0100000@cac.washington.edu>")`, string(s.AppendEnvelope(nil, o)))
	assert.Equal(t, `("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3028 92)`,
		string(s.AppendBodyStructure(nil, false, o)))
}

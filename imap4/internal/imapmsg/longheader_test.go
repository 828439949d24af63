package imapmsg_test

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/imap4/internal/imapmsg"
)

// A header line longer than the read window (here 100 KiB) must not end
// the header for HEADER.FIELDS or header search: the fields after it count.
func TestLongHeaderLine(t *testing.T) {
	msg := "X-Long: " + strings.Repeat("a", 100<<10) + "\r\nSubject: findme\r\nFrom: x@example.org\r\n\r\nbody\r\n"
	r := strings.NewReader(msg)
	s, err := imapmsg.Parse(r, int64(len(msg)))
	require.NoError(t, err)

	ok, err := s.MatchHeader(r, "Subject", "findme")
	require.NoError(t, err)
	assert.True(t, ok, "Subject after a long line is searched")
	ok, err = s.MatchHeader(r, "", "x@example.org")
	require.NoError(t, err)
	assert.True(t, ok, "any-field search reaches the fields after a long line")
	ok, err = s.MatchHeader(r, "X-Long", strings.Repeat("a", 1000))
	require.NoError(t, err)
	assert.True(t, ok, "the long line itself is searched")

	sec, n, err := s.SectionReader(r, imapmsg.Section{Specifier: imapmsg.SpecHeaderFields, Fields: []string{"Subject", "From"}})
	require.NoError(t, err)
	got, err := io.ReadAll(sec)
	require.NoError(t, err)
	assert.Equal(t, "Subject: findme\r\nFrom: x@example.org\r\n\r\n", string(got))
	assert.Equal(t, int64(len(got)), n)

	sec, n, err = s.SectionReader(r, imapmsg.Section{Specifier: imapmsg.SpecHeaderFieldsNot, Fields: []string{"Subject", "From"}})
	require.NoError(t, err)
	got, err = io.ReadAll(sec)
	require.NoError(t, err)
	assert.True(t, bytes.HasPrefix(got, []byte("X-Long: aaa")), "the long field is kept whole")
	assert.Equal(t, len("X-Long: ")+100<<10+4, len(got))
	assert.Equal(t, int64(len(got)), n)
}

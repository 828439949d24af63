package imapmsg_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/mailfront/mailfront/imap4/internal/imapmsg"
)

// TestFieldNamesFold checks how field names are recognised: ASCII case is
// ignored everywhere, and a Content-* field whose name folds to a known
// one under Unicode simple folding (a long s, U+017F) is taken as that
// field, as strings.EqualFold compares.
func TestFieldNamesFold(t *testing.T) {
	msg := []byte("SUBJECT: hi\r\ncontent-deſcription: folded\r\nCONTENT-TYPE: text/plain; charset=utf-8\r\nmessage-id: <a@b>\r\nSubject: second\r\n\r\nbody\r\n")
	s := parseBytes(t, msg)
	v, ok := s.HeaderValue("Subject")
	assert.True(t, ok)
	assert.Equal(t, "hi", v, "first occurrence")
	v, ok = s.HeaderValue("Content-Description")
	assert.True(t, ok)
	assert.Equal(t, "folded", v)
	assert.True(t, imapmsg.HeaderKept("Content-Deſcription"))
	assert.False(t, imapmsg.HeaderKept("X-Subject"))
	bs := string(s.AppendBodyStructure(nil, true, imapmsg.RenderOptions{}))
	assert.Contains(t, bs, `"folded"`)
	env := string(s.AppendEnvelope(nil, imapmsg.RenderOptions{}))
	assert.Contains(t, env, `"hi"`)
	assert.Contains(t, env, `"<a@b>"`)
	ok, err := s.MatchHeader(bytes.NewReader(msg), "subject", "SECOND")
	assert.NoError(t, err)
	assert.True(t, ok)
}

package imapmsg_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/imap4/internal/imapmsg"
)

// TestPooledBuffersConcurrent runs Parse, Unmarshal and the matchers on
// every test message from several goroutines at once, and checks each
// result against the one computed alone: the buffers they reuse
// through pools must never be shared between calls.
func TestPooledBuffersConcurrent(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.eml"))
	require.NoError(t, err)
	keys := []string{"", "a", "é", "GRÜßE", "not there at all", "subject: "}
	type msgCase struct {
		msg  []byte
		want string
	}
	// summary renders everything a message gives, to compare runs.
	summary := func(msg []byte) string {
		r := bytes.NewReader(msg)
		s, err := imapmsg.Parse(r, int64(len(msg)))
		if err != nil {
			return err.Error()
		}
		data, _ := s.MarshalBinary()
		u, err := imapmsg.Unmarshal(data)
		if err != nil {
			return err.Error()
		}
		out := string(u.AppendBodyStructure(s.AppendEnvelope(nil, imapmsg.RenderOptions{}), true, imapmsg.RenderOptions{}))
		for _, k := range keys {
			for _, f := range []string{"", "Subject", "From"} {
				ok, err := s.MatchHeader(r, f, k)
				out += fmt.Sprint(ok, err)
			}
			ok, err := u.MatchBody(r, k)
			out += fmt.Sprint(ok, err)
		}
		return out
	}
	var cases []msgCase
	for _, f := range files {
		msg := loadMessage(t, filepath.Base(f))
		cases = append(cases, msgCase{msg, summary(msg)})
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 3 * len(cases) {
				c := cases[(i+g)%len(cases)]
				assert.Equal(t, c.want, summary(c.msg))
			}
		})
	}
	wg.Wait()
}

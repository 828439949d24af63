package imapmsg_test

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/imap4/internal/imapmsg"
)

// TestMarshalRoundTrip checks that a Structure decoded from its encoding
// renders and locates every section exactly as the original does.
func TestMarshalRoundTrip(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.eml"))
	require.NoError(t, err)
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			msg := loadMessage(t, name)
			s := parseBytes(t, msg)
			data, err := s.MarshalBinary()
			require.NoError(t, err)
			u, err := imapmsg.Unmarshal(data)
			require.NoError(t, err)
			again, err := u.MarshalBinary()
			require.NoError(t, err)
			assert.Equal(t, data, again, "re-encoding")
			require.NoError(t, imapmsg.CheckInvariants(u, msg))
			assert.Equal(t, render(t, msg), renderStructure(t, u, msg))
			for _, h := range []string{"Subject", "From", "References", "Date"} {
				v1, ok1 := s.HeaderValue(h)
				v2, ok2 := u.HeaderValue(h)
				assert.Equal(t, ok1, ok2)
				assert.Equal(t, v1, v2)
			}
		})
	}
}

func TestUnmarshalRejects(t *testing.T) {
	msg := loadMessage(t, "nested-rfc822.eml")
	data, err := parseBytes(t, msg).MarshalBinary()
	require.NoError(t, err)

	t.Run("other version", func(t *testing.T) {
		bad := bytes.Clone(data)
		bad[3]++
		_, err := imapmsg.Unmarshal(bad)
		assert.ErrorIs(t, err, imapmsg.ErrCorrupt)
	})
	t.Run("every truncation", func(t *testing.T) {
		for i := 0; i < len(data); i++ {
			_, err := imapmsg.Unmarshal(data[:i])
			require.ErrorIs(t, err, imapmsg.ErrCorrupt, "truncated to %d", i)
		}
	})
	t.Run("trailing garbage", func(t *testing.T) {
		_, err := imapmsg.Unmarshal(append(bytes.Clone(data), 0))
		assert.ErrorIs(t, err, imapmsg.ErrCorrupt)
	})
	t.Run("every single-byte change is rejected or stays in bounds", func(t *testing.T) {
		for i := 4; i < len(data); i++ {
			bad := bytes.Clone(data)
			bad[i] ^= 0x5a
			u, err := imapmsg.Unmarshal(bad)
			if err != nil {
				continue
			}
			// Decoded: it must still be internally consistent enough to
			// render and to read sections within its size.
			u.AppendBodyStructure(nil, true, imapmsg.RenderOptions{})
			u.AppendEnvelope(nil, imapmsg.RenderOptions{})
			if u.Size() == int64(len(msg)) {
				for _, p := range imapmsg.PartPaths(u) {
					readSection(t, u, msg, imapmsg.Section{Part: p})
				}
			}
		}
	})
}

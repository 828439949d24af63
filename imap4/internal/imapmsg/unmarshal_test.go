package imapmsg_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/imap4/internal/imapmsg"
)

// TestUnmarshalMutations damages valid encodings everywhere: each byte
// set to a few other values, and to 0 and 1 with up to 12 of the bytes
// after it removed (so that, for instance, an empty envelope disappears with its flag
// cleared, leaving a root part without an envelope above an embedded
// message that has one). Unmarshal must not panic, and whatever it
// accepts must encode again (not always to the same bytes: varints need
// not be minimal) to bytes that decode to the same Structure.
func TestUnmarshalMutations(t *testing.T) {
	msgs := map[string][]byte{
		"rfc822 without envelope fields": []byte("Content-Type: message/rfc822\r\n\r\nFrom: a@b\r\nContent-Language: en\r\n\r\nbody\r\n"),
	}
	for _, name := range []string{"nested-rfc822.eml", "digest.eml", "mixed-attachment.eml"} {
		msgs[name] = loadMessage(t, name)
	}
	for name, msg := range msgs {
		t.Run(name, func(t *testing.T) {
			data, err := parseBytes(t, msg).MarshalBinary()
			require.NoError(t, err)
			for i := range data {
				for _, v := range []byte{0, 1, 2, 3, 0x7f, 0x80, 0xff, data[i] + 1, data[i] - 1} {
					maxRemoved := 0
					if v <= 1 {
						maxRemoved = 12
					}
					for k := 0; k <= maxRemoved && i+1+k <= len(data); k++ {
						bad := append(append(bytes.Clone(data[:i]), v), data[i+1+k:]...)
						s, err := imapmsg.Unmarshal(bad)
						if err != nil {
							continue
						}
						again, err := s.MarshalBinary()
						require.NoError(t, err)
						u, err := imapmsg.Unmarshal(again)
						require.NoError(t, err, "byte %d set to %#x, %d removed: re-encoding", i, v, k)
						third, err := u.MarshalBinary()
						require.NoError(t, err)
						require.True(t, bytes.Equal(again, third), "byte %d set to %#x, %d removed: re-encoding differs", i, v, k)
						s.AppendEnvelope(nil, imapmsg.RenderOptions{})
						s.AppendBodyStructure(nil, true, imapmsg.RenderOptions{})
					}
				}
			}
		})
	}
}

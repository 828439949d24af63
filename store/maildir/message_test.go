package maildir_test

import (
	"bytes"
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/internal/wire"
	"github.com/mailfront/mailfront/store/maildir"
)

// A large bare-LF file read at random offsets, in parallel, through the
// converting ReaderAt gives exactly the CRLF conversion (the checkpoints
// recorded by one read serve the others).
func TestCRLFReaderAtLarge(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var raw bytes.Buffer
	for raw.Len() < 1<<20 {
		line := make([]byte, rng.IntN(120))
		for i := range line {
			line[i] = "abc \r"[rng.IntN(5)]
		}
		raw.Write(line)
		if rng.IntN(4) == 0 {
			raw.WriteString("\r\n")
		} else {
			raw.WriteString("\n")
		}
	}
	want, err := io.ReadAll(wire.NewCRLFReader(bytes.NewReader(raw.Bytes())))
	require.NoError(t, err)
	r := maildir.NewCRLFReaderAt(bytes.NewReader(raw.Bytes()), int64(raw.Len()), int64(len(want)))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 9))
			for range 200 {
				off := rng.IntN(len(want) + 10)
				n := rng.IntN(100000)
				buf := make([]byte, n)
				k, err := r.ReadAt(buf, int64(off))
				exp := want[min(off, len(want)):min(off+n, len(want))]
				if !assert.Equal(t, exp, buf[:k], "ReadAt(%d, %d)", n, off) {
					return
				}
				if k < n {
					assert.ErrorIs(t, err, io.EOF)
				}
			}
		}()
	}
	wg.Wait()
	// Sequential reads in small pieces.
	var got bytes.Buffer
	_, err = io.Copy(&got, io.NewSectionReader(r, 0, int64(len(want))))
	require.NoError(t, err)
	assert.Equal(t, want, got.Bytes())
}

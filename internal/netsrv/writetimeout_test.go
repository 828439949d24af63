package netsrv_test

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/internal/netsrv"
	"github.com/mailfront/mailfront/internal/testutil"
)

// SetWriteTimeout bounds each stall of a streamed response written through
// W, and a client that keeps reading is never cut off however long the
// transfer takes.
func TestSetWriteTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var srv netsrv.Server
		result := make(chan error, 1)
		cfg := netsrv.Config{
			Protocol: "stream",
			Logger:   slog.New(slog.DiscardHandler),
			Handle: func(c *netsrv.Conn) {
				chunk := make([]byte, 32<<10)
				for range 64 { // 2 MiB, more than the pipe buffers
					c.SetWriteTimeout(time.Minute)
					if _, err := c.W.Write(chunk); err != nil {
						result <- err
						return
					}
				}
				result <- c.Flush()
			},
		}
		l := testutil.NewListener()
		done := make(chan error, 1)
		go func() { done <- srv.Serve(l, cfg, false) }()

		// A client that reads slowly but steadily gets everything.
		conn, err := l.Dial()
		require.NoError(t, err)
		buf := make([]byte, 32<<10)
		total := 0
		for total < 64*len(buf) {
			time.Sleep(30 * time.Second)
			n, err := io.ReadFull(conn, buf)
			total += n
			require.NoError(t, err)
		}
		assert.NoError(t, <-result)
		conn.Close()

		// A client that stops reading is cut off one timeout after the
		// last progress.
		conn, err = l.Dial()
		require.NoError(t, err)
		start := time.Now()
		err = <-result
		assert.True(t, errors.Is(err, os.ErrDeadlineExceeded), "got %v", err)
		assert.Equal(t, time.Minute, time.Since(start))
		conn.Close()
		srv.Close()
		<-done
	})
}

package authsrv_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/internal/authsrv"
)

// MaxFailures: zero is DefaultMaxFailures, negative is no limit.
func TestMaxFailures(t *testing.T) {
	for _, tt := range []struct {
		max  int
		want int // failures that end the connection; 0: none do
	}{
		{0, authsrv.DefaultMaxFailures},
		{1, 1},
		{5, 5},
		{-1, 0},
	} {
		t.Run(fmt.Sprint(tt.max), func(t *testing.T) {
			h := newHarness(t, &users{}, auth.PlainTextLogin)
			h.cfg.MaxFailures = tt.max
			h.start(t)
			c := h.dial(t, from)
			tries := tt.want
			if tries == 0 {
				tries = 12 // past the Throttle's lockout too
			}
			for i := 1; i < tries; i++ {
				assert.Equal(t, "-ERR "+auth.ErrInvalidCredentials.Error(), c.do("LOGIN alice x"), "failure %d", i)
			}
			assert.Equal(t, "-ERR "+auth.ErrInvalidCredentials.Error(), c.do("LOGIN alice x"))
			if tt.want > 0 {
				assert.Equal(t, "-ERR too many failures", c.line(), "failure %d ends the connection", tt.want)
			} else {
				assert.Equal(t, "+OK false", c.do("FAILED"), "no limit")
			}
		})
	}
}

// An OwnThrottle gives the host's Throttle when there is one, else one
// private Throttle, the same for every caller.
func TestOwnThrottle(t *testing.T) {
	var own authsrv.OwnThrottle
	shared := &auth.Throttle{}
	assert.Same(t, shared, own.Or(shared))

	got := make([]*auth.Throttle, 8)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() { got[i] = own.Or(nil) })
	}
	wg.Wait()
	require.NotNil(t, got[0])
	assert.NotSame(t, shared, got[0])
	for _, th := range got {
		assert.Same(t, got[0], th)
	}
}

package mailtest_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/internal/mailtest"
)

// MustFail returns the one failure that stopped fn, and fails its own t
// when fn completes or reports more than one.
func TestMustFail(t *testing.T) {
	got := mailtest.MustFail(t, func(tb testing.TB) {
		tb.Fatalf("stop %d", 1)
		panic("not reached")
	})
	assert.Equal(t, "stop 1", got)

	for name, fn := range map[string]func(tb testing.TB){
		"completed": func(tb testing.TB) {},
		"two":       func(tb testing.TB) { tb.Errorf("one"); tb.Fatalf("two") },
	} {
		t.Run(name, func(t *testing.T) {
			outer := mailtest.NewFakeTB()
			defer outer.Finish()
			assert.False(t, outer.Run(func(tb testing.TB) { mailtest.MustFail(tb, fn) }))
			require.Len(t, outer.Failures(), 1)
		})
	}
}

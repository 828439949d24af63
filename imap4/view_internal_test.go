package imap4

import (
	"math/rand/v2"
	"testing"
	"time"
	_ "time/tzdata" // the zones below, on machines without a zoneinfo database

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDateCacheMatchesPackDate: packing many dates through a dateCache
// gives what packDate gives for each, across daylight-saving changes, in
// ascending, descending and random order, and with locations mixed.
func TestDateCacheMatchesPackDate(t *testing.T) {
	var locs []*time.Location
	for _, name := range []string{"America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"} {
		loc, err := time.LoadLocation(name)
		require.NoError(t, err)
		locs = append(locs, loc)
	}
	locs = append(locs, time.Local, time.FixedZone("odd", -(3*3600+30*60)))
	start := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	var times []time.Time
	for i := range 20000 {
		u := start + int64(i)*1800 // every half hour for over a year
		times = append(times, time.Unix(u, 0).In(locs[i/5000%len(locs)]))
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		u := r.Int64N(4_000_000_000) - 1_000_000_000
		times = append(times, time.Unix(u, 0).In(locs[i%len(locs)]))
	}
	check := func(order string, ts []time.Time) {
		var dc dateCache
		for _, tm := range ts {
			if got, want := dc.pack(tm), packDate(tm); got != want {
				t.Fatalf("%s: %v: cache packed %#x, packDate %#x", order, tm, got, want)
			}
		}
	}
	check("ascending", times)
	rev := make([]time.Time, len(times))
	for i, tm := range times {
		rev[len(times)-1-i] = tm
	}
	check("descending", rev)
	r.Shuffle(len(rev), func(i, j int) { rev[i], rev[j] = rev[j], rev[i] })
	check("random", rev)
}

// TestInternRun: internRun gives the set intern gives, for slices shared
// between messages, equal slices that are not shared, sub-slices of one
// array, and empty and nil lists; and startRun forgets slices whose
// memory a backend may reuse.
func TestInternRun(t *testing.T) {
	var ft flagTable
	seen := []string{FlagSeen}
	both := []string{FlagSeen, FlagFlagged}
	msgs := [][]string{nil, seen, {}, seen, both, both[:1], both, {FlagSeen}, nil, seen, {"$Junk"}, seen}
	ft.startRun()
	for i, fl := range msgs {
		var ref flagTable
		got := ft.sets[ft.internRun(fl)]
		want := ref.sets[ref.intern(fl)]
		assert.Equal(t, string(want.rendered), string(got.rendered), "message %d", i)
		assert.Equal(t, want.bits, got.bits, "message %d", i)
	}
	// A backend reusing a slice's memory for other flags after a Sync.
	buf := []string{FlagSeen}
	ft.startRun()
	assert.Equal(t, bitSeen, ft.sets[ft.internRun(buf)].bits)
	buf[0] = FlagDeleted
	ft.startRun()
	assert.Equal(t, bitDeleted, ft.sets[ft.internRun(buf)].bits)
}

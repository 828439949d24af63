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

// TestRecentTracker: marks are made from the first message that arrived
// after the start, claims by read-write sessions move them, read-only
// ones do not, and the number of marks stays bounded.
func TestRecentTracker(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	var tr recentTracker
	tr.started(start)
	tr.started(start.Add(time.Hour)) // the first start counts
	uids := []UID{3, 5, 8, 9}
	dates := []int64{packDate(start.Add(-time.Hour)), packDate(start.Add(-time.Second)), packDate(start), packDate(start.Add(-24 * time.Hour))}
	first := func(since time.Time) UID {
		assert.Equal(t, start, since)
		return firstAfter(uids, dates, since)
	}
	k := recentKey{"u", "INBOX", 1}
	assert.Equal(t, UID(6), tr.claim(k, 1, 9, true, first), "EXAMINE: 8 arrived at the start, 9 after it (with an old date)")
	assert.Equal(t, UID(6), tr.claim(k, 1, 9, false, first), "read-only claimed nothing")
	assert.Equal(t, UID(10), tr.claim(k, 1, 9, false, first), "the read-write session took 8 and 9")
	assert.Equal(t, UID(12), tr.claim(k, 12, 14, false, first))
	assert.Equal(t, UID(15), tr.claim(k, 10, 14, false, first))
	assert.Equal(t, UID(14), tr.claimed(k, first))

	assert.Equal(t, UID(0), firstAfter(nil, nil, start))
	assert.Equal(t, UID(5), firstAfter(uids[:2], dates[:2], start.Add(time.Hour)), "nothing arrived since")
	assert.Equal(t, UID(0), firstAfter(uids[2:], dates[2:], start), "the first arrived since")
	msgs := []MessageMeta{{UID: 4, InternalDate: start.Add(-time.Minute)}, {UID: 6, InternalDate: start.Add(500 * time.Millisecond)}}
	assert.Equal(t, UID(4), firstAfterMeta(msgs, start))

	for i := range maxRecentMarks + 10 {
		tr.claim(recentKey{"u", "box" + itoa(uint64(i)), 1}, 1, 0, false, func(time.Time) UID { return 0 })
		tr.claim(k, 1, 0, false, first) // in use all along
	}
	assert.LessOrEqual(t, len(tr.marks), maxRecentMarks)
	assert.Greater(t, len(tr.marks), maxRecentMarks/4)
	m, ok := tr.peek(k)
	assert.True(t, ok, "the mark in use is kept")
	assert.Equal(t, UID(14), m)
}

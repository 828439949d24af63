//go:build !race

package pop3_test

// raceEnabled reports whether the race detector is on; heavy tests scale
// down under it.
const raceEnabled = false

package auth

// Internal hooks for the external tests of the throttle.

// ThrottleLen returns how many addresses and usernames t remembers.
func ThrottleLen(t *Throttle) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.entries)
}

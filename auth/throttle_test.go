package auth_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/auth"
)

// loginSim plays a server's login path against a Throttle: Check before the
// authenticator, Failure or Success after it. It counts authenticator calls.
type loginSim struct {
	t     *auth.Throttle
	calls int
}

func (s *loginSim) login(addr netip.Addr, user, password string) (time.Duration, error) {
	if err := s.t.Check(addr, user); err != nil {
		return s.t.Failure(addr, user), err
	}
	s.calls++
	if password != "right" {
		return s.t.Failure(addr, user), auth.ErrInvalidCredentials
	}
	s.t.Success(addr, user)
	return 0, nil
}

var (
	ip1 = netip.MustParseAddr("192.0.2.1")
	ip2 = netip.MustParseAddr("192.0.2.2")
)

// TestThrottleAddressLockout is ADVERSARIAL A7: the 11th failure from one
// address within a minute is refused without calling the authenticator; a
// different address is unaffected; the lockout expires.
func TestThrottleAddressLockout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &loginSim{t: &auth.Throttle{}}
		for i := range 10 {
			// Distinct usernames, so that only the address limit applies.
			time.Sleep(time.Second)
			_, err := s.login(ip1, fmt.Sprintf("user%d", i), "wrong")
			require.ErrorIs(t, err, auth.ErrInvalidCredentials, "attempt %d", i+1)
		}
		assert.Equal(t, 10, s.calls)
		lockedAt := time.Now()

		_, err := s.login(ip1, "user10", "right")
		assert.ErrorIs(t, err, auth.ErrThrottled, "11th attempt within a minute")
		assert.ErrorIs(t, s.t.Check(ip1, ""), auth.ErrThrottled, "address-only check")
		assert.Equal(t, 10, s.calls, "authenticator called for a throttled attempt")

		_, err = s.login(ip2, "user10", "right")
		assert.NoError(t, err, "another address")

		time.Sleep(time.Until(lockedAt.Add(5*time.Minute - time.Second)))
		assert.ErrorIs(t, s.t.Check(ip1, ""), auth.ErrThrottled, "before the lockout ends")
		time.Sleep(time.Second)
		_, err = s.login(ip1, "user10", "right")
		assert.NoError(t, err, "after the lockout")
	})
}

func TestThrottleWindowExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := &auth.Throttle{}
		for range 9 {
			th.Failure(ip1, "")
		}
		time.Sleep(time.Minute)
		// A new window: nine more failures do not lock out.
		for range 9 {
			th.Failure(ip1, "")
		}
		assert.NoError(t, th.Check(ip1, ""))
		th.Failure(ip1, "")
		assert.ErrorIs(t, th.Check(ip1, ""), auth.ErrThrottled)
	})
}

func TestThrottleAddressLockoutGrows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := &auth.Throttle{}
		lockedFor := func() time.Duration {
			for range 10 {
				th.Failure(ip1, "")
			}
			require.ErrorIs(t, th.Check(ip1, ""), auth.ErrThrottled)
			start := time.Now()
			for th.Check(ip1, "") != nil {
				time.Sleep(time.Minute)
			}
			return time.Since(start)
		}
		assert.Equal(t, 5*time.Minute, lockedFor())
		assert.Equal(t, 10*time.Minute, lockedFor())
		assert.Equal(t, 20*time.Minute, lockedFor())
		assert.Equal(t, 40*time.Minute, lockedFor())
		assert.Equal(t, 40*time.Minute, lockedFor(), "capped at 8× Lockout")

		// Well behaved for long enough: back to the first lockout.
		time.Sleep(3 * time.Hour)
		assert.Equal(t, 5*time.Minute, lockedFor())
	})
}

func TestThrottleUserLockout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &loginSim{t: &auth.Throttle{}}
		// Ten failures for alice from ten addresses (a distributed attack).
		for i := range 10 {
			addr := netip.AddrFrom4([4]byte{198, 51, 100, byte(i)})
			_, err := s.login(addr, "alice@example.org", "wrong")
			require.ErrorIs(t, err, auth.ErrInvalidCredentials)
		}
		fresh := netip.MustParseAddr("203.0.113.9")
		_, err := s.login(fresh, "Alice@Example.ORG", "right")
		assert.ErrorIs(t, err, auth.ErrThrottled, "username compared case-insensitively")
		assert.Equal(t, 10, s.calls)
		_, err = s.login(fresh, "bob@example.org", "right")
		assert.NoError(t, err, "another user from the same address")

		// Hammering during the lockout does not extend it.
		for i := range 100 {
			s.login(netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + i)}), "alice@example.org", "wrong")
			time.Sleep(time.Second)
		}
		time.Sleep(5*time.Minute - 100*time.Second)
		_, err = s.login(fresh, "alice@example.org", "right")
		assert.NoError(t, err, "user lockout is temporary")

		// A username lockout does not grow.
		for i := range 10 {
			s.t.Failure(netip.AddrFrom4([4]byte{198, 51, 100, byte(100 + i)}), "alice@example.org")
		}
		require.ErrorIs(t, s.t.Check(netip.Addr{}, "alice@example.org"), auth.ErrThrottled)
		time.Sleep(5 * time.Minute)
		assert.NoError(t, s.t.Check(netip.Addr{}, "alice@example.org"))
	})
}

func TestThrottleSuccessResetsUser(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &loginSim{t: &auth.Throttle{MaxFailuresPerAddr: -1}}
		for range 9 {
			s.login(ip1, "alice", "wrong")
		}
		_, err := s.login(ip1, "alice", "right")
		require.NoError(t, err)
		for range 9 {
			s.login(ip1, "ALICE", "wrong")
		}
		assert.NoError(t, s.t.Check(ip1, "alice"), "count restarted after the success")
		s.login(ip1, "alice", "wrong")
		assert.ErrorIs(t, s.t.Check(ip1, "alice"), auth.ErrThrottled)
	})
}

func TestThrottleSuccessDoesNotClearAddress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// An attacker who owns one account cannot reset its address by
		// logging in: each success forgives one failure only.
		s := &loginSim{t: &auth.Throttle{}}
		for i := range 9 {
			s.login(ip1, fmt.Sprintf("victim%d", i), "wrong")
		}
		_, err := s.login(ip1, "mallory", "right")
		require.NoError(t, err)
		s.login(ip1, "victim9", "wrong")
		assert.NoError(t, s.t.Check(ip1, ""), "one failure forgiven")
		s.login(ip1, "victim10", "wrong")
		assert.ErrorIs(t, s.t.Check(ip1, ""), auth.ErrThrottled)
	})
}

func TestThrottleDelays(t *testing.T) {
	tests := []struct {
		name string
		t    *auth.Throttle
		want []time.Duration
	}{
		{"default", &auth.Throttle{MaxFailuresPerAddr: -1, MaxFailuresPerUser: -1},
			[]time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 15 * time.Second, 15 * time.Second, 15 * time.Second}},
		{"custom", &auth.Throttle{FailureDelay: time.Second, MaxFailureDelay: 5 * time.Second, MaxFailuresPerAddr: -1},
			[]time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second}},
		{"none", &auth.Throttle{FailureDelay: -1},
			[]time.Duration{0, 0, 0}},
		{"locked out", &auth.Throttle{MaxFailuresPerAddr: 2, MaxFailuresPerUser: 2},
			[]time.Duration{2 * time.Second, 4 * time.Second, 4 * time.Second, 4 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				th := tt.t
				var got []time.Duration
				for range tt.want {
					got = append(got, th.Failure(ip1, "alice"))
				}
				assert.Equal(t, tt.want, got)

				// The delay falls back once the window has passed.
				time.Sleep(time.Hour)
				assert.Equal(t, tt.want[0], th.Failure(ip1, "alice"))
			})
		})
	}
}

func TestThrottleIPv6PerSlash64(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := &auth.Throttle{}
		for i := range 10 {
			th.Failure(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i + 1)}), "")
		}
		err := th.Check(netip.MustParseAddr("2001:db8::ffff:1234"), "")
		assert.ErrorIs(t, err, auth.ErrThrottled, "same /64")
		assert.ErrorContains(t, err, "2001:db8::/64")
		assert.ErrorIs(t, th.Check(netip.MustParseAddr("2001:db8::1%eth0"), ""), auth.ErrThrottled, "zone ignored")
		assert.NoError(t, th.Check(netip.MustParseAddr("2001:db8:0:1::1"), ""), "next /64")
	})
}

func TestThrottleIPv4Mapped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := &auth.Throttle{}
		for range 10 {
			th.Failure(netip.MustParseAddr("::ffff:192.0.2.1"), "")
		}
		assert.ErrorIs(t, th.Check(ip1, ""), auth.ErrThrottled)
		assert.NoError(t, th.Check(ip2, ""), "IPv4 counted per address")
	})
}

func TestThrottleInvalidAddress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := &auth.Throttle{}
		assert.Equal(t, 2*time.Second, th.Failure(netip.Addr{}, ""))
		for range 10 {
			th.Failure(netip.Addr{}, "alice")
		}
		assert.NoError(t, th.Check(netip.Addr{}, ""))
		assert.ErrorIs(t, th.Check(netip.Addr{}, "alice"), auth.ErrThrottled)
		assert.Equal(t, 1, auth.ThrottleLen(th), "only the username is remembered")
	})
}

// TestThrottleMemoryBounded floods a zero Throttle with failures from a
// million distinct addresses: it never remembers more than MaxEntries, and
// an address locked out before the flood stays locked out.
func TestThrottleMemoryBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := &auth.Throttle{}
		attacker := netip.MustParseAddr("203.0.113.66")
		for range 10 {
			th.Failure(attacker, "")
		}
		require.ErrorIs(t, th.Check(attacker, ""), auth.ErrThrottled)

		peak := 0
		var b [4]byte
		for i := range 1_000_000 {
			binary.BigEndian.PutUint32(b[:], 0x0a000000+uint32(i))
			th.Failure(netip.AddrFrom4(b), "")
			if i%1000 == 0 {
				peak = max(peak, auth.ThrottleLen(th))
			}
		}
		peak = max(peak, auth.ThrottleLen(th))
		assert.LessOrEqual(t, peak, 65536)
		assert.Equal(t, 65536, auth.ThrottleLen(th))
		assert.ErrorIs(t, th.Check(attacker, ""), auth.ErrThrottled, "lockout survived the flood")
	})
}

func TestThrottleUsernameFloodBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := &auth.Throttle{MaxEntries: 100}
		for range 10 {
			th.Failure(netip.Addr{}, "alice")
		}
		for i := range 10_000 {
			th.Failure(netip.Addr{}, fmt.Sprintf("user%d-%0200d", i, 0))
			require.LessOrEqual(t, auth.ThrottleLen(th), 100)
		}
		assert.ErrorIs(t, th.Check(netip.Addr{}, "alice"), auth.ErrThrottled, "lockout survived the flood")

		// Once every lockout has ended, expired ones are dropped first.
		time.Sleep(time.Hour)
		th.Failure(netip.Addr{}, "newcomer")
		assert.LessOrEqual(t, auth.ThrottleLen(th), 100)
	})
}

func TestThrottleConcurrent(t *testing.T) {
	th := &auth.Throttle{MaxEntries: 16, FailureDelay: -1}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				addr := netip.AddrFrom4([4]byte{10, 0, byte(g), byte(i % 40)})
				user := fmt.Sprintf("u%d", i%23)
				if err := th.Check(addr, user); err != nil {
					if !errors.Is(err, auth.ErrThrottled) {
						t.Errorf("Check: %v", err)
					}
					continue
				}
				if i%5 == 0 {
					th.Success(addr, user)
				} else {
					th.Failure(addr, user)
				}
			}
		})
	}
	wg.Wait()
	assert.LessOrEqual(t, auth.ThrottleLen(th), 16)
}

func BenchmarkThrottleFailure(b *testing.B) {
	th := &auth.Throttle{}
	var a [4]byte
	i := uint32(0)
	for b.Loop() {
		binary.BigEndian.PutUint32(a[:], i)
		i++
		th.Failure(netip.AddrFrom4(a), "alice")
	}
}

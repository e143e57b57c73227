package sim

import (
	"slices"
	"testing"
	"time"
)

// A timing changed at run time (a reload) governs the next failure: after
// raising the token from 300 ms to 3 s, a crash takes seconds to notice
// instead of well under one.
func TestSetTimingGovernsTheNextFailure(t *testing.T) {
	for _, tc := range []struct {
		name    string
		token   time.Duration
		atLeast time.Duration
		atMost  time.Duration
	}{
		{"unchanged", 0, 0, time.Second},
		{"raised", 3 * time.Second, 3 * time.Second, 10 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ids := []uint32{1, 2, 3}
			s := New(11, ids, fastTiming(3))
			startAll(t, s)
			if err := s.RunFor(3 * time.Second); err != nil || !s.Converged() {
				t.Fatalf("no ring: %v\n%s", err, s.Describe())
			}
			if tc.token != 0 {
				nt := fastTiming(3)
				scale := tc.token / nt.Token
				nt.Token, nt.Consensus = tc.token, nt.Consensus*scale
				nt.TokenRetransmit *= scale
				for _, id := range ids {
					if err := s.Node(id).SetTiming(nt); err != nil {
						t.Fatal(err)
					}
				}
				if got := s.Node(1).Timing().Token; got != tc.token {
					t.Fatalf("Timing().Token = %v", got)
				}
			}
			// Let the timers armed under the old timing expire first.
			if err := s.RunFor(time.Second); err != nil {
				t.Fatal(err)
			}
			s.Crash(3)
			crashed := s.Now()
			for !slices.Equal(s.Node(1).Members(), []uint32{1, 2}) && s.Now()-crashed < 20*time.Second {
				if err := s.RunFor(10 * time.Millisecond); err != nil {
					t.Fatal(err)
				}
			}
			took := s.Now() - crashed
			if took < tc.atLeast || took > tc.atMost {
				t.Fatalf("ring without node 3 after %v, want between %v and %v", took, tc.atLeast, tc.atMost)
			}
		})
	}
}

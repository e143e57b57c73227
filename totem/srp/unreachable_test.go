package srp_test

import (
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/ringfence/ringfence/totem/sim"
	"github.com/ringfence/ringfence/totem/srp"
)

// slowToken is a token timeout far above what a heartbeat-driven change
// takes, so a test can tell the two paths apart.
func slowToken(n int) srp.Timing {
	return srp.TimingFromConfig(srp.BaseTiming{Token: 3000 * time.Millisecond, TokenCoefficientSet: true}, n)
}

func formed(t *testing.T, n int, timing srp.Timing, seed int64) *sim.Sim {
	t.Helper()
	ids := make([]uint32, n)
	for i := range ids {
		ids[i] = uint32(i + 1)
	}
	s := sim.New(seed, ids, timing)
	s.AutoAck = true
	for _, id := range ids {
		if err := s.Start(id); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 60 && !s.Converged(); i++ {
		if err := s.RunFor(time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if !s.Converged() {
		t.Fatalf("no ring:\n%s", s.Describe())
	}
	return s
}

// report calls PeerUnreachable on a live node and lets the simulator
// carry out its output (a nil message only flushes).
func report(s *sim.Sim, on, dead uint32) bool {
	n := s.Node(on)
	if n == nil {
		return false
	}
	acted := n.PeerUnreachable(dead)
	s.Inject(on, 0, nil)
	return acted
}

// One survivor's report is enough: the others adopt the failed list from
// its join, consensus completes without its timeout and the ring forms
// long before the 3 s token would have expired.
func TestPeerUnreachableFormsRingWithoutTokenLoss(t *testing.T) {
	for _, n := range []int{2, 3, 5, 16} {
		t.Run(fmt.Sprintf("nodes=%d", n), func(t *testing.T) {
			s := formed(t, n, slowToken(n), 1)
			dead := uint32(n)
			s.Crash(dead)
			before := s.Node(1).Stats()
			if !report(s, 1, dead) {
				t.Fatal("PeerUnreachable ignored a member")
			}
			start := s.Now()
			for !s.Converged() && s.Now()-start < 2*time.Second {
				if err := s.RunFor(10 * time.Millisecond); err != nil {
					t.Fatal(err)
				}
			}
			took := s.Now() - start
			if !s.Converged() {
				t.Fatalf("no new ring after %v:\n%s", took, s.Describe())
			}
			// Virtual time: join and commit rounds only, no timeout.
			if took > 500*time.Millisecond {
				t.Fatalf("new ring took %v of virtual time, expected a few join rounds", took)
			}
			after := s.Node(1).Stats()
			if after.ConsensusTimeouts != before.ConsensusTimeouts || after.OperationalTokenLost != before.OperationalTokenLost {
				t.Fatalf("consensus timeouts %d->%d, token lost %d->%d: the change waited for a timer",
					before.ConsensusTimeouts, after.ConsensusTimeouts, before.OperationalTokenLost, after.OperationalTokenLost)
			}
			s.Check.CheckFinal(s)
			if err := s.Check.Err(); err != nil {
				t.Fatal(err)
			}
			t.Logf("%d nodes: ring of %d formed %v after the report", n, n-1, took)
		})
	}
}

func TestPeerUnreachableIgnoresNonMembers(t *testing.T) {
	s := formed(t, 3, slowToken(3), 1)
	ring := s.Node(1).RingID()
	for _, id := range []uint32{0, 1, 9} {
		if report(s, 1, id) {
			t.Fatalf("PeerUnreachable(%d) acted on node 1", id)
		}
	}
	if err := s.RunFor(time.Second); err != nil {
		t.Fatal(err)
	}
	if got := s.Node(1).RingID(); got != ring || s.Node(1).State() != srp.StateOperational {
		t.Fatalf("ring changed from %v to %v (%s)", ring, got, s.Node(1).State())
	}
}

// Random crashes with reports from random survivors at random moments,
// packet loss, and false reports about live nodes: virtual synchrony holds
// (the checker runs after every event) and the ring converges.
func TestPeerUnreachableRandom(t *testing.T) {
	seeds := 60
	if testing.Short() {
		seeds = 15
	}
	for seed := int64(1); seed <= int64(seeds); seed++ {
		rng := rand.New(rand.NewSource(seed))
		n := 2 + rng.Intn(7)
		s := formed(t, n, slowToken(n), seed)
		s.Loss = 0.05 * rng.Float64()
		dead := uint32(1 + rng.Intn(n))
		s.Crash(dead)
		for id := uint32(1); id <= uint32(n); id++ {
			if id == dead || rng.Intn(2) == 0 {
				continue
			}
			on := id
			s.Schedule(s.Now()+time.Duration(rng.Intn(300))*time.Millisecond, func() { report(s, on, dead) })
		}
		if rng.Intn(3) == 0 {
			// A false report: a live member is said to be unreachable.
			on, victim := uint32(1+rng.Intn(n)), uint32(1+rng.Intn(n))
			s.Schedule(s.Now()+time.Duration(rng.Intn(300))*time.Millisecond, func() { report(s, on, victim) })
		}
		if err := s.RunFor(time.Second); err != nil {
			t.Fatalf("seed %d: %v\n%s", seed, err, s.Describe())
		}
		s.Loss = 0
		for i := 0; i < 60 && !s.Converged(); i++ {
			if err := s.RunFor(time.Second); err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
		}
		if !s.Converged() {
			t.Fatalf("seed %d (%d nodes, dead %d): no convergence\n%s", seed, n, dead, s.Describe())
		}
		s.Check.CheckFinal(s)
		if err := s.Check.Err(); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
	}
}

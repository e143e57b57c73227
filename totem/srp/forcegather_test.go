package srp_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ringfence/ringfence/totem/sim"
	"github.com/ringfence/ringfence/totem/srp"
)

func TestForceGatherFormsANewRing(t *testing.T) {
	b := srp.BaseTiming{Token: time.Second, TokenCoefficientSet: true}
	s := sim.New(1, []uint32{1, 2, 3}, srp.TimingFromConfig(b, 3))
	var notices []string
	s.Observe = func(id uint32, rd srp.Ready) {
		if id == 2 {
			notices = append(notices, rd.Notices...)
		}
	}
	for _, id := range []uint32{1, 2, 3} {
		if err := s.Start(id); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RunFor(3 * time.Second); err != nil || !s.Converged() {
		t.Fatalf("ring did not form (%v):\n%s", err, s.Describe())
	}
	before := s.Node(2).RingID()
	lost := s.Node(2).Stats().OperationalTokenLost
	notices = nil
	n := s.Node(2)
	n.Tick(s.Now())
	n.ForceGather()
	if n.State() != srp.StateGather {
		t.Fatalf("state %s after ForceGather", n.State())
	}
	if err := s.RunFor(3 * time.Second); err != nil || !s.Converged() {
		t.Fatalf("no ring after the forced gather (%v):\n%s", err, s.Describe())
	}
	if after := s.Node(2).RingID(); after.Seq <= before.Seq || len(s.Node(2).Members()) != 3 {
		t.Fatalf("ring %s → %s, members %v", before, after, s.Node(2).Members())
	}
	if s.Node(2).Stats().OperationalTokenLost != lost+1 {
		t.Fatalf("operational_token_lost %d → %d", lost, s.Node(2).Stats().OperationalTokenLost)
	}
	if len(notices) == 0 || !strings.HasPrefix(notices[0], "A processor failed, forming new configuration") {
		t.Fatalf("notices %q", notices)
	}
}

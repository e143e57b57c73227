package sim

import (
	"testing"
	"time"

	"github.com/ringfence/ringfence/totem/srp"
)

func fastTiming(n int) srp.Timing {
	return srp.TimingFromConfig(srp.BaseTiming{Token: 300 * time.Millisecond, TokenCoefficientSet: true}, n)
}

func TestThreeNodesFormOneRingAndDeliver(t *testing.T) {
	s := New(1, []uint32{1, 2, 3}, fastTiming(3))
	s.EnableTrace()
	for _, id := range s.IDs() {
		if err := s.Start(id); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RunFor(3 * time.Second); err != nil {
		t.Fatal(err)
	}
	if testing.Verbose() {
		for _, l := range s.TraceLog {
			t.Log(l)
		}
	}
	if !s.Converged() {
		for _, l := range s.TraceLog {
			t.Log(l)
		}
		t.Fatalf("not converged:\n%s", s.Describe())
	}
	for i := 0; i < 10; i++ {
		for _, id := range s.IDs() {
			if err := s.Broadcast(id, "m"); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.RunFor(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	s.Check.CheckFinal(s)
	if err := s.Check.Err(); err != nil {
		t.Fatal(err)
	}
	if s.Delivered != 90 {
		t.Fatalf("delivered %d, want 90", s.Delivered)
	}
}

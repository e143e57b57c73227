package srp_test

import (
	"testing"
	"time"

	"github.com/ringfence/ringfence/totem/sim"
	"github.com/ringfence/ringfence/totem/srp"
)

// Messages queued before a configuration change wait until the upper
// layer acknowledges its sync; messages sent meanwhile (sync traffic) go
// first. This is Corosync's waiting_trans_ack with its second queue.
func TestTransAckHoldsOrdinaryMessagesUntilSyncCompletes(t *testing.T) {
	s, r := newWorld(t, 1, 2)
	s.AutoAck = false
	for _, id := range s.IDs() {
		s.Node(id).TransAck()
	}
	s.Partition([]uint32{1}, []uint32{2})
	run(t, s, 2*time.Second)
	for _, id := range s.IDs() {
		s.Node(id).TransAck() // both single-node rings finished their sync
	}
	s.Heal()
	// Queue the message while node 1 is forming the merged ring, so that
	// no token of the old ring can carry it.
	for i := 0; s.Node(1).State() == srp.StateOperational; i++ {
		if i > 10000 {
			t.Fatal("node 1 never left its single-node ring")
		}
		run(t, s, time.Millisecond)
	}
	if err := s.Broadcast(1, "held"); err != nil {
		t.Fatal(err)
	}
	run(t, s, 3*time.Second)
	n1 := s.Node(1)
	if n1.State() != srp.StateOperational || len(n1.Members()) != 2 {
		t.Fatalf("no merged ring:\n%s", s.Describe())
	}
	if !n1.WaitingTransAck() {
		t.Fatal("a new configuration must start waiting for the sync ack")
	}
	for _, id := range s.IDs() {
		for _, m := range r.delivered[id] {
			if m == "held" {
				t.Fatalf("node %d delivered a held message before the sync ack", id)
			}
		}
	}
	if err := s.Broadcast(1, "sync"); err != nil {
		t.Fatal(err)
	}
	run(t, s, 500*time.Millisecond)
	if got := r.delivered[2]; len(got) == 0 || got[len(got)-1] != "sync" {
		t.Fatalf("node 2 delivered %v, want the sync message to pass the held one", got)
	}
	n1.TransAck()
	run(t, s, 500*time.Millisecond)
	if got := r.delivered[2]; got[len(got)-1] != "held" {
		t.Fatalf("node 2 delivered %v, want the held message after the ack", got)
	}
}

func TestBroadcastQueueBound(t *testing.T) {
	n, err := srp.New(srp.Config{NodeID: 1, Timing: sim.SimTiming(1), MessageQueueMax: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := n.Broadcast([]byte("x"), srp.Agreed); err != nil {
			t.Fatal(err)
		}
	}
	if n.Avail() != 0 {
		t.Fatalf("avail %d, want 0", n.Avail())
	}
	if err := n.Broadcast([]byte("x"), srp.Agreed); err != srp.ErrQueueFull {
		t.Fatalf("4th message: %v, want ErrQueueFull", err)
	}
	n.Leave()
	if err := n.Broadcast([]byte("x"), srp.Agreed); err != srp.ErrStopped {
		t.Fatalf("after Leave: %v, want ErrStopped", err)
	}
}

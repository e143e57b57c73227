package srp

import (
	"testing"

	"github.com/ringfence/ringfence/totem/wire"
)

// A fast restart can deliver the previous incarnation's LEAVE (which lists
// this node as failed) to the new process, and the network can replay an
// old join of ours. Neither may change our view: found by totemsim seed
// 2373, where node 3 put itself in its own failed list and never formed a
// ring again.
func TestOwnLeaveAndStaleOwnJoinsAreIgnored(t *testing.T) {
	n, err := New(Config{NodeID: 3, Nodes: []uint32{1, 2, 3}, Timing: DefaultTiming(3)}, &MemRingSeqStore{Seq: 62})
	if err != nil {
		t.Fatal(err)
	}
	n.Step(3, &wire.Join{Header: wire.Header{Type: wire.TypeJoin, NodeID: wire.LeaveNodeID}, SystemFrom: 3, RingSeq: 62,
		ProcList: []uint32{1, 2}, FailedList: []uint32{3}})
	n.Step(3, &wire.Join{Header: wire.Header{Type: wire.TypeJoin, NodeID: 3}, SystemFrom: 3, RingSeq: 50,
		ProcList: []uint32{1, 3}, FailedList: []uint32{1}})
	if len(n.failedList) != 0 || len(n.procList) != 1 {
		t.Fatalf("view changed by our own stale messages: proc %v failed %v", n.procList, n.failedList)
	}
	if n.tokenRingIDSeq != 63 {
		t.Fatalf("highest ring seq seen %d, want 63 (our own)", n.tokenRingIDSeq)
	}
	// Our current join still counts as our agreement: a lone node forms
	// its ring.
	n.Step(3, &wire.Join{Header: wire.Header{Type: wire.TypeJoin, NodeID: 3}, SystemFrom: 3, RingSeq: 63, ProcList: []uint32{3}})
	if n.State() != StateCommit {
		t.Fatalf("state %s after our own join, want COMMIT", n.State())
	}
}

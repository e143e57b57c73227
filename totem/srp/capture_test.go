package srp_test

import (
	"testing"
	"time"

	"github.com/ringfence/ringfence/totem/sim"
	"github.com/ringfence/ringfence/totem/srp"
	"github.com/ringfence/ringfence/totem/wire"
)

// The membership exchange of the udpu-2node-join capture of two Corosync
// 3.1.7 nodes (research notes §3.5): node 1 alone with ring seq file 0,
// eight messages sent in its ring 1.5, then node 2 starts. We check the
// same fields in our packets.
func TestMatchesCorosyncTwoNodeJoinCapture(t *testing.T) {
	s := sim.New(1, []uint32{1, 2}, sim.SimTiming(2))
	var sent []wire.Message
	s.Observe = func(id uint32, rd srp.Ready) {
		if id != 1 {
			return
		}
		for _, p := range rd.Packets {
			sent = append(sent, p.Msg)
		}
	}
	if err := s.Start(1); err != nil {
		t.Fatal(err)
	}
	// #1: JOIN nodeid=1 from=1 proc=(1) failed=() ring_seq=1
	j, ok := sent[0].(*wire.Join)
	if !ok || j.Header.NodeID != 1 || j.SystemFrom != 1 || j.RingSeq != 1 || len(j.ProcList) != 1 || j.ProcList[0] != 1 || len(j.FailedList) != 0 {
		t.Fatalf("first packet %#v, want JOIN from 1 proc (1) ring_seq 1", sent[0])
	}
	run(t, s, time.Second)
	if s.Node(1).RingID() != (wire.RingID{Rep: 1, Seq: 5}) {
		t.Fatalf("node 1 alone formed %s, want 1.5", s.Node(1).RingID())
	}
	for i := 0; i < 8; i++ {
		if err := s.Broadcast(1, "sync"); err != nil {
			t.Fatal(err)
		}
	}
	run(t, s, time.Second)
	sent = nil
	if err := s.Start(2); err != nil {
		t.Fatal(err)
	}
	run(t, s, 2*time.Second)
	var commits []*wire.CommitToken
	var firstOrf *wire.OrfToken
	for _, m := range sent {
		switch v := m.(type) {
		case *wire.CommitToken:
			commits = append(commits, v)
		case *wire.OrfToken:
			if firstOrf == nil && v.RingID.Seq == 9 {
				firstOrf = v
			}
		}
	}
	if len(commits) < 2 {
		t.Fatalf("node 1 sent %d commit tokens, want the creation and the recovery pass", len(commits))
	}
	// #29: COMMIT token_seq=1 ring=1.9 memb_index=1 addrs=(1,2) memb=[(1.5, aru 8, hd 8, rf 1), (0.0,0,0,0)]
	c := commits[0]
	if c.TokenSeq != 1 || c.RingID != (wire.RingID{Rep: 1, Seq: 9}) || c.MembIndex != 1 || len(c.Addr) != 2 || c.Addr[0] != 1 || c.Addr[1] != 2 {
		t.Fatalf("commit token %+v", c)
	}
	if e := c.MembList[0]; e.RingID != (wire.RingID{Rep: 1, Seq: 5}) || e.Aru != 8 || e.HighDelivered != 8 || e.ReceivedFlg != 1 {
		t.Fatalf("node 1's commit entry %+v, want (1.5, aru 8, hd 8, rf 1)", e)
	}
	if e := c.MembList[1]; e != (wire.CommitMember{}) {
		t.Fatalf("node 2's entry %+v must still be zero", e)
	}
	// #31: COMMIT token_seq=3, node 1 forwards once more entering RECOVERY.
	if c := commits[1]; c.TokenSeq != 3 || c.MembIndex != 2 {
		t.Fatalf("second commit token %+v, want token_seq 3 memb_index 2", c)
	}
	// #33: ORF seq=0 token_seq=0 aru=0xffffffff aru_addr=1 ring=1.9
	if firstOrf == nil || firstOrf.Seq != 0 || firstOrf.TokenSeq != 0 || firstOrf.Aru != 0xffffffff || firstOrf.AruAddr != 1 {
		t.Fatalf("initial token %+v", firstOrf)
	}
	if s.Node(2).RingID() != (wire.RingID{Rep: 1, Seq: 9}) {
		t.Fatalf("node 2 in %s, want 1.9", s.Node(2).RingID())
	}
}

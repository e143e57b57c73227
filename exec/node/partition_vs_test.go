package node

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/ringfence/ringfence/tools/netns"
)

// TestNetnsPartitionKeepsOwnMessages cuts one node of a 3-node ring off
// for a few seconds and heals it while every node multicasts every 10 ms.
// Membership changes under traffic must lose nothing a node accepted:
//   - every node delivers every message it sent itself (in its own
//     singleton ring during the cut, if need be);
//   - nodes 1 and 2, together in every configuration, deliver the same
//     sequence;
//   - messages sent after the merge are delivered by all three.
//
// In-process nodes in network namespaces, as TestNetnsRollingRestart.
//
// It runs twice: with the heartbeat (the default), and without it, where
// token loss finds the cut. The second variant reproduced a bug: the
// packet the packer held at the membership change went out with the sync
// traffic, ahead of its message's earlier fragments, and every node lost
// the message it was sending when the ring broke (flowcontrol.go has the
// rules that fixed it).
func TestNetnsPartitionKeepsOwnMessages(t *testing.T) {
	for _, hb := range []string{"default", "off"} {
		t.Run("heartbeat="+hb, func(t *testing.T) {
			if hb == "off" {
				t.Setenv("RINGFENCE_HEARTBEAT", "off")
			}
			partitionKeepsOwnMessages(t)
		})
	}
}

func partitionKeepsOwnMessages(t *testing.T) {
	c := netns.NewCluster(t, 3, netns.Options{})
	nodes := startNsRing(t, c)
	all := []uint32{1, 2, 3}
	log := &sendLog{sent: map[string]time.Time{}}
	var senders []*sender
	for _, nn := range nodes {
		senders = append(senders, startSender(nn, "p", 10*time.Millisecond, log))
	}
	time.Sleep(time.Second)
	if err := c.Hosts[2].Cut(); err != nil {
		t.Fatal(err)
	}
	waitNsRing(t, nodes[:2], []uint32{1, 2}, 30*time.Second)
	waitNsRing(t, nodes[2:], []uint32{3}, 30*time.Second)
	time.Sleep(time.Second)
	if err := c.Hosts[2].Heal(); err != nil {
		t.Fatal(err)
	}
	waitNsRing(t, nodes, all, 30*time.Second)
	merged := time.Now()
	time.Sleep(2 * time.Second)
	sent := make([][]string, 3)
	for i, s := range senders {
		var err error
		if sent[i], err = s.stop(); err != nil {
			t.Fatal(err)
		}
	}
	for i := range nodes {
		waitDelivered(t, nodes, sent[i][len(sent[i])-1], 15*time.Second)
	}
	for i, nn := range nodes {
		got := nn.delivered()
		var missing []string
		for _, m := range sent[i] {
			if !slices.Contains(got, m) {
				missing = append(missing, m)
			}
		}
		if len(missing) > 0 {
			t.Errorf("node %d never delivered %d of its own %d messages: %s", nn.id, len(missing), len(sent[i]), first(missing))
		}
	}
	if a, b := nodes[0].delivered(), nodes[1].delivered(); !slices.Equal(a, b) {
		j := 0
		for j < len(a) && j < len(b) && a[j] == b[j] {
			j++
		}
		t.Errorf("nodes 1 and 2 delivered %d and %d messages, first difference at #%d: %q vs %q", len(a), len(b), j, at(a, j), at(b, j))
	}
	if t.Failed() {
		for _, nn := range nodes {
			var st any
			var srpSt any
			_ = nn.n.Do(context.Background(), func() { st = nn.n.asm.Stats(); srpSt = nn.n.srp.Stats() })
			t.Logf("node %d assembler %+v\nsrp %+v", nn.id, st, srpSt)
		}
		for _, nn := range nodes {
			t.Logf("node %d log:\n%s", nn.id, nn.log.String())
		}
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	for m, at := range log.sent {
		if at.After(merged) {
			for _, nn := range nodes {
				if !slices.Contains(nn.delivered(), m) {
					t.Errorf("node %d misses %s, sent after the merge", nn.id, m)
				}
			}
		}
	}
}

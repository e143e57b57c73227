package node

import (
	"context"
	"os"
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
// Known bug, so it runs only with RINGFENCE_KNOWN_BUGS=1: with the
// heartbeat off (RINGFENCE_HEARTBEAT=off, failure found by token loss)
// every node loses the one message it sent at about the moment the ring
// broke (the same sequence number on all three; the assemblers count
// BadContinuation, so a message split across two packets lost its head or
// tail). With the heartbeat on it passes since the flush fix below; before
// it the sync of each new ring stalled for seconds under traffic (packets
// held for after the transitional ack kept the sync messages in the
// packer) and a message was lost most runs.
func TestNetnsPartitionKeepsOwnMessages(t *testing.T) {
	if os.Getenv("RINGFENCE_KNOWN_BUGS") != "1" {
		t.Skip("known bug: a node loses its own split message at a membership change; RINGFENCE_KNOWN_BUGS=1 runs it")
	}
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

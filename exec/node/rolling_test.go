package node

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ringfence/ringfence/tools/netns"
)

// incarnation is one run of one node, from start to stop: its delivery
// log is what the virtual-synchrony checks compare.
type incarnation struct {
	name   string // "node 2 #1"
	nn     *nsNode
	joined time.Time // first seen in a synced ring of all nodes
	leave  time.Time // its sender stopped; zero while it runs to the end
}

// TestNetnsRollingRestart stops (clean leave, the path SIGTERM takes in
// cmd/ringfenced) and restarts every node of a 3-node ring in turn while
// all running nodes multicast every 10 ms, and checks virtual synchrony
// over every incarnation's delivery log:
//   - no incarnation delivers a message twice or one nobody sent;
//   - any two incarnations deliver their common messages in one order;
//   - a message is delivered by every incarnation that was in the ring
//     when it was sent and stayed up until well after (1 s before its own
//     stop), so the survivors of each leave and each join miss nothing.
//
// A stopping node's sender is stopped first and the node is stopped once
// the others delivered its last message, so its messages count as sent
// by a node that stayed up. In-process nodes in network namespaces (real
// UDP between hosts), since the test needs every delivery; the restarted
// node keeps its state directory as the daemon does.
func TestNetnsRollingRestart(t *testing.T) {
	c := netns.NewCluster(t, 3, netns.Options{})
	conf := c.CorosyncConf(netns.CorosyncOptions{Token: 1000})
	all := []uint32{1, 2, 3}
	dirs := make([]string, 3)
	live := make([]*nsNode, 3)
	incs := make([]*incarnation, 3) // current incarnation per node
	var history []*incarnation
	log := &sendLog{sent: map[string]time.Time{}}
	senders := make([]*sender, 3)
	const interval = 10 * time.Millisecond

	for i, h := range c.Hosts {
		dirs[i] = t.TempDir()
		live[i] = startNsNode(t, h, conf, dirs[i])
	}
	waitNsRing(t, live, all, 30*time.Second)
	for i, nn := range live {
		incs[i] = &incarnation{name: fmt.Sprintf("node %d #0", i+1), nn: nn, joined: time.Now()}
		history = append(history, incs[i])
		senders[i] = startSender(nn, fmt.Sprintf("%d.0", nn.id), interval, log)
	}
	time.Sleep(time.Second)

	for round := range 3 {
		k := round // node k+1 restarts
		others := slices.Delete(slices.Clone(live), k, k+1)
		sent, err := senders[k].stop()
		if err != nil || len(sent) == 0 {
			t.Fatalf("node %d sent %d messages: %v", k+1, len(sent), err)
		}
		last := sent[len(sent)-1]
		incs[k].leave = time.Now()
		waitDelivered(t, others, last, 10*time.Second)
		start := time.Now()
		live[k].stop()
		var rest []uint32
		for _, nn := range others {
			rest = append(rest, nn.id)
		}
		waitNsRing(t, others, rest, 30*time.Second)
		left := time.Since(start)

		live[k] = startNsNode(t, c.Hosts[k], conf, dirs[k])
		waitNsRing(t, live, all, 30*time.Second)
		t.Logf("round %d: node %d left (ring of %v after %v) and rejoined after %v", round+1, k+1, rest, left.Round(time.Millisecond), (time.Since(start) - left).Round(time.Millisecond))
		incs[k] = &incarnation{name: fmt.Sprintf("node %d #1", k+1), nn: live[k], joined: time.Now()}
		history = append(history, incs[k])
		senders[k] = startSender(live[k], fmt.Sprintf("%d.1", k+1), interval, log)
		time.Sleep(time.Second)
	}

	// Let the last incarnations exchange a while, then stop every sender
	// and let the ring settle.
	time.Sleep(time.Second)
	var lasts []string
	for i := range senders {
		sent, err := senders[i].stop()
		if err != nil || len(sent) == 0 {
			t.Fatalf("node %d sent %d messages: %v", i+1, len(sent), err)
		}
		lasts = append(lasts, sent[len(sent)-1])
	}
	for _, last := range lasts {
		waitDelivered(t, live, last, 10*time.Second)
	}
	if n := checkVirtualSynchrony(t, history, log); !t.Failed() {
		t.Logf("%d messages; %d incarnations agree on order, nothing missing, nothing duplicated", n, len(history))
	}
}

// waitDelivered waits until every node delivered msg.
func waitDelivered(t *testing.T, nodes []*nsNode, msg string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for _, nn := range nodes {
		for !slices.Contains(nn.delivered(), msg) {
			if time.Now().After(deadline) {
				t.Fatalf("node %d never delivered %s (delivered %d messages)", nn.id, msg, len(nn.delivered()))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// checkVirtualSynchrony runs the checks of TestNetnsRollingRestart and
// returns how many messages were sent.
func checkVirtualSynchrony(t *testing.T, history []*incarnation, log *sendLog) int {
	t.Helper()
	log.mu.Lock()
	sent := log.sent
	log.mu.Unlock()
	logs := make([][]string, len(history))
	pos := make([]map[string]int, len(history))
	for i, inc := range history {
		logs[i] = inc.nn.delivered()
		pos[i] = make(map[string]int, len(logs[i]))
		for j, m := range logs[i] {
			if _, dup := pos[i][m]; dup {
				t.Errorf("%s delivered %s twice", inc.name, m)
			}
			if _, ok := sent[m]; !ok {
				t.Errorf("%s delivered %s, which nobody sent", inc.name, m)
			}
			pos[i][m] = j
		}
	}
	// One order: the common messages of two logs, in the order of the
	// first, must be increasing in the second.
	for a := range history {
		for b := a + 1; b < len(history); b++ {
			prev, prevMsg := -1, ""
			for _, m := range logs[a] {
				p, ok := pos[b][m]
				if !ok {
					continue
				}
				if p < prev {
					t.Errorf("%s and %s disagree on order: %s before %s in the first, after it in the second", history[a].name, history[b].name, prevMsg, m)
					break
				}
				prev, prevMsg = p, m
			}
		}
	}
	// Nothing missing.
	for _, inc := range history {
		i := slices.Index(history, inc)
		missing := 0
		var example string
		for m, at := range sent {
			if !at.After(inc.joined) || (!inc.leave.IsZero() && at.After(inc.leave.Add(-time.Second))) {
				continue
			}
			if _, ok := pos[i][m]; !ok {
				missing++
				if example == "" || m < example {
					example = m
				}
			}
		}
		if missing > 0 {
			t.Errorf("%s (in the ring from %s) misses %d messages sent while it was up, e.g. %s sent at %s",
				inc.name, inc.joined.Format("15:04:05.000"), missing, example, sent[example].Format("15:04:05.000"))
		}
	}
	return len(sent)
}

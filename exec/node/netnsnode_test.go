package node

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ringfence/ringfence/tools/netns"
)

// nsNode is an in-process Node whose sockets live in a netns host: the
// real UDP path (veth, bridge, loss rules) with direct access to the
// application group, which a separate ringfenced process would not give.
type nsNode struct {
	id     uint32
	host   *netns.Host
	n      *Node
	cancel context.CancelFunc
	done   chan error
	log    *logBuf

	mu  sync.Mutex
	got []string // "from:payload" in delivery order
}

// startNsNode starts node h.Index with conf (a corosync.conf text for the
// cluster) and stateDir as its state directory. The transport is opened
// inside the host's network namespace.
func startNsNode(t *testing.T, h *netns.Host, conf, stateDir string) *nsNode {
	t.Helper()
	cfg := parseFor(t, conf, h.Addr)
	nn := &nsNode{id: uint32(h.Index), host: h, done: make(chan error, 1), log: &logBuf{}}
	lg := logrus.New()
	lg.SetFormatter(&corosyncFormatter{settings: LogSettings{Timestamp: "hires"}})
	lg.SetOutput(nn.log)
	lg.SetLevel(logrus.InfoLevel)
	opts := Options{
		Config: cfg, Logger: lg, StateDir: stateDir, NoIPC: true, AppGroup: "nstest",
		OnAppMessage: func(from uint32, p []byte) {
			nn.mu.Lock()
			nn.got = append(nn.got, fmt.Sprintf("%d:%s", from, p))
			nn.mu.Unlock()
		},
	}
	if err := h.Do(func() error {
		var err error
		nn.n, err = New(opts)
		return err
	}); err != nil {
		t.Fatalf("node %d: %v", h.Index, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	nn.cancel = cancel
	go func() { nn.done <- nn.n.Run(ctx) }()
	t.Cleanup(nn.stop)
	return nn
}

// startNsRing starts a node on every host of c (token 1000, fresh state
// directories) and waits until they form one synced ring.
func startNsRing(t *testing.T, c *netns.Cluster) []*nsNode {
	t.Helper()
	conf := c.CorosyncConf(netns.CorosyncOptions{Token: 1000})
	var nodes []*nsNode
	for _, h := range c.Hosts {
		nodes = append(nodes, startNsNode(t, h, conf, t.TempDir()))
	}
	waitNsRing(t, nodes, netns.Indices(c.Hosts...), 30*time.Second)
	return nodes
}

// stop leaves the ring cleanly (what SIGTERM does to the daemon) and
// waits for Run to return.
func (nn *nsNode) stop() {
	if nn.cancel == nil {
		return
	}
	nn.cancel()
	<-nn.done
	nn.cancel = nil
}

func (nn *nsNode) delivered() []string {
	nn.mu.Lock()
	defer nn.mu.Unlock()
	return slices.Clone(nn.got)
}

// waitNsRing waits until every node reports the same synced ring with
// members want.
func waitNsRing(t *testing.T, nodes []*nsNode, want []uint32, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		ok := true
		ring := ""
		for _, nn := range nodes {
			st := nn.n.Status()
			if !st.Synced || !slices.Equal(st.Members, want) || (ring != "" && ring != st.RingID.String()) {
				ok = false
				break
			}
			ring = st.RingID.String()
		}
		if ok {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, nn := range nodes {
		t.Logf("node %d: %+v\n%s", nn.id, nn.n.Status(), nn.log.String())
	}
	t.Fatalf("ring %v did not form within %v", want, timeout)
}

// sendLog records when each message was handed to Multicast.
type sendLog struct {
	mu   sync.Mutex
	sent map[string]time.Time // "from:payload" -> time before Multicast
}

// sender multicasts "<prefix>-<seq>" from a node every interval until
// stopped, remembers what Multicast accepted and, with a sendLog, when.
type sender struct {
	stopc, done chan struct{}
	sent        []string // "from:payload", as delivered
	err         error
}

func startSender(nn *nsNode, prefix string, interval time.Duration, log *sendLog) *sender {
	s := &sender{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for seq := 0; ; seq++ {
			select {
			case <-s.stopc:
				return
			case <-tick.C:
			}
			payload := fmt.Sprintf("%s-%d", prefix, seq)
			at := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := nn.n.Multicast(ctx, []byte(payload))
			cancel()
			if err != nil {
				s.err = fmt.Errorf("node %d multicast %s: %w", nn.id, payload, err)
				return
			}
			key := fmt.Sprintf("%d:%s", nn.id, payload)
			if log != nil {
				log.mu.Lock()
				log.sent[key] = at
				log.mu.Unlock()
			}
			s.sent = append(s.sent, key)
		}
	}()
	return s
}

// stop ends the sender and returns what it sent.
func (s *sender) stop() ([]string, error) {
	close(s.stopc)
	<-s.done
	return s.sent, s.err
}

// checkSameOrder fails unless every node delivered want's messages (as a
// set) exactly once and all in one order. It waits up to timeout for
// stragglers.
func checkSameOrder(t *testing.T, nodes []*nsNode, want []string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		done := true
		for _, nn := range nodes {
			if len(nn.delivered()) < len(want) {
				done = false
			}
		}
		if done {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	ref := nodes[0].delivered()
	if err := sameSet(ref, want); err != nil {
		t.Fatalf("node %d: %v", nodes[0].id, err)
	}
	for _, nn := range nodes[1:] {
		got := nn.delivered()
		if !slices.Equal(got, ref) {
			i := 0
			for i < len(got) && i < len(ref) && got[i] == ref[i] {
				i++
			}
			t.Fatalf("node %d delivered %d messages, node %d %d; first difference at #%d: %q vs %q",
				nn.id, len(got), nodes[0].id, len(ref), i, at(got, i), at(ref, i))
		}
	}
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return "<end>"
}

// sameSet checks that got holds every message of want exactly once and
// nothing else.
func sameSet(got, want []string) error {
	seen := make(map[string]int, len(got))
	for _, m := range got {
		seen[m]++
	}
	var dup, missing []string
	for m, c := range seen {
		if c > 1 {
			dup = append(dup, m)
		}
	}
	for _, m := range want {
		if seen[m] == 0 {
			missing = append(missing, m)
		}
		delete(seen, m)
	}
	if len(dup) > 0 || len(missing) > 0 || len(seen) > 0 {
		extra := make([]string, 0, len(seen))
		for m := range seen {
			extra = append(extra, m)
		}
		return fmt.Errorf("delivered %d of %d: duplicates %s, missing %s, unexpected %s", len(got), len(want), first(dup), first(missing), first(extra))
	}
	return nil
}

// first renders up to five entries of a list, for failure messages.
func first(s []string) string {
	slices.Sort(s)
	if len(s) > 5 {
		return fmt.Sprintf("%s ... (%d)", strings.Join(s[:5], " "), len(s))
	}
	return fmt.Sprintf("%v", s)
}

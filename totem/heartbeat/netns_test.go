package heartbeat

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringfence/ringfence/tools/netns"
)

// openOn opens an engine inside a namespace host of the netns harness.
func openOn(t *testing.T, h *netns.Host, id uint32, hosts []*netns.Host, noBPF bool) *Engine {
	t.Helper()
	var peers []Peer
	for i := range hosts {
		peers = append(peers, Peer{NodeID: uint32(i + 1), Addr: netns.HostAddr(i + 1)})
	}
	var e *Engine
	err := h.Do(func() (err error) {
		e, err = Open(Config{NodeID: id, Port: 5407, NoBPF: noBPF, Grace: time.Second,
			Links: []LinkConfig{{Number: 0, Local: netns.HostAddr(int(id)), Peers: peers}}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// Two namespaces on a bridge, real veths: probes answered by XDP (or the
// userspace fallback), RTT measured, a cut link reported.
func TestNetnsProbeAndCut(t *testing.T) {
	for _, mode := range []string{"xdp", "userspace"} {
		t.Run(mode, func(t *testing.T) {
			c := netns.NewCluster(t, 3, netns.Options{})
			var engs []*Engine
			for i, h := range c.Hosts {
				engs = append(engs, openOn(t, h, uint32(i+1), c.Hosts, mode == "userspace"))
			}
			if mode == "xdp" && !engs[0].Kernel() {
				t.Skipf("XDP responder not available: %s", engs[0].Mode())
			}
			t.Logf("mode: %s", engs[0].Mode())
			tickAll := func() (reports [][]uint32) {
				for _, e := range engs {
					e.Stamp()
					reports = append(reports, e.Tick())
				}
				time.Sleep(20 * time.Millisecond)
				return reports
			}
			// At least 10 healthy intervals; more while the first
			// answers are missing, since on a loaded machine the
			// responder processes may take a few intervals to start
			// (nothing may be reported meanwhile either way).
			enough := func() bool {
				for _, l := range engs[0].Links() {
					if l.Answers+l.Probes < 8 {
						return false
					}
				}
				return engs[0].Links()[0].Answers >= 8
			}
			for i := 0; i < 10 || (!enough() && i < 60); i++ {
				for j, r := range tickAll() {
					if len(r) > 0 {
						t.Fatalf("healthy: node %d reported %v", j+1, r)
					}
				}
			}
			// Node 1 probes node 2 (answers, RTT); node 3 probes node 1.
			for _, l := range engs[0].Links() {
				t.Logf("node 1 -> %d: rtt %v loss %.2f answers %d probes received %d", l.Node, l.RTT, l.Loss, l.Answers, l.Probes)
				if !l.Fenced || !l.Reachable || l.Answers+l.Probes < 8 {
					t.Fatalf("link %+v", l)
				}
			}
			if l := engs[0].Links()[0]; l.Answers < 8 || l.RTT <= 0 || l.RTT > 100*time.Millisecond {
				t.Fatalf("probed link %+v", l)
			}
			if mode == "xdp" {
				// Node 2's answers came from its kernel, not its socket.
				kr, err := engs[1].kernel.Lookup(Key{Node: 1, Link: 0})
				if err != nil || kr.Replied < 8 {
					t.Fatalf("node 2 kernel record %+v %v", kr, err)
				}
				if ur := engs[1].user.lookup(Key{Node: 1, Link: 0}); ur.Replied != 0 {
					t.Fatalf("node 2 userspace answered %d probes with XDP loaded", ur.Replied)
				}
			}
			if err := c.Hosts[2].Cut(); err != nil {
				t.Fatal(err)
			}
			var got []uint32
			for i := 0; i < DefaultMisses+3 && got == nil; i++ {
				got = tickAll()[0]
			}
			if !slices.Equal(got, []uint32{3}) {
				t.Fatalf("node 1 reported %v after the cut, want [3]", got)
			}
		})
	}
}

func TestModeNamesPath(t *testing.T) {
	e, err := Open(Config{NodeID: 1, Port: 5407, NoBPF: true, Listen: NewMemNet().Listen,
		Links: []LinkConfig{{Local: addrOf(1), Peers: []Peer{{NodeID: 2, Addr: addrOf(2)}}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.Kernel() || !strings.HasPrefix(e.Mode(), "userspace") {
		t.Fatalf("mode %q", e.Mode())
	}
}

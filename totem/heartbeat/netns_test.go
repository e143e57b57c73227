package heartbeat

import (
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
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

// An interface whose XDP hook another program holds (an operator's filter,
// say): the engine puts its responder at TC ingress instead, and both
// work: the other program still sees every frame, and the probes are
// answered in the kernel.
func TestNetnsTCWhenXDPTaken(t *testing.T) {
	c := netns.NewCluster(t, 2, netns.Options{})
	counter, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1})
	if err != nil {
		t.Skipf("BPF not available: %v", err)
	}
	defer counter.Close()
	// The other program: count every frame, pass it.
	other, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.XDP, License: "GPL", Instructions: asm.Instructions{
		asm.StoreImm(asm.R10, -4, 0, asm.Word),
		asm.LoadMapPtr(asm.R1, counter.FD()),
		asm.Mov.Reg(asm.R2, asm.R10),
		asm.Add.Imm(asm.R2, -4),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "out"),
		asm.Mov.Imm(asm.R1, 1),
		asm.AddAtomic.Mem(asm.R0, asm.R1, asm.DWord, 0),
		asm.Mov.Imm(asm.R0, xdpPass).WithSymbol("out"),
		asm.Return(),
	}})
	if err != nil {
		t.Skipf("XDP programs not available: %v", err)
	}
	defer other.Close()
	var held link.Link
	if err := c.Hosts[0].Do(func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		held, err = link.AttachXDP(link.XDPOptions{Program: other, Interface: ifi.Index, Flags: link.XDPGenericMode})
		return err
	}); err != nil {
		t.Skipf("cannot attach XDP: %v", err)
	}
	defer held.Close()

	e1 := openOn(t, c.Hosts[0], 1, c.Hosts, false)
	if !e1.Kernel() || !strings.Contains(e1.Mode(), "TC ingress on eth0; XDP refused on eth0:") {
		t.Fatalf("mode %q, want the TC ingress path", e1.Mode())
	}
	t.Logf("mode: %s", e1.Mode())
	e2 := openOn(t, c.Hosts[1], 2, c.Hosts, true)
	e2.SetWide(true) // node 2 probes node 1 every interval
	for range 20 {
		for _, e := range []*Engine{e1, e2} {
			e.Stamp()
			if r := e.Tick(); len(r) > 0 {
				t.Fatalf("healthy ring reported %v", r)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	kr, err := e1.kernel.Lookup(Key{Node: 2, Link: 0})
	if err != nil || kr.Replied < 10 {
		t.Fatalf("node 1's kernel answered %d of node 2's probes (%v), want most of 20", kr.Replied, err)
	}
	if ur := e1.user.lookup(Key{Node: 2, Link: 0}); ur.Replied != 0 {
		t.Fatalf("node 1's socket answered %d probes with the TC responder loaded", ur.Replied)
	}
	var seen uint64
	if err := counter.Lookup(uint32(0), &seen); err != nil || seen < 20 {
		t.Fatalf("the other XDP program saw %d frames (%v): it was displaced", seen, err)
	}
	t.Logf("TC answered %d probes; the other XDP program saw %d frames", kr.Replied, seen)
}

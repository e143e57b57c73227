package transport

import (
	"net"
	"net/netip"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"

	"github.com/ringfence/ringfence/tools/netns"
)

// attachXDPPass attaches a generic-mode XDP program that passes every
// packet to the interface holding addr (run inside the host's namespace),
// as totem/heartbeat's responder does for everything but its probes.
func attachXDPPass(t *testing.T, addr netip.Addr) {
	t.Helper()
	ifi, err := interfaceWith(addr)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Name: "rf_gso_pass", Type: ebpf.XDP, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 2), asm.Return()}})
	if err != nil {
		t.Skipf("cannot load an XDP program: %v", err)
	}
	t.Cleanup(func() { prog.Close() })
	lk, err := link.AttachXDP(link.XDPOptions{Program: prog, Interface: ifi.Index, Flags: link.XDPGenericMode})
	if err != nil {
		t.Skipf("cannot attach XDP to %s: %v", ifi.Name, err)
	}
	t.Cleanup(func() { lk.Close() })
}

// TestUDPUGSONetns sends GSO runs across a bridge of veths, as between
// the daemons of a netns ring: host 2 runs UDPU with GRO and, in the
// second round, a generic XDP program on its interface (the eBPF
// heartbeat's mode); host 3 is a plain socket like a corosync peer's.
// Both get every datagram, in order, byte for byte.
func TestUDPUGSONetns(t *testing.T) {
	c := netns.NewCluster(t, 3, netns.Options{})
	var members []Member
	for _, h := range c.Hosts {
		members = append(members, Member{NodeID: uint32(h.Index), Addr: h.Addr})
	}
	nodes := make([]*UDPU, 2)
	for i, h := range c.Hosts[:2] {
		if err := h.Do(func() error {
			u, err := NewUDPU(UDPUConfig{Local: h.Addr, Members: members, Log: quietLog})
			nodes[i] = u
			return err
		}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nodes[i].Close() })
	}
	if !nodes[0].gso.enabled() || !nodes[1].gro {
		t.Skipf("GSO %v, GRO %v here", nodes[0].gso.enabled(), nodes[1].gro)
	}
	var plain *net.UDPConn
	if err := c.Hosts[2].Do(func() error {
		var err error
		plain, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(c.Hosts[2].Addr, DefaultPort)))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { plain.Close() })
	plain.SetReadBuffer(CorosyncRecvBuffer) // as corosync's socket has

	frames := [][]byte{frame('a', 1400), frame('b', 1400), frame('c', 1400), frame('d', 90), frame('e', 1000), frame('f', 1000)}
	for i := range 100 {
		frames = append(frames, frame(byte(i), 1472)) // netmtu 1500 less the headers
	}
	for round, xdp := range []bool{false, true} {
		if xdp {
			if err := c.Hosts[1].Do(func() error { attachXDPPass(t, c.Hosts[1].Addr); return nil }); err != nil {
				t.Fatal(err)
			}
		}
		before := nodes[0].Stats().TxGSO
		sendVisit(t, nodes, plain, frames)
		st := nodes[0].Stats()
		if st.TxGSO == before || st.GSOFallbacks != 0 || st.SendErrors != 0 {
			t.Fatalf("round %d (XDP %v): sender stats %+v, want GSO used without fallback", round, xdp, st)
		}
		t.Logf("round %d (XDP %v): receiver stats %+v", round, xdp, nodes[1].Stats())
	}
}

package transport

import (
	"net/netip"
	"testing"

	"github.com/ringfence/ringfence/tools/netns"
)

// TestUDPMulticastNetns runs three udp transports on three hosts of a
// bridge: a multicast reaches the others from mcastport-1 and the sender
// exactly once (in process, loop is off), tokens go unicast.
func TestUDPMulticastNetns(t *testing.T) {
	c := netns.NewCluster(t, 3, netns.Options{})
	group := McastAddrForCluster("ringfence")
	var members []Member
	for _, h := range c.Hosts {
		members = append(members, Member{NodeID: uint32(h.Index), Addr: h.Addr})
	}
	nodes := make([]*UDP, len(c.Hosts))
	for i, h := range c.Hosts {
		if err := h.Do(func() error {
			u, err := NewUDP(UDPConfig{Local: h.Addr, Group: group, Members: members})
			nodes[i] = u
			return err
		}); err != nil {
			t.Fatal(err)
		}
		defer nodes[i].Close()
	}
	if err := nodes[0].Multicast([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	want := netip.AddrPortFrom(c.Hosts[0].Addr, DefaultPort-1)
	for i, u := range nodes {
		d := recvOne(t, u)
		if string(d.Data) != "hello" || d.From != want || d.FromNode != 1 {
			t.Fatalf("node %d got %+v, want hello from %s", i+1, d, want)
		}
		expectNone(t, u) // exactly one copy, the sender included
	}
	if err := nodes[2].SendToken(1, []byte("tok")); err != nil {
		t.Fatal(err)
	}
	d := recvOne(t, nodes[0])
	if string(d.Data) != "tok" || d.From != netip.AddrPortFrom(c.Hosts[2].Addr, DefaultPort-1) || d.FromNode != 3 {
		t.Fatalf("token arrived as %+v", d)
	}
	expectNone(t, nodes[1])
	if s := nodes[0].Stats(); s.TxDatagrams != 1 || s.RxDatagrams != 2 {
		t.Fatalf("node 1 stats %+v", s)
	}
}

package transport

import (
	"errors"
	"net/netip"
	"testing"
	"time"
)

func addrs(n int, base [4]byte) []Member {
	ms := make([]Member, n)
	for i := range ms {
		a := base
		a[3] += byte(i)
		ms[i] = Member{NodeID: uint32(i + 1), Addr: netip.AddrFrom4(a)}
	}
	return ms
}

func recvOne(t *testing.T, tr Transport) Datagram {
	t.Helper()
	select {
	case d, ok := <-tr.Recv():
		if !ok {
			t.Fatal("Recv channel closed")
		}
		return d
	case <-time.After(2 * time.Second):
		t.Fatal("no datagram within 2s")
	}
	return Datagram{}
}

func expectNone(t *testing.T, tr Transport) {
	t.Helper()
	select {
	case d := <-tr.Recv():
		t.Fatalf("unexpected datagram %q from %s", d.Data, d.From)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestMemoryTokenMulticastAndPartition(t *testing.T) {
	members := addrs(3, [4]byte{198, 18, 0, 1})
	net := NewNetwork(8)
	eps := make([]*Memory, 3)
	for i, m := range members {
		ep, err := net.Attach(m.Addr, members, 0)
		if err != nil {
			t.Fatal(err)
		}
		eps[i] = ep
		defer ep.Close()
	}
	if err := eps[0].SendToken(2, []byte("tok")); err != nil {
		t.Fatal(err)
	}
	d := recvOne(t, eps[1])
	if string(d.Data) != "tok" || d.FromNode != 1 || d.From.Addr() != members[0].Addr {
		t.Fatalf("token arrived as %+v", d)
	}
	expectNone(t, eps[2])

	if err := eps[2].Multicast([]byte("m")); err != nil {
		t.Fatal(err)
	}
	for i, ep := range eps {
		if d := recvOne(t, ep); string(d.Data) != "m" || d.FromNode != 3 {
			t.Fatalf("endpoint %d got %+v", i, d)
		}
	}

	net.Block(members[0].Addr, members[1].Addr)
	if err := eps[0].Multicast([]byte("p")); err != nil {
		t.Fatal(err)
	}
	recvOne(t, eps[0])
	recvOne(t, eps[2])
	expectNone(t, eps[1])
	net.Unblock(members[0].Addr, members[1].Addr)
	eps[0].SendToken(2, []byte("again"))
	if d := recvOne(t, eps[1]); string(d.Data) != "again" {
		t.Fatalf("after unblock got %q", d.Data)
	}
}

func TestMemoryRefusals(t *testing.T) {
	members := addrs(2, [4]byte{198, 18, 0, 1})
	net := NewNetwork(1)
	a, _ := net.Attach(members[0].Addr, members, 100)
	b, _ := net.Attach(members[1].Addr, members[:1], 100) // b does not list itself
	outsider, _ := net.Attach(netip.MustParseAddr("198.18.0.9"), members, 100)
	defer a.Close()
	defer b.Close()
	defer outsider.Close()

	if err := a.Multicast(make([]byte, 101)); !errors.Is(err, ErrOversize) {
		t.Fatalf("oversize send: %v", err)
	}
	if err := a.SendToken(7, []byte("x")); !errors.Is(err, ErrUnknownMember) {
		t.Fatalf("unknown member: %v", err)
	}
	outsider.Multicast([]byte("spoof"))
	expectNone(t, a)
	if s := a.Stats(); s.DroppedUnlisted != 1 || s.RefusedOversize != 1 {
		t.Fatalf("stats %+v", s)
	}
	// Queue of one: the second datagram is dropped and counted.
	a.SendToken(2, []byte("1"))
	a.SendToken(2, []byte("2"))
	if s := b.Stats(); s.DroppedQueueFull != 1 || s.RxDatagrams != 1 {
		t.Fatalf("queue stats %+v", s)
	}
	if _, err := net.Attach(members[0].Addr, members, 0); err == nil {
		t.Fatal("second endpoint on the same address accepted")
	}
	b.Close()
	if _, ok := <-b.Recv(); !ok {
		t.Fatal("queued datagram lost on close")
	}
	if _, ok := <-b.Recv(); ok {
		t.Fatal("Recv not closed")
	}
	if err := b.Multicast([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("send after close: %v", err)
	}
}

func TestMemberListValidation(t *testing.T) {
	bad := [][]Member{
		{{NodeID: 0, Addr: netip.MustParseAddr("127.0.0.1")}},
		{{NodeID: 1}},
		{{NodeID: 1, Addr: netip.MustParseAddr("127.0.0.1")}, {NodeID: 1, Addr: netip.MustParseAddr("127.0.0.2")}},
		{{NodeID: 1, Addr: netip.MustParseAddr("127.0.0.1")}, {NodeID: 2, Addr: netip.MustParseAddr("::ffff:127.0.0.1")}},
	}
	for i, ms := range bad {
		if _, err := newMemberSet(ms); err == nil {
			t.Errorf("case %d accepted: %v", i, ms)
		}
	}
}

func TestMcastAddrForCluster(t *testing.T) {
	// Verified against corosync 3.1.7 (research notes, section 1).
	if got := McastAddrForCluster("gotest"); got != netip.MustParseAddr("239.192.26.120") {
		t.Fatalf("gotest -> %s", got)
	}
}

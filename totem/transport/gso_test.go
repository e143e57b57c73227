package transport

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// frame is n bytes that say which frame they are.
func frame(tag byte, n int) []byte {
	b := bytes.Repeat([]byte{tag}, n)
	if n >= 2 {
		b[1] = byte(n) // tell apart frames of one tag and different lengths
	}
	return b
}

// gsoRing is loopbackRing for n UDPU members plus, as the last member, a
// plain UDP socket (no GRO) bound where that member's daemon would be,
// standing in for a corosync peer. It skips when the kernel has no GSO.
func gsoRing(t *testing.T, n int) ([]*UDPU, *net.UDPConn, []Member) {
	t.Helper()
	base := privateLoopback()
	members := addrs(n+1, base)
	port := freePort(t, base)
	plain, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(members[n].Addr, port)))
	if err != nil {
		t.Skipf("cannot bind %s: %v", members[n].Addr, err)
	}
	t.Cleanup(func() { plain.Close() })
	plain.SetReadBuffer(CorosyncRecvBuffer) // as corosync's socket has
	nodes := make([]*UDPU, n)
	for i := range nodes {
		u, err := NewUDPU(UDPUConfig{Local: members[i].Addr, Port: port, Members: members, Log: quietLog})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { u.Close() })
		nodes[i] = u
	}
	if !nodes[0].gso.enabled() {
		t.Skip("kernel without UDP_SEGMENT")
	}
	return nodes, plain, members
}

// expectPlain reads want from a plain socket, one datagram each, in order.
func expectPlain(t *testing.T, c *net.UDPConn, from netip.AddrPort, want [][]byte) {
	t.Helper()
	buf := make([]byte, 70000)
	for i, w := range want {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, a, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("plain receiver, datagram %d (%d bytes): %v", i, len(w), err)
		}
		if !bytes.Equal(buf[:n], w) || a != from {
			t.Fatalf("plain receiver, datagram %d: got %d bytes %q... from %s, want %d bytes %q... from %s", i, n, buf[:min(n, 4)], a, len(w), w[:min(len(w), 4)], from)
		}
	}
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if n, _, err := c.ReadFromUDPAddrPort(buf); err == nil {
		t.Fatalf("plain receiver: unexpected %d bytes %q...", n, buf[:min(n, 4)])
	}
}

// expectUDPU reads want from a UDPU member's Recv, one Datagram each.
func expectUDPU(t *testing.T, u *UDPU, from netip.AddrPort, want [][]byte) {
	t.Helper()
	for i, w := range want {
		select {
		case d := <-u.Recv():
			if !bytes.Equal(d.Data, w) || d.From != from || d.FromNode != 1 {
				t.Fatalf("%s, datagram %d: got %d bytes %q... from %s (node %d), want %d bytes %q... from %s", u.LocalAddr(), i, len(d.Data), d.Data[:min(len(d.Data), 4)], d.From, d.FromNode, len(w), w[:min(len(w), 4)], from)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: datagram %d (%d bytes) missing", u.LocalAddr(), i, len(w))
		}
	}
	select {
	case d := <-u.Recv():
		t.Fatalf("%s: unexpected %d bytes %q...", u.LocalAddr(), len(d.Data), d.Data[:min(len(d.Data), 4)])
	case <-time.After(20 * time.Millisecond):
	}
}

// sendVisit sends frames and a token to the plain socket's member (the
// last) from nodes[0], and checks that every member receives what it
// should: the frames, one datagram each, in order, then the token.
func sendVisit(t *testing.T, nodes []*UDPU, plain *net.UDPConn, frames [][]byte) {
	t.Helper()
	token := []byte("token")
	if err := nodes[0].SendBatch(visit(frames, uint32(len(nodes)+1), token)); err != nil {
		t.Fatal(err)
	}
	from := nodes[0].LocalAddr()
	expectPlain(t, plain, from, append(append([][]byte(nil), frames...), token))
	for i, u := range nodes {
		if i == 0 {
			expectUDPU(t, u, nodes[0].SelfSource(), frames) // the own copies' socket
			continue
		}
		expectUDPU(t, u, from, frames)
	}
}

func visit(frames [][]byte, to uint32, token []byte) []Outgoing {
	var pkts []Outgoing
	for _, f := range frames {
		pkts = append(pkts, Outgoing{Data: f})
	}
	if token != nil {
		pkts = append(pkts, Outgoing{To: to, Data: token})
	}
	return pkts
}

// TestUDPUGSORun: a run of equal frames and a shorter last one goes out
// with GSO, and arrives at a plain socket (as at a corosync peer) and at
// UDPU members with GRO as the individual datagrams, byte for byte, in
// order; the stats count every frame as a datagram.
func TestUDPUGSORun(t *testing.T) {
	nodes, plain, members := gsoRing(t, 2)
	frames := [][]byte{frame('a', 1200), frame('b', 1200), frame('c', 1200), frame('d', 300)}
	sendVisit(t, nodes, plain, frames)
	st := nodes[0].Stats()
	wantBytes := uint64(len(members) * (3*1200 + 300))
	if st.TxGSO != uint64(len(members)) || st.TxDatagrams != uint64(len(members)*4+1) || st.TxBytes != wantBytes+5 || st.SendErrors != 0 || st.GSOFallbacks != 0 {
		t.Fatalf("sender stats %+v: want %d GSO datagrams carrying %d datagrams, %d bytes", st, len(members), len(members)*4+1, wantBytes+5)
	}
	if rx := nodes[1].Stats(); rx.RxDatagrams != 4 || rx.RxGRO != 1 {
		t.Fatalf("receiver stats %+v: want 4 datagrams from 1 coalesced read", rx)
	}
}

// TestUDPUGSOMixedVisit: a visit of frames of several sizes (a short one
// in the middle, a longer one after a run, retransmitted copies, an
// empty one) keeps its order at every receiver, and the token comes
// last.
func TestUDPUGSOMixedVisit(t *testing.T) {
	nodes, plain, _ := gsoRing(t, 2)
	m := [][]byte{frame('a', 800), frame('b', 800), frame('c', 50), frame('d', 800), frame('e', 800), frame('f', 1400), frame('g', 1400)}
	frames := [][]byte{m[0], m[1], m[2], m[3], m[4], m[4], m[5], m[6], m[0], m[1], {}, frame('h', 1), frame('i', 1)}
	for i := range 70 { // more than one GSO datagram holds
		frames = append(frames, frame(byte(i), 500))
	}
	sendVisit(t, nodes, plain, frames)
	if st := nodes[0].Stats(); st.TxGSO == 0 || st.TxDatagrams != uint64(3*len(frames)+1) {
		t.Fatalf("stats %+v: want GSO used and %d datagrams", st, 3*len(frames)+1)
	}
}

// TestUDPUGSOFallback: a socket the kernel refuses GSO on (SO_NO_CHECK:
// no UDP checksum, which GSO needs) sends the run again one datagram at
// a time, counts the refusal once and sends without GSO from then on.
func TestUDPUGSOFallback(t *testing.T) {
	nodes, plain, _ := gsoRing(t, 2)
	// Both sending sockets: the one to the peers and the one to itself.
	for _, rc := range []syscall.RawConn{nodes[0].raw, nodes[0].selfRaw} {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_NO_CHECK, 1)
		}); err != nil || serr != nil {
			t.Skipf("SO_NO_CHECK: %v %v", err, serr)
		}
	}
	frames := [][]byte{frame('a', 600), frame('b', 600), frame('c', 100), frame('d', 700), frame('e', 700)}
	from := nodes[0].LocalAddr()
	for round := range 2 {
		if err := nodes[0].SendBatch(visit(frames, 2, []byte("token"))); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		expectPlain(t, plain, from, frames)
		expectUDPU(t, nodes[0], nodes[0].SelfSource(), frames)
		expectUDPU(t, nodes[1], from, append(append([][]byte(nil), frames...), []byte("token")))
		st := nodes[0].Stats()
		if st.GSOFallbacks != 1 || st.TxGSO != 0 || st.SendErrors != 0 || st.TxDatagrams != uint64((round+1)*(3*len(frames)+1)) {
			t.Fatalf("round %d: stats %+v, want one fallback, no GSO datagram, no error", round, st)
		}
		if nodes[0].gso.enabled() {
			t.Fatalf("round %d: GSO still on after the refusal", round)
		}
	}
}

// TestUDPUNoGSOEnv: RINGFENCE_NO_GSO=1 keeps GSO and GRO off; the same
// datagrams arrive.
func TestUDPUNoGSOEnv(t *testing.T) {
	t.Setenv(noOffloadEnv, "1")
	nodes, _ := loopbackRing(t, 2, nil)
	if nodes[0].gso.enabled() || nodes[0].gro {
		t.Fatalf("GSO %v, GRO %v with %s=1", nodes[0].gso.enabled(), nodes[0].gro, noOffloadEnv)
	}
	frames := [][]byte{frame('a', 600), frame('b', 600), frame('c', 100)}
	if err := nodes[0].SendBatch(visit(frames, 0, nil)); err != nil {
		t.Fatal(err)
	}
	expectUDPU(t, nodes[0], nodes[0].SelfSource(), frames)
	expectUDPU(t, nodes[1], nodes[0].LocalAddr(), frames)
	if st := nodes[0].Stats(); st.TxGSO != 0 || st.RxGRO != 0 || st.TxDatagrams != 6 {
		t.Fatalf("stats %+v", st)
	}
}

// TestGSORun checks how a visit is cut into runs.
func TestGSORun(t *testing.T) {
	mk := func(spec ...int) []Outgoing {
		var p []Outgoing
		for _, n := range spec {
			if n < 0 {
				p = append(p, Outgoing{To: 2, Data: make([]byte, -n)})
				continue
			}
			p = append(p, Outgoing{Data: make([]byte, n)})
		}
		return p
	}
	runs := func(p []Outgoing, maxSeg int) string {
		s := ""
		for i := 0; i < len(p); {
			j := gsoRun(p, i, maxSeg)
			s += fmt.Sprint(j-i, " ")
			i = j
		}
		return s
	}
	many := make([]int, 130)
	for i := range many {
		many[i] = 100
	}
	big := make([]int, 50)
	for i := range big {
		big[i] = 1400
	}
	for _, c := range []struct {
		spec   []int
		maxSeg int
		want   string
	}{
		{[]int{10, 10, 10, 5, 10}, 1472, "4 1 "},
		{[]int{10, 20, 20, 10, 10}, 1472, "1 3 1 "},
		{[]int{10, 10, -5, 10, 10}, 1472, "2 1 2 "},
		{[]int{10, 0, 10, 10, 0}, 1472, "1 1 2 1 "},
		{[]int{10, 10, 10}, 9, "1 1 1 "},
		{many, 1472, "64 64 2 "},
		{big, 1472, "46 4 "}, // 46·1400 fits 65507 bytes, 47 would not
	} {
		if got := runs(mk(c.spec...), c.maxSeg); got != c.want {
			t.Errorf("%v (max %d): runs %q, want %q", c.spec, c.maxSeg, got, c.want)
		}
	}
}

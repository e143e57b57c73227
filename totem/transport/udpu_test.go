package transport

import (
	"errors"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// quietLog keeps bind messages out of test and benchmark output.
var quietLog = func() *logrus.Logger { l := logrus.New(); l.Out = io.Discard; return l }()

// freePort finds a UDP port free on 127.0.0.1 (and, for practical
// purposes, on the other loopback addresses the test uses).
func freePort(t testing.TB) uint16 {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return uint16(c.LocalAddr().(*net.UDPAddr).Port)
}

func loopbackRing(t testing.TB, n int, mod func(*UDPUConfig)) ([]*UDPU, []Member) {
	t.Helper()
	members := addrs(n, [4]byte{127, 0, 0, 1})
	port := freePort(t)
	nodes := make([]*UDPU, n)
	for i := range nodes {
		cfg := UDPUConfig{Local: members[i].Addr, Port: port, Members: members, Log: quietLog}
		if mod != nil {
			mod(&cfg)
		}
		u, err := NewUDPU(cfg)
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = u
		t.Cleanup(func() { u.Close() })
	}
	return nodes, members
}

func TestUDPULoopback(t *testing.T) {
	for _, batch := range []int{1, 16} {
		t.Run(map[int]string{1: "single", 16: "batched"}[batch], func(t *testing.T) {
			nodes, members := loopbackRing(t, 3, func(c *UDPUConfig) { c.RecvBatch, c.SendBatch = batch, batch })
			port := nodes[0].cfg.Port

			// Token: from ring0_addr:mcastport to the next member's mcastport.
			if err := nodes[0].SendToken(2, []byte("token")); err != nil {
				t.Fatal(err)
			}
			d := recvOne(t, nodes[1])
			if string(d.Data) != "token" || d.FromNode != 1 || d.From != netip.AddrPortFrom(members[0].Addr, port) {
				t.Fatalf("token arrived as %+v (want from %s:%d)", d, members[0].Addr, port)
			}
			if d.At.IsZero() {
				t.Fatal("no receipt time")
			}

			// Multicast: one copy to every member, the sender included,
			// from the sender's address.
			if err := nodes[1].Multicast([]byte("mcast")); err != nil {
				t.Fatal(err)
			}
			for i, u := range nodes {
				d := recvOne(t, u)
				if string(d.Data) != "mcast" || d.FromNode != 2 || d.From.Addr() != members[1].Addr {
					t.Fatalf("node %d got %+v", i+1, d)
				}
				if d.From != nodes[1].MulticastSource() {
					t.Fatalf("node %d: multicast from %s, want %s", i+1, d.From, nodes[1].MulticastSource())
				}
			}
			if s := nodes[1].Stats(); s.TxDatagrams != 3 || s.TxBytes != 15 || s.SendErrors != 0 {
				t.Fatalf("sender stats %+v", s)
			}
			if s := nodes[0].Stats(); s.RxDatagrams != 1 || s.RxBytes != 5 {
				t.Fatalf("receiver stats %+v", s)
			}
		})
	}
}

func TestUDPUBlocksUnlisted(t *testing.T) {
	nodes, members := loopbackRing(t, 2, nil)
	open, err := NewUDPU(UDPUConfig{Local: netip.MustParseAddr("127.0.0.3"), Port: nodes[0].cfg.Port, Members: members, AllowUnlisted: true})
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	// A stranger (127.0.0.9) writes to node 1 and to the permissive node.
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 9)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.WriteToUDPAddrPort([]byte("stranger"), nodes[0].LocalAddr())
	c.WriteToUDPAddrPort([]byte("stranger"), open.LocalAddr())
	d := recvOne(t, open)
	if d.FromNode != 0 || d.From.Addr() != netip.MustParseAddr("127.0.0.9") {
		t.Fatalf("permissive node got %+v", d)
	}
	expectNone(t, nodes[0])
	if s := nodes[0].Stats(); s.DroppedUnlisted != 1 || s.RxDatagrams != 0 {
		t.Fatalf("stats %+v", s)
	}
	// SetMembers lets it in.
	nodes[0].SetMembers(append(members, Member{NodeID: 9, Addr: netip.MustParseAddr("127.0.0.9")}))
	c.WriteToUDPAddrPort([]byte("friend"), nodes[0].LocalAddr())
	if d := recvOne(t, nodes[0]); d.FromNode != 9 {
		t.Fatalf("after SetMembers got %+v", d)
	}
}

func TestUDPUTruncatedAndOversize(t *testing.T) {
	for _, batch := range []int{1, 16} {
		nodes, _ := loopbackRing(t, 2, func(c *UDPUConfig) { c.ReadSize = 64; c.NetMTU = 200; c.RecvBatch, c.SendBatch = batch, batch })
		if err := nodes[0].SendToken(2, make([]byte, 100)); err != nil {
			t.Fatal(err)
		}
		nodes[0].SendToken(2, []byte("short"))
		if d := recvOne(t, nodes[1]); string(d.Data) != "short" {
			t.Fatalf("batch %d: got %d bytes, want the short datagram", batch, len(d.Data))
		}
		if s := nodes[1].Stats(); s.DroppedTruncated != 1 {
			t.Fatalf("batch %d: stats %+v", batch, s)
		}
		if err := nodes[0].Multicast(make([]byte, 201)); !errors.Is(err, ErrOversize) {
			t.Fatalf("oversize multicast: %v", err)
		}
		if err := nodes[0].SendToken(2, make([]byte, 201)); !errors.Is(err, ErrOversize) {
			t.Fatalf("oversize token: %v", err)
		}
		if s := nodes[0].Stats(); s.RefusedOversize != 2 || s.TxDatagrams != 2 {
			t.Fatalf("batch %d: sender stats %+v", batch, s)
		}
	}
}

func TestUDPUCloseEndsRecv(t *testing.T) {
	nodes, _ := loopbackRing(t, 1, nil)
	nodes[0].Multicast([]byte("self")) // a lone node hears itself
	if d := recvOne(t, nodes[0]); d.FromNode != 1 {
		t.Fatalf("self copy %+v", d)
	}
	nodes[0].Close()
	for range nodes[0].Recv() {
	}
	if err := nodes[0].Close(); err != nil {
		t.Fatal(err)
	}
}

func TestUDPUBindErrors(t *testing.T) {
	nodes, members := loopbackRing(t, 1, nil)
	if _, err := NewUDPU(UDPUConfig{Local: members[0].Addr, Port: nodes[0].cfg.Port, Members: members}); err == nil {
		t.Fatal("second bind of the same ring0_addr:mcastport succeeded")
	}
	if _, err := NewUDPU(UDPUConfig{Members: members}); err == nil {
		t.Fatal("missing local address accepted")
	}
}

func TestUDPUSendDuringClose(t *testing.T) {
	nodes, _ := loopbackRing(t, 2, nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 2000; i++ {
			nodes[0].Multicast([]byte("x"))
		}
	}()
	go func() {
		for range nodes[0].Recv() {
		}
	}()
	time.Sleep(time.Millisecond)
	nodes[0].Close()
	<-done
	if err := nodes[0].SendToken(2, []byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("send after close: %v", err)
	}
}

// The receiving socket asks for corosync's buffer; the kernel grants
// min(request, net.core.rmem_max) and reports twice that.
func TestUDPURecvBuffer(t *testing.T) {
	raw, err := os.ReadFile("/proc/sys/net/core/rmem_max")
	if err != nil {
		t.Skip("no /proc/sys/net/core/rmem_max")
	}
	rmemMax, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
	nodes, _ := loopbackRing(t, 1, nil)
	rc, err := nodes[0].token.conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var got int
	rc.Control(func(fd uintptr) { got, err = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF) })
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 * min(CorosyncRecvBuffer, rmemMax); got != want {
		t.Fatalf("SO_RCVBUF %d, want %d (rmem_max %d)", got, want, rmemMax)
	}
}

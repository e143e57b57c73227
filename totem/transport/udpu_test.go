package transport

import (
	"errors"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
	"io"
	"math/rand/v2"
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

// privateLoopback picks a /24 of its own inside 127.0.0.0/8 and returns
// its .1 address. Other packages' tests run at the same time and put
// daemons on 127.0.0.x; sharing those addresses let their tokens reach
// this package's sockets when the port numbers met.
func privateLoopback() [4]byte {
	return [4]byte{127, byte(100 + rand.IntN(100)), byte(rand.IntN(256)), 1}
}

// freePort finds a UDP port free on base (and, for practical purposes,
// on the neighbouring addresses of the same private /24).
func freePort(t testing.TB, base [4]byte) uint16 {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IP(base[:])})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return uint16(c.LocalAddr().(*net.UDPAddr).Port)
}

// hostOf is address .host in base's /24.
func hostOf(base [4]byte, host byte) netip.Addr {
	base[3] = host
	return netip.AddrFrom4(base)
}

func loopbackRing(t testing.TB, n int, mod func(*UDPUConfig)) ([]*UDPU, []Member) {
	t.Helper()
	base := privateLoopback()
	members := addrs(n, base)
	port := freePort(t, base)
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
				// The sender's own copy leaves from its own socket.
				want := nodes[1].MulticastSource()
				if i == 1 {
					want = nodes[1].SelfSource()
				}
				if d.From != want {
					t.Fatalf("node %d: multicast from %s, want %s", i+1, d.From, want)
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
	stranger := hostOf(members[0].Addr.As4(), 9)
	open, err := NewUDPU(UDPUConfig{Local: hostOf(members[0].Addr.As4(), 3), Port: nodes[0].cfg.Port, Members: members, AllowUnlisted: true})
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	// A stranger (.9) writes to node 1 and to the permissive node.
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(stranger, 0)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.WriteToUDPAddrPort([]byte("stranger"), nodes[0].LocalAddr())
	c.WriteToUDPAddrPort([]byte("stranger"), open.LocalAddr())
	d := recvOne(t, open)
	if d.FromNode != 0 || d.From.Addr() != stranger {
		t.Fatalf("permissive node got %+v", d)
	}
	expectNone(t, nodes[0])
	if s := nodes[0].Stats(); s.DroppedUnlisted != 1 || s.RxDatagrams != 0 {
		t.Fatalf("stats %+v", s)
	}
	// SetMembers lets it in.
	nodes[0].SetMembers(append(members, Member{NodeID: 9, Addr: stranger}))
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

// A reader blocked on a full Recv queue holds the socket open; Close must
// release it first, or closing the socket waits for it for ever (seen in
// CI when another ring's tokens filled an unread queue).
func TestUDPUCloseWithFullQueue(t *testing.T) {
	for _, batch := range []int{1, 16} {
		t.Run(map[int]string{1: "single", 16: "batched"}[batch], func(t *testing.T) {
			nodes, _ := loopbackRing(t, 2, func(c *UDPUConfig) { c.RecvBatch, c.Queue = batch, 1 })
			for i := 0; i < 64; i++ {
				if err := nodes[1].SendToken(1, []byte("fill")); err != nil {
					t.Fatal(err)
				}
			}
			// The queue holds one; the reader sits in put with the next.
			deadline := time.Now().Add(2 * time.Second)
			for len(nodes[0].Recv()) < 1 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			time.Sleep(20 * time.Millisecond)
			closed := make(chan struct{})
			go func() { nodes[0].Close(); close(closed) }()
			select {
			case <-closed:
			case <-time.After(5 * time.Second):
				t.Fatal("Close blocked behind a reader waiting on the full queue")
			}
		})
	}
}

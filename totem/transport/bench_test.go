package transport

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// BenchmarkUDPURecv measures one udpu receiver on loopback with recvmsg
// (batch 1) against recvmmsg (batch 16). Each op is a closed loop: a burst
// of 64 datagrams of 1400 bytes sent with one sendmmsg (the same cost for
// both), then wait until the receiver has handed all of them over. The
// burst fits the socket buffer, so nothing is lost unless the kernel is
// starved; lost% shows it if it happens.
func BenchmarkUDPURecv(b *testing.B) {
	const burst = 64
	for _, batch := range []int{1, 16} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			nodes, _ := loopbackRing(b, 2, func(c *UDPUConfig) { c.RecvBatch, c.SendBatch = batch, batch; c.Queue = 4 * burst })
			dsts := make([]netip.AddrPort, burst)
			for i := range dsts {
				dsts[i] = nodes[1].LocalAddr()
			}
			payload := make([]byte, 1400)
			lost := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				nodes[0].token.sendAll(&nodes[0].stats, dsts, payload, burst)
				for got := 0; got < burst; got++ {
					select {
					case <-nodes[1].Recv():
					case <-time.After(100 * time.Millisecond):
						lost += burst - got
						got = burst
					}
				}
			}
			b.ReportMetric(float64(b.N*burst-lost)/b.Elapsed().Seconds(), "dgrams/s")
			b.ReportMetric(100*float64(lost)/float64(b.N*burst), "lost%")
		})
	}
}

// BenchmarkUDPUMulticastFanout measures one udpu "multicast" to 16 members
// (16 datagrams): sendmsg per member against one sendmmsg.
func BenchmarkUDPUMulticastFanout(b *testing.B) {
	for _, batch := range []int{1, 16} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			base := privateLoopback()
			port := freePort(b, base)
			members := addrs(16, base)
			// Only node 1 exists; datagrams to the others are sent and
			// dropped by the kernel, as for members that are down.
			u, err := NewUDPU(UDPUConfig{Local: members[0].Addr, Port: port, Members: members, SendBatch: batch, Log: quietLog})
			if err != nil {
				b.Fatal(err)
			}
			defer u.Close()
			go func() {
				for range u.Recv() {
				}
			}()
			payload := make([]byte, 1400)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := u.Multicast(payload); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*16)/b.Elapsed().Seconds(), "dgrams/s")
		})
	}
}

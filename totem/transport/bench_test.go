package transport

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkUDPURecv measures how many 1400-byte datagrams per second one
// udpu receiver hands over on loopback, with recvmsg (batch 1) and
// recvmmsg (batch 16). Datagrams the kernel dropped because the reader fell
// behind show up as lost%.
func BenchmarkUDPURecv(b *testing.B) {
	for _, batch := range []int{1, 16} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			nodes, _ := loopbackRing(b, 2, func(c *UDPUConfig) { c.Batch = batch; c.Queue = 4096 })
			payload := make([]byte, 1400)
			got := make(chan int)
			go func() {
				n := 0
				for {
					select {
					case <-nodes[1].Recv():
						n++
						if n == b.N {
							got <- n
							return
						}
					case <-time.After(200 * time.Millisecond):
						got <- n
						return
					}
				}
			}()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				nodes[0].SendToken(2, payload)
			}
			n := <-got
			el := time.Since(start)
			if n == b.N {
				b.ReportMetric(float64(n)/el.Seconds(), "dgrams/s")
			} else {
				// The tail waited 200ms for datagrams that never came.
				b.ReportMetric(float64(n)/(el-200*time.Millisecond).Seconds(), "dgrams/s")
			}
			b.ReportMetric(100*float64(b.N-n)/float64(b.N), "lost%")
		})
	}
}

// BenchmarkUDPUMulticastFanout measures one udpu "multicast" to 16 members
// (16 datagrams): sendmsg per member against one sendmmsg.
func BenchmarkUDPUMulticastFanout(b *testing.B) {
	for _, batch := range []int{1, 16} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			port := freePort(b)
			members := addrs(16, [4]byte{127, 0, 1, 1})
			// Only node 1 exists; datagrams to the others are sent and
			// dropped by the kernel, as for members that are down.
			u, err := NewUDPU(UDPUConfig{Local: members[0].Addr, Port: port, Members: members, Batch: batch})
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

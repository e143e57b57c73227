package transport

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// TestUDPUMulticastBatchOrder checks that a batch reaches every member
// whole and in order (members 1 and 2 on loopback, both listening).
func TestUDPUMulticastBatchOrder(t *testing.T) {
	base := privateLoopback()
	port := freePort(t, base)
	members := addrs(2, base)
	var us []*UDPU
	for _, m := range members {
		u, err := NewUDPU(UDPUConfig{Local: m.Addr, Port: port, Members: members, Log: quietLog})
		if err != nil {
			t.Skipf("cannot bind %s: %v", m.Addr, err)
		}
		defer u.Close()
		us = append(us, u)
	}
	var bufs [][]byte
	for i := range 20 {
		bufs = append(bufs, bytes.Repeat([]byte{byte(i)}, 100+i))
	}
	if err := us[0].MulticastBatch(bufs); err != nil {
		t.Fatal(err)
	}
	for k, u := range us {
		for i, want := range bufs {
			select {
			case d := <-u.Recv():
				if !bytes.Equal(d.Data, want) || d.FromNode != 1 {
					t.Fatalf("member %d, datagram %d: got %d bytes of %d from node %d", k+1, i, len(d.Data), d.Data[0], d.FromNode)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("member %d: datagram %d missing", k+1, i)
			}
		}
	}
	if st := us[0].Stats(); st.SendErrors != 0 {
		t.Fatalf("send errors: %+v", st)
	}
}

// BenchmarkUDPUMulticastBatch compares a token visit's 17 multicasts to
// 3 members sent one by one and as one batch.
func BenchmarkUDPUMulticastBatch(b *testing.B) {
	for _, batched := range []bool{false, true} {
		b.Run(fmt.Sprintf("batched=%v", batched), func(b *testing.B) {
			base := privateLoopback()
			port := freePort(b, base)
			members := addrs(3, base)
			u, err := NewUDPU(UDPUConfig{Local: members[0].Addr, Port: port, Members: members, Log: quietLog})
			if err != nil {
				b.Fatal(err)
			}
			defer u.Close()
			go func() {
				for range u.Recv() {
				}
			}()
			bufs := make([][]byte, 17)
			for i := range bufs {
				bufs[i] = make([]byte, 1400)
			}
			b.ReportAllocs()
			for b.Loop() {
				if batched {
					if err := u.MulticastBatch(bufs); err != nil {
						b.Fatal(err)
					}
					continue
				}
				for _, p := range bufs {
					if err := u.Multicast(p); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N*17*3)/b.Elapsed().Seconds(), "dgrams/s")
		})
	}
}

package pg

import (
	"fmt"
	"testing"
)

// BenchmarkPackAssemble measures one message through Packer.Add, a
// token-time Flush and the Assembler, as a node sending to itself would.
func BenchmarkPackAssemble(b *testing.B) {
	for _, size := range []int{100, 1000, 10000, 1 << 20} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			p, err := NewPacker(TotemMTU(DefaultNetMTU))
			if err != nil {
				b.Fatal(err)
			}
			a := NewAssembler(0)
			payload := fill(size, 0x5a)
			groups := []string{GroupServices}
			var out []Packet
			var msgs []Message
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				out, _ = p.Add(out[:0], Agreed, groups, payload)
				out = p.Flush(out)
				msgs = msgs[:0]
				for _, pk := range out {
					msgs, err = a.Deliver(msgs, 1, pk.Payload, false)
					if err != nil {
						b.Fatal(err)
					}
				}
				if len(msgs) != 1 || len(msgs[0].Payload) != size {
					b.Fatalf("%d messages", len(msgs))
				}
			}
			b.ReportMetric(float64(len(out)), "packets/msg")
		})
	}
}

// BenchmarkPackSmallBatched packs ten 100-byte messages per token, the
// pattern of busy services, to show what packing saves.
func BenchmarkPackSmallBatched(b *testing.B) {
	p, _ := NewPacker(TotemMTU(DefaultNetMTU))
	a := NewAssembler(0)
	payload := fill(100, 1)
	groups := []string{GroupServices}
	var out []Packet
	var msgs []Message
	b.SetBytes(10 * 100)
	b.ReportAllocs()
	for b.Loop() {
		out = out[:0]
		for range 10 {
			out, _ = p.Add(out, Agreed, groups, payload)
		}
		out = p.Flush(out)
		msgs = msgs[:0]
		for _, pk := range out {
			msgs, _ = a.Deliver(msgs, 1, pk.Payload, false)
		}
		if len(msgs) != 10 {
			b.Fatalf("%d messages", len(msgs))
		}
	}
	b.ReportMetric(float64(len(out)), "packets/10msg")
}

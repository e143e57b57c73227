package main

import (
	"io"
	"os"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// FuzzDatagram feeds arbitrary datagrams through the dumper (totem decode,
// encapsulation, totempg reassembly, group and exec headers): whatever
// arrives, it prints a line and never panics. Two datagrams per input let
// the fuzzer reach reassembly across packets.
func FuzzDatagram(f *testing.F) {
	for _, name := range []string{"udpu-2node-join.pcap", "udpu-cpg-join-mcast-leave.pcap"} {
		fh, err := os.Open("../../testdata/wire/" + name)
		if err != nil {
			f.Fatal(err)
		}
		r, err := pcapgo.NewReader(fh)
		if err != nil {
			f.Fatal(err)
		}
		var prev []byte
		for {
			data, _, err := r.ReadPacketData()
			if err != nil {
				break
			}
			udp, _ := gopacket.NewPacket(data, r.LinkType(), gopacket.Default).Layer(layers.LayerTypeUDP).(*layers.UDP)
			if udp == nil || udp.DstPort != 5405 || len(udp.Payload) < 100 {
				continue // mcasts carry the interesting structure
			}
			f.Add(prev, append([]byte(nil), udp.Payload...))
			prev = append([]byte(nil), udp.Payload...)
		}
		fh.Close()
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		d := newDumper(io.Discard)
		d.datagram(0, "198.18.0.1:5405", a)
		d.datagram(0, "198.18.0.1:5405", b)
		if d.sum.packets != 2 {
			t.Fatalf("%d datagrams counted", d.sum.packets)
		}
	})
}

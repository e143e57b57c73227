package wire

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/ip4defrag"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// captured is one totem datagram from a capture of real Corosync 3.1.7.
type captured struct {
	frame   int // 1-based position in the pcap, as tshark numbers frames
	src     string
	srcPort uint16
	dst     string
	payload []byte
}

// readCapture returns the totem datagrams (UDP to port 5405) of a pcap.
// IPv4 fragments are reassembled, as a receiving kernel would: encapsulated
// recovery mcasts can exceed the MTU. A reassembled datagram takes the
// frame number of its last fragment, as tshark numbers it.
func readCapture(t testing.TB, path string) []captured {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defrag := ip4defrag.NewIPv4Defragmenter()
	var out []captured
	for frame := 1; ; frame++ {
		data, _, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		pkt := gopacket.NewPacket(data, r.LinkType(), gopacket.Default)
		ip, _ := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		if ip == nil {
			continue
		}
		if ip.Flags&layers.IPv4MoreFragments != 0 || ip.FragOffset != 0 {
			whole, err := defrag.DefragIPv4(ip)
			if err != nil {
				t.Fatalf("%s frame %d: %v", path, frame, err)
			}
			if whole == nil {
				continue // more fragments to come
			}
			ip = whole
			pkt = gopacket.NewPacket(ip.Payload, ip.NextLayerType(), gopacket.Default)
		}
		udp, _ := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if udp == nil || udp.DstPort != 5405 {
			continue
		}
		out = append(out, captured{frame: frame, src: ip.SrcIP.String(), srcPort: uint16(udp.SrcPort), dst: ip.DstIP.String(),
			payload: append([]byte(nil), udp.Payload...)})
	}
	return out
}

// captureFiles lists every committed capture: the plain ones and, in
// recovery/, those that need IP reassembly and phase-aware totempg
// reassembly from their readers.
func captureFiles(t testing.TB) []string {
	plain, err := filepath.Glob("../../testdata/wire/*.pcap")
	if err != nil || len(plain) == 0 {
		t.Fatalf("no captures in testdata/wire: %v", err)
	}
	hard, err := filepath.Glob("../../testdata/wire/recovery/*.pcap")
	if err != nil || len(hard) == 0 {
		t.Fatalf("no captures in testdata/wire/recovery: %v", err)
	}
	return append(plain, hard...)
}

// TestGoldenRoundTrip decodes every totem datagram of every capture and
// re-encodes it to the very same bytes.
func TestGoldenRoundTrip(t *testing.T) {
	for _, file := range captureFiles(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			pkts := readCapture(t, file)
			if len(pkts) == 0 {
				t.Fatal("capture has no totem datagrams")
			}
			types := map[Type]int{}
			for i, p := range pkts {
				m, err := Decode(p.payload)
				if err != nil {
					t.Fatalf("packet %d from %s: %v", i, p.src, err)
				}
				types[m.Hdr().Type]++
				if got := Size(m); got != len(p.payload) {
					t.Fatalf("packet %d: Size %d, datagram %d", i, got, len(p.payload))
				}
				b, err := Encode(m)
				if err != nil {
					t.Fatalf("packet %d: encode: %v", i, err)
				}
				if !bytes.Equal(b, p.payload) {
					t.Fatalf("packet %d (%s) re-encodes differently:\n got %x\nwant %x", i, m.Hdr().Type, b, p.payload)
				}
			}
			t.Logf("%d datagrams: %v", len(pkts), types)
		})
	}
}

// TestCapturedFormation checks decoded values against the exchange that
// research/corosync-wire.md section 3.5 annotates: node 1 alone in ring
// 1.5, node 2 starts, both form ring 1.9.
func TestCapturedFormation(t *testing.T) {
	pkts := readCapture(t, "../../testdata/wire/udpu-2node-join.pcap")
	var sawLoneJoin, sawCommitFull, sawInitialToken, sawMcast bool
	for _, p := range pkts {
		m, err := Decode(p.payload)
		if err != nil {
			t.Fatal(err)
		}
		switch v := m.(type) {
		case *Join:
			if v.SystemFrom == 1 && len(v.ProcList) == 1 && v.RingSeq == 1 {
				sawLoneJoin = true
				if len(p.payload) != 37 || v.Header.NodeID != 1 {
					t.Errorf("lone join: %d bytes, header nodeid %d", len(p.payload), v.Header.NodeID)
				}
			}
			if len(v.ProcList) == 2 && len(p.payload) != 41 {
				t.Errorf("join with two procs is %d bytes, want 41", len(p.payload))
			}
		case *CommitToken:
			if len(p.payload) != 97 {
				t.Errorf("two-member commit token is %d bytes, want 97", len(p.payload))
			}
			if v.RingID != (RingID{Rep: 1, Seq: 9}) || v.RingID.String() != "1.9" {
				t.Errorf("commit token ring %v, want 1.9", v.RingID)
			}
			if v.MembIndex == 2 {
				sawCommitFull = true
				want := []CommitMember{{RingID{1, 5}, 8, 8, 1}, {RingID{2, 5}, 8, 8, 1}}
				for i := range want {
					if v.MembList[i] != want[i] {
						t.Errorf("member %d: %+v, want %+v", i, v.MembList[i], want[i])
					}
				}
			}
		case *OrfToken:
			if v.TokenSeq == 0 && v.RingID == (RingID{1, 9}) {
				sawInitialToken = true
				if v.Seq != 0 || v.Aru != 0xFFFFFFFF || v.AruAddr != 1 || len(p.payload) != 57 {
					t.Errorf("initial token %+v (%d bytes)", v, len(p.payload))
				}
			}
		case *Mcast:
			sawMcast = true
			if v.NodeID != 0 {
				t.Errorf("mcast node_id %d, Corosync never sets it", v.NodeID)
			}
			if v.Header.Encapsulated != EncapsulatedNormal && v.Header.Encapsulated != EncapsulatedRecovery {
				t.Errorf("mcast encapsulated byte %d", v.Header.Encapsulated)
			}
		}
	}
	if !sawLoneJoin || !sawCommitFull || !sawInitialToken || !sawMcast {
		t.Fatalf("missing: lone join %v, full commit %v, initial token %v, mcast %v", sawLoneJoin, sawCommitFull, sawInitialToken, sawMcast)
	}
}

// TestCapturedLeave finds the clean-leave join: header nodeid 0, the
// leaver as the last failed entry.
func TestCapturedLeave(t *testing.T) {
	for _, p := range readCapture(t, "../../testdata/wire/udpu-node-leave.pcap") {
		m, err := Decode(p.payload)
		if err != nil {
			t.Fatal(err)
		}
		if j, ok := m.(*Join); ok && j.Header.NodeID == LeaveNodeID {
			if j.SystemFrom != 1 || len(j.FailedList) != 1 || j.FailedList[0] != 1 || j.RingSeq != 9 {
				t.Fatalf("leave join %+v", j)
			}
			return
		}
	}
	t.Fatal("no leave message in capture")
}

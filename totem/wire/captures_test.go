package wire

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// The tests here pin decoded values in the three-node captures made by
// testdata/wire/capture.sh (nodeids 1..3 at 198.18.0.1..3, transport udpu
// unless the name says udp). Each ring id, member list and per-member old
// ring below was read off the capture and agrees with the protocol as
// research/corosync-wire.md section 4 describes it.

// decodeAll decodes a capture, failing the test on any error.
func decodeAll(t *testing.T, name string) ([]captured, []Message) {
	t.Helper()
	pkts := readCapture(t, "../../testdata/wire/"+name)
	msgs := make([]Message, len(pkts))
	for i, p := range pkts {
		m, err := Decode(p.payload)
		if err != nil {
			t.Fatalf("%s frame %d: %v", name, p.frame, err)
		}
		msgs[i] = m
	}
	return pkts, msgs
}

// installed lists, in capture order, the first complete commit token
// (every member's entry filled) of each new ring, rendered as
// "ring addrs memb...".
func installed(msgs []Message) []string {
	var out []string
	seen := map[RingID]bool{}
	for _, m := range msgs {
		c, ok := m.(*CommitToken)
		if !ok || int(c.MembIndex) != len(c.Addr) || seen[c.RingID] {
			continue
		}
		seen[c.RingID] = true
		var memb []string
		for _, e := range c.MembList {
			memb = append(memb, fmt.Sprintf("%s/%d/%d/%d", e.RingID, e.Aru, e.HighDelivered, e.ReceivedFlg))
		}
		out = append(out, fmt.Sprintf("%s %v %s", c.RingID, c.Addr, strings.Join(memb, " ")))
	}
	return out
}

func TestCapture3NodeForm(t *testing.T) {
	pkts, msgs := decodeAll(t, "udpu-3node-form.pcap")
	// Node 1 alone in 1.5 (ring seq loaded 0, +1, +4), node 2 joins
	// (1.9), node 3 comes from its own lone ring 3.5 (1.d).
	want := []string{
		"1.9 [1 2] 1.5/8/8/1 2.5/8/8/1",
		"1.d [1 2 3] 1.9/14/14/1 1.9/14/14/1 3.5/8/8/1",
	}
	if got := installed(msgs); !slices.Equal(got, want) {
		t.Fatalf("installed rings\n got %q\nwant %q", got, want)
	}
	for i, m := range msgs {
		p := pkts[i]
		switch v := m.(type) {
		case *Join:
			if n := len(v.ProcList) + len(v.FailedList); len(p.payload) != JoinFixedSize+4*n {
				t.Errorf("frame %d: join with %d ids is %d bytes", p.frame, n, len(p.payload))
			}
			// udpu multicasts go out of one ephemeral-port socket per peer.
			if p.srcPort == 5405 {
				t.Errorf("frame %d: join sent from the token port", p.frame)
			}
		case *CommitToken, *OrfToken:
			if p.srcPort != 5405 {
				t.Errorf("frame %d: %s from port %d, tokens leave from 5405", p.frame, m.Hdr().Type, p.srcPort)
			}
		}
		if c, ok := m.(*CommitToken); ok && len(c.Addr) == 3 && len(p.payload) != 125 {
			t.Errorf("frame %d: three-member commit token is %d bytes, want 125", p.frame, len(p.payload))
		}
	}
}

func TestCapture3NodeKill(t *testing.T) {
	_, msgs := decodeAll(t, "udpu-3node-kill.pcap")
	// The survivors gather, time node 3 out into their failed lists and
	// form 1.11 from ring 1.d, where both had received everything (aru 120).
	var failedBy []uint32
	for _, m := range msgs {
		if j, ok := m.(*Join); ok && slices.Equal(j.FailedList, []uint32{3}) && !slices.Contains(failedBy, j.SystemFrom) {
			failedBy = append(failedBy, j.SystemFrom)
			if !slices.Equal(j.ProcList, []uint32{1, 2, 3}) || j.RingSeq != 0xd {
				t.Errorf("join %+v", j)
			}
		}
	}
	slices.Sort(failedBy)
	if !slices.Equal(failedBy, []uint32{1, 2}) {
		t.Errorf("nodes that declared 3 failed: %v, want [1 2]", failedBy)
	}
	want := []string{"1.11 [1 2] 1.d/120/120/1 1.d/120/120/1"}
	if got := installed(msgs); !slices.Equal(got, want) {
		t.Fatalf("installed rings\n got %q\nwant %q", got, want)
	}
}

func TestCapture3NodeRejoin(t *testing.T) {
	_, msgs := decodeAll(t, "udpu-3node-rejoin.pcap")
	// The restarted node 3 has a fresh state dir: it starts from ring seq 1
	// and forms 3.5 alone before merging.
	var lone bool
	for _, m := range msgs {
		if j, ok := m.(*Join); ok && j.SystemFrom == 3 && j.RingSeq == 1 && slices.Equal(j.ProcList, []uint32{3}) {
			lone = true
		}
	}
	if !lone {
		t.Error("no lone join from the restarted node")
	}
	want := []string{"1.15 [1 2 3] 1.11/14/14/1 1.11/14/14/1 3.5/8/8/1"}
	if got := installed(msgs); !slices.Equal(got, want) {
		t.Fatalf("installed rings\n got %q\nwant %q", got, want)
	}
}

func TestCapture3NodePartitionHeal(t *testing.T) {
	pkts, msgs := decodeAll(t, "udpu-3node-partition-heal.pcap")
	want := []string{
		"1.19 [1 2] 1.15/21/21/1 1.15/21/21/1",
		"1.1d [1 2 3] 1.19/14/14/1 1.19/14/14/1 3.19/7/7/1",
	}
	if got := installed(msgs); !slices.Equal(got, want) {
		t.Fatalf("installed rings\n got %q\nwant %q", got, want)
	}
	// After the heal the ring retransmits: tokens carry retransmit lists,
	// every entry naming the current ring.
	var rtr int
	for i, m := range msgs {
		tok, ok := m.(*OrfToken)
		if !ok || len(tok.RtrList) == 0 {
			continue
		}
		rtr++
		if len(pkts[i].payload) != OrfTokenFixedSize+RtrItemSize*len(tok.RtrList) {
			t.Errorf("frame %d: %d bytes for %d entries", pkts[i].frame, len(pkts[i].payload), len(tok.RtrList))
		}
		for _, it := range tok.RtrList {
			if it.RingID != tok.RingID || it.Seq <= tok.Aru || it.Seq > tok.Seq {
				t.Errorf("frame %d: retransmit entry %+v on token ring %s seq %d aru %d", pkts[i].frame, it, tok.RingID, tok.Seq, tok.Aru)
			}
		}
	}
	if rtr == 0 {
		t.Error("no token with a retransmit list")
	}
}

// TestCaptureUDPMulticast3Node checks the udp transport's addressing: every
// datagram leaves from mcastport-1, and only tokens are unicast; the rest
// goes to the address derived from cluster_name "capture".
func TestCaptureUDPMulticast3Node(t *testing.T) {
	pkts, msgs := decodeAll(t, "udp-mcast-3node.pcap")
	group := clusterMcastAddr("capture")
	if group != "239.192.50.207" {
		t.Fatalf("derived group %s", group)
	}
	for i, m := range msgs {
		p := pkts[i]
		if p.srcPort != 5404 {
			t.Errorf("frame %d: source port %d, want 5404", p.frame, p.srcPort)
		}
		unicast := strings.HasPrefix(p.dst, "198.18.")
		switch m.(type) {
		case *OrfToken, *CommitToken:
			if !unicast {
				t.Errorf("frame %d: %s sent to %s", p.frame, m.Hdr().Type, p.dst)
			}
		default:
			if p.dst != group {
				t.Errorf("frame %d: %s sent to %s, want %s", p.frame, m.Hdr().Type, p.dst, group)
			}
		}
	}
	want := []string{
		"1.9 [1 2] 1.5/8/8/1 2.5/8/8/1",
		"1.d [1 2 3] 1.9/14/14/1 1.9/14/14/1 3.5/8/8/1",
	}
	if got := installed(msgs); !slices.Equal(got, want) {
		t.Fatalf("installed rings\n got %q\nwant %q", got, want)
	}
}

// clusterMcastAddr is Corosync's default IPv4 multicast address for a
// cluster name (research section 1): note the "% 255".
func clusterMcastAddr(name string) string {
	var v uint32
	for i := 0; i < len(name); i++ {
		v = v<<1 + uint32(name[i])
	}
	id := v & 0xffff
	return fmt.Sprintf("239.192.%d.%d", id>>8, id%255)
}

// TestCaptureCPGSizes checks the datagram size ceiling under fragmentation:
// with netmtu 1500 the largest totem datagram is a 45-byte mcast header
// plus a 1410-byte totempg packet, 1455 bytes, and fragmented messages of
// up to 200 KB fill many datagrams to exactly that size.
func TestCaptureCPGSizes(t *testing.T) {
	pkts, msgs := decodeAll(t, "udpu-3node-cpg-sizes.pcap")
	var largest, full int
	for i, m := range msgs {
		if _, ok := m.(*Mcast); !ok {
			continue
		}
		n := len(pkts[i].payload)
		largest = max(largest, n)
		if n == McastHeaderSize+1410 {
			full++
		}
	}
	if largest != McastHeaderSize+1410 || full < 100 {
		t.Fatalf("largest mcast %d bytes, %d at the ceiling; want %d and many", largest, full, McastHeaderSize+1410)
	}
}

// TestCaptureRecovery reads the recovery capture: node 2 had gaps in ring
// 1.d (aru 122 of 144) when node 3 was cut off, so its commit entry carries
// received_flg 0 and the survivors re-send the old ring's messages above
// the lowest aru as encapsulated mcasts of ring 1.11. Each payload is a
// whole inner mcast of ring 1.d; the largest make 1500-byte datagrams that
// the kernel had to IP-fragment.
func TestCaptureRecovery(t *testing.T) {
	pkts, msgs := decodeAll(t, "recovery/udpu-3node-recovery.pcap")
	want := []string{"1.11 [1 2] 1.d/144/144/1 1.d/122/122/0"}
	if got := installed(msgs); !slices.Equal(got, want) {
		t.Fatalf("installed rings\n got %q\nwant %q", got, want)
	}
	oldRing, newRing := RingID{1, 0xd}, RingID{1, 0x11}
	var encap, oversize int
	inner := map[uint32]bool{}
	for i, m := range msgs {
		mc, ok := m.(*Mcast)
		if !ok || mc.Header.Encapsulated != EncapsulatedRecovery {
			continue
		}
		encap++
		if mc.RingID != newRing {
			t.Errorf("frame %d: encapsulated mcast in ring %s", pkts[i].frame, mc.RingID)
		}
		im, err := Decode(mc.Payload)
		if err != nil {
			t.Fatalf("frame %d: inner message: %v", pkts[i].frame, err)
		}
		in, ok := im.(*Mcast)
		if !ok || in.Header.Encapsulated != EncapsulatedNormal || in.RingID != oldRing || in.Seq <= 122 || in.Seq > 144 {
			t.Fatalf("frame %d: inner %+v", pkts[i].frame, im)
		}
		inner[in.Seq] = true
		if len(pkts[i].payload) > 1472 { // more than a 1500-byte MTU carries unfragmented
			oversize++
		}
	}
	// Every old-ring message above the lowest aru comes back.
	for seq := uint32(123); seq <= 144; seq++ {
		if !inner[seq] {
			t.Errorf("old-ring seq %d never re-sent", seq)
		}
	}
	if encap == 0 || oversize == 0 {
		t.Fatalf("%d encapsulated mcasts, %d of them IP-fragmented", encap, oversize)
	}
}

package pg

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// captures are real Corosync 3.1.7 two-node captures (see
// shared/research/corosync-pcaps): udpu and udp transports, a join, a CPG
// exchange and a clean leave.
var captures = []string{
	"udpu-2node-join.pcap",
	"udp-mcast-2node.pcap",
	"udpu-cpg-join-mcast-leave.pcap",
	"udpu-node-leave.pcap",
}

const totemMcastHeader = 45

// capturedMcast is one totem MCAST as srp would deliver it.
type capturedMcast struct {
	frame     int
	sender    uint32 // system_from of the (inner) mcast
	ringRep   uint32
	ringSeq   uint64
	seq       uint32
	guarantee uint32
	payload   []byte // the totempg packet
}

// parseMcast returns the mcast carried by a totem datagram, unwrapping a
// recovery encapsulation. ok is false for other message types.
func parseMcast(b []byte) (m capturedMcast, ok bool) {
	if len(b) < totemMcastHeader || b[0] != 0x70 || b[1] != 0xc0 || b[2] != 3 || b[3] != 1 {
		return m, false
	}
	encapsulated := b[4] == 1
	le := binary.LittleEndian
	m.sender = le.Uint32(b[13:])
	m.seq = le.Uint32(b[17:])
	m.ringRep = le.Uint32(b[25:])
	m.ringSeq = le.Uint64(b[29:])
	m.guarantee = le.Uint32(b[41:])
	m.payload = b[totemMcastHeader:]
	if encapsulated {
		inner, ok := parseMcast(m.payload)
		if !ok {
			return m, false
		}
		return inner, true
	}
	return m, true
}

// readMcasts extracts every MCAST from a capture in srp delivery order:
// duplicates (udpu sends one copy per member, retransmissions) removed,
// ordered by ring (first appearance) then seq.
func readMcasts(t testing.TB, name string) []capturedMcast {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		rep    uint32
		rseq   uint64
		seq    uint32
		sender uint32
	}
	seen := map[key]bool{}
	ringOrder := map[[2]uint64]int{}
	var out []capturedMcast
	for frame := 1; ; frame++ {
		data, _, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		pkt := gopacket.NewPacket(data, r.LinkType(), gopacket.Default)
		udp, _ := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if udp == nil {
			continue
		}
		m, ok := parseMcast(udp.Payload)
		if !ok {
			continue
		}
		k := key{m.ringRep, m.ringSeq, m.seq, m.sender}
		if seen[k] {
			continue
		}
		seen[k] = true
		rk := [2]uint64{uint64(m.ringRep), m.ringSeq}
		if _, ok := ringOrder[rk]; !ok {
			ringOrder[rk] = len(ringOrder)
		}
		m.frame = frame
		m.payload = slices.Clone(m.payload)
		out = append(out, m)
	}
	slices.SortStableFunc(out, func(a, b capturedMcast) int {
		ra := ringOrder[[2]uint64{uint64(a.ringRep), a.ringSeq}]
		rb := ringOrder[[2]uint64{uint64(b.ringRep), b.ringSeq}]
		return cmp.Or(cmp.Compare(ra, rb), cmp.Compare(a.seq, b.seq))
	})
	return out
}

// execID reads the id field of a qb_ipc_request_header (service<<16|fn).
func execID(p []byte) uint32 { return binary.LittleEndian.Uint32(p[0:]) }

// execSize reads the size field of a qb_ipc_request_header.
func execSize(p []byte) uint32 { return binary.LittleEndian.Uint32(p[8:]) }

type assembled struct {
	Message
	frame int // frame of the packet that completed the message
}

func assembleCapture(t *testing.T, name string) []assembled {
	t.Helper()
	a := NewAssembler(0)
	var out []assembled
	var msgs []Message
	for _, m := range readMcasts(t, name) {
		var err error
		msgs, err = a.Deliver(msgs[:0], m.sender, m.payload, false)
		if err != nil {
			t.Errorf("%s frame %d: %v", name, m.frame, err)
		}
		for _, msg := range msgs {
			out = append(out, assembled{msg, m.frame})
		}
	}
	st := a.Stats()
	if st.TooShort+st.LengthMismatch+st.BadContinuation+st.BadGroupHeader+st.DiscardedBytes != 0 {
		t.Errorf("%s: error counters moved on clean captures: %+v", name, st)
	}
	if int(st.Messages) != len(out) {
		t.Errorf("%s: Stats.Messages %d, returned %d", name, st.Messages, len(out))
	}
	return out
}

func groupNames(m Message) []string {
	var s []string
	for _, g := range m.Groups {
		s = append(s, string(g))
	}
	return s
}

func TestCapturesAssemble(t *testing.T) {
	for _, name := range captures {
		t.Run(name, func(t *testing.T) {
			msgs := assembleCapture(t, name)
			if len(msgs) == 0 {
				t.Fatal("no messages assembled")
			}
			for _, m := range msgs {
				g := groupNames(m.Message)
				if len(g) != 1 || (g[0] != GroupServices && g[0] != GroupSync) {
					t.Errorf("frame %d: groups %q, want exactly one of a/sync", m.frame, g)
					continue
				}
				// Every exec and sync message states its own size; a
				// reassembly error would break this.
				if len(m.Payload) < 16 || int(execSize(m.Payload)) != len(m.Payload) {
					t.Errorf("frame %d: payload %d bytes, header size field %d",
						m.frame, len(m.Payload), execSize(m.Payload))
				}
			}
		})
	}
}

func TestCaptureDownlistReassembles(t *testing.T) {
	mcasts := readMcasts(t, "udpu-2node-join.pcap")
	// The capture shows the downlist as a 1400-byte fragment then a
	// 173-byte continuation; check the raw packets first.
	var frags, conts int
	for _, m := range mcasts {
		h, err := ParsePacket(m.payload, false)
		if err != nil {
			t.Fatalf("frame %d: %v", m.frame, err)
		}
		if h.Fragmented != 0 {
			frags++
			if h.Fragmented != 1 || !slices.Equal(h.Lens, []uint16{1400}) || len(m.payload) != 1410 {
				t.Errorf("frame %d: fragment %d lens %v size %d", m.frame, h.Fragmented, h.Lens, len(m.payload))
			}
		}
		if h.Continuation != 0 {
			conts++
			if h.Continuation != 1 || !slices.Equal(h.Lens, []uint16{173}) {
				t.Errorf("frame %d: continuation %d lens %v", m.frame, h.Continuation, h.Lens)
			}
		}
	}
	if frags == 0 || frags != conts {
		t.Fatalf("%d fragments, %d continuations", frags, conts)
	}
	var downlists int
	for _, m := range assembleCapture(t, "udpu-2node-join.pcap") {
		if execID(m.Payload) != 2<<16|5 {
			continue
		}
		downlists++
		if len(m.Payload) != 1568 || !slices.Equal(groupNames(m.Message), []string{"a"}) {
			t.Errorf("frame %d: downlist %d bytes groups %q", m.frame, len(m.Payload), groupNames(m.Message))
		}
		// old_members u32 @16, left_nodes u32 @24: small counts.
		if old, left := binary.LittleEndian.Uint32(m.Payload[16:]), binary.LittleEndian.Uint32(m.Payload[24:]); old > 2 || left > 2 {
			t.Errorf("frame %d: downlist old_members %d left_nodes %d", m.frame, old, left)
		}
	}
	if downlists != frags {
		t.Errorf("%d downlists assembled from %d fragmented packets", downlists, frags)
	}
}

func TestCaptureServiceBuild(t *testing.T) {
	var builds int
	for _, m := range assembleCapture(t, "udpu-2node-join.pcap") {
		if !slices.Equal(groupNames(m.Message), []string{"sync"}) || execID(m.Payload) != 1 {
			continue
		}
		builds++
		p := m.Payload
		if len(p) != 552 {
			t.Fatalf("frame %d: service build %d bytes", m.frame, len(p))
		}
		n := int(binary.LittleEndian.Uint32(p[32:]))
		var ids []uint32
		for i := 0; i < n && i < 128; i++ {
			ids = append(ids, binary.LittleEndian.Uint32(p[40+4*i:]))
		}
		if !slices.Equal(ids, []uint32{0, 2, 3, 5}) {
			t.Errorf("frame %d: service list %v, want [0 2 3 5]", m.frame, ids)
		}
	}
	// Each node sends one per ring: two single-node rings, then the joint one.
	if builds != 4 {
		t.Errorf("%d service builds, want 4", builds)
	}
}

func TestCaptureCPGMcast(t *testing.T) {
	found := map[string]uint32{}
	for _, m := range assembleCapture(t, "udpu-cpg-join-mcast-leave.pcap") {
		if execID(m.Payload) != 2<<16|3 {
			continue
		}
		p := m.Payload
		msglen := binary.LittleEndian.Uint32(p[152:])
		if int(184+msglen) != len(p) {
			t.Fatalf("frame %d: cpg mcast msglen %d in %d bytes", m.frame, msglen, len(p))
		}
		found[string(p[184:])] = m.Node
		if src := binary.LittleEndian.Uint32(p[168:]); src != m.Node {
			t.Errorf("frame %d: source.nodeid %d from node %d", m.frame, src, m.Node)
		}
	}
	if found["hello-from-n2"] != 2 || found["hello-from-n1"] != 1 || len(found) != 2 {
		t.Errorf("cpg mcasts %v, want hello-from-n1 from 1 and hello-from-n2 from 2", found)
	}
}

// iovecsFor splits a captured exec message into the iovecs Corosync's
// sender used, where that is known: cpg MCAST goes out as its 184-byte
// header plus the data; everything seen in the captures otherwise is a
// single buffer.
func iovecsFor(groups []string, p []byte) [][]byte {
	if slices.Equal(groups, []string{"a"}) && len(p) > 184 && execID(p) == 2<<16|3 {
		return [][]byte{p[:184], p[184:]}
	}
	return [][]byte{p}
}

// TestCapturesRepack sends each node's captured messages through our
// packer and demands the captured packets byte for byte. The one decision
// that is not ours is when the token arrived: a packet the packer has not
// produced by the time all messages starting in it are added must have
// been a token-time flush, so the test flushes there.
func TestCapturesRepack(t *testing.T) {
	for _, name := range captures {
		t.Run(name, func(t *testing.T) {
			mcasts := readMcasts(t, name)
			bySender := map[uint32][]capturedMcast{}
			var senders []uint32
			for _, m := range mcasts {
				if bySender[m.sender] == nil {
					senders = append(senders, m.sender)
				}
				bySender[m.sender] = append(bySender[m.sender], m)
			}
			for _, s := range senders {
				repackSender(t, s, bySender[s])
			}
		})
	}
}

func repackSender(t *testing.T, sender uint32, pkts []capturedMcast) {
	t.Helper()
	p, err := NewPacker(TotemMTU(DefaultNetMTU))
	if err != nil {
		t.Fatal(err)
	}
	var out []Packet
	for k, cm := range pkts {
		h, pieces, err := Pieces(cm.payload, false)
		if err != nil {
			t.Fatalf("node %d frame %d: %v", sender, cm.frame, err)
		}
		// Messages that start in this packet: every piece but a leading
		// continuation. A piece that is the head of a fragmented message
		// is completed from the following packets.
		for i, piece := range pieces {
			if i == 0 && h.Continuation != 0 {
				continue
			}
			whole := slices.Clone(piece)
			if i == len(pieces)-1 && h.Fragmented != 0 {
				for j := k + 1; j < len(pkts); j++ {
					hj, pj, err := Pieces(pkts[j].payload, false)
					if err != nil || len(pj) == 0 {
						t.Fatalf("node %d frame %d: bad continuation packet", sender, pkts[j].frame)
					}
					whole = append(whole, pj[0]...)
					if hj.Fragmented == 0 || len(pj) > 1 {
						break
					}
				}
			}
			names, payload, err := SplitGroups(nil, whole, false)
			if err != nil {
				t.Fatalf("node %d frame %d: %v", sender, cm.frame, err)
			}
			var groups []string
			for _, n := range names {
				groups = append(groups, string(n))
			}
			out, err = p.Add(out, cm.guarantee, groups, iovecsFor(groups, payload)...)
			if err != nil {
				t.Fatal(err)
			}
		}
		if len(out) == k {
			out = p.Flush(out)
		}
		if len(out) <= k {
			t.Fatalf("node %d frame %d: packer produced nothing for it", sender, cm.frame)
		}
		if got := out[k]; string(got.Payload) != string(cm.payload) || got.Guarantee != cm.guarantee {
			t.Fatalf("node %d frame %d: packet differs: %s", sender, cm.frame,
				describeDiff(got.Payload, cm.payload, got.Guarantee, cm.guarantee))
		}
	}
	if len(out) != len(pkts) {
		t.Errorf("node %d: packer produced %d packets, capture has %d", sender, len(out), len(pkts))
	}
	if n, _ := p.Pending(); n != 0 {
		t.Errorf("node %d: %d messages left staged", sender, n)
	}
}

// describeDiff summarises how two packets differ without dumping them.
func describeDiff(got, want []byte, gotG, wantG uint32) string {
	at := 0
	for at < len(got) && at < len(want) && got[at] == want[at] {
		at++
	}
	head := func(b []byte) []byte { return b[:min(len(b), 16)] }
	return fmt.Sprintf("first difference at byte %d; got %d bytes (head % x, guarantee %d), want %d bytes (head % x, guarantee %d)",
		at, len(got), head(got), gotG, len(want), head(want), wantG)
}

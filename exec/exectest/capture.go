package exectest

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/ringfence/ringfence/totem/pg"
)

// totemMcastHeader is the size of the totem MCAST header in front of the
// totempg packet.
const totemMcastHeader = 45

// Captured is one complete totempg message read from a capture.
type Captured struct {
	Frame   int      // pcap frame (1-based) that completed the message
	Node    uint32   // sending node
	RingRep uint32   // ring of the carrying mcast
	RingSeq uint64   //
	Groups  []string // totempg group names
	Payload []byte   // the message after the group header
}

type mcast struct {
	frame   int
	sender  uint32
	rep     uint32
	rseq    uint64
	seq     uint32
	payload []byte
}

func parseMcast(b []byte) (m mcast, ok bool) {
	if len(b) < totemMcastHeader || b[0] != 0x70 || b[1] != 0xc0 || b[2] != 3 || b[3] != 1 {
		return m, false
	}
	le := binary.LittleEndian
	m.sender = le.Uint32(b[13:])
	m.seq = le.Uint32(b[17:])
	m.rep = le.Uint32(b[25:])
	m.rseq = le.Uint64(b[29:])
	m.payload = b[totemMcastHeader:]
	if b[4] == 1 { // recovery encapsulation
		return parseMcast(m.payload)
	}
	return m, true
}

// ReadCapture returns every totempg message of a Corosync capture in
// delivery order (duplicates removed, ordered by ring then sequence
// number), reassembled with totem/pg.
func ReadCapture(path string) ([]Captured, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	type key struct {
		rep    uint32
		rseq   uint64
		seq    uint32
		sender uint32
	}
	seen := map[key]bool{}
	ringOrder := map[[2]uint64]int{}
	var ms []mcast
	for frame := 1; ; frame++ {
		data, _, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s frame %d: %w", path, frame, err)
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
		k := key{m.rep, m.rseq, m.seq, m.sender}
		if seen[k] {
			continue
		}
		seen[k] = true
		rk := [2]uint64{uint64(m.rep), m.rseq}
		if _, ok := ringOrder[rk]; !ok {
			ringOrder[rk] = len(ringOrder)
		}
		m.frame = frame
		m.payload = slices.Clone(m.payload)
		ms = append(ms, m)
	}
	slices.SortStableFunc(ms, func(a, b mcast) int {
		ra := ringOrder[[2]uint64{uint64(a.rep), a.rseq}]
		rb := ringOrder[[2]uint64{uint64(b.rep), b.rseq}]
		return cmp.Or(cmp.Compare(ra, rb), cmp.Compare(a.seq, b.seq))
	})
	a := pg.NewAssembler(0)
	var out []Captured
	var msgs []pg.Message
	for _, m := range ms {
		msgs, err = a.Deliver(msgs[:0], m.sender, m.payload, false)
		if err != nil {
			return nil, fmt.Errorf("%s frame %d: %w", path, m.frame, err)
		}
		for _, msg := range msgs {
			c := Captured{Frame: m.frame, Node: msg.Node, RingRep: m.rep, RingSeq: m.rseq, Payload: slices.Clone(msg.Payload)}
			for _, g := range msg.Groups {
				c.Groups = append(c.Groups, string(g))
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// InGroup reports whether the message was sent to group g alone.
func (c Captured) InGroup(g string) bool { return len(c.Groups) == 1 && c.Groups[0] == g }

// ExecID returns the exec header id (0 if the payload is too short).
func (c Captured) ExecID() uint32 {
	if len(c.Payload) < 4 {
		return 0
	}
	return binary.LittleEndian.Uint32(c.Payload)
}

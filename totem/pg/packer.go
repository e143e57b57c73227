package pg

import (
	"fmt"
	"unsafe"
)

// Guarantee values a sender asks srp for. Corosync 3.x copies the value
// into the mcast header but no receiver acts on it.
const (
	Agreed uint32 = 0 // TOTEM_AGREED
	Safe   uint32 = 1 // TOTEM_SAFE
)

// Packet is one totempg packet ready to become the payload of a totem mcast.
type Packet struct {
	Payload []byte
	// Guarantee goes into mcast.guarantee. Packets that Add sends out
	// directly (full or fragmented ones) carry the caller's value; packets
	// that Flush sends at token time carry 0, as Corosync's do.
	Guarantee uint32
}

// Packer is the send half of totempg for one node. It reproduces the
// packing decisions of Corosync 3.1.7's mcast_msg byte for byte:
//
//   - A message is the concatenation of its iovecs: the group length table,
//     each group name, then the caller's non-empty pieces. The packer looks
//     at one iovec at a time, and that granularity shows on the wire.
//   - An iovec that fits with room to spare (its full length plus the bytes
//     already staged is below the room left minus 2) is staged, and the
//     fragment counter goes back to 1.
//   - Otherwise as much as fits is staged and the packet is sent at once;
//     if anything of the message remains (more of this iovec, or further
//     iovecs) the packet is marked fragmented with the next fragment
//     number (1..255, 0 skipped) and the next packet's continuation byte
//     repeats that number.
//   - Staged messages wait for Flush, which srp calls on token receipt.
//
// A Packer is not safe for concurrent use.
type Packer struct {
	mtu        int
	packetSize int      // TOTEMPG_PACKET_SIZE: mtu minus the 8-byte header
	staged     []byte   // message bytes staged for the next packet
	lens       []uint16 // lengths of the complete messages staged so far
	cont       uint8    // continuation byte for the next packet
	nextFrag   uint8    // next fragment number to hand out
	vecs       [][]byte // scratch iovec list
	groupLens  []byte   // scratch group length table
}

// NewPacker returns a packer for packets of at most mtu bytes, where mtu
// is the totem mtu (TotemMTU of the configured netmtu: 1410 by default).
func NewPacker(mtu int) (*Packer, error) {
	if mtu < HeaderSize+64 || mtu-HeaderSize > 0xffff {
		return nil, fmt.Errorf("totempg: mtu %d out of range %d..%d", mtu, HeaderSize+64, 0xffff+HeaderSize)
	}
	return &Packer{
		mtu:        mtu,
		packetSize: mtu - HeaderSize,
		staged:     make([]byte, 0, mtu-HeaderSize),
		nextFrag:   1,
	}, nil
}

// MTU is the largest packet the packer produces.
func (p *Packer) MTU() int { return p.mtu }

// Pending reports the complete messages (or message heads) staged for the
// next Flush and their bytes.
func (p *Packer) Pending() (messages, bytes int) { return len(p.lens), len(p.staged) }

// Add queues one message for groups, made of the concatenation of iov, and
// appends to dst the packets that must go out now (none if the message was
// only staged). An empty groups list is allowed (the message then reaches
// no group instance), as Corosync allows it.
//
// Pass the pieces the way the Corosync sender passes its iovecs when the
// packets must match Corosync's byte for byte: the iovec boundaries steer
// the packing. For example cpg sends an MCAST as its 184-byte header and
// the data as two iovecs; sync, votequorum, cmap and the cpg downlist send
// one buffer.
func (p *Packer) Add(dst []Packet, guarantee uint32, groups []string, iov ...[]byte) ([]Packet, error) {
	if err := checkGroups(groups); err != nil {
		return dst, err
	}
	if len(iov) > MaxAppIovecs {
		return dst, fmt.Errorf("totempg: %d iovecs, at most %d per message", len(iov), MaxAppIovecs)
	}
	p.groupLens = appendGroupLens(p.groupLens[:0], groups)
	vecs := append(p.vecs[:0], p.groupLens)
	for _, g := range groups {
		// Read-only view of the name: the packer only copies from it.
		vecs = append(vecs, unsafe.Slice(unsafe.StringData(g), len(g)))
	}
	for _, v := range iov {
		if len(v) > 0 { // corosync drops empty iovecs before packing
			vecs = append(vecs, v)
		}
	}
	dst = p.pack(dst, guarantee, vecs)
	clear(vecs)
	p.vecs = vecs[:0]
	return dst, nil
}

func (p *Packer) pack(dst []Packet, guarantee uint32, vecs [][]byte) []Packet {
	// Room for message bytes: the length table grows by one slot for the
	// message being added. Computed once per message, as corosync does.
	room := p.packetSize - 2*(len(p.lens)+1)
	cur := 0 // bytes of this message staged so far
	base := 0
	for i := 0; i < len(vecs); {
		v := vecs[i]
		// corosync compares the iovec's full length even when part of it
		// has already gone out; keep that, it decides packet boundaries.
		if len(v)+len(p.staged) < room-2 {
			p.staged = append(p.staged, v[base:]...)
			cur += len(v) - base
			p.nextFrag = 1
			base = 0
			i++
			continue
		}
		n := min(len(v)-base, room-len(p.staged))
		p.staged = append(p.staged, v[base:base+n]...)
		cur += n
		cont := p.cont
		var frag uint8
		if i < len(vecs)-1 || base+n < len(v) {
			if p.nextFrag == 0 {
				p.nextFrag = 1
			}
			frag = p.nextFrag
			p.nextFrag++
			p.cont = frag
		} else {
			p.cont = 0
		}
		p.lens = append(p.lens, uint16(cur))
		dst = append(dst, Packet{Payload: p.build(frag, cont), Guarantee: guarantee})
		p.lens = p.lens[:0]
		p.staged = p.staged[:0]
		cur = 0
		room = p.packetSize - 2
		if base+n == len(v) {
			base = 0
			i++
		} else {
			base += n
		}
	}
	if cur != 0 {
		p.lens = append(p.lens, uint16(cur))
	}
	return dst
}

func (p *Packer) build(frag, cont uint8) []byte {
	buf := make([]byte, 0, HeaderSize+2*len(p.lens)+len(p.staged))
	return appendPacket(buf, frag, cont, p.lens, p.staged)
}

// Flush sends whatever is staged as one packet with guarantee 0. srp calls
// it when the token arrives and its send queue has room (Corosync skips
// the flush while the queue is full and retries at the next token).
func (p *Packer) Flush(dst []Packet) []Packet {
	if len(p.lens) == 0 {
		return dst
	}
	dst = append(dst, Packet{Payload: p.build(0, p.cont), Guarantee: Agreed})
	p.cont = 0
	p.lens = p.lens[:0]
	p.staged = p.staged[:0]
	return dst
}

// QueueSlots is how many srp send-queue entries Corosync budgets for a
// message of size bytes (group header included): one per mtu−24 bytes,
// plus one. IPC flow control reserves this many before accepting a request.
func QueueSlots(size, mtu int) int { return size/(mtu-HeaderSize-16) + 1 }

// SizeLimit is the largest request Corosync accepts for sending when the
// srp queue has avail free entries: larger ones are refused outright
// (CS_ERR_INVALID_PARAM) rather than waited for.
func SizeLimit(avail, mtu int) int { return (avail - 1) * (mtu - HeaderSize - 16) }

// CanAdd reports whether a message of size bytes (group header included)
// may be added while srp has avail free queue entries; Corosync refuses
// the send (and the caller retries later) when it may not.
func (p *Packer) CanAdd(avail, size int) bool {
	return avail >= QueueSlots(size+2*len(p.lens), p.mtu)
}

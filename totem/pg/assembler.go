package pg

import (
	"errors"
	"fmt"
)

// Phase selects which set of reassembly buffers a delivery uses, mirroring
// totemsrp's waiting_trans_ack flag. Corosync switches to the
// transitional set when a new ring becomes operational, right after the
// old ring's recovered messages have been delivered with the regular set,
// and back to the regular set when the service sync completes (exec calls
// totempg_trans_ack). A node starts in the transitional phase. Keeping two
// sets means a message cut short by the ring change is never spliced onto
// new-ring traffic from the same node.
type Phase uint8

const (
	PhaseRegular Phase = iota
	PhaseTransitional
)

func (p Phase) String() string {
	if p == PhaseTransitional {
		return "transitional"
	}
	return "regular"
}

// Message is one complete application message.
type Message struct {
	Node uint32 // sending nodeid
	// Groups are the group names from the message's group header.
	Groups [][]byte
	// Payload is the message after the group header. It aliases either the
	// delivered packet (when the message sat whole in one packet) or a
	// fresh copy made for a reassembled message; the assembler never
	// writes to it again.
	Payload []byte
	// Swapped is the sender's byte order flag, passed through so that
	// services can convert their own integers.
	Swapped bool
}

// Stats counts what the assembler has seen; a daemon exports them.
type Stats struct {
	Packets  uint64 // payloads handed to Deliver
	Messages uint64 // complete messages returned

	TooShort        uint64 // packets shorter than their header or length table
	LengthMismatch  uint64 // packets whose size disagrees with their lengths
	EmptyFragment   uint64 // fragmented packets holding no message
	BadContinuation uint64 // continuation mismatches (partial message lost)
	TooLarge        uint64 // reassemblies that outgrew the limit
	BadGroupHeader  uint64 // complete messages with a broken group header

	// DiscardedBytes counts message bytes dropped by the rules above,
	// including pieces skipped while throwing away an orphaned message.
	DiscardedBytes uint64
}

type assembly struct {
	// buf holds the head of a message continued in later packets. Its
	// storage is kept between messages (as Corosync keeps its assembly
	// buffers), so a busy sender of large messages does not regrow it;
	// complete messages are copied out at their exact size.
	buf       []byte
	lastFrag  uint8 // fragment number the next packet must continue, 0 if none
	throwAway bool  // skipping the rest of a message whose head was lost
}

// Assembler is the receive half of totempg: it rebuilds the messages each
// node sent from the payloads srp delivers, in delivery order.
//
// Continuation rule: a packet's continuation byte must equal the fragment
// number of the same node's previous packet (0 when that one ended
// cleanly). On a mismatch the partial message is dropped; if the packet's
// first piece continues something we do not have, that piece is dropped
// too, and if the packet holds nothing else and continues further the
// assembler throws pieces away until the node's orphaned message ends.
// Messages in the same packet that do not depend on the lost data are
// still delivered (Corosync drops those too; see the package
// documentation).
//
// An Assembler is not safe for concurrent use.
type Assembler struct {
	max   int
	phase Phase
	nodes [2]map[uint32]*assembly
	hdr   PacketHeader // scratch, reused for every packet
	stats Stats
}

// NewAssembler returns an assembler that refuses to rebuild messages
// larger than maxMessage bytes (group header included); 0 means
// DefaultMaxAssembly, Corosync's own limit.
func NewAssembler(maxMessage int) *Assembler {
	if maxMessage <= 0 {
		maxMessage = DefaultMaxAssembly
	}
	return &Assembler{
		max:   maxMessage,
		phase: PhaseTransitional, // totemsrp starts with waiting_trans_ack set
		nodes: [2]map[uint32]*assembly{{}, {}},
	}
}

// SetPhase switches between the regular and transitional buffer sets:
// PhaseTransitional when srp enters OPERATIONAL on a new ring (after
// delivering the old ring's messages), PhaseRegular when sync completes.
// Partial messages stay in their set across switches, as in Corosync.
func (a *Assembler) SetPhase(p Phase) { a.phase = p }

// Phase returns the current phase.
func (a *Assembler) Phase() Phase { return a.phase }

// Stats returns the counters.
func (a *Assembler) Stats() Stats { return a.stats }

// NodesLeft discards, in both phases, whatever the given nodes had
// partially sent. Call it for the left list of every configuration change:
// those messages can never be completed.
func (a *Assembler) NodesLeft(nodes ...uint32) {
	for _, n := range nodes {
		for _, m := range a.nodes {
			if as, ok := m[n]; ok {
				a.stats.DiscardedBytes += uint64(len(as.buf))
				delete(m, n)
			}
		}
	}
}

// Partial reports how many bytes of an unfinished message from node the
// current phase holds.
func (a *Assembler) Partial(node uint32) int {
	if as, ok := a.nodes[a.phase][node]; ok {
		return len(as.buf)
	}
	return 0
}

func (a *Assembler) count(err error) {
	switch {
	case errors.Is(err, ErrTooShort):
		a.stats.TooShort++
	case errors.Is(err, ErrLengthMismatch):
		a.stats.LengthMismatch++
	case errors.Is(err, ErrEmptyFragment):
		a.stats.EmptyFragment++
	}
}

// Deliver feeds one delivered mcast payload from node and appends the
// messages it completes to dst. swapped says the sender was big-endian.
//
// A non-nil error reports something dropped (a *PacketError wrapping one
// of the Err* values); messages appended alongside it are still good. A
// packet that fails the length checks is dropped whole and leaves the
// node's state untouched, as Corosync does.
func (a *Assembler) Deliver(dst []Message, node uint32, pkt []byte, swapped bool) ([]Message, error) {
	a.stats.Packets++
	off, err := parseHeader(pkt, swapped, &a.hdr)
	if err != nil {
		a.count(err)
		pe := &PacketError{Node: node, Err: err}
		if base := errors.Unwrap(err); base != nil {
			pe.Err, pe.Info = base, err.Error()
		}
		return dst, pe
	}
	h := &a.hdr
	m := a.nodes[a.phase]
	as := m[node]
	if as == nil {
		as = &assembly{}
		m[node] = as
	}
	var firstErr error
	report := func(e error, info string) {
		if firstErr == nil {
			firstErr = &PacketError{Node: node, Err: e, Info: info}
		}
	}

	n := len(h.Lens)
	start := 0
	if as.throwAway || h.Continuation != as.lastFrag {
		if !as.throwAway {
			a.stats.BadContinuation++
			report(ErrBadContinuation, fmt.Sprintf("continuation %d, expected %d, %d partial bytes dropped",
				h.Continuation, as.lastFrag, len(as.buf)))
		}
		a.stats.DiscardedBytes += uint64(len(as.buf))
		as.buf, as.lastFrag, as.throwAway = as.buf[:0], 0, false
		if h.Continuation != 0 && n > 0 {
			// The first piece continues a message whose head we lack.
			a.stats.DiscardedBytes += uint64(h.Lens[0])
			off += int(h.Lens[0])
			start = 1
			if n == 1 && h.Fragmented != 0 {
				as.throwAway = true
				return dst, firstErr
			}
		}
	}

	var names [][]byte // one backing array per packet, capped per message
	for j := start; j < n; j++ {
		l := int(h.Lens[j])
		piece := pkt[off : off+l : off+l]
		off += l
		if j == n-1 && h.Fragmented != 0 {
			if len(as.buf)+l > a.max {
				a.stats.TooLarge++
				a.stats.DiscardedBytes += uint64(len(as.buf) + l)
				report(ErrTooLarge, fmt.Sprintf("more than %d bytes", a.max))
				as.buf, as.lastFrag, as.throwAway = as.buf[:0], 0, true
				return dst, firstErr
			}
			as.buf = append(as.buf, piece...)
			as.lastFrag = h.Fragmented
			return dst, firstErr
		}
		msg := piece
		if j == 0 && len(as.buf) > 0 {
			if len(as.buf)+l > a.max {
				a.stats.TooLarge++
				a.stats.DiscardedBytes += uint64(len(as.buf) + l)
				report(ErrTooLarge, fmt.Sprintf("more than %d bytes", a.max))
				as.buf = as.buf[:0]
				continue
			}
			msg = make([]byte, len(as.buf)+l)
			copy(msg[copy(msg, as.buf):], piece)
			as.buf = as.buf[:0]
		}
		var payload []byte
		first := len(names)
		names, payload, err = SplitGroups(names, msg, swapped)
		if err != nil {
			names = names[:first]
			a.stats.BadGroupHeader++
			a.stats.DiscardedBytes += uint64(len(msg))
			report(ErrBadGroupHeader, err.Error())
			continue
		}
		a.stats.Messages++
		dst = append(dst, Message{
			Node:    node,
			Groups:  names[first:len(names):len(names)],
			Payload: payload,
			Swapped: swapped,
		})
	}
	as.lastFrag = 0
	as.buf = as.buf[:0]
	return dst, firstErr
}

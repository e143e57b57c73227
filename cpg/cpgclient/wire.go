package cpgclient

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ringfence/ringfence/cpg"
	"github.com/ringfence/ringfence/cpg/cpgipc"
	"github.com/ringfence/ringfence/ipc"
	"github.com/ringfence/ringfence/totem/wire"
)

// Guarantee is cpg_guarantee_t. Corosync implements only agreed order
// (FIFO is the same thing; unordered and safe are accepted and treated
// as agreed).
type Guarantee uint32

// The cpg_guarantee_t values.
const (
	Unordered Guarantee = 0
	FIFO      Guarantee = 1
	Agreed    Guarantee = 2
	Safe      Guarantee = 3
)

// Iteration types (cpg_iteration_type_t).
const (
	IterNameOnly = cpg.IterNameOnly // one item per group, node and pid 0
	IterOneGroup = cpg.IterOneGroup // the processes of one group
	IterAll      = cpg.IterAll      // every process of every group
)

// Partial multicast fragment types (enum lib_cpg_partial_types).
const (
	partialFirst     = 1
	partialContinued = 2
	partialLast      = 3
)

// Layout of the structs in ipc_cpg.h: every member is aligned(8), a
// mar_cpg_name_t is a u32 length and a 128-byte value at +8, and
// mar_cpg_address_t is nodeid, pid, reason at +0, +8, +16.
const (
	nameSize     = 136
	addrSize     = 24
	reqGroup     = 16 // mar_cpg_name_t in join/leave/membership/iteration
	reqJoinPID   = 152
	reqJoinFlags = 160
	reqIterType  = 152
	// MCAST and PARTIAL_MCAST start with a 24-byte response header (a
	// quirk of ipc_cpg.h), so their fields start at 24.
	reqMcastGuarantee = 24
	reqMcastLen       = 32
	reqMcastData      = 40
	reqPartFragLen    = 40
	reqPartType       = 48
	reqPartData       = 56

	evGroup = 24
	evLists = 184
)

var errShort = errors.New("cpgclient: event shorter than its struct")

// ErrMalformed wraps every decoding failure of a daemon message.
var ErrMalformed = errors.New("cpgclient: malformed message from the daemon")

func le32(b []byte, off int) uint32     { return binary.LittleEndian.Uint32(b[off:]) }
func put32(b []byte, off int, v uint32) { binary.LittleEndian.PutUint32(b[off:], v) }

func newRequest(id int32, size int) []byte {
	b := make([]byte, size)
	ipc.PutRequestHeader(b, id, size)
	return b
}

func putName(b []byte, off int, g string) {
	put32(b, off, uint32(len(g)))
	copy(b[off+8:off+nameSize], g)
}

func checkName(g string) error {
	if len(g) > cpg.MaxNameLength {
		return ipc.CsErrNameTooLong
	}
	return nil
}

// readName decodes a mar_cpg_name_t; bytes after length are garbage.
func readName(b []byte, off int) (string, error) {
	if len(b) < off+nameSize {
		return "", errShort
	}
	n := le32(b, off)
	if n > cpg.MaxNameLength {
		return "", fmt.Errorf("group name length %d over %d", n, cpg.MaxNameLength)
	}
	return string(b[off+8 : off+8+int(n)]), nil
}

func joinRequest(g string, pid, flags uint32) []byte {
	b := newRequest(cpgipc.ReqJoin, 168)
	putName(b, reqGroup, g)
	put32(b, reqJoinPID, pid)
	put32(b, reqJoinFlags, flags)
	return b
}

func leaveRequest(g string, pid uint32) []byte {
	b := newRequest(cpgipc.ReqLeave, 160)
	putName(b, reqGroup, g)
	put32(b, reqJoinPID, pid)
	return b
}

// mcastRequest lays the iovecs out after the MCAST struct, as qb_ipcc_sendv
// does with libcpg's two-part iovec.
func mcastRequest(g Guarantee, size int, iov [][]byte) []byte {
	b := make([]byte, reqMcastData+size)
	ipc.PutRequestHeader(b, cpgipc.ReqMcast, len(b))
	put32(b, reqMcastGuarantee, uint32(g))
	put32(b, reqMcastLen, uint32(size))
	off := reqMcastData
	for _, p := range iov {
		off += copy(b[off:], p)
	}
	return b
}

func partialRequest(g Guarantee, msgLen int, typ uint32, frag []byte) []byte {
	b := make([]byte, reqPartData+len(frag))
	ipc.PutRequestHeader(b, cpgipc.ReqPartialMcast, len(b))
	put32(b, reqMcastGuarantee, uint32(g))
	put32(b, reqMcastLen, uint32(msgLen))
	put32(b, reqPartFragLen, uint32(len(frag)))
	put32(b, reqPartType, typ)
	copy(b[reqPartData:], frag)
	return b
}

// checkResponse validates a response header against the expected id and
// minimum size and returns the cs_error_t it carries as a Go error.
func checkResponse(b []byte, id int32, size int) error {
	h, err := ipc.ParseResponseHeader(b)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if h.Error != ipc.CsOK {
		// Errors may come back with a bare header (and, from a server
		// that could not tell the request, with id 0).
		return h.Error
	}
	if h.ID != id || len(b) < size {
		return fmt.Errorf("%w: response id %d size %d, want id %d size >= %d", ErrMalformed, h.ID, len(b), id, size)
	}
	return nil
}

// Address is one process in a group, and in confchg lists why it is there
// (cpg.ReasonJoin ... cpg.ReasonProcDown).
type Address = cpg.Address

func readAddrs(b []byte, off, n int) []Address {
	if n == 0 {
		return nil
	}
	out := make([]Address, n)
	for i := range out {
		o := off + i*addrSize
		out[i] = Address{NodeID: le32(b, o), PID: le32(b, o+8), Reason: le32(b, o+16)}
	}
	return out
}

// Event is one decoded callback from the daemon.
type Event struct {
	Kind cpg.EventKind
	// Group is set for confchg and (partial) deliveries.
	Group string
	// Confchg lists.
	Members, Left, Joined []Address
	// Delivery: the sending process and the data (one fragment for a
	// partial delivery, with the whole length in MsgLen and its Type).
	NodeID, PID uint32
	Data        []byte
	MsgLen      uint32
	Type        uint32
	// Totem confchg.
	Ring  wire.RingID
	Nodes []uint32
}

// maxListEntries bounds confchg and totem lists (CPG_MEMBERS_MAX).
const maxListEntries = 128 * 1024

// ParseEvent decodes one event message as libcpg's dispatch does, with
// every count and length checked against the message.
func ParseEvent(b []byte) (Event, error) {
	h, err := ipc.ParseResponseHeader(b)
	if err != nil {
		return Event{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	bad := func(format string, args ...any) (Event, error) {
		return Event{}, fmt.Errorf("%w: event %d: %s", ErrMalformed, h.ID, fmt.Sprintf(format, args...))
	}
	switch h.ID {
	case cpgipc.EvConfchg:
		if len(b) < evLists {
			return bad("%d bytes", len(b))
		}
		g, err := readName(b, evGroup)
		if err != nil {
			return bad("%v", err)
		}
		nm, nj, nl := uint64(le32(b, 160)), uint64(le32(b, 168)), uint64(le32(b, 176))
		total := nm + nj + nl
		if total > maxListEntries || uint64(len(b)) < evLists+addrSize*total {
			return bad("lists of %d+%d+%d entries in %d bytes", nm, nj, nl, len(b))
		}
		// libcpg reads members, then left, then joined.
		ev := Event{Kind: cpg.EventConfchg, Group: g}
		ev.Members = readAddrs(b, evLists, int(nm))
		ev.Left = readAddrs(b, evLists+addrSize*int(nm), int(nl))
		ev.Joined = readAddrs(b, evLists+addrSize*int(nm+nl), int(nj))
		return ev, nil
	case cpgipc.EvDeliver:
		if len(b) < 184 {
			return bad("%d bytes", len(b))
		}
		g, err := readName(b, evGroup)
		if err != nil {
			return bad("%v", err)
		}
		n := uint64(le32(b, 160))
		if n > uint64(len(b)-184) {
			return bad("message of %d bytes in %d", n, len(b)-184)
		}
		return Event{Kind: cpg.EventDeliver, Group: g, MsgLen: uint32(n), NodeID: le32(b, 168), PID: le32(b, 176), Data: b[184 : 184+n]}, nil
	case cpgipc.EvPartialDeliver:
		if len(b) < 200 {
			return bad("%d bytes", len(b))
		}
		g, err := readName(b, evGroup)
		if err != nil {
			return bad("%v", err)
		}
		msgLen, frag := le32(b, 160), uint64(le32(b, 168))
		if frag > uint64(len(b)-200) || frag > uint64(msgLen) {
			return bad("fragment of %d bytes (message %d) in %d", frag, msgLen, len(b)-200)
		}
		typ := le32(b, 192)
		if typ < partialFirst || typ > partialLast {
			return bad("fragment type %d", typ)
		}
		return Event{Kind: cpg.EventPartialDeliver, Group: g, MsgLen: msgLen, NodeID: le32(b, 176), PID: le32(b, 184), Type: typ, Data: b[200 : 200+frag]}, nil
	case cpgipc.EvTotemConfchg:
		// sizeof is 48 + 4n but the list starts at 44.
		if len(b) < 44 {
			return bad("%d bytes", len(b))
		}
		n := uint64(le32(b, 40))
		if n > maxListEntries || uint64(len(b)) < 44+4*n {
			return bad("%d members in %d bytes", n, len(b))
		}
		ev := Event{Kind: cpg.EventTotemConfchg, Ring: wire.RingID{Rep: le32(b, 24), Seq: binary.LittleEndian.Uint64(b[32:])}}
		ev.Nodes = make([]uint32, n)
		for i := range ev.Nodes {
			ev.Nodes[i] = le32(b, 44+4*i)
		}
		return ev, nil
	}
	return bad("unknown event id")
}

package cpgipc

import (
	"encoding/binary"

	"github.com/ringfence/ringfence/cpg"
	"github.com/ringfence/ringfence/ipc"
)

// ServiceName and ServiceID identify the endpoint ("cpg", service 2).
const (
	ServiceName = "cpg"
	ServiceID   = 2
)

// Request ids (enum req_cpg_types).
const (
	ReqJoin         = 0
	ReqLeave        = 1
	ReqMcast        = 2
	ReqMembership   = 3
	ReqLocalGet     = 4
	ReqIterInit     = 5
	ReqIterNext     = 6
	ReqIterFinalize = 7
	ReqFinalize     = 8
	ReqZcAlloc      = 9
	ReqZcFree       = 10
	ReqZcExecute    = 11
	ReqPartialMcast = 12
)

// Response and event ids (enum res_cpg_types): they differ from the
// request ids, which is easy to get wrong.
const (
	ResJoin            = 0
	ResLeave           = 1
	ResMcast           = 2
	ResMembership      = 3
	EvConfchg          = 4
	EvDeliver          = 5
	ResLocalGet        = 7
	ResIterInit        = 9
	ResIterNext        = 10
	ResIterFinalize    = 11
	ResFinalize        = 12
	EvTotemConfchg     = 13
	EvPartialDeliver   = 17
	ResPartialMcast    = 18
	resZcAlloc         = 0
	resZcFree          = 0
	resZcExecute       = 2
	csErrNotSupported  = ipc.CsError(19)
	maxMembershipSlots = 384 // PROCESSOR_COUNT_MAX in res_lib_cpg_membership_get
)

// RequestSizes are the smallest valid requests per id (the C structs).
var RequestSizes = []int{168, 160, 40, 152, 16, 160, 24, 24, 16, 152, 32, 24, 56}

// Offsets inside the structs (all members are aligned(8)).
const (
	offGroup       = 16  // mar_cpg_name_t in requests: length u32, value @+8
	groupSize      = 136 // sizeof(mar_cpg_name_t)
	offJoinPID     = 152 // after the group
	offJoinFlags   = 160
	offIterType    = 152
	offHandle      = 16
	offMcastLen    = 32
	offMcastData   = 40
	offPartMsgLen  = 32
	offPartFragLen = 40
	offPartType    = 48
	offPartData    = 56

	membershipSize = 9248
	iterNextSize   = 168
)

func le32(b []byte, off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }
func le64(b []byte, off int) uint64 { return binary.LittleEndian.Uint64(b[off:]) }
func put32(b []byte, off int, v uint32) {
	binary.LittleEndian.PutUint32(b[off:], v)
}
func put64(b []byte, off int, v uint64) {
	binary.LittleEndian.PutUint64(b[off:], v)
}

// readGroup decodes a mar_cpg_name_t at off. Only length bytes of the
// value are meaningful; the rest is whatever the client's stack held.
// ok is false when the length exceeds the 128-byte value.
func readGroup(b []byte, off int) (string, bool) {
	n := le32(b, off)
	if n > cpg.MaxNameLength {
		return "", false
	}
	return string(b[off+8 : off+8+int(n)]), true
}

// putGroup encodes a mar_cpg_name_t at off (padding and tail zeroed by
// the caller's fresh buffer).
func putGroup(b []byte, off int, g string) {
	if len(g) > cpg.MaxNameLength {
		g = g[:cpg.MaxNameLength]
	}
	put32(b, off, uint32(len(g)))
	copy(b[off+8:off+8+cpg.MaxNameLength], g)
}

func response(id int32, size int, e ipc.CsError) []byte { return ipc.NewResponse(id, size, e) }

// encodeEvent turns one cpg callback into its libcpg event message.
func encodeEvent(ev cpg.Event) []byte {
	switch ev.Kind {
	case cpg.EventConfchg:
		n := len(ev.Members) + len(ev.Left) + len(ev.Joined)
		b := response(EvConfchg, 184+24*n, ipc.CsOK)
		putGroup(b, 24, ev.Group)
		put32(b, 160, uint32(len(ev.Members)))
		put32(b, 168, uint32(len(ev.Joined)))
		put32(b, 176, uint32(len(ev.Left)))
		off := 184
		// libcpg reads members, then left, then joined.
		for _, list := range [][]cpg.Address{ev.Members, ev.Left, ev.Joined} {
			for _, a := range list {
				putAddress(b, off, a)
				off += 24
			}
		}
		return b
	case cpg.EventDeliver, cpg.EventPartialDeliver:
		var hdr [partialDeliverHeader]byte
		h, data := deliverParts(ev, hdr[:])
		b := make([]byte, len(h)+len(data))
		copy(b[copy(b, h):], data)
		return b
	case cpg.EventTotemConfchg:
		// sizeof is 48 + 4n but the list starts at 44 (packing quirk).
		b := response(EvTotemConfchg, 48+4*len(ev.Nodes), ipc.CsOK)
		put32(b, 24, ev.Ring.Rep)
		put64(b, 32, ev.Ring.Seq)
		put32(b, 40, uint32(len(ev.Nodes)))
		for i, id := range ev.Nodes {
			put32(b, 44+4*i, id)
		}
		return b
	}
	return nil
}

// Header sizes of the two delivery events (res_lib_cpg_deliver_callback,
// res_lib_cpg_partial_deliver_callback): the data follows.
const (
	deliverHeader        = 184
	partialDeliverHeader = 200
)

// deliverParts encodes a DELIVER or PARTIAL_DELIVER event as its header,
// built in buf (at least partialDeliverHeader bytes, overwritten), and
// its data, ev.Data itself: the event is their concatenation. The daemon
// writes the two straight into the client's event ring, so the data is
// copied once.
func deliverParts(ev cpg.Event, buf []byte) (hdr, data []byte) {
	if ev.Kind == cpg.EventPartialDeliver {
		b := buf[:partialDeliverHeader]
		clear(b)
		ipc.PutResponseHeader(b, EvPartialDeliver, partialDeliverHeader+len(ev.Data), ipc.CsOK)
		putGroup(b, 24, ev.Group)
		put32(b, 160, ev.MsgLen)
		put32(b, 168, uint32(len(ev.Data)))
		put32(b, 176, ev.NodeID)
		put32(b, 184, ev.PID)
		put32(b, 192, ev.Type)
		return b, ev.Data
	}
	b := buf[:deliverHeader]
	clear(b)
	ipc.PutResponseHeader(b, EvDeliver, deliverHeader+len(ev.Data), ipc.CsOK)
	putGroup(b, 24, ev.Group)
	put32(b, 160, uint32(len(ev.Data)))
	put32(b, 168, ev.NodeID)
	put32(b, 176, ev.PID)
	return b, ev.Data
}

func putAddress(b []byte, off int, a cpg.Address) {
	put32(b, off, a.NodeID)
	put32(b, off+8, a.PID)
	put32(b, off+16, a.Reason)
}

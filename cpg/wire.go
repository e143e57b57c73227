package cpg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"github.com/ringfence/ringfence/exec"
)

// ServiceID is the CPG service number.
const ServiceID = exec.ServiceCPG

// Exec message fns (enum cpg_message_req_types in exec/cpg.c).
const (
	FnProcJoin     = 0
	FnProcLeave    = 1
	FnJoinList     = 2
	FnMcast        = 3
	FnDownlistOld  = 4
	FnDownlist     = 5
	FnPartialMcast = 6
	execCount      = 7
)

// Sizes of the fixed parts.
const (
	MaxNameLength     = 128 // CPG_MAX_NAME_LENGTH
	NameSize          = 136 // mar_cpg_name_t: u32 length, pad, value[128]
	ProcJoinSize      = 168
	JoinListHeader    = 24  // qb_ipc_response_header
	JoinListEntrySize = 144 // pid u32, pad, mar_cpg_name_t
	McastHeader       = 184
	PartialHeader     = 200
	DownlistSize      = 1568
	MaxProcessors     = 384 // PROCESSOR_COUNT_MAX
	// MaxMessageSize is the largest application message (1 MiB).
	MaxMessageSize = 1 << 20
)

// Confchg reasons (CONFCHG_CPG_REASON_*).
const (
	ReasonUndefined = 0
	ReasonJoin      = 1
	ReasonLeave     = 2
	ReasonNodeDown  = 3
	ReasonNodeUp    = 4
	ReasonProcDown  = 5
)

// Partial message types.
const (
	PartialFirst     = 1
	PartialContinued = 2
	PartialLast      = 3
)

// ErrMalformed wraps every decoding error.
var ErrMalformed = errors.New("cpg: malformed exec message")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// order reads little-endian integers, swapping them for a big-endian
// sender (Corosync's exec_cpg_*_endian_convert).
type order bool

func (o order) u32(b []byte) uint32 {
	v := binary.LittleEndian.Uint32(b)
	if o {
		v = bits.ReverseBytes32(v)
	}
	return v
}

func (o order) u64(b []byte) uint64 {
	v := binary.LittleEndian.Uint64(b)
	if o {
		v = bits.ReverseBytes64(v)
	}
	return v
}

var le = binary.LittleEndian

// getName reads a mar_cpg_name_t at b[0:136]. Only length bytes of value
// are meaningful; the rest (and bytes 4..7) are garbage on the wire.
func getName(b []byte, o order) (string, error) {
	n := o.u32(b)
	if n > MaxNameLength {
		return "", malformed("group name length %d", n)
	}
	return string(b[8 : 8+n]), nil
}

// putName writes a mar_cpg_name_t, zero padded.
func putName(b []byte, name string) {
	le.PutUint32(b, uint32(len(name)))
	clear(b[4:NameSize])
	copy(b[8:8+MaxNameLength], name)
}

func checkName(name string) error {
	if len(name) > MaxNameLength {
		return fmt.Errorf("cpg: group name of %d bytes", len(name))
	}
	return nil
}

func header(b []byte, fn uint16, size int) {
	exec.PutHeader(b, exec.Header{ID: exec.MakeID(ServiceID, fn), Size: int32(size)})
}

// ProcJoin is PROCJOIN (fn 0) or PROCLEAVE (fn 1): a process joins or
// leaves a group.
type ProcJoin struct {
	Leave  bool // PROCLEAVE
	Group  string
	PID    uint32
	Reason uint32
}

// Encode returns the 168-byte message.
func (m *ProcJoin) Encode() []byte {
	b := make([]byte, ProcJoinSize)
	fn := uint16(FnProcJoin)
	if m.Leave {
		fn = FnProcLeave
	}
	header(b, fn, ProcJoinSize)
	putName(b[16:], m.Group)
	le.PutUint32(b[152:], m.PID)
	le.PutUint32(b[160:], m.Reason)
	return b
}

// DecodeProcJoin decodes PROCJOIN or PROCLEAVE (fn given by the caller).
func DecodeProcJoin(b []byte, fn uint16, swapped bool) (*ProcJoin, error) {
	if len(b) < ProcJoinSize {
		return nil, malformed("procjoin of %d bytes", len(b))
	}
	o := order(swapped)
	g, err := getName(b[16:], o)
	if err != nil {
		return nil, err
	}
	return &ProcJoin{Leave: fn == FnProcLeave, Group: g, PID: o.u32(b[152:]), Reason: o.u32(b[160:])}, nil
}

// JoinEntry is one process in a JOINLIST.
type JoinEntry struct {
	PID   uint32
	Group string
}

// JoinList is JOINLIST (fn 2): the sender's local processes.
type JoinList struct {
	Entries []JoinEntry
}

// Encode returns the message: a 24-byte response-style header (id, size,
// error 0) and 144 bytes per entry.
func (m *JoinList) Encode() []byte {
	size := JoinListHeader + JoinListEntrySize*len(m.Entries)
	b := make([]byte, size)
	header(b, FnJoinList, size) // id @0, size @8; error @16 stays 0
	for i, e := range m.Entries {
		p := b[JoinListHeader+JoinListEntrySize*i:]
		le.PutUint32(p, e.PID)
		putName(p[8:], e.Group)
	}
	return b
}

// DecodeJoinList decodes JOINLIST. Corosync walks entries up to the
// header's size field; we require that size to fit the message and to
// hold whole entries.
func DecodeJoinList(b []byte, swapped bool) (*JoinList, error) {
	if len(b) < JoinListHeader {
		return nil, malformed("joinlist of %d bytes", len(b))
	}
	o := order(swapped)
	size := int64(int32(o.u32(b[8:])))
	if size < JoinListHeader || size > int64(len(b)) || (size-JoinListHeader)%JoinListEntrySize != 0 {
		return nil, malformed("joinlist size %d in %d bytes", size, len(b))
	}
	n := int(size-JoinListHeader) / JoinListEntrySize
	m := &JoinList{Entries: make([]JoinEntry, 0, n)}
	for i := range n {
		p := b[JoinListHeader+JoinListEntrySize*i:]
		g, err := getName(p[8:], o)
		if err != nil {
			return nil, err
		}
		m.Entries = append(m.Entries, JoinEntry{PID: o.u32(p), Group: g})
	}
	return m, nil
}

// Source is mar_message_source_t: the sending node and its connection
// pointer (opaque; receivers ignore it).
type Source struct {
	NodeID uint32
	Conn   uint64
}

// Mcast is MCAST (fn 3): an application message to a group.
type Mcast struct {
	Group  string
	PID    uint32
	Source Source
	Data   []byte
}

// Encode returns the message as Corosync's two iovecs: the 184-byte
// header and the data (the split steers totempg packing).
func (m *Mcast) Encode() [][]byte {
	b := make([]byte, McastHeader)
	header(b, FnMcast, McastHeader+len(m.Data))
	putName(b[16:], m.Group)
	le.PutUint32(b[152:], uint32(len(m.Data)))
	le.PutUint32(b[160:], m.PID)
	le.PutUint32(b[168:], m.Source.NodeID)
	le.PutUint64(b[176:], m.Source.Conn)
	return [][]byte{b, m.Data}
}

// DecodeMcast decodes MCAST. Data aliases b.
func DecodeMcast(b []byte, swapped bool) (*Mcast, error) {
	if len(b) < McastHeader {
		return nil, malformed("mcast of %d bytes", len(b))
	}
	o := order(swapped)
	g, err := getName(b[16:], o)
	if err != nil {
		return nil, err
	}
	n := uint64(o.u32(b[152:]))
	if n > uint64(len(b)-McastHeader) {
		return nil, malformed("mcast msglen %d in %d bytes", n, len(b))
	}
	return &Mcast{
		Group:  g,
		PID:    o.u32(b[160:]),
		Source: Source{NodeID: o.u32(b[168:]), Conn: o.u64(b[176:])},
		Data:   b[McastHeader : McastHeader+n],
	}, nil
}

// PartialMcast is PARTIAL_MCAST (fn 6): one fragment of a message larger
// than libcpg sends whole.
type PartialMcast struct {
	Group  string
	MsgLen uint32 // length of the whole message
	PID    uint32
	Type   uint32 // PartialFirst, PartialContinued, PartialLast
	Source Source
	Data   []byte // this fragment
}

// Encode returns the 200-byte header and the fragment as two iovecs.
func (m *PartialMcast) Encode() [][]byte {
	b := make([]byte, PartialHeader)
	header(b, FnPartialMcast, PartialHeader+len(m.Data))
	putName(b[16:], m.Group)
	le.PutUint32(b[152:], m.MsgLen)
	le.PutUint32(b[160:], uint32(len(m.Data)))
	le.PutUint32(b[168:], m.PID)
	le.PutUint32(b[176:], m.Type)
	le.PutUint32(b[184:], m.Source.NodeID)
	le.PutUint64(b[192:], m.Source.Conn)
	return [][]byte{b, m.Data}
}

// DecodePartialMcast decodes PARTIAL_MCAST. Data aliases b.
func DecodePartialMcast(b []byte, swapped bool) (*PartialMcast, error) {
	if len(b) < PartialHeader {
		return nil, malformed("partial mcast of %d bytes", len(b))
	}
	o := order(swapped)
	g, err := getName(b[16:], o)
	if err != nil {
		return nil, err
	}
	n := uint64(o.u32(b[160:]))
	if n > uint64(len(b)-PartialHeader) {
		return nil, malformed("partial mcast fraglen %d in %d bytes", n, len(b))
	}
	return &PartialMcast{
		Group:  g,
		MsgLen: o.u32(b[152:]),
		PID:    o.u32(b[168:]),
		Type:   o.u32(b[176:]),
		Source: Source{NodeID: o.u32(b[184:]), Conn: o.u64(b[192:])},
		Data:   b[PartialHeader : PartialHeader+n],
	}, nil
}

// Downlist is DOWNLIST (fn 5): the nodes the sender saw leave. Corosync
// 3.1.7 only logs it on receipt.
//
// The node id array always travels whole, and Corosync keeps it in a
// static buffer that each sync overwrites only up to the new count: the
// slots beyond Count still hold node ids of earlier syncs (the captures
// show them). IDs keeps the whole array so that re-encoding is exact.
type Downlist struct {
	OldMembers uint32
	Count      uint32 // left_nodes: how many of IDs are meaningful
	IDs        [MaxProcessors]uint32
}

// Left returns the nodes that left.
func (m *Downlist) Left() []uint32 { return m.IDs[:min(m.Count, MaxProcessors)] }

// Encode returns the fixed 1568-byte message.
func (m *Downlist) Encode() []byte {
	b := make([]byte, DownlistSize)
	header(b, FnDownlist, DownlistSize)
	le.PutUint32(b[16:], m.OldMembers)
	le.PutUint32(b[24:], m.Count)
	for i, id := range m.IDs {
		le.PutUint32(b[32+4*i:], id)
	}
	return b
}

// DecodeDownlist decodes DOWNLIST. Like Corosync's converter it swaps
// only the first Count node ids of a big-endian sender.
func DecodeDownlist(b []byte, swapped bool) (*Downlist, error) {
	if len(b) < DownlistSize {
		return nil, malformed("downlist of %d bytes", len(b))
	}
	o := order(swapped)
	n := o.u32(b[24:])
	if n > MaxProcessors {
		return nil, malformed("downlist of %d nodes", n)
	}
	m := &Downlist{OldMembers: o.u32(b[16:]), Count: n}
	for i := range m.IDs {
		if i < int(n) {
			m.IDs[i] = o.u32(b[32+4*i:])
		} else {
			m.IDs[i] = le.Uint32(b[32+4*i:])
		}
	}
	return m, nil
}

// Decode decodes any cpg exec message: *ProcJoin, *JoinList, *Mcast,
// *Downlist, *PartialMcast, or nil for DOWNLIST_OLD (ignored).
func Decode(b []byte, swapped bool) (any, error) {
	h, err := exec.DecodeHeader(b, swapped)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if h.Service() != ServiceID {
		return nil, malformed("service %d", h.Service())
	}
	switch h.Fn() {
	case FnProcJoin, FnProcLeave:
		return DecodeProcJoin(b, h.Fn(), swapped)
	case FnJoinList:
		return DecodeJoinList(b, swapped)
	case FnMcast:
		return DecodeMcast(b, swapped)
	case FnDownlistOld:
		return nil, nil
	case FnDownlist:
		return DecodeDownlist(b, swapped)
	case FnPartialMcast:
		return DecodePartialMcast(b, swapped)
	}
	return nil, malformed("fn %d", h.Fn())
}

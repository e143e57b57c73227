package wire

import "fmt"

// Magic is the first field of every totem message header. Read in the wrong
// byte order it shows as 0x70C0, which is how a receiver knows that the
// sender's integers need swapping.
const Magic uint16 = 0xC070

// Version is the only header version Corosync 3.x accepts.
const Version uint8 = 3

// HeaderSize is the size of the packed totem_message_header.
const HeaderSize = 13

// Sizes of the fixed parts of each message, header included.
const (
	OrfTokenFixedSize     = 57
	McastHeaderSize       = 45
	MergeDetectSize       = 29
	JoinFixedSize         = 33
	CommitTokenFixedSize  = 41
	TokenHoldCancelSize   = 25
	RtrItemSize           = 16
	CommitMemberEntrySize = 24
	// MaxRtrEntries is RETRANSMIT_ENTRIES_MAX: the retransmit list a token
	// may carry.
	MaxRtrEntries = 30
	// MaxProcessors is PROCESSOR_COUNT_MAX, the largest membership Corosync
	// sizes its arrays for.
	MaxProcessors = 384
)

// Type is the message type byte of the header.
type Type uint8

// Message types, numbered as Corosync numbers them.
const (
	TypeOrfToken        Type = 0
	TypeMcast           Type = 1
	TypeMergeDetect     Type = 2
	TypeJoin            Type = 3
	TypeCommitToken     Type = 4
	TypeTokenHoldCancel Type = 5
)

func (t Type) String() string {
	switch t {
	case TypeOrfToken:
		return "orf_token"
	case TypeMcast:
		return "mcast"
	case TypeMergeDetect:
		return "merge_detect"
	case TypeJoin:
		return "join"
	case TypeCommitToken:
		return "commit_token"
	case TypeTokenHoldCancel:
		return "token_hold_cancel"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Values of Header.Encapsulated on an mcast.
const (
	// EncapsulatedRecovery marks an old-ring message re-sent inside the new
	// ring during recovery; its payload is a whole inner mcast.
	EncapsulatedRecovery uint8 = 1
	// EncapsulatedNormal marks an ordinary mcast.
	EncapsulatedNormal uint8 = 2
)

// LeaveNodeID is the header nodeid of a join that announces a clean leave.
const LeaveNodeID uint32 = 0

// Header is the packed 13-byte header every totem message starts with.
type Header struct {
	// BigEndian records the sender's byte order; encoders honour it so that
	// decoded messages re-encode byte for byte.
	BigEndian    bool
	Type         Type
	Encapsulated uint8
	NodeID       uint32
	// TargetNodeID is never set by the udp/udpu transports and carries
	// whatever was on the sender's stack. Kept only to re-encode exactly.
	TargetNodeID uint32
}

// RingID names a ring: its representative (lowest nodeid) and sequence.
type RingID struct {
	Rep uint32
	Seq uint64
}

// String prints a ring id the way Corosync logs it: both parts in hex.
func (r RingID) String() string { return fmt.Sprintf("%x.%x", r.Rep, r.Seq) }

// RtrItem is one retransmit request carried by the token.
type RtrItem struct {
	RingID RingID
	Seq    uint32
}

// OrfToken is the ordering, reliability and flow-control token.
type OrfToken struct {
	Header     Header
	Seq        uint32 // highest sequence number assigned in this ring
	TokenSeq   uint32 // bumped by every forwarder; stale copies are dropped
	Aru        uint32 // all received up to
	AruAddr    uint32 // nodeid that last lowered Aru, 0 when Aru == Seq
	RingID     RingID
	Backlog    uint32
	FCC        uint32 // messages sent during the last rotation
	RetransFlg uint32
	RtrList    []RtrItem
}

// Mcast is an ordered data message. The payload is a totempg packet, or for
// an encapsulated recovery copy a whole inner mcast from the old ring.
type Mcast struct {
	Header     Header
	SystemFrom uint32
	Seq        uint32
	ThisSeqno  uint32 // per-sender counter kept across rings (debug only)
	RingID     RingID
	NodeID     uint32 // never set by Corosync
	Guarantee  uint32 // 0 agreed, 1 safe; receivers ignore it
	Payload    []byte
}

// MergeDetect is sent by an idle ring's representative so that nodes in
// other rings notice it and gather.
type MergeDetect struct {
	Header     Header
	SystemFrom uint32
	RingID     RingID
}

// Join carries a node's view of the processors and the failed ones during
// membership formation. A join whose header nodeid is LeaveNodeID is a
// clean leave: the leaver is the last entry of FailedList.
type Join struct {
	Header     Header
	SystemFrom uint32
	RingSeq    uint64
	ProcList   []uint32
	FailedList []uint32
}

// CommitMember is the entry each member fills in the commit token with the
// state of the ring it comes from.
type CommitMember struct {
	RingID        RingID // the member's previous ring
	Aru           uint32
	HighDelivered uint32
	ReceivedFlg   uint32
}

// CommitToken circulates once around the new ring to install it.
type CommitToken struct {
	Header     Header
	TokenSeq   uint32
	RingID     RingID // the new ring
	RetransFlg uint32
	MembIndex  int32
	Addr       []uint32       // new members, ascending
	MembList   []CommitMember // one per Addr entry
}

// TokenHoldCancel asks the representative to release a held token.
type TokenHoldCancel struct {
	Header Header
	RingID RingID
}

// Message is any of the six totem messages.
type Message interface {
	// Hdr returns the message's header.
	Hdr() *Header
}

func (m *OrfToken) Hdr() *Header        { return &m.Header }
func (m *Mcast) Hdr() *Header           { return &m.Header }
func (m *MergeDetect) Hdr() *Header     { return &m.Header }
func (m *Join) Hdr() *Header            { return &m.Header }
func (m *CommitToken) Hdr() *Header     { return &m.Header }
func (m *TokenHoldCancel) Hdr() *Header { return &m.Header }

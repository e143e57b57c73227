package votequorum

import "fmt"

// ServiceID is votequorum's service number in the exec header id
// (id = ServiceID<<16 | fn).
const ServiceID = 5

// Exec message function ids (the low 16 bits of the exec header id).
const (
	FnNodeInfo           = 0
	FnReconfigure        = 1
	FnQdeviceReg         = 2
	FnQdeviceReconfigure = 3
)

// QdeviceNodeID is the pseudo node that stands for the quorum device in
// NODEINFO messages, notifications and GETINFO.
const QdeviceNodeID = 0

// QdeviceMaxNameLen is the size of the C name buffers, terminating NUL
// included; names must be shorter.
const QdeviceMaxNameLen = 255

// Defaults from corosync's votequorum headers and votequorum.c.
const (
	DefaultQdeviceTimeoutMS     = 10000
	DefaultQdeviceSyncTimeoutMS = 30000
	DefaultLMSWindowMS          = 10000
)

// Node flags carried in NODEINFO (and kept per node).
const (
	NodeFlagQuorate           uint32 = 1
	NodeFlagLeaving           uint32 = 2
	NodeFlagWFAStatus         uint32 = 4
	NodeFlagFirst             uint32 = 8
	NodeFlagQdeviceRegistered uint32 = 16
	NodeFlagQdeviceAlive      uint32 = 32
	NodeFlagQdeviceCastVote   uint32 = 64
	NodeFlagQdeviceMasterWins uint32 = 128
)

// Flags reported by GETINFO (VOTEQUORUM_INFO_*); a different bit set from
// the node flags above.
const (
	InfoTwoNode           uint32 = 1
	InfoQuorate           uint32 = 2
	InfoWaitForAll        uint32 = 4
	InfoLastManStanding   uint32 = 8
	InfoAutoTieBreaker    uint32 = 16
	InfoAllowDownscale    uint32 = 32
	InfoQdeviceRegistered uint32 = 64
	InfoQdeviceAlive      uint32 = 128
	InfoQdeviceCastVote   uint32 = 256
	InfoQdeviceMasterWins uint32 = 512
)

// RECONFIGURE parameters.
const (
	ParamExpectedVotes uint8 = 1
	ParamNodeVotes     uint8 = 2
	ParamCancelWFA     uint8 = 3
)

// QDEVICE_REG operations.
const (
	QdeviceOpUnregister uint32 = 0
	QdeviceOpRegister   uint32 = 1
)

// NodeState is a node's state as votequorum keeps it and reports it in
// notifications and GETINFO. The quorum device's pseudo node keeps state 0.
type NodeState uint32

const (
	StateMember  NodeState = 1
	StateDead    NodeState = 2
	StateLeaving NodeState = 3
)

func (s NodeState) String() string {
	switch s {
	case StateMember:
		return "member"
	case StateDead:
		return "dead"
	case StateLeaving:
		return "leaving"
	}
	return fmt.Sprintf("state(%d)", uint32(s))
}

// Status is a corosync cs_error_t value as returned to IPC clients. The ipc
// layer converts it to its own type; the numbers are the C enum's.
type Status uint32

const (
	OK              Status = 1
	ErrTryAgain     Status = 6
	ErrInvalidParam Status = 7
	ErrAccess       Status = 11
	ErrNotExist     Status = 12
	ErrExist        Status = 14
	ErrNameNotFound Status = 17
	ErrNoResources  Status = 18
	ErrMessageError Status = 22
)

var statusNames = map[Status]string{
	OK:              "CS_OK",
	ErrTryAgain:     "CS_ERR_TRY_AGAIN",
	ErrInvalidParam: "CS_ERR_INVALID_PARAM",
	ErrAccess:       "CS_ERR_ACCESS",
	ErrNotExist:     "CS_ERR_NOT_EXIST",
	ErrExist:        "CS_ERR_EXIST",
	ErrNameNotFound: "CS_ERR_NAME_NOT_FOUND",
	ErrNoResources:  "CS_ERR_NO_RESOURCES",
	ErrMessageError: "CS_ERR_MESSAGE_ERROR",
}

func (s Status) String() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return fmt.Sprintf("CS_ERR(%d)", uint32(s))
}

// RingID identifies a totem configuration: representative node and sequence.
type RingID struct {
	Rep uint32
	Seq uint64
}

// String prints the ring id the way corosync does (CS_PRI_RING_ID, hex).
func (r RingID) String() string { return fmt.Sprintf("%x.%x", r.Rep, r.Seq) }

package vqipc

import (
	"encoding/binary"
	"slices"

	"github.com/ringfence/ringfence/ipc"
)

// Endpoint names and ids.
const (
	QuorumServiceName     = "quorum"
	QuorumServiceID       = 3
	VotequorumServiceName = "votequorum"
	VotequorumServiceID   = 5
)

// Quorum service request ids and response/event ids.
const (
	QReqGetQuorate   = 0
	QReqTrackStart   = 1
	QReqTrackStop    = 2
	QReqGetType      = 3
	QReqModelGetType = 4

	QResGetQuorate       = 0
	QResTrackStart       = 1
	QResTrackStop        = 2
	QEvNotification      = 3
	QResGetType          = 4
	QResModelGetType     = 5
	QEvV1Quorum          = 6
	QEvV1Nodelist        = 7
	quorumModelV0        = 0
	quorumModelV1        = 1
	quorumTypeFree       = 0
	quorumTypeSet        = 1
	trackCurrent         = 1
	trackChanges         = 2
	trackChangesOnly     = 4
	qdeviceNameLen       = 255
	getInfoSize          = 320
	offGetInfoQdevName   = 60
	offQdevUpdateNewName = 271
)

// QuorumRequestSizes are the smallest valid quorum requests.
var QuorumRequestSizes = []int{16, 24, 16, 16, 24}

// Votequorum request ids and response/event ids.
const (
	VReqGetInfo           = 0
	VReqSetExpected       = 1
	VReqSetVotes          = 2
	VReqTrackStart        = 3
	VReqTrackStop         = 4
	VReqQdeviceRegister   = 5
	VReqQdeviceUnregister = 6
	VReqQdeviceUpdate     = 7
	VReqQdevicePoll       = 8
	VReqQdeviceMasterWins = 9

	VResStatus       = 0
	VResGetInfo      = 1
	VEvQuorum        = 3
	VEvExpectedVotes = 4
	VEvNodelist      = 5
)

// VotequorumRequestSizes are the smallest valid votequorum requests.
var VotequorumRequestSizes = []int{24, 24, 24, 32, 16, 272, 272, 528, 296, 280}

func le32(b []byte, off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }
func le64(b []byte, off int) uint64 { return binary.LittleEndian.Uint64(b[off:]) }
func put32(b []byte, off int, v uint32) {
	binary.LittleEndian.PutUint32(b[off:], v)
}
func put64(b []byte, off int, v uint64) {
	binary.LittleEndian.PutUint64(b[off:], v)
}
func response(id int32, size int, e ipc.CsError) []byte { return ipc.NewResponse(id, size, e) }

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// readName reads a char[255] qdevice name: up to the first NUL (the
// bytes after it are whatever the client's buffer held).
func readName(b []byte, off int) string {
	v := b[off : off+qdeviceNameLen]
	if i := slices.Index(v, 0); i >= 0 {
		v = v[:i]
	}
	return string(v)
}

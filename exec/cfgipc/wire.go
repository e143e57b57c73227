package cfgipc

import (
	"encoding/binary"

	"github.com/ringfence/ringfence/ipc"
)

// ServiceName and ServiceID identify the endpoint ("cfg", service 1).
const (
	ServiceName = "cfg"
	ServiceID   = 1
)

// Request ids (enum req_lib_cfg_types).
const (
	ReqRingStatusGet   = 0
	ReqRingReenable    = 1
	ReqKillNode        = 2
	ReqTryShutdown     = 3
	ReqReplyToShutdown = 4
	ReqGetNodeAddrs    = 5
	ReqLocalGet        = 6
	ReqReloadConfig    = 7
	ReqReopenLogFiles  = 8
	ReqNodeStatusGet   = 9
	ReqTrackStart      = 10
	ReqTrackStop       = 11
)

// Response and event ids (enum res_lib_cfg_types).
const (
	ResRingStatusGet   = 0
	ResRingReenable    = 1
	ResTrackStart      = 2
	ResTrackStop       = 3
	ResKillNode        = 8
	ResTryShutdown     = 9
	EvTestShutdown     = 10
	ResGetNodeAddrs    = 11
	ResLocalGet        = 12
	ResReplyToShutdown = 13
	ResReloadConfig    = 14
	ResReopenLogFiles  = 15
	ResNodeStatusGet   = 16
)

// Shutdown flags of TRYSHUTDOWN.
const (
	ShutdownRequest    = 0
	ShutdownRegardless = 1
	ShutdownImmediate  = 2
)

// RequestSizes are the smallest valid requests per id.
var RequestSizes = []int{16, 16, 288, 24, 24, 24, 16, 16, 16, 32, 24, 16}

// Sizes and limits of the response structs.
const (
	ringStatusSize     = 10272
	maxInterfaces      = 16
	ifaceNameLen       = 128
	ifaceStatusLen     = 512
	nodeStatusV1Size   = 4200
	nodeStatusVerSize  = 32
	maxLinks           = 8
	linkStatusSize     = 520
	maxHostLen         = 256
	nodeStatusV1       = 1
	addrLen            = 16
	csErrNotSupported  = ipc.CsError(19)
	csErrFailedOp      = ipc.CsError(21)
	csErrTimeout       = ipc.CsError(5)
	defaultNetMTU      = 1410
	killReasonOff      = 24
	killReasonValueOff = 26
	killReasonMax      = 256
)

func le32(b []byte, off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }
func put32(b []byte, off int, v uint32) {
	binary.LittleEndian.PutUint32(b[off:], v)
}
func response(id int32, size int, e ipc.CsError) []byte { return ipc.NewResponse(id, size, e) }

// putCString writes s NUL-terminated into b[off:off+max], cutting it.
func putCString(b []byte, off, max int, s string) {
	if len(s) > max-1 {
		s = s[:max-1]
	}
	copy(b[off:off+max], s)
}

package cmapsvc

import (
	"encoding/binary"

	"github.com/ringfence/ringfence/ipc"
)

// Service identity.
const (
	ServiceName = "cmap"
	ServiceID   = 0
)

// Request ids (enum req_cmap_types).
const (
	ReqSet           = 0
	ReqDelete        = 1
	ReqGet           = 2
	ReqAdjustInt     = 3
	ReqIterInit      = 4
	ReqIterNext      = 5
	ReqIterFinalize  = 6
	ReqTrackAdd      = 7
	ReqTrackDelete   = 8
	ReqSetCurrentMap = 9
)

// Response ids (enum res_cmap_types): SET_CURRENT_MAP answers with 10
// because 9 is the notification.
const (
	ResSet           = 0
	ResDelete        = 1
	ResGet           = 2
	ResAdjustInt     = 3
	ResIterInit      = 4
	ResIterNext      = 5
	ResIterFinalize  = 6
	ResTrackAdd      = 7
	ResTrackDelete   = 8
	ResNotify        = 9
	ResSetCurrentMap = 10
)

// Field offsets and sizes of the request and response structs (all
// members aligned(8); mar_name_t is u16 length + 256-byte value at +8).
const (
	offKey       = 16  // mar_name_t in every keyed request
	nameSize     = 264 // sizeof(mar_name_t)
	nameValueMax = 256
	offReqArg    = offKey + nameSize // 280: value_len / step / track_type
	offSetType   = 288
	offSetValue  = 296
	offTrackInst = 288
	offHandle    = 16 // iter/track handle in handle-only requests

	sizeGetRes      = 40
	sizeIterInitRes = 32
	sizeIterNextRes = 304
	sizeTrackAddRes = 32
	sizeTrackDelRes = 32
	sizeNotify      = 336

	// MaxValueLen is icmap's limit on one value.
	MaxValueLen = 16 * 1024
)

// RequestSizes is the minimal length of each request (index = id).
var RequestSizes = []int{
	ReqSet:           offSetValue,
	ReqDelete:        offReqArg,
	ReqGet:           offReqArg + 8,
	ReqAdjustInt:     offReqArg + 8,
	ReqIterInit:      offReqArg,
	ReqIterNext:      offHandle + 8,
	ReqIterFinalize:  offHandle + 8,
	ReqTrackAdd:      offTrackInst + 8,
	ReqTrackDelete:   offHandle + 8,
	ReqSetCurrentMap: offHandle + 8,
}

// readName decodes a mar_name_t at off. ok is false when the length word
// is out of range; the value ends at the first NUL (Corosync uses it as a
// C string).
func readName(msg []byte, off int) (string, bool) {
	n := int(binary.LittleEndian.Uint16(msg[off:]))
	if n > nameValueMax {
		return "", false
	}
	v := msg[off+8 : off+8+n]
	for i, c := range v {
		if c == 0 {
			v = v[:i]
			break
		}
	}
	return string(v), true
}

// putName encodes a mar_name_t (padding and the unused value tail zeroed
// because the buffer is fresh).
func putName(b []byte, off int, name string) {
	n := copy(b[off+8:off+8+nameValueMax], name)
	binary.LittleEndian.PutUint16(b[off:], uint16(n))
}

func u64(b []byte, off int) uint64 { return binary.LittleEndian.Uint64(b[off:]) }

func header(id int32, size int, e ipc.CsError) []byte { return ipc.NewResponse(id, size, e) }

package exec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// HeaderSize is the size of struct qb_ipc_request_header, the header in
// front of every exec message (and of the sync messages).
const HeaderSize = 16

// ServiceID is a Corosync service number (include/corosync/corodefs.h).
type ServiceID uint16

// The services Corosync 3.1.7 knows.
const (
	ServiceCMAP       ServiceID = 0
	ServiceCFG        ServiceID = 1
	ServiceCPG        ServiceID = 2
	ServiceQuorum     ServiceID = 3
	ServicePload      ServiceID = 4
	ServiceVotequorum ServiceID = 5
	ServiceMon        ServiceID = 6
	ServiceWD         ServiceID = 7
)

// MaxServices bounds service ids as Corosync's SERVICES_COUNT_MAX does.
const MaxServices = 64

// serviceNames are the short names used in runtime.services.<name>.* keys.
var serviceNames = map[ServiceID]string{
	ServiceCMAP: "cmap", ServiceCFG: "cfg", ServiceCPG: "cpg",
	ServiceQuorum: "quorum", ServicePload: "pload",
	ServiceVotequorum: "votequorum", ServiceMon: "mon", ServiceWD: "wd",
}

// ShortName returns the name Corosync uses for id in cmap keys, or
// "service<N>" for ids it does not know.
func (id ServiceID) ShortName() string {
	if n, ok := serviceNames[id]; ok {
		return n
	}
	return fmt.Sprintf("service%d", uint16(id))
}

// MakeID builds a header id: service<<16 | fn (SERVICE_ID_MAKE).
func MakeID(svc ServiceID, fn uint16) int32 {
	return int32(uint32(svc)<<16 | uint32(fn))
}

// Header is the decoded qb_ipc_request_header. Only id and size carry
// meaning; bytes 4..7 and 12..15 are uninitialised padding on the wire.
type Header struct {
	ID   int32
	Size int32
}

// Service returns the service part of the id.
func (h Header) Service() ServiceID { return ServiceID(uint32(h.ID) >> 16) }

// Fn returns the function part of the id.
func (h Header) Fn() uint16 { return uint16(uint32(h.ID) & 0xffff) }

// ErrShortHeader reports a message too short for the exec header.
var ErrShortHeader = errors.New("exec: message shorter than the 16-byte header")

// DecodeHeader reads the header at the start of b. swapped says the
// sender had the other byte order; the values returned are in host order.
func DecodeHeader(b []byte, swapped bool) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, ErrShortHeader
	}
	id := binary.LittleEndian.Uint32(b[0:])
	size := binary.LittleEndian.Uint32(b[8:])
	if swapped {
		id, size = bits.ReverseBytes32(id), bits.ReverseBytes32(size)
	}
	return Header{ID: int32(id), Size: int32(size)}, nil
}

// PutHeader writes h into the first 16 bytes of b (little-endian) and
// zeroes the padding, so nothing of ours leaks onto the wire.
func PutHeader(b []byte, h Header) {
	_ = b[HeaderSize-1]
	binary.LittleEndian.PutUint32(b[0:], uint32(h.ID))
	clear(b[4:8])
	binary.LittleEndian.PutUint32(b[8:], uint32(h.Size))
	clear(b[12:16])
}

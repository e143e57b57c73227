package exec

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ringfence/ringfence/totem/wire"
)

// Sync message ids (header id, no service part) and sizes.
const (
	SyncBarrierID      = 0
	SyncServiceBuildID = 1

	BarrierSize      = 32
	ServiceBuildSize = 552
	// MaxSyncServices is the capacity of SERVICE_BUILD's service list.
	MaxSyncServices = 128
)

// Barrier says the sender finished the current service's sync traffic.
type Barrier struct {
	Ring wire.RingID
}

// ServiceBuild lists the services with sync callbacks the sender runs.
type ServiceBuild struct {
	Ring     wire.RingID
	Services []int32
}

// SyncMessage is a decoded group "sync" message: *Barrier or *ServiceBuild.
type SyncMessage interface{ syncMessage() }

func (*Barrier) syncMessage()      {}
func (*ServiceBuild) syncMessage() {}

// Errors of DecodeSync.
var (
	ErrSyncUnknown = errors.New("exec: unknown sync message id")
	ErrSyncShort   = errors.New("exec: sync message too short")
	ErrSyncEntries = errors.New("exec: service build entry count out of range")
)

// ring_id is struct memb_ring_id, packed: rep u32 @16, seq u64 @20.
func putRing(b []byte, r wire.RingID) {
	binary.LittleEndian.PutUint32(b[16:], r.Rep)
	binary.LittleEndian.PutUint64(b[20:], r.Seq)
}

func getRing(b []byte) wire.RingID {
	return wire.RingID{Rep: binary.LittleEndian.Uint32(b[16:]), Seq: binary.LittleEndian.Uint64(b[20:])}
}

// Encode returns the 32-byte BARRIER message.
func (m *Barrier) Encode() []byte {
	b := make([]byte, BarrierSize)
	PutHeader(b, Header{ID: SyncBarrierID, Size: BarrierSize})
	putRing(b, m.Ring)
	return b
}

// Encode returns the 552-byte SERVICE_BUILD message. More than 128
// services cannot be expressed; Encode panics then (a programming error:
// the registry holds at most MaxServices).
func (m *ServiceBuild) Encode() []byte {
	if len(m.Services) > MaxSyncServices {
		panic("exec: too many sync services")
	}
	b := make([]byte, ServiceBuildSize)
	PutHeader(b, Header{ID: SyncServiceBuildID, Size: ServiceBuildSize})
	putRing(b, m.Ring)
	binary.LittleEndian.PutUint32(b[32:], uint32(len(m.Services)))
	for i, s := range m.Services {
		binary.LittleEndian.PutUint32(b[40+4*i:], uint32(s))
	}
	return b
}

// DecodeSync decodes a group "sync" message. Like Corosync, it reads the
// fields in little-endian order whatever the sender's byte order (sync.c
// never converts): a message from a big-endian node has an id matching
// neither kind and is reported as ErrSyncUnknown, which Corosync ignores
// silently too.
func DecodeSync(b []byte) (SyncMessage, error) {
	h, err := DecodeHeader(b, false)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSyncShort, err)
	}
	switch h.ID {
	case SyncBarrierID:
		if len(b) < BarrierSize {
			return nil, fmt.Errorf("%w: barrier of %d bytes", ErrSyncShort, len(b))
		}
		return &Barrier{Ring: getRing(b)}, nil
	case SyncServiceBuildID:
		if len(b) < ServiceBuildSize {
			return nil, fmt.Errorf("%w: service build of %d bytes", ErrSyncShort, len(b))
		}
		n := int32(binary.LittleEndian.Uint32(b[32:]))
		if n < 0 || n > MaxSyncServices {
			return nil, fmt.Errorf("%w: %d", ErrSyncEntries, n)
		}
		m := &ServiceBuild{Ring: getRing(b), Services: make([]int32, n)}
		for i := range m.Services {
			m.Services[i] = int32(binary.LittleEndian.Uint32(b[40+4*i:]))
		}
		return m, nil
	}
	return nil, fmt.Errorf("%w %d", ErrSyncUnknown, h.ID)
}

package srp

import (
	"encoding/binary"
	"errors"

	"github.com/ringfence/ringfence/totem/wire"
)

// An encapsulated recovery mcast carries a whole old-ring mcast (45-byte
// header plus payload) as its payload. srp builds and parses that inner
// header itself so that recovery does not depend on the transport codec.

func encodeInner(it *item) []byte {
	b := make([]byte, wire.McastHeaderSize+len(it.payload))
	le := binary.LittleEndian
	le.PutUint16(b[0:], wire.Magic)
	b[2] = wire.Version
	b[3] = byte(wire.TypeMcast)
	b[4] = wire.EncapsulatedNormal
	le.PutUint32(b[5:], it.from)
	le.PutUint32(b[13:], it.system)
	le.PutUint32(b[17:], it.seq)
	le.PutUint32(b[21:], it.thisSeqno)
	le.PutUint32(b[25:], it.ringID.Rep)
	le.PutUint64(b[29:], it.ringID.Seq)
	le.PutUint32(b[41:], it.guarantee)
	copy(b[wire.McastHeaderSize:], it.payload)
	return b
}

var errInner = errors.New("srp: malformed encapsulated mcast")

func decodeInner(b []byte) (*item, error) {
	if len(b) < wire.McastHeaderSize {
		return nil, errInner
	}
	var bo binary.ByteOrder = binary.LittleEndian
	switch {
	case binary.LittleEndian.Uint16(b) == wire.Magic:
	case binary.BigEndian.Uint16(b) == wire.Magic:
		bo = binary.BigEndian
	default:
		return nil, errInner
	}
	if b[2] != wire.Version || b[3] != byte(wire.TypeMcast) {
		return nil, errInner
	}
	return &item{
		from:      bo.Uint32(b[5:]),
		system:    bo.Uint32(b[13:]),
		seq:       bo.Uint32(b[17:]),
		thisSeqno: bo.Uint32(b[21:]),
		ringID:    wire.RingID{Rep: bo.Uint32(b[25:]), Seq: bo.Uint64(b[29:])},
		guarantee: bo.Uint32(b[41:]),
		encap:     b[4],
		payload:   append([]byte(nil), b[wire.McastHeaderSize:]...),
	}, nil
}

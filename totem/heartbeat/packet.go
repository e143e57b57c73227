package heartbeat

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Packet types.
const (
	TypeProbe  = 1
	TypeAnswer = 2
)

// FlagKernel marks an answer sent by the XDP program.
const FlagKernel = 1

// PacketLen is the size of every heartbeat payload.
const PacketLen = 28

const version = 1

var magic = [4]byte{'R', 'F', 'H', 'B'}

// Packet is one probe or answer.
type Packet struct {
	Type  uint8
	Link  uint8
	Flags uint8
	From  uint32
	To    uint32
	Seq   uint32
	Stamp uint64
}

// Errors returned by Parse.
var (
	ErrShort   = errors.New("heartbeat: packet too short")
	ErrMagic   = errors.New("heartbeat: not a heartbeat packet")
	ErrVersion = errors.New("heartbeat: unknown version")
	ErrType    = errors.New("heartbeat: unknown packet type")
)

// Append encodes p at the end of b.
func (p Packet) Append(b []byte) []byte {
	b = append(b, magic[:]...)
	b = append(b, version, p.Type, p.Link, p.Flags)
	b = binary.BigEndian.AppendUint32(b, p.From)
	b = binary.BigEndian.AppendUint32(b, p.To)
	b = binary.BigEndian.AppendUint32(b, p.Seq)
	return binary.BigEndian.AppendUint64(b, p.Stamp)
}

// Parse decodes a heartbeat payload. Extra trailing bytes are refused:
// the format has one size.
func Parse(b []byte) (Packet, error) {
	if len(b) < PacketLen {
		return Packet{}, ErrShort
	}
	if len(b) > PacketLen {
		return Packet{}, fmt.Errorf("heartbeat: %d bytes, want %d", len(b), PacketLen)
	}
	if [4]byte(b[:4]) != magic {
		return Packet{}, ErrMagic
	}
	if b[4] != version {
		return Packet{}, fmt.Errorf("%w %d", ErrVersion, b[4])
	}
	p := Packet{Type: b[5], Link: b[6], Flags: b[7],
		From: binary.BigEndian.Uint32(b[8:]), To: binary.BigEndian.Uint32(b[12:]),
		Seq: binary.BigEndian.Uint32(b[16:]), Stamp: binary.BigEndian.Uint64(b[20:])}
	if p.Type != TypeProbe && p.Type != TypeAnswer {
		return Packet{}, fmt.Errorf("%w %d", ErrType, p.Type)
	}
	return p, nil
}

// Answer turns a probe into the answer that responder id sends back.
func (p Packet) Answer(id uint32, flags uint8) Packet {
	return Packet{Type: TypeAnswer, Link: p.Link, Flags: flags, From: id, To: p.From, Seq: p.Seq, Stamp: p.Stamp}
}

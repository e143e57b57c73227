package pg

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// HeaderSize is the fixed part of a totempg packet: i16 version, i16 type,
// u8 fragmented, u8 continuation, u16 msg_count. The msg_count u16 lengths
// and then the message bytes follow.
const HeaderSize = 8

// McastHeadersOverhead is what totemsrp subtracts from the configured
// netmtu before totempg sees it: room for two 45-byte mcast headers (the
// second one for recovery encapsulation). netmtu 1500 gives a totem mtu of
// 1410, and totempg packets are at most that long.
const McastHeadersOverhead = 2 * 45

// DefaultNetMTU is corosync.conf's default totem.netmtu.
const DefaultNetMTU = 1500

// TotemMTU converts a corosync.conf netmtu into the mtu totempg packs for.
func TotemMTU(netMTU int) int { return netMTU - McastHeadersOverhead }

// MaxMessageSize is Corosync's MESSAGE_SIZE_MAX: the largest application
// message its IPC layer accepts.
const MaxMessageSize = 1 << 20

// DefaultMaxAssembly bounds one message being reassembled. Corosync sizes
// its assembly buffer MESSAGE_SIZE_MAX plus one knet packet (64 KiB), which
// leaves room for the group header in front of a 1 MiB message.
const DefaultMaxAssembly = MaxMessageSize + 64*1024

// Decoding errors. Each is wrapped in a *PacketError that names the sender.
var (
	// ErrTooShort: fewer bytes than the fixed header or the length table.
	ErrTooShort = errors.New("totempg packet too short")
	// ErrLengthMismatch: the packet's size differs from 8 + 2·count + Σlen.
	ErrLengthMismatch = errors.New("totempg packet length does not match its message lengths")
	// ErrEmptyFragment: a packet says its last message continues but holds none.
	ErrEmptyFragment = errors.New("totempg packet marked fragmented but carries no message")
	// ErrBadContinuation: the continuation byte does not match the fragment
	// number of the sender's previous packet, so a piece went missing and
	// the partial message is discarded.
	ErrBadContinuation = errors.New("totempg continuation does not match the previous fragment")
	// ErrTooLarge: a reassembled message would exceed the assembly limit.
	ErrTooLarge = errors.New("totempg reassembled message exceeds the assembly limit")
	// ErrBadGroupHeader: a complete message whose group header does not fit.
	ErrBadGroupHeader = errors.New("bad group header")
)

// PacketError reports a problem with one delivered payload.
type PacketError struct {
	Node uint32 // sending nodeid
	Err  error  // one of the Err* values above
	Info string // detail for the log
}

func (e *PacketError) Error() string {
	if e.Info == "" {
		return fmt.Sprintf("totempg from node %d: %v", e.Node, e.Err)
	}
	return fmt.Sprintf("totempg from node %d: %v (%s)", e.Node, e.Err, e.Info)
}

func (e *PacketError) Unwrap() error { return e.Err }

// PacketHeader is the decoded fixed part of a totempg packet.
type PacketHeader struct {
	Version      int16 // always 0; not checked by receivers
	Type         int16 // always 0; not checked by receivers
	Fragmented   uint8 // non-zero: the last message continues in the next packet
	Continuation uint8 // non-zero: the first message continues the previous packet's
	Lens         []uint16
}

// order returns the byte order a sender used.
func order(swapped bool) binary.ByteOrder {
	if swapped {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// parseHeader validates b as a totempg packet and fills lens (reusing its
// storage). It returns the offset of the first message byte.
func parseHeader(b []byte, swapped bool, h *PacketHeader) (int, error) {
	if len(b) < HeaderSize {
		return 0, fmt.Errorf("%w: %d bytes", ErrTooShort, len(b))
	}
	bo := order(swapped)
	h.Version = int16(bo.Uint16(b[0:]))
	h.Type = int16(bo.Uint16(b[2:]))
	h.Fragmented = b[4]
	h.Continuation = b[5]
	count := int(bo.Uint16(b[6:]))
	dataStart := HeaderSize + 2*count
	if len(b) < dataStart {
		return 0, fmt.Errorf("%w: %d bytes for %d message lengths", ErrTooShort, len(b), count)
	}
	h.Lens = h.Lens[:0]
	total := dataStart
	for i := 0; i < count; i++ {
		l := bo.Uint16(b[HeaderSize+2*i:])
		h.Lens = append(h.Lens, l)
		total += int(l)
	}
	if total != len(b) {
		return 0, fmt.Errorf("%w: expected %d bytes, have %d", ErrLengthMismatch, total, len(b))
	}
	if count == 0 && h.Fragmented != 0 {
		return 0, ErrEmptyFragment
	}
	return dataStart, nil
}

// ParsePacket decodes the header and length table of a totempg packet and
// checks that the lengths account for every byte. swapped says the sender
// was big-endian.
func ParsePacket(b []byte, swapped bool) (PacketHeader, error) {
	var h PacketHeader
	_, err := parseHeader(b, swapped, &h)
	return h, err
}

// Pieces splits a packet into its message pieces (sub-slices of b) after
// ParsePacket's checks.
func Pieces(b []byte, swapped bool) (PacketHeader, [][]byte, error) {
	var h PacketHeader
	off, err := parseHeader(b, swapped, &h)
	if err != nil {
		return h, nil, err
	}
	out := make([][]byte, len(h.Lens))
	for i, l := range h.Lens {
		out[i] = b[off : off+int(l) : off+int(l)]
		off += int(l)
	}
	return h, out, nil
}

// appendPacket writes a little-endian totempg packet.
func appendPacket(dst []byte, fragmented, continuation uint8, lens []uint16, data []byte) []byte {
	dst = append(dst, 0, 0, 0, 0, fragmented, continuation)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(lens)))
	for _, l := range lens {
		dst = binary.LittleEndian.AppendUint16(dst, l)
	}
	return append(dst, data...)
}

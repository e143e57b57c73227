package votequorum

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// Sizes of the four exec messages as corosync puts them on the wire: packed
// C structs whose 16-byte header is aligned(8), so each size is rounded up to
// a multiple of 8 and ends in padding.
const (
	HeaderSize               = 16
	NodeInfoSize             = 32
	ReconfigureSize          = 32
	QdeviceRegSize           = 280
	QdeviceReconfigureSize   = 528
	qdeviceRegNameOff        = 20
	qdeviceReconfigureOldOff = 16
	qdeviceReconfigureNewOff = 16 + QdeviceMaxNameLen
	reconfigureParamOff      = 24
	nodeInfoNodeIDOff        = 16
	reconfigureNodeIDOff     = 16
	qdeviceRegOperationOff   = 16
	nodeInfoVotesOff         = 20
	nodeInfoExpectedOff      = 24
	nodeInfoFlagsOff         = 28
	reconfigureValueOff      = 20
)

// Message is one votequorum exec message.
type Message interface {
	// Fn is the exec function id (FnNodeInfo ...).
	Fn() uint16
	// Encode returns the bytes corosync would multicast (little-endian,
	// zeroed padding), exec header included, group header excluded.
	Encode() []byte
	String() string
}

// NodeInfo (fn 0) announces one node's votes, expected votes and flags.
// NodeID 0 carries the sender's view of the quorum device.
type NodeInfo struct {
	NodeID        uint32
	Votes         uint32
	ExpectedVotes uint32
	Flags         uint32
}

// Reconfigure (fn 1) changes expected votes, a node's votes, or cancels
// wait_for_all cluster-wide.
type Reconfigure struct {
	NodeID uint32
	Value  uint32
	Param  uint8
}

// QdeviceReg (fn 2) registers or unregisters a quorum device name.
type QdeviceReg struct {
	Operation uint32
	Name      string
}

// QdeviceReconfigure (fn 3) renames the quorum device.
type QdeviceReconfigure struct {
	OldName string
	NewName string
}

func (NodeInfo) Fn() uint16           { return FnNodeInfo }
func (Reconfigure) Fn() uint16        { return FnReconfigure }
func (QdeviceReg) Fn() uint16         { return FnQdeviceReg }
func (QdeviceReconfigure) Fn() uint16 { return FnQdeviceReconfigure }

func (m NodeInfo) String() string {
	return fmt.Sprintf("NODEINFO nodeid=%d votes=%d expected=%d flags=%s", m.NodeID, m.Votes, m.ExpectedVotes, NodeFlagsString(m.Flags))
}

func (m Reconfigure) String() string {
	name := map[uint8]string{ParamExpectedVotes: "expected_votes", ParamNodeVotes: "node_votes", ParamCancelWFA: "cancel_wfa"}[m.Param]
	if name == "" {
		name = fmt.Sprintf("param(%d)", m.Param)
	}
	return fmt.Sprintf("RECONFIGURE nodeid=%d %s=%d", m.NodeID, name, m.Value)
}

func (m QdeviceReg) String() string {
	op := "register"
	if m.Operation == QdeviceOpUnregister {
		op = "unregister"
	} else if m.Operation != QdeviceOpRegister {
		op = fmt.Sprintf("op(%d)", m.Operation)
	}
	return fmt.Sprintf("QDEVICE_REG %s name=%q", op, m.Name)
}

func (m QdeviceReconfigure) String() string {
	return fmt.Sprintf("QDEVICE_RECONFIGURE %q -> %q", m.OldName, m.NewName)
}

// NodeFlagsString names the set NODEINFO flags, "0" when none are set.
func NodeFlagsString(f uint32) string {
	names := []string{"quorate", "leaving", "wfa", "first", "qdev-registered", "qdev-alive", "qdev-cast-vote", "qdev-master-wins"}
	var b []byte
	for i, n := range names {
		if f&(1<<i) != 0 {
			if len(b) > 0 {
				b = append(b, ',')
			}
			b = append(b, n...)
		}
	}
	if rest := f &^ 0xff; rest != 0 {
		if len(b) > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, "0x%x", rest)
	}
	if len(b) == 0 {
		return "0"
	}
	return string(b)
}

var le = binary.LittleEndian

func header(fn uint16, size int) []byte {
	b := make([]byte, size)
	le.PutUint32(b[0:], uint32(ServiceID)<<16|uint32(fn))
	le.PutUint32(b[8:], uint32(size))
	return b
}

func (m NodeInfo) Encode() []byte {
	b := header(FnNodeInfo, NodeInfoSize)
	le.PutUint32(b[nodeInfoNodeIDOff:], m.NodeID)
	le.PutUint32(b[nodeInfoVotesOff:], m.Votes)
	le.PutUint32(b[nodeInfoExpectedOff:], m.ExpectedVotes)
	le.PutUint32(b[nodeInfoFlagsOff:], m.Flags)
	return b
}

func (m Reconfigure) Encode() []byte {
	b := header(FnReconfigure, ReconfigureSize)
	le.PutUint32(b[reconfigureNodeIDOff:], m.NodeID)
	le.PutUint32(b[reconfigureValueOff:], m.Value)
	b[reconfigureParamOff] = m.Param
	return b
}

// putName copies a name into a fixed C buffer; callers validated the length,
// a longer name is cut so that the terminating NUL always fits.
func putName(dst []byte, name string) {
	copy(dst[:QdeviceMaxNameLen-1], name)
}

func (m QdeviceReg) Encode() []byte {
	b := header(FnQdeviceReg, QdeviceRegSize)
	le.PutUint32(b[qdeviceRegOperationOff:], m.Operation)
	putName(b[qdeviceRegNameOff:], m.Name)
	return b
}

func (m QdeviceReconfigure) Encode() []byte {
	b := header(FnQdeviceReconfigure, QdeviceReconfigureSize)
	putName(b[qdeviceReconfigureOldOff:], m.OldName)
	putName(b[qdeviceReconfigureNewOff:], m.NewName)
	return b
}

// Decode errors.
var (
	ErrShort         = errors.New("votequorum: message shorter than its fixed layout")
	ErrNotVotequorum = errors.New("votequorum: exec header names another service")
	ErrUnknownFn     = errors.New("votequorum: unknown exec function")
	ErrUnterminated  = errors.New("votequorum: qdevice name is not NUL-terminated")
)

// ExecHeaderID returns the service and function from an exec message's
// header id; bigEndian says the sender's byte order differs from ours.
func ExecHeaderID(b []byte, bigEndian bool) (service, fn uint16, err error) {
	if len(b) < HeaderSize {
		return 0, 0, ErrShort
	}
	id := le.Uint32(b)
	if bigEndian {
		id = binary.BigEndian.Uint32(b)
	}
	return uint16(id >> 16), uint16(id), nil
}

// Decode parses one votequorum exec message (exec header included). A
// message from a sender of the other byte order is passed with bigEndian
// set; its integer fields are swapped as corosync's converters do (the u8
// RECONFIGURE param and the names need no swapping). The header's size
// field is not checked, as corosync does not check it either; only the
// fixed layout must fit. Padding is ignored: corosync leaves garbage there.
func Decode(b []byte, bigEndian bool) (Message, error) {
	svc, fn, err := ExecHeaderID(b, bigEndian)
	if err != nil {
		return nil, err
	}
	if svc != ServiceID {
		return nil, fmt.Errorf("%w (service %d)", ErrNotVotequorum, svc)
	}
	var order binary.ByteOrder = binary.LittleEndian
	if bigEndian {
		order = binary.BigEndian
	}
	// corosync reads the packed struct in place; the trailing alignment
	// padding is never read, so a message that lacks only that is accepted.
	minLen, ok := map[uint16]int{
		FnNodeInfo:           NodeInfoSize,
		FnReconfigure:        reconfigureParamOff + 1,
		FnQdeviceReg:         qdeviceRegNameOff + QdeviceMaxNameLen,
		FnQdeviceReconfigure: qdeviceReconfigureNewOff + QdeviceMaxNameLen,
	}[fn]
	if !ok {
		return nil, fmt.Errorf("%w %d", ErrUnknownFn, fn)
	}
	if len(b) < minLen {
		return nil, fmt.Errorf("%w: fn %d needs %d bytes, have %d", ErrShort, fn, minLen, len(b))
	}
	switch fn {
	case FnNodeInfo:
		return NodeInfo{
			NodeID:        order.Uint32(b[nodeInfoNodeIDOff:]),
			Votes:         order.Uint32(b[nodeInfoVotesOff:]),
			ExpectedVotes: order.Uint32(b[nodeInfoExpectedOff:]),
			Flags:         order.Uint32(b[nodeInfoFlagsOff:]),
		}, nil
	case FnReconfigure:
		return Reconfigure{
			NodeID: order.Uint32(b[reconfigureNodeIDOff:]),
			Value:  order.Uint32(b[reconfigureValueOff:]),
			Param:  b[reconfigureParamOff],
		}, nil
	case FnQdeviceReg:
		name, err := cName(b[qdeviceRegNameOff : qdeviceRegNameOff+QdeviceMaxNameLen])
		if err != nil {
			return nil, err
		}
		return QdeviceReg{Operation: order.Uint32(b[qdeviceRegOperationOff:]), Name: name}, nil
	default:
		oldName, err := cName(b[qdeviceReconfigureOldOff : qdeviceReconfigureOldOff+QdeviceMaxNameLen])
		if err != nil {
			return nil, err
		}
		newName, err := cName(b[qdeviceReconfigureNewOff : qdeviceReconfigureNewOff+QdeviceMaxNameLen])
		if err != nil {
			return nil, err
		}
		return QdeviceReconfigure{OldName: oldName, NewName: newName}, nil
	}
}

// cName reads a C string from a fixed buffer. Corosync would strcpy past
// the end of an unterminated buffer; we refuse the message instead.
func cName(buf []byte) (string, error) {
	i := bytes.IndexByte(buf, 0)
	if i < 0 {
		return "", ErrUnterminated
	}
	return string(buf[:i]), nil
}

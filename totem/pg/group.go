package pg

import (
	"encoding/binary"
	"fmt"
)

// The two groups Corosync 3.1 uses.
const (
	// GroupServices carries every service exec message (exec/main.c).
	GroupServices = "a"
	// GroupSync carries the post-membership sync protocol (exec/sync.c).
	GroupSync = "sync"
)

// Limits from totempg.c's group send calls.
const (
	MaxGroupsPerMessage = 32 // MAX_GROUPS_PER_MSG
	MaxAppIovecs        = 32 // MAX_IOVECS_FROM_APP
)

// GroupHeaderSize is the size of the group header naming groups.
func GroupHeaderSize(groups []string) int {
	n := 2 + 2*len(groups)
	for _, g := range groups {
		n += len(g)
	}
	return n
}

func checkGroups(groups []string) error {
	if len(groups) > MaxGroupsPerMessage {
		return fmt.Errorf("totempg: %d groups, at most %d per message", len(groups), MaxGroupsPerMessage)
	}
	for _, g := range groups {
		if len(g) == 0 || len(g) > 0xffff {
			return fmt.Errorf("totempg: group name length %d out of range 1..65535", len(g))
		}
	}
	return nil
}

// appendGroupLens writes the first part of the group header: the count
// and one length per group, little-endian. Corosync hands this to the
// packer as its own iovec, separate from the names.
func appendGroupLens(dst []byte, groups []string) []byte {
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(groups)))
	for _, g := range groups {
		dst = binary.LittleEndian.AppendUint16(dst, uint16(len(g)))
	}
	return dst
}

// AppendGroupHeader appends the little-endian group header for groups.
func AppendGroupHeader(dst []byte, groups ...string) ([]byte, error) {
	if err := checkGroups(groups); err != nil {
		return dst, err
	}
	dst = appendGroupLens(dst, groups)
	for _, g := range groups {
		dst = append(dst, g...)
	}
	return dst, nil
}

// SplitGroups parses the group header at the start of a complete message.
// It appends the group names (sub-slices of msg) to names and returns the
// payload after the header. swapped says the sender was big-endian.
func SplitGroups(names [][]byte, msg []byte, swapped bool) ([][]byte, []byte, error) {
	bo := order(swapped)
	if len(msg) < 2 {
		return names, nil, fmt.Errorf("%w: %d bytes, no group count", ErrBadGroupHeader, len(msg))
	}
	count := int(bo.Uint16(msg))
	off := 2 + 2*count
	if len(msg) < off {
		return names, nil, fmt.Errorf("%w: %d groups need %d bytes of lengths, message has %d",
			ErrBadGroupHeader, count, off, len(msg))
	}
	for i := 0; i < count; i++ {
		l := int(bo.Uint16(msg[2+2*i:]))
		if len(msg)-off < l {
			return names, nil, fmt.Errorf("%w: group %d name of %d bytes overruns the message",
				ErrBadGroupHeader, i, l)
		}
		names = append(names, msg[off:off+l:off+l])
		off += l
	}
	return names, msg[off:], nil
}

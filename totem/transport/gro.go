package transport

import (
	"encoding/binary"
	"unsafe"

	"golang.org/x/sys/unix"
)

// UDP GRO on the receive side: with UDP_GRO on, the kernel may hand the
// socket several datagrams of one sender at once (a GSO datagram a local
// sender did not need cut up, or datagrams GRO merged on the way in),
// with a UDP_GRO control message giving their size: every one but the
// last is that long, the last is not longer. The reader splits them
// again, so totem sees exactly the datagrams that were sent.

// groCmsgSpace is the room a UDP_GRO control message (an int) takes.
const groCmsgSpace = 24 // unix.CmsgSpace(4)

// groSize returns the segment size of a UDP_GRO control message in ctrl,
// or 0 when there is none (a single datagram). Malformed control data
// reads as none.
func groSize(ctrl []byte) int {
	for len(ctrl) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&ctrl[0]))
		l := int(h.Len)
		if l < unix.SizeofCmsghdr || l > len(ctrl) {
			return 0
		}
		if h.Level == unix.IPPROTO_UDP && h.Type == unix.UDP_GRO && l >= unix.CmsgLen(4) {
			v := int(int32(binary.NativeEndian.Uint32(ctrl[unix.CmsgLen(0):])))
			return max(v, 0)
		}
		next := unix.CmsgSpace(l - unix.SizeofCmsghdr)
		if next > len(ctrl) {
			return 0
		}
		ctrl = ctrl[next:]
	}
	return 0
}

// groSegments calls fn with each datagram of b, coalesced in segments of
// seg bytes (seg 0, or at least len(b): b is one datagram).
func groSegments(b []byte, seg int, fn func(d []byte)) {
	if seg <= 0 || seg >= len(b) {
		fn(b)
		return
	}
	for len(b) > 0 {
		n := min(seg, len(b))
		fn(b[:n:n])
		b = b[n:]
	}
}

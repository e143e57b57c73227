package transport

import (
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// UDP segmentation offload (GSO) on the send side.
//
// A token visit multicasts up to max_messages frames, each to every
// member. Sent one by one, each copy is a trip through the whole UDP/IP
// stack, which was most of a 16-node ring's CPU. With UDP_SEGMENT one
// sendmsg carries several frames of one size (the last may be shorter)
// and the stack is walked once: the kernel cuts the datagram back into
// one ordinary datagram per frame, at the device or, on the receiving
// side, for a socket that does not take GRO. Every receiver, corosync
// included, sees the same datagrams in the same order as without it.
const (
	// gsoMaxSegments is UDP_MAX_SEGMENTS on older kernels (newer ones
	// take 128).
	gsoMaxSegments = 64
	// gsoMaxBytes is the most payload one GSO datagram carries: what
	// fits an IPv4 datagram's 16-bit length.
	gsoMaxBytes = 65535 - 20 - 8
	// gsoCmsgSpace is the room a UDP_SEGMENT control message (a u16)
	// takes.
	gsoCmsgSpace = 24 // unix.CmsgSpace(2)
)

// noOffloadEnv turns GSO and GRO off when set to 1, to measure both ways
// on the same build.
const noOffloadEnv = "RINGFENCE_NO_GSO"

func offloadDisabled() bool { return os.Getenv(noOffloadEnv) == "1" }

// gsoState is a socket's GSO switch. It starts on when the kernel has
// UDP_SEGMENT, and goes off for good the first time the kernel refuses a
// GSO datagram (no checksum offload on the device, a path it cannot
// segment on).
type gsoState struct {
	on     atomic.Bool
	maxSeg int // largest frame sent as a segment: the ring interface's MTU less the headers
	once   sync.Once
	log    logrus.FieldLogger
}

// probeGSO reports whether the socket takes UDP_SEGMENT: kernels without
// it refuse the option.
func probeGSO(rc syscall.RawConn) error {
	var serr error
	if err := rc.Control(func(fd uintptr) {
		_, serr = unix.GetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_SEGMENT)
	}); err != nil {
		return err
	}
	return serr
}

// enabled reports whether runs may be sent with GSO.
func (g *gsoState) enabled() bool { return g != nil && g.on.Load() }

// refused turns GSO off after the kernel refused a GSO datagram with
// errno, counts it and says so once.
func (g *gsoState) refused(c *counters, errno unix.Errno) {
	c.gsoFallbacks.Add(1)
	g.on.Store(false)
	g.once.Do(func() {
		g.log.WithError(errno).Info("the kernel refused UDP segmentation offload; sending every datagram on its own from now on")
	})
}

// gsoRefusal reports whether errno on a GSO datagram means the kernel
// cannot do GSO here (rather than that the datagram was lost, as any
// send may be).
func gsoRefusal(errno unix.Errno) bool {
	switch errno {
	case unix.EIO, unix.EINVAL, unix.EOPNOTSUPP, unix.ENOPROTOOPT, unix.EMSGSIZE:
		return true
	}
	return false
}

// gsoRun returns the end (exclusive) of the run of multicasts starting at
// pkts[i] that can go as one GSO datagram: frames of one length, the last
// possibly shorter (but not empty), at most gsoMaxSegments of them and
// gsoMaxBytes in all, none longer than maxSeg. A run of one frame is sent
// as an ordinary datagram.
func gsoRun(pkts []Outgoing, i, maxSeg int) int {
	seg := len(pkts[i].Data)
	if pkts[i].To != 0 || seg == 0 || seg > maxSeg {
		return i + 1
	}
	total, j := seg, i+1
	for j < len(pkts) && j-i < gsoMaxSegments {
		n := len(pkts[j].Data)
		if pkts[j].To != 0 || n == 0 || n > seg || total+n > gsoMaxBytes {
			break
		}
		total += n
		j++
		if n < seg {
			break // a shorter frame ends the run
		}
	}
	return j
}

// putGSOCmsg writes a UDP_SEGMENT control message for segments of seg
// bytes into b (gsoCmsgSpace long).
func putGSOCmsg(b []byte, seg int) {
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level = unix.IPPROTO_UDP
	h.Type = unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	*(*uint16)(unsafe.Pointer(&b[unix.CmsgLen(0)])) = uint16(seg)
}

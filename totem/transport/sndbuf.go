package transport

import (
	"net/netip"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Sizing the peers' send buffer so that unreachable members cannot fill
// it.
//
// A datagram to a member whose link-layer address the kernel is resolving
// waits in that member's neighbour queue, charged to the socket that sent
// it; the queue holds up to unres_qlen_bytes (212992 by default, the size
// of a default send buffer too) and then drops its oldest. With two such
// members the queues can hold more than a default buffer, which then
// stays full and the datagrams to the reachable members go nowhere: on a
// node cut off from the others, and on the survivors of a ring that lost
// two members (5 nodes with 2 cut off: once the survivors' neighbour
// entries for the dead ones had expired, their sends found the buffer
// full and, with the stall bound, dropped datagrams to the live peers
// too). A buffer with room for one full queue per member (the peers', and
// as much again for the traffic to the reachable ones) cannot be filled by
// the queues. The stall bound (stall.go) stays as the backstop: for a
// kernel that refuses the size, or queues longer than the sysctl said.

// defaultNeighQueue is the kernel's default unres_qlen_bytes.
const defaultNeighQueue = 212992

// neighQueueBytes reads unres_qlen_bytes for the interface holding local
// (the value in effect for it), then the namespace's default, then the
// kernel's.
func neighQueueBytes(local netip.Addr) int {
	family := "ipv4"
	if local.Is6() {
		family = "ipv6"
	}
	dirs := []string{"default"}
	if ifi, err := interfaceWith(local); err == nil {
		dirs = []string{ifi.Name, "default"}
	}
	for _, d := range dirs {
		b, err := os.ReadFile("/proc/sys/net/" + family + "/neigh/" + d + "/unres_qlen_bytes")
		if err != nil {
			continue
		}
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n > 0 {
			return n
		}
	}
	return defaultNeighQueue
}

// sizeSendBuffer grows the peers' socket's send buffer to hold one
// neighbour queue per member. SO_SNDBUFFORCE (CAP_NET_ADMIN) goes past
// net.core.wmem_max; without it SO_SNDBUF is capped there and the
// shortfall is logged once.
func (u *UDPU) sizeSendBuffer(members int) {
	want := max(members, 2) * neighQueueBytes(u.cfg.Local)
	var have int
	var serr error
	err := u.raw.Control(func(fd uintptr) {
		have, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF)
		if serr != nil || have >= want {
			return
		}
		// The kernel doubles what it is given (for its bookkeeping).
		if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, want/2) != nil {
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, want/2)
		}
		have, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF)
	})
	switch {
	case err != nil || serr != nil:
		u.log.WithError(firstErr(err, serr)).Debug("cannot read the send buffer size")
	case have < want:
		u.log.Infof("send buffer %d bytes, short of the %d that %d members' neighbour queues can hold (no CAP_NET_ADMIN?): while a member's link is down, sends may drop datagrams to the others", have, want, members)
	default:
		u.log.Debugf("send buffer %d bytes: room for %d members' neighbour queues", have, members)
	}
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// SetMembers replaces the member list and sizes the send buffer for it.
func (u *UDPU) SetMembers(members []Member) error {
	if err := u.members.set(members); err != nil {
		return err
	}
	u.sizeSendBuffer(len(members))
	return nil
}

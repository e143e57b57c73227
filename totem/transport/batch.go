package transport

import (
	"net"
	"net/netip"
	"sync"

	"golang.org/x/net/ipv4"
)

// BatchMulticaster is implemented by transports that can send several
// multicasts in one go. A token visit sends up to max_messages multicasts
// back to back; handing them over together lets udpu put all their
// per-member copies into a few sendmmsg calls instead of one call per
// message, which is most of a busy ring's system-call cost.
type BatchMulticaster interface {
	// MulticastBatch sends every buffer to every member, in order: all
	// copies of bufs[0] before those of bufs[1].
	MulticastBatch(bufs [][]byte) error
}

// maxBatchCall is how many datagrams one MulticastBatch sendmmsg may
// carry: a full token visit (17 messages) to a few members in one call.
const maxBatchCall = 64

// fanout keeps the destination addresses of the member set last used and
// a reusable message array, so a steady ring sends without allocating.
type fanout struct {
	mu   sync.Mutex
	set  *memberSet
	dsts []netip.AddrPort
	uas  []*net.UDPAddr
	ms   []ipv4.Message
	bufs [][]byte // backing for ms[i].Buffers
}

// destinations returns the copies' addresses for s (port is mcastport).
func (f *fanout) destinations(s *memberSet, port uint16) []*net.UDPAddr {
	if f.set != s {
		f.set = s
		f.dsts = f.dsts[:0]
		f.uas = f.uas[:0]
		for _, m := range s.list {
			d := netip.AddrPortFrom(m.Addr, port)
			f.dsts = append(f.dsts, d)
			f.uas = append(f.uas, net.UDPAddrFromAddrPort(d))
		}
	}
	return f.uas
}

// MulticastBatch implements BatchMulticaster.
func (u *UDPU) MulticastBatch(bufs [][]byte) error {
	for _, b := range bufs {
		if err := u.checkSize(b); err != nil {
			return err
		}
	}
	f := &u.fan
	f.mu.Lock()
	defer f.mu.Unlock()
	uas := f.destinations(u.members.get(), u.cfg.Port)
	if len(uas) == 0 || len(bufs) == 0 {
		return nil
	}
	if u.cfg.SendBatch <= 1 {
		var first error
		for _, b := range bufs {
			if err := u.mcast.sendAll(&u.stats, f.dsts, b, 1); err != nil && first == nil {
				first = err
			}
		}
		return u.logSend(first)
	}
	n := len(bufs) * len(uas)
	if cap(f.ms) < n {
		f.ms = make([]ipv4.Message, n)
		f.bufs = make([][]byte, n)
	}
	ms := f.ms[:n]
	for i, b := range bufs {
		for j, ua := range uas {
			k := i*len(uas) + j
			f.bufs[k] = b
			ms[k] = ipv4.Message{Buffers: f.bufs[k : k+1], Addr: ua}
		}
	}
	err := u.mcast.writeBatches(&u.stats, ms, max(u.cfg.SendBatch, maxBatchCall))
	clear(f.bufs[:n]) // do not keep the callers' packets alive
	return u.logSend(err)
}

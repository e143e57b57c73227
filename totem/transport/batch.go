package transport

import (
	"fmt"
	"net/netip"
	"sync"
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

// Outgoing is one datagram of a SendBatch.
type Outgoing struct {
	// To is the nodeid a token goes to; 0 multicasts Data to every
	// member.
	To   uint32
	Data []byte
}

// BatchSender is implemented by transports that send a whole token
// visit — its multicasts and then the token — in one system call.
type BatchSender interface {
	// SendBatch sends the datagrams in order (a multicast's copies in
	// member order). The buffers may be reused once it returns. A
	// refused datagram does not stop the others; the first error is
	// returned after all were tried.
	SendBatch(pkts []Outgoing) error
}

// fanout keeps the destinations of the member set last used, in the
// kernel's form, and a reusable sendmmsg list, so a steady ring sends
// without allocating.
type fanout struct {
	mu   sync.Mutex
	set  *memberSet
	all  []rawSockaddr           // every member at mcastport, in member order
	byID map[uint32]*rawSockaddr // the same, by nodeid
	m    mmsgSend
}

// destinations prepares the addresses of s's members (port mcastport).
func (f *fanout) destinations(s *memberSet, u *UDPU) {
	if f.set == s {
		return
	}
	f.set = s
	f.all = f.all[:0]
	v6 := u.cfg.Local.Is6()
	for _, m := range s.list {
		f.all = append(f.all, toRaw(netip.AddrPortFrom(m.Addr, u.cfg.Port), v6))
	}
	f.byID = make(map[uint32]*rawSockaddr, len(s.list))
	for i, m := range s.list {
		f.byID[m.NodeID] = &f.all[i]
	}
}

// SendBatch implements BatchSender: every datagram leaves the receiving
// socket (source port mcastport) in one sendmmsg where it fits. Corosync's
// udpu receivers check only a datagram's source address, not its port.
// With GSO (gso.go) each run of consecutive multicasts goes to a member
// as one datagram that the kernel cuts back into the frames; a member
// receives exactly the datagrams, in the order, it would without.
func (u *UDPU) SendBatch(pkts []Outgoing) error {
	for _, p := range pkts {
		if err := u.checkSize(p.Data); err != nil {
			return err
		}
	}
	f := &u.fan
	f.mu.Lock()
	defer f.mu.Unlock()
	f.destinations(u.members.get(), u)
	defer f.m.reset() // do not keep the callers' packets alive
	var first error
	gso := u.gso.enabled()
	for k := 0; k < len(pkts); k++ {
		p := pkts[k]
		if p.To == 0 {
			if gso {
				if end := gsoRun(pkts, k, u.gso.maxSeg); end-k > 1 {
					f.m.addRun(f.all, pkts[k:end])
					k = end - 1
					continue
				}
			}
			for i := range f.all {
				f.m.add(&f.all[i], p.Data)
			}
			continue
		}
		d, ok := f.byID[p.To]
		if !ok {
			u.stats.sendErrors.Add(1)
			if first == nil {
				first = fmt.Errorf("%w: %d", ErrUnknownMember, p.To)
			}
			continue
		}
		f.m.add(d, p.Data)
	}
	if len(f.m.hdrs) == 0 {
		return u.logSend(first)
	}
	if err := f.m.send(u.raw, &u.stats, u.perCall(), &u.gso); err != nil && first == nil {
		first = err
	}
	return u.logSend(first)
}

// MulticastBatch implements BatchMulticaster.
func (u *UDPU) MulticastBatch(bufs [][]byte) error {
	pkts := make([]Outgoing, len(bufs))
	for i, b := range bufs {
		pkts[i] = Outgoing{Data: b}
	}
	return u.SendBatch(pkts)
}

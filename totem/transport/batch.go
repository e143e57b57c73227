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
	// SendBatch sends the datagrams in order: each member receives the
	// datagrams meant for it in the order given. The buffers may be
	// reused once it returns. A refused datagram does not stop the
	// others; the first error is returned after all were tried.
	SendBatch(pkts []Outgoing) error
}

// fanout keeps the destinations of the member set last used, in the
// kernel's form, and reusable sendmmsg lists, so a steady ring sends
// without allocating. This node's own copies are kept apart from the
// peers': they leave from their own socket (see UDPU.self).
type fanout struct {
	mu    sync.Mutex
	set   *memberSet
	peers []rawSockaddr           // every other member at mcastport, in member order
	ids   []uint32                // the peers' nodeids, in the same order
	live  []rawSockaddr           // the peers a multicast goes to (reachable), per SendBatch
	self  []rawSockaddr           // this node at mcastport, when it is a member (0 or 1 entries)
	byID  map[uint32]*rawSockaddr // both, by nodeid
	m     mmsgSend                // to the peers
	own   mmsgSend                // to this node
}

// destinations prepares the addresses of s's members (port mcastport).
func (f *fanout) destinations(s *memberSet, u *UDPU) {
	if f.set == s {
		return
	}
	f.set = s
	f.peers, f.self, f.ids = f.peers[:0], f.self[:0], f.ids[:0]
	v6 := u.cfg.Local.Is6()
	for _, m := range s.list {
		to := toRaw(netip.AddrPortFrom(m.Addr, u.cfg.Port), v6)
		if m.Addr == u.cfg.Local {
			f.self = append(f.self, to)
		} else {
			f.peers = append(f.peers, to)
			f.ids = append(f.ids, m.NodeID)
		}
	}
	f.byID = make(map[uint32]*rawSockaddr, len(s.list))
	p := 0
	for _, m := range s.list {
		if m.Addr == u.cfg.Local {
			f.byID[m.NodeID] = &f.self[0]
		} else {
			f.byID[m.NodeID] = &f.peers[p]
			p++
		}
	}
}

// isSelf reports whether d is this node's own address.
func (f *fanout) isSelf(d *rawSockaddr) bool { return len(f.self) > 0 && d == &f.self[0] }

// reachable returns the peers multicasts go to now: all of them, or,
// with an unreachable test (UDPU.SetUnreachable), those it does not name,
// and how many it left out.
func (f *fanout) reachable(unreachable *func(uint32) bool) ([]rawSockaddr, int) {
	if unreachable == nil {
		return f.peers, 0
	}
	f.live = f.live[:0]
	for i, id := range f.ids {
		if !(*unreachable)(id) {
			f.live = append(f.live, f.peers[i])
		}
	}
	return f.live, len(f.peers) - len(f.live)
}

// SendBatch implements BatchSender: every datagram to a peer leaves the
// receiving socket (source port mcastport) in one sendmmsg where it fits.
// Corosync's udpu receivers check only a datagram's source address, not
// its port. This node's own copies, and its token to itself in a one-node
// ring, leave first, from a socket of their own (UDPU.self), so that a
// send buffer clogged by unreachable peers cannot hold them up; a full
// buffer delays the peers' datagrams by at most the stall bound
// (stall.go), then drops them. With GSO (gso.go) each run of consecutive
// multicasts goes to a member as one datagram that the kernel cuts back
// into the frames; a member receives exactly the datagrams, in the order,
// it would without.
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
	defer f.own.reset()
	var first error
	gso := u.gso.enabled()
	var peers []rawSockaddr // the reachable peers, once a multicast needs them
	skipped, looked := 0, false
	for k := 0; k < len(pkts); k++ {
		p := pkts[k]
		if p.To == 0 {
			if !looked { // a token-only send does not ask
				peers, skipped = f.reachable(u.unreachable.Load())
				looked = true
			}
			if gso {
				if end := gsoRun(pkts, k, u.gso.maxSeg); end-k > 1 {
					if skipped > 0 {
						u.stats.skippedUnreachable.Add(uint64(skipped * (end - k)))
					}
					f.own.addRun(f.self, pkts[k:end])
					f.m.addRun(peers, pkts[k:end])
					k = end - 1
					continue
				}
			}
			if skipped > 0 {
				u.stats.skippedUnreachable.Add(uint64(skipped))
			}
			for i := range f.self {
				f.own.add(&f.self[i], p.Data)
			}
			for i := range peers {
				f.m.add(&peers[i], p.Data)
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
		if f.isSelf(d) {
			f.own.add(d, p.Data)
		} else {
			f.m.add(d, p.Data)
		}
	}
	// Own copies first: their socket never waits on the peers'.
	if err := f.own.sendIfAny(u.selfRaw, &u.selfStall, &u.stats, u.perCall(), &u.gso); err != nil && first == nil {
		first = err
	}
	if err := f.m.sendIfAny(u.raw, &u.peerStall, &u.stats, u.perCall(), &u.gso); err != nil && first == nil {
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

package transport

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// endpoint is what the udp and udpu transports share: the member table,
// the counters, the queue that hands datagrams to the protocol goroutine,
// the log, the closed state, and the bookkeeping around each send and
// receive. The two differ only in their sockets and in how a multicast
// leaves.
type endpoint struct {
	mtu     int
	members memberTable
	stats   counters
	q       *deliverQueue
	direct  directFunc // set: readers call it instead of queueing
	log     logrus.FieldLogger
	wg      sync.WaitGroup

	closeOnce sync.Once
	closed    atomic.Bool
}

func newEndpoint(mtu, queue int) endpoint {
	return endpoint{mtu: mtu, q: newDeliverQueue(queue)}
}

// deliver queues one received datagram from the member id (0: not listed).
func (e *endpoint) deliver(from netip.AddrPort, id uint32, at time.Time, b []byte) {
	if e.q.put(Datagram{From: from, FromNode: id, At: at, Data: b}) {
		e.stats.rxDatagrams.Add(1)
		e.stats.rxBytes.Add(uint64(len(b)))
	}
}

// checkSize refuses sends after Close and datagrams above netmtu.
func (e *endpoint) checkSize(b []byte) error {
	if e.closed.Load() {
		return ErrClosed
	}
	if len(b) > e.mtu {
		e.stats.refusedOversize.Add(1)
		return fmt.Errorf("%w: %d > %d", ErrOversize, len(b), e.mtu)
	}
	return nil
}

// sendToken unicasts b through sock to the member's ring0_addr:port.
func (e *endpoint) sendToken(sock *udpSocket, port uint16, to uint32, b []byte) error {
	if err := e.checkSize(b); err != nil {
		return err
	}
	a, ok := e.members.addr(to)
	if !ok {
		e.stats.sendErrors.Add(1)
		return fmt.Errorf("%w: %d", ErrUnknownMember, to)
	}
	return e.logSend(sock.sendTo(&e.stats, netip.AddrPortFrom(a, port), b))
}

// logSend logs a failed send at debug level: like corosync, totem
// recovers from it by retransmission, so it is not an error here.
func (e *endpoint) logSend(err error) error {
	if err != nil {
		e.log.WithError(err).Debug("sendmsg failed (non-critical)")
	}
	return err
}

// startReader reads sock on a goroutine of its own until Close.
func (e *endpoint) startReader(sock *udpSocket, batch, bufSize int, source func(netip.Addr) (uint32, bool)) {
	r := &reader{sock: sock, batch: batch, bufSize: bufSize, ep: e, source: source}
	e.wg.Add(1)
	go r.run(&e.wg)
}

func (e *endpoint) Recv() <-chan Datagram             { return e.q.ch }
func (e *endpoint) SetMembers(members []Member) error { return e.members.set(members) }
func (e *endpoint) MTU() int                          { return e.mtu }
func (e *endpoint) Stats() Stats                      { return e.stats.snapshot() }

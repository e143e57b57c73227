package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// batchConn is what x/net's ipv4 and ipv6 PacketConns have in common:
// recvmmsg and sendmmsg.
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// udpSocket is one bound UDP socket with the batch wrapper beside it.
type udpSocket struct {
	conn  *net.UDPConn
	batch batchConn
}

type sockOpts struct {
	reuseAddr bool
	rcvBuf    int
}

// listenUDP binds addr with the options corosync sets before bind.
func listenUDP(addr netip.AddrPort, o sockOpts) (*udpSocket, error) {
	network := "udp4"
	if addr.Addr().Is6() {
		network = "udp6"
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			if o.reuseAddr {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), network, addr.String())
	if err != nil {
		return nil, fmt.Errorf("transport: bind %s: %w", addr, err)
	}
	conn := pc.(*net.UDPConn)
	if o.rcvBuf > 0 {
		// The kernel caps this at net.core.rmem_max, as it does for
		// corosync; the shortfall is not an error.
		_ = conn.SetReadBuffer(o.rcvBuf)
	}
	s := &udpSocket{conn: conn}
	if addr.Addr().Is6() {
		s.batch = batch6{ipv6.NewPacketConn(conn)}
	} else {
		s.batch = ipv4.NewPacketConn(conn)
	}
	return s, nil
}

type batch6 struct{ *ipv6.PacketConn }

func (b batch6) ReadBatch(ms []ipv4.Message, flags int) (int, error) {
	return b.PacketConn.ReadBatch(ms, flags)
}
func (b batch6) WriteBatch(ms []ipv4.Message, flags int) (int, error) {
	return b.PacketConn.WriteBatch(ms, flags)
}

func (s *udpSocket) localAddr() netip.AddrPort {
	return s.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// sendTo sends one datagram and counts it.
func (s *udpSocket) sendTo(c *counters, to netip.AddrPort, b []byte) error {
	if _, err := s.conn.WriteToUDPAddrPort(b, to); err != nil {
		c.sendErrors.Add(1)
		return err
	}
	c.sent(len(b))
	return nil
}

// sendAll sends b to every destination, with sendmmsg when batch > 1. A
// failing destination does not stop the others; the first error is
// returned after all were tried.
func (s *udpSocket) sendAll(c *counters, dsts []netip.AddrPort, b []byte, batch int) error {
	var first error
	if batch <= 1 || len(dsts) == 1 {
		for _, d := range dsts {
			if err := s.sendTo(c, d, b); err != nil && first == nil {
				first = err
			}
		}
		return first
	}
	ms := make([]ipv4.Message, len(dsts))
	for i, d := range dsts {
		ms[i] = ipv4.Message{Buffers: [][]byte{b}, Addr: net.UDPAddrFromAddrPort(d)}
	}
	return s.writeBatches(c, ms, batch)
}

// writeBatches sends ms with sendmmsg, batch messages per call. A failing
// message does not stop the others; the first error is returned after
// all were tried.
func (s *udpSocket) writeBatches(c *counters, ms []ipv4.Message, batch int) error {
	var first error
	for len(ms) > 0 {
		chunk := ms[:min(len(ms), batch)]
		n, err := s.batch.WriteBatch(chunk, 0)
		for i := 0; i < n; i++ {
			c.sent(len(chunk[i].Buffers[0]))
		}
		if err != nil {
			// sendmmsg reports the error of the first message it could
			// not send; skip that one and go on with the rest.
			c.sendErrors.Add(1)
			if first == nil {
				first = err
			}
			n++
		}
		if n <= 0 {
			n = 1
		}
		ms = ms[min(n, len(ms)):]
	}
	return first
}

// reader drains a socket until it is closed. With batch > 1 it uses
// recvmmsg (recvmmsg.go). What it reads goes to the endpoint's direct receive function
// when one is set (read buffers lent, no copy), else to the Recv queue
// (copied, since the buffers are read into again).
type reader struct {
	sock    *udpSocket
	batch   int
	bufSize int
	ep      *endpoint
	// source returns the member id of a sender's address and whether the
	// datagram is accepted (udpu drops unlisted sources).
	source func(a netip.Addr) (uint32, bool)
	out    []Datagram // the batch being read, reused
}

func (r *reader) run(wg *sync.WaitGroup) {
	defer wg.Done()
	if r.batch <= 1 {
		r.runSingle()
		return
	}
	r.runMmsg()
}

func (r *reader) runSingle() {
	buf := make([]byte, r.bufSize)
	for {
		n, _, flags, from, err := r.sock.conn.ReadMsgUDPAddrPort(buf, nil)
		if err != nil {
			if closedErr(err) {
				return
			}
			continue
		}
		at := time.Now()
		r.accept(from, at, n, flags, buf, 0)
		r.flush()
	}
}

// accept adds what one read returned to the batch, its Data still in
// buf: one datagram, or with a UDP_GRO segment size (seg > 0) the
// datagrams the kernel coalesced, each on its own with the same source
// and time.
func (r *reader) accept(from netip.AddrPort, at time.Time, n, flags int, buf []byte, seg int) {
	if flags&unix.MSG_TRUNC != 0 {
		r.ep.stats.droppedTruncated.Add(1)
		if seg <= 0 || seg >= n {
			return
		}
		// The coalesced datagrams did not all fit: those wholly read
		// are intact, the one cut and any after it are lost (counted
		// once above, as the kernel does not say how many there were).
		n -= n % seg
	}
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	id, ok := r.source(from.Addr())
	if !ok {
		r.ep.stats.droppedUnlisted.Add(1)
		return
	}
	if seg > 0 && seg < n {
		r.ep.stats.rxGRO.Add(1)
	}
	groSegments(buf[:n], seg, func(d []byte) {
		r.out = append(r.out, Datagram{From: from, FromNode: id, At: at, Data: d})
	})
}

// flush hands the batch over and forgets it.
func (r *reader) flush() {
	if len(r.out) == 0 {
		return
	}
	if fn := r.ep.direct.get(); fn != nil && !r.ep.closed.Load() {
		for _, d := range r.out {
			r.ep.stats.rxDatagrams.Add(1)
			r.ep.stats.rxBytes.Add(uint64(len(d.Data)))
		}
		fn(r.out)
	} else {
		for _, d := range r.out {
			r.ep.deliver(d.From, d.FromNode, d.At, append([]byte(nil), d.Data...))
		}
	}
	clear(r.out) // do not keep the buffers' views or addresses around
	r.out = r.out[:0]
}

func closedErr(err error) bool {
	return errors.Is(err, net.ErrClosed)
}

// deliverQueue is the Recv channel with a close that cannot race with the
// readers (or a udp sender handing over its own copy) still putting.
type deliverQueue struct {
	ch     chan Datagram
	done   chan struct{}
	mu     sync.RWMutex // put holds it shared; close exclusively
	closed bool
	once   sync.Once
}

func newDeliverQueue(n int) *deliverQueue {
	if n <= 0 {
		n = 256
	}
	return &deliverQueue{ch: make(chan Datagram, n), done: make(chan struct{})}
}

// put blocks while the consumer is behind, so overload backs up into the
// kernel's receive buffer, which drops there as it would for corosync.
func (q *deliverQueue) put(d Datagram) bool {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return false
	}
	select {
	case q.ch <- d:
		return true
	case <-q.done:
		return false
	}
}

// shutdown releases blocked puts, then closes the channel once no put is
// in flight.
func (q *deliverQueue) shutdown() {
	q.once.Do(func() {
		close(q.done)
		q.mu.Lock()
		q.closed = true
		close(q.ch)
		q.mu.Unlock()
	})
}

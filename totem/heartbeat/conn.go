package heartbeat

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"golang.org/x/net/ipv4"
)

// Conn is one link's heartbeat socket. The daemon uses UDP; tests use a
// MemNet.
type Conn interface {
	WriteTo(b []byte, to netip.AddrPort) error
	// ReadFrom blocks for the next datagram; it fails once closed.
	ReadFrom(b []byte) (int, netip.AddrPort, error)
	Close() error
}

// ListenUDP binds the heartbeat port on a link's local address.
func ListenUDP(local netip.AddrPort) (Conn, error) {
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(local))
	if err != nil {
		return nil, err
	}
	return udpConn{c: c, pc: ipv4.NewPacketConn(c)}, nil
}

type udpConn struct {
	c  *net.UDPConn
	pc *ipv4.PacketConn
}

// batchWriter sends several datagrams with one system call (sendmmsg).
type batchWriter interface {
	// WriteBatch sends bufs[i] to to[i] and sets ok[i] for each that
	// went out. A failing destination (no route, a neighbour that does
	// not answer ARP) does not stop the others.
	WriteBatch(bufs [][]byte, to []netip.AddrPort, ok []bool)
}

func (u udpConn) WriteBatch(bufs [][]byte, to []netip.AddrPort, ok []bool) {
	msgs := make([]ipv4.Message, len(bufs))
	for i := range bufs {
		msgs[i] = ipv4.Message{Buffers: bufs[i : i+1], Addr: net.UDPAddrFromAddrPort(to[i])}
	}
	for i := 0; i < len(msgs); {
		n, err := u.pc.WriteBatch(msgs[i:], 0)
		for j := i; j < i+n; j++ {
			ok[j] = true
		}
		i += n
		if err != nil || n == 0 {
			i++ // msgs[i] failed: skip it
		}
	}
}

func (u udpConn) WriteTo(b []byte, to netip.AddrPort) error {
	_, err := u.c.WriteToUDPAddrPort(b, to)
	return err
}

func (u udpConn) ReadFrom(b []byte) (int, netip.AddrPort, error) {
	n, from, err := u.c.ReadFromUDPAddrPort(b)
	return n, netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), err
}

func (u udpConn) Close() error { return u.c.Close() }

// MemNet is an in-memory network of Conns for tests: datagrams are
// delivered at once unless an address is cut.
type MemNet struct {
	mu    sync.Mutex
	conns map[netip.AddrPort]*memConn
	cut   map[netip.Addr]bool
	// Delivered counts datagrams queued to a Conn (tests wait for the
	// readers to catch up with it).
	Delivered atomic.Uint64
}

// NewMemNet returns an empty network.
func NewMemNet() *MemNet {
	return &MemNet{conns: map[netip.AddrPort]*memConn{}, cut: map[netip.Addr]bool{}}
}

// Listen opens a Conn at addr.
func (m *MemNet) Listen(addr netip.AddrPort) (Conn, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, dup := m.conns[addr]; dup {
		return nil, errors.New("memnet: address in use")
	}
	c := &memConn{net: m, addr: addr, in: make(chan memDatagram, 1024), done: make(chan struct{})}
	m.conns[addr] = c
	return c, nil
}

// Cut drops every datagram from or to a; Heal undoes it.
func (m *MemNet) Cut(a netip.Addr) { m.mu.Lock(); m.cut[a] = true; m.mu.Unlock() }

// Heal restores a's traffic.
func (m *MemNet) Heal(a netip.Addr) { m.mu.Lock(); delete(m.cut, a); m.mu.Unlock() }

type memDatagram struct {
	b    []byte
	from netip.AddrPort
}

type memConn struct {
	net  *MemNet
	addr netip.AddrPort
	in   chan memDatagram
	once sync.Once
	done chan struct{}
}

func (c *memConn) WriteTo(b []byte, to netip.AddrPort) error {
	c.net.mu.Lock()
	dst := c.net.conns[to]
	drop := c.net.cut[c.addr.Addr()] || c.net.cut[to.Addr()]
	c.net.mu.Unlock()
	if dst == nil || drop {
		return nil
	}
	select {
	case dst.in <- memDatagram{b: append([]byte(nil), b...), from: c.addr}:
		c.net.Delivered.Add(1)
	default:
	}
	return nil
}

func (c *memConn) ReadFrom(b []byte) (int, netip.AddrPort, error) {
	select {
	case d := <-c.in:
		return copy(b, d.b), d.from, nil
	case <-c.done:
		return 0, netip.AddrPort{}, net.ErrClosed
	}
}

func (c *memConn) Close() error {
	c.once.Do(func() {
		close(c.done)
		c.net.mu.Lock()
		delete(c.net.conns, c.addr)
		c.net.mu.Unlock()
	})
	return nil
}

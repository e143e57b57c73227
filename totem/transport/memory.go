package transport

import (
	"fmt"
	"net/netip"
	"sync"
	"time"
)

// Network is an in-process datagram network for tests: every endpoint
// attached to it is reachable by its address, datagrams are copied and
// delivered in send order per sender, and links can be blocked one way to
// make partitions. It has no loss, delay or reordering of its own; the
// simulator in totem/sim owns those.
type Network struct {
	mu      sync.Mutex
	nodes   map[netip.Addr]*Memory
	blocked map[[2]netip.Addr]bool
	queue   int
}

// NewNetwork makes an empty network whose endpoints queue up to queue
// datagrams each (0 means 1024) before dropping.
func NewNetwork(queue int) *Network {
	if queue <= 0 {
		queue = 1024
	}
	return &Network{
		nodes:   make(map[netip.Addr]*Memory),
		blocked: make(map[[2]netip.Addr]bool),
		queue:   queue,
	}
}

// Block drops datagrams sent from a to b (one direction).
func (n *Network) Block(a, b netip.Addr) {
	n.mu.Lock()
	n.blocked[[2]netip.Addr{a, b}] = true
	n.mu.Unlock()
}

// Unblock undoes Block.
func (n *Network) Unblock(a, b netip.Addr) {
	n.mu.Lock()
	delete(n.blocked, [2]netip.Addr{a, b})
	n.mu.Unlock()
}

// Memory is one endpoint of a Network. It behaves like udpu with
// block_unlisted_ips: datagrams from addresses outside its member list are
// dropped and counted.
type Memory struct {
	net    *Network
	local  netip.AddrPort
	mtu    int
	member memberTable
	stats  counters

	mu     sync.Mutex // guards closed and sends on ch
	closed bool
	ch     chan Datagram
}

// Attach adds an endpoint with address local to the network. mtu 0 means
// DefaultNetMTU.
func (n *Network) Attach(local netip.Addr, members []Member, mtu int) (*Memory, error) {
	if mtu <= 0 {
		mtu = DefaultNetMTU
	}
	m := &Memory{
		net:   n,
		local: netip.AddrPortFrom(local, DefaultPort),
		mtu:   mtu,
		ch:    make(chan Datagram, n.queue),
	}
	if err := m.member.set(members); err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, dup := n.nodes[local]; dup {
		return nil, fmt.Errorf("transport: address %s already attached", local)
	}
	n.nodes[local] = m
	return m, nil
}

func (m *Memory) SendToken(to uint32, b []byte) error {
	if err := m.checkSend(b); err != nil {
		return err
	}
	a, ok := m.member.addr(to)
	if !ok {
		m.stats.sendErrors.Add(1)
		return fmt.Errorf("%w: %d", ErrUnknownMember, to)
	}
	m.deliver(a, b)
	return nil
}

func (m *Memory) Multicast(b []byte) error {
	if err := m.checkSend(b); err != nil {
		return err
	}
	for _, mem := range m.member.get().list {
		m.deliver(mem.Addr, b)
	}
	return nil
}

func (m *Memory) checkSend(b []byte) error {
	m.mu.Lock()
	closed := m.closed
	m.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if len(b) > m.mtu {
		m.stats.refusedOversize.Add(1)
		return fmt.Errorf("%w: %d > %d", ErrOversize, len(b), m.mtu)
	}
	return nil
}

func (m *Memory) deliver(to netip.Addr, b []byte) {
	m.stats.sent(len(b))
	n := m.net
	n.mu.Lock()
	dst := n.nodes[to]
	blocked := n.blocked[[2]netip.Addr{m.local.Addr(), to}]
	n.mu.Unlock()
	if dst == nil || blocked {
		return // like a datagram to a host that is down: silently lost
	}
	dst.receive(m.local, b)
}

func (m *Memory) receive(from netip.AddrPort, b []byte) {
	id, ok := m.member.node(from.Addr())
	if !ok {
		m.stats.droppedUnlisted.Add(1)
		return
	}
	d := Datagram{From: from, FromNode: id, At: time.Now(), Data: append([]byte(nil), b...)}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	select {
	case m.ch <- d:
		m.stats.rxDatagrams.Add(1)
		m.stats.rxBytes.Add(uint64(len(b)))
	default:
		m.stats.droppedQueueFull.Add(1)
	}
}

func (m *Memory) Recv() <-chan Datagram             { return m.ch }
func (m *Memory) SetMembers(members []Member) error { return m.member.set(members) }
func (m *Memory) MTU() int                          { return m.mtu }
func (m *Memory) LocalAddr() netip.AddrPort         { return m.local }
func (m *Memory) Stats() Stats                      { return m.stats.snapshot() }

// Close detaches the endpoint; later datagrams to its address are lost.
func (m *Memory) Close() error {
	m.net.mu.Lock()
	if m.net.nodes[m.local.Addr()] == m {
		delete(m.net.nodes, m.local.Addr())
	}
	m.net.mu.Unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	close(m.ch)
	return nil
}

var _ Transport = (*Memory)(nil)

package transport

import (
	"errors"
	"fmt"
	"github.com/sirupsen/logrus"
	"net/netip"
	"sync/atomic"
	"time"
)

// Corosync's defaults for the udp and udpu transports.
const (
	// DefaultPort is totem.interface.0.mcastport when unset.
	DefaultPort = 5405
	// DefaultNetMTU is totem.netmtu when unset (UDP_NETMTU). Totem SRP
	// keeps 90 bytes of it for its own headers; the transport only
	// enforces the whole figure.
	DefaultNetMTU = 1500
	// CorosyncRecvBuffer is the SO_RCVBUF corosync asks for on its
	// receiving socket: 16 · UDP_RECEIVE_FRAME_SIZE_MAX.
	CorosyncRecvBuffer = 16 * 136192
	// maxDatagram is the largest UDP payload over IPv4; a read buffer this
	// big never truncates, which matches corosync's acceptance (its frame
	// buffer is larger still).
	maxDatagram = 65535
)

// Errors returned by Send calls. Sends never block on the network for
// longer than a short bound (DefaultSendStall); a refused or dropped send
// is counted and reported, and totem recovers by retransmission just as
// it does for a lost datagram.
var (
	ErrClosed        = errors.New("transport: closed")
	ErrOversize      = errors.New("transport: datagram larger than netmtu")
	ErrUnknownMember = errors.New("transport: nodeid not in member list")
	// ErrSendBufferFull: the send buffer stayed full for the stall
	// bound and the datagrams left were dropped (Stats.DroppedSendFull).
	ErrSendBufferFull = errors.New("transport: send buffer full, datagrams dropped")
)

// Member is one nodelist entry: the nodeid totem uses and the ring0 address
// the node binds.
type Member struct {
	NodeID uint32
	Addr   netip.Addr
}

func (m Member) String() string { return fmt.Sprintf("%d@%s", m.NodeID, m.Addr) }

// Datagram is one received totem datagram. Data is owned by the receiver.
type Datagram struct {
	// From is the source address and port as the kernel reported it.
	From netip.AddrPort
	// FromNode is the nodeid whose ring0 address is From's address, or 0
	// when the address is not in the member list (udp only; udpu drops
	// such datagrams unless unlisted sources are allowed).
	FromNode uint32
	// At is the local receipt time (monotonic).
	At   time.Time
	Data []byte
}

// Transport is what totem needs from the network. Implementations are safe
// for concurrent use; the protocol goroutine usually sends while a reader
// goroutine fills the Recv channel.
type Transport interface {
	// SendToken unicasts b to the member with nodeid to (tokens and commit
	// tokens travel this way).
	SendToken(to uint32, b []byte) error
	// Multicast sends b to every member, the sender included.
	Multicast(b []byte) error
	// Recv returns the channel received datagrams arrive on. It is closed
	// by Close.
	Recv() <-chan Datagram
	// SetMembers replaces the member list (the nodelist; Corosync calls
	// it on start and on configuration reload).
	SetMembers(members []Member) error
	// MTU is the largest datagram Send calls accept (totem.netmtu).
	MTU() int
	// LocalAddr is the address and port tokens are received on.
	LocalAddr() netip.AddrPort
	// Stats returns a snapshot of the counters.
	Stats() Stats
	// Close stops the reader, closes the sockets and the Recv channel.
	Close() error
}

// Stats are the transport counters a daemon publishes.
type Stats struct {
	TxDatagrams, TxBytes uint64
	RxDatagrams, RxBytes uint64
	// DroppedUnlisted counts datagrams from sources outside the member
	// list (block_unlisted_ips).
	DroppedUnlisted uint64
	// DroppedTruncated counts datagrams larger than the read buffer.
	DroppedTruncated uint64
	// RefusedOversize counts sends larger than MTU().
	RefusedOversize uint64
	// SendErrors counts failed sendmsg calls (one per destination).
	SendErrors uint64
	// DroppedSendFull counts datagrams dropped because the send buffer
	// stayed full (stall.go): on udpu, datagrams to members whose link is
	// down fill it from the kernel's neighbour queues.
	DroppedSendFull uint64
	// SkippedUnreachable counts multicast copies not sent to a member
	// that the heartbeat found unreachable (UDPU.SetUnreachable).
	SkippedUnreachable uint64
	// DroppedQueueFull counts datagrams the in-memory network dropped
	// because the receiver's queue was full (sockets leave that to the
	// kernel's receive buffer).
	DroppedQueueFull uint64
	// TxGSO counts datagrams sent with UDP segmentation offload (each
	// carrying several of the TxDatagrams); GSOFallbacks counts GSO
	// datagrams the kernel refused, which were sent again one by one.
	TxGSO, GSOFallbacks uint64
	// RxGRO counts received datagrams the kernel had coalesced (UDP_GRO)
	// and the reader split again into RxDatagrams.
	RxGRO uint64
}

type counters struct {
	txDatagrams, txBytes atomic.Uint64
	rxDatagrams, rxBytes atomic.Uint64
	droppedUnlisted      atomic.Uint64
	droppedTruncated     atomic.Uint64
	refusedOversize      atomic.Uint64
	sendErrors           atomic.Uint64
	droppedSendFull      atomic.Uint64
	skippedUnreachable   atomic.Uint64
	droppedQueueFull     atomic.Uint64
	txGSO, gsoFallbacks  atomic.Uint64
	rxGRO                atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		TxDatagrams:        c.txDatagrams.Load(),
		TxBytes:            c.txBytes.Load(),
		RxDatagrams:        c.rxDatagrams.Load(),
		RxBytes:            c.rxBytes.Load(),
		DroppedUnlisted:    c.droppedUnlisted.Load(),
		DroppedTruncated:   c.droppedTruncated.Load(),
		RefusedOversize:    c.refusedOversize.Load(),
		SendErrors:         c.sendErrors.Load(),
		DroppedSendFull:    c.droppedSendFull.Load(),
		SkippedUnreachable: c.skippedUnreachable.Load(),
		DroppedQueueFull:   c.droppedQueueFull.Load(),
		TxGSO:              c.txGSO.Load(),
		GSOFallbacks:       c.gsoFallbacks.Load(),
		RxGRO:              c.rxGRO.Load(),
	}
}

// logger returns l, or the standard logger tagged the way every totem
// component is.
func logger(l logrus.FieldLogger) logrus.FieldLogger {
	if l == nil {
		return logrus.WithField("subsys", "TOTEM")
	}
	return l
}

func (c *counters) sent(n int) {
	c.txDatagrams.Add(1)
	c.txBytes.Add(uint64(n))
}

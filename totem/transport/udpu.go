package transport

import (
	"fmt"
	"github.com/sirupsen/logrus"
	"net/netip"
	"sync/atomic"
	"syscall"
	"time"
)

// UDPUConfig configures a udpu transport. Zero values mean Corosync's
// defaults.
type UDPUConfig struct {
	// Local is this node's ring0_addr.
	Local netip.Addr
	// Port is totem.interface.0.mcastport (default 5405).
	Port uint16
	// Members is the nodelist, this node included.
	Members []Member
	// NetMTU is totem.netmtu (default 1500); larger sends are refused.
	NetMTU int
	// AllowUnlisted turns block_unlisted_ips off: datagrams from addresses
	// outside Members are delivered with FromNode 0 instead of dropped.
	AllowUnlisted bool
	// RecvBuffer is SO_RCVBUF for the receiving socket (default
	// CorosyncRecvBuffer, capped by the kernel at net.core.rmem_max).
	RecvBuffer int
	// ReadSize is the per-datagram read buffer (default 65535, which never
	// truncates over IPv4). Longer datagrams are dropped and counted.
	// UDP_GRO is only turned on with the default, which holds any
	// coalesced read, and with RecvBatch above 1.
	ReadSize int
	// SendBatch 1 sends one datagram per system call; any other value
	// lets one sendmmsg carry a whole batch (up to UIO_MAXIOV). Batching
	// halves the cost of the fan-out (BenchmarkUDPUMulticastFanout).
	SendBatch int
	// RecvBatch is how many datagrams one recvmmsg may return (default
	// 16; 1 means plain recvmsg). In paired runs of BenchmarkUDPURecv
	// recvmmsg won every time, by about 1.4x at the median.
	RecvBatch int
	// Queue is the capacity of the Recv channel (default 256).
	Queue int
	// SendStall bounds how long a send waits for room in a full send
	// buffer before it drops what is left (default DefaultSendStall;
	// negative: drop at once, as Corosync's non-blocking sockets do).
	SendStall time.Duration
	// Log gets bind messages (info) and failed sends (debug); default
	// logrus' standard logger with subsys=TOTEM.
	Log logrus.FieldLogger
}

func (c *UDPUConfig) defaults() {
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	if c.NetMTU <= 0 {
		c.NetMTU = DefaultNetMTU
	}
	if c.RecvBuffer <= 0 {
		c.RecvBuffer = CorosyncRecvBuffer
	}
	if c.ReadSize <= 0 {
		c.ReadSize = maxDatagram
	}
	if c.SendBatch <= 0 {
		c.SendBatch = 16
	}
	if c.RecvBatch <= 0 {
		c.RecvBatch = 16
	}
	if c.SendStall == 0 {
		c.SendStall = DefaultSendStall
	}
}

// UDPU is Corosync's udpu transport: unicast only, a "multicast" being one
// copy per nodelist member.
type UDPU struct {
	cfg UDPUConfig
	endpoint
	// token receives everything and sends everything, so a token's
	// source port is mcastport as corosync's peers see it. Corosync sends
	// its multicast copies from one ephemeral-port socket per member, but
	// its receivers check only the source address (totemip_sa_equal), so
	// the copies can share the token's socket and a token visit — its
	// multicasts and the token — goes out in one sendmmsg.
	token *udpSocket
	raw   syscall.RawConn // token's, for the raw sendmmsg
	// self sends this node's own copies of its multicasts, and its token
	// to itself in a one-node ring, to ring0_addr:mcastport. It is bound
	// to ring0_addr with an ephemeral port: our reader, like Corosync's,
	// knows a sender by its address alone, so the copies still come from
	// this node. Kept apart because the token socket's send buffer fills
	// with datagrams to peers whose link is down (stall.go) while a copy
	// to ourselves goes over loopback at once; through one socket, a node
	// cut off from the others could not even talk to itself.
	self    *udpSocket
	selfRaw syscall.RawConn

	peerStall, selfStall sendStall // the two sockets' wait bounds

	fan fanout   // SendBatch's reusable addresses and messages
	gso gsoState // whether SendBatch may use UDP_SEGMENT
	gro bool     // UDP_GRO is on for the receiving socket

	// unreachable, when set, names the members multicasts skip (see
	// SetUnreachable).
	unreachable atomic.Pointer[func(nodeID uint32) bool]
}

// SetUnreachable makes multicasts skip the members for which fn reports
// true (nil: send to every member, as Corosync does). The daemon passes
// the heartbeat's verdict, so that a member whose link is down gets no
// copies: they would only wait in the kernel's neighbour queue for its
// address, charged to our send buffer (two such members fill a default
// one, and the sends to the live members then wait or drop, stall.go),
// and reach it in a burst of stale datagrams when the link returns, which
// sends a freshly merged ring back to gather. Tokens and other unicasts
// still go as addressed. fn is called from the sending goroutine and must
// be cheap and safe for concurrent use; the heartbeat's verdict clears
// within an interval of the member answering again, which is when its
// copies resume and the rings can merge.
func (u *UDPU) SetUnreachable(fn func(nodeID uint32) bool) {
	if fn == nil {
		u.unreachable.Store(nil)
		return
	}
	u.unreachable.Store(&fn)
}

// NewUDPU binds the sockets and starts the reader.
func NewUDPU(cfg UDPUConfig) (*UDPU, error) {
	cfg.defaults()
	if !cfg.Local.IsValid() {
		return nil, fmt.Errorf("transport: udpu needs a local address")
	}
	cfg.Local = cfg.Local.Unmap()
	u := &UDPU{cfg: cfg, endpoint: newEndpoint(cfg.NetMTU, cfg.Queue)}
	if err := u.members.set(cfg.Members); err != nil {
		return nil, err
	}
	var err error
	if u.token, err = listenUDP(netip.AddrPortFrom(cfg.Local, cfg.Port), sockOpts{rcvBuf: cfg.RecvBuffer}); err != nil {
		return nil, err
	}
	if u.self, err = listenUDP(netip.AddrPortFrom(cfg.Local, 0), sockOpts{}); err != nil {
		u.token.conn.Close()
		return nil, err
	}
	if u.raw, err = u.token.conn.SyscallConn(); err == nil {
		u.selfRaw, err = u.self.conn.SyscallConn()
	}
	if err != nil {
		u.token.conn.Close()
		u.self.conn.Close()
		return nil, err
	}
	u.log = logger(cfg.Log).WithField("transport", "udpu")
	u.log.Infof("receiving and sending on %s, multicast copies to %d members (our own from %s)", u.token.localAddr(), len(cfg.Members), u.self.localAddr())
	u.peerStall = sendStall{conn: u.token.conn, bound: cfg.SendStall, what: "peers", log: u.log, dropped: &u.stats.droppedSendFull}
	u.selfStall = sendStall{conn: u.self.conn, bound: cfg.SendStall, what: "this node", log: u.log, dropped: &u.stats.droppedSendFull}
	u.setupOffload()
	u.startReader(u.token, cfg.RecvBatch, cfg.ReadSize, u.source)
	return u, nil
}

// source names the member a datagram comes from; unlisted sources are
// refused unless allowed (block_unlisted_ips off).
func (u *UDPU) source(a netip.Addr) (uint32, bool) {
	id, ok := u.members.node(a)
	return id, ok || u.cfg.AllowUnlisted
}

// ReceiveFunc implements DirectReceiver. (udp does not: its own copy of a
// multicast is handed over from inside the send, where a direct call would
// re-enter the caller.)
func (u *UDPU) ReceiveFunc(fn func(batch []Datagram)) { u.direct.set(fn) }

// SendToken unicasts b to the member's ring0_addr:mcastport: from
// mcastport, or from the own socket when the member is this node.
func (u *UDPU) SendToken(to uint32, b []byte) error {
	if err := u.checkSize(b); err != nil {
		return err
	}
	return u.SendBatch([]Outgoing{{To: to, Data: b}})
}

// perCall is how many datagrams one sendmmsg may carry.
func (u *UDPU) perCall() int {
	if u.cfg.SendBatch == 1 {
		return 1
	}
	return maxSendmmsg
}

// Multicast sends a copy of b to every member, this node included.
func (u *UDPU) Multicast(b []byte) error {
	if err := u.checkSize(b); err != nil {
		return err
	}
	return u.SendBatch([]Outgoing{{Data: b}})
}

func (u *UDPU) LocalAddr() netip.AddrPort { return u.token.localAddr() }

// MulticastSource is the address multicast copies to the other members
// leave from: the receiving socket's.
func (u *UDPU) MulticastSource() netip.AddrPort { return u.token.localAddr() }

// SelfSource is the address this node's copies to itself leave from.
func (u *UDPU) SelfSource() netip.AddrPort { return u.self.localAddr() }

func (u *UDPU) Close() error {
	u.closeOnce.Do(func() {
		u.closed.Store(true)
		// Release a reader blocked on a full queue first: the batched
		// reader waits inside RawConn.Read, which holds the socket, so
		// closing the socket before would wait on it for ever.
		u.q.shutdown()
		u.token.conn.Close()
		u.self.conn.Close()
		u.wg.Wait()
	})
	return nil
}

var (
	_ Transport        = (*UDPU)(nil)
	_ DirectReceiver   = (*UDPU)(nil)
	_ BatchSender      = (*UDPU)(nil)
	_ BatchMulticaster = (*UDPU)(nil)
)

package transport

import (
	"fmt"
	"github.com/sirupsen/logrus"
	"net"
	"net/netip"
	"time"

	"golang.org/x/net/ipv4"
)

// UDPConfig configures the udp (IP multicast) transport. Zero values mean
// Corosync's defaults. IPv4 only.
type UDPConfig struct {
	// Local is this node's ring0_addr; the interface carrying it is the
	// one the group is joined on.
	Local netip.Addr
	// Group is totem.interface.0.mcastaddr (see McastAddrForCluster).
	Group netip.Addr
	// Port is mcastport (default 5405); sends leave from Port-1.
	Port uint16
	// TTL is the multicast TTL (default 1).
	TTL int
	// Members is the nodelist; tokens are addressed through it.
	Members []Member
	NetMTU  int
	// RecvBuffer, ReadSize, RecvBatch and Queue are as in UDPUConfig.
	RecvBuffer, ReadSize, RecvBatch, Queue int
	Log                                    logrus.FieldLogger
}

// UDP is Corosync's udp transport.
type UDP struct {
	cfg UDPConfig
	endpoint
	// recv is bound to group:port and joined to the group.
	recv *udpSocket
	// token is bound to local:port and receives unicast tokens.
	token *udpSocket
	// send is bound to local:port-1 and carries every outgoing datagram;
	// multicast loop is off on it, so the own copy is delivered here.
	send *udpSocket
}

// NewUDP binds the three sockets, joins the group and starts the readers.
func NewUDP(cfg UDPConfig) (*UDP, error) {
	c := UDPUConfig{Port: cfg.Port, NetMTU: cfg.NetMTU, RecvBuffer: cfg.RecvBuffer, ReadSize: cfg.ReadSize, RecvBatch: cfg.RecvBatch}
	c.defaults()
	cfg.Port, cfg.NetMTU, cfg.RecvBuffer, cfg.ReadSize, cfg.RecvBatch = c.Port, c.NetMTU, c.RecvBuffer, c.ReadSize, c.RecvBatch
	if cfg.TTL <= 0 {
		cfg.TTL = 1
	}
	cfg.Local, cfg.Group = cfg.Local.Unmap(), cfg.Group.Unmap()
	if !cfg.Local.Is4() || !cfg.Group.Is4() || !cfg.Group.IsMulticast() {
		return nil, fmt.Errorf("transport: udp needs an IPv4 local address and multicast group (have %s, %s)", cfg.Local, cfg.Group)
	}
	ifi, err := interfaceWith(cfg.Local)
	if err != nil {
		return nil, err
	}
	u := &UDP{cfg: cfg, endpoint: newEndpoint(cfg.NetMTU, cfg.Queue)}
	if err := u.members.set(cfg.Members); err != nil {
		return nil, err
	}
	fail := func(err error) (*UDP, error) {
		for _, s := range []*udpSocket{u.recv, u.token, u.send} {
			if s != nil {
				s.conn.Close()
			}
		}
		return nil, err
	}
	u.recv, err = listenUDP(netip.AddrPortFrom(cfg.Group, cfg.Port), sockOpts{reuseAddr: true, rcvBuf: cfg.RecvBuffer})
	if err != nil {
		return fail(err)
	}
	rp := ipv4.NewPacketConn(u.recv.conn)
	if err := rp.JoinGroup(ifi, &net.UDPAddr{IP: cfg.Group.AsSlice()}); err != nil {
		return fail(fmt.Errorf("transport: join %s on %s: %w", cfg.Group, ifi.Name, err))
	}
	u.token, err = listenUDP(netip.AddrPortFrom(cfg.Local, cfg.Port), sockOpts{reuseAddr: true, rcvBuf: cfg.RecvBuffer})
	if err != nil {
		return fail(err)
	}
	u.send, err = listenUDP(netip.AddrPortFrom(cfg.Local, cfg.Port-1), sockOpts{reuseAddr: true})
	if err != nil {
		return fail(err)
	}
	sp := ipv4.NewPacketConn(u.send.conn)
	for _, set := range []error{
		sp.SetMulticastInterface(ifi),
		sp.SetMulticastTTL(cfg.TTL),
		sp.SetMulticastLoopback(false),
	} {
		if set != nil {
			return fail(fmt.Errorf("transport: multicast options: %w", set))
		}
	}
	u.log = logger(cfg.Log).WithField("transport", "udp")
	u.log.Infof("group %s:%d joined on %s, tokens on %s, sending from %s", cfg.Group, cfg.Port, ifi.Name, u.token.localAddr(), u.send.localAddr())
	for _, s := range []*udpSocket{u.recv, u.token} {
		u.startReader(s, cfg.RecvBatch, cfg.ReadSize, u.source)
	}
	return u, nil
}

// interfaceWith finds the interface that has addr.
func interfaceWith(addr netip.Addr) (*net.Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	for i := range ifs {
		as, err := ifs[i].Addrs()
		if err != nil {
			continue
		}
		for _, a := range as {
			if n, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap() == addr {
					return &ifs[i], nil
				}
			}
		}
	}
	return nil, fmt.Errorf("transport: no interface has address %s", addr)
}

// source names the member a datagram comes from. Like corosync's udp
// transport it does not filter sources; FromNode is 0 for addresses
// outside the list.
func (u *UDP) source(a netip.Addr) (uint32, bool) {
	id, _ := u.members.node(a)
	return id, true
}

// SendToken unicasts b from mcastport-1 to the member's ring0_addr:mcastport.
func (u *UDP) SendToken(to uint32, b []byte) error {
	return u.sendToken(u.send, u.cfg.Port, to, b)
}

// Multicast sends b to the group and hands the own copy over locally.
func (u *UDP) Multicast(b []byte) error {
	if err := u.checkSize(b); err != nil {
		return err
	}
	err := u.send.sendTo(&u.stats, netip.AddrPortFrom(u.cfg.Group, u.cfg.Port), b)
	from := u.send.localAddr()
	id, _ := u.source(from.Addr())
	u.deliver(from, id, time.Now(), append([]byte(nil), b...))
	return u.logSend(err)
}

func (u *UDP) LocalAddr() netip.AddrPort { return u.token.localAddr() }

func (u *UDP) Close() error {
	u.closeOnce.Do(func() {
		u.closed.Store(true)
		u.q.shutdown() // before the sockets: see UDPU.Close
		u.recv.conn.Close()
		u.token.conn.Close()
		u.send.conn.Close()
		u.wg.Wait()
	})
	return nil
}

// McastAddrForCluster is the group corosync derives from cluster_name when
// mcastaddr is not set (IPv4, link 0).
func McastAddrForCluster(name string) netip.Addr {
	var v uint32
	for i := 0; i < len(name); i++ {
		v = (v << 1) + uint32(name[i])
	}
	id := v & 0xffff
	return netip.AddrFrom4([4]byte{239, 192, byte(id >> 8), byte(id % 255)})
}

var _ Transport = (*UDP)(nil)

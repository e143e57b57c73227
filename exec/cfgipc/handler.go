package cfgipc

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/ringfence/ringfence/cmap"
	"github.com/ringfence/ringfence/exec"
	"github.com/ringfence/ringfence/ipc"
)

// EventSink is where a connection's events go (an *ipc.Conn).
type EventSink interface {
	SendEvent(msg []byte) error
}

// Config is what the cfg service needs from the daemon. Nil callbacks
// answer CS_ERR_NOT_SUPPORTED.
type Config struct {
	NodeID uint32
	// Store is the cmap default map: the nodelist is read from it.
	Store *cmap.Store
	// Members returns the current totem processor list (reachable nodes).
	Members func() []uint32
	// NetMTU is totem's net_mtu reported as link MTU (default 1410).
	NetMTU uint32
	// Resolve turns a ringX_addr that is not an IP literal into an
	// address (Corosync resolves names when it loads the config). Nil
	// means names are not resolved: the handler runs on the owner
	// goroutine and must not block on DNS.
	Resolve func(name string) net.IP
	// InterfaceUp reports whether the totem socket is bound (link 0
	// enabled); nil means always.
	InterfaceUp func() bool

	// Send multicasts cfg exec messages to the ring (the daemon's
	// engine.Send); they come back through Deliver on every node. Nil
	// loops them back at once (a ring of one).
	Send func(msgs ...exec.Message)

	// Shutdown runs when this node's SHUTDOWN exec message is delivered,
	// after a TRYSHUTDOWN was agreed (flags as requested).
	Shutdown func(flags uint32)
	// ReloadConfig runs on every node when a RELOAD_CONFIG exec message
	// is delivered; its result goes back to the requesting tool.
	ReloadConfig func() ipc.CsError
	// ReopenLogFiles runs for corosync-cfgtool -L.
	ReopenLogFiles func() ipc.CsError
	// Killed runs on the target of corosync-cfgtool -k when the request
	// is delivered: by is the requesting node. Corosync exits at once
	// (status -1, no leave message).
	Killed func(by uint32, reason string)
}

type connID = uint64

// Handler serves libcfg. All methods run on the owner goroutine.
type Handler struct {
	cfg      Config
	log      *logrus.Entry
	sinks    map[connID]EventSink
	trackers map[connID]bool
	shut     *shutdownState
	// reloads holds the replies owed to RELOAD_CONFIG requesters, by the
	// token carried in the exec message's source.conn.
	reloads           map[uint64]func([]byte)
	nextReload        uint64
	lastShutdownFlags uint32
	// Malformed counts requests that failed to decode.
	Malformed uint64
}

// shutdownState is one TRYSHUTDOWN waiting for its trackers' answers.
type shutdownState struct {
	requester connID
	reply     func([]byte)
	flags     uint32
	waiting   map[connID]bool
	no        bool
}

// New makes the cfg handler.
func New(cfg Config) *Handler {
	if cfg.NetMTU == 0 {
		cfg.NetMTU = defaultNetMTU
	}
	return &Handler{cfg: cfg, log: logrus.WithField("subsys", "CFG"), sinks: map[connID]EventSink{}, trackers: map[connID]bool{}, reloads: map[uint64]func([]byte){}}
}

// IPCService describes the endpoint for ipc.Server.Serve.
func (h *Handler) IPCService() *ipc.Service {
	return &ipc.Service{Name: ServiceName, ID: ServiceID, Handler: h, RequestSizes: RequestSizes}
}

// Connected implements ipc.Handler.
func (h *Handler) Connected(c *ipc.Conn) { h.Attach(c.ID(), c) }

// Disconnected implements ipc.Handler: a tracker that goes away counts
// as agreeing to a pending shutdown.
func (h *Handler) Disconnected(c *ipc.Conn) { h.Detach(c.ID()) }

// Attach registers a connection (tests, fuzzing).
func (h *Handler) Attach(id connID, sink EventSink) { h.sinks[id] = sink }

// Detach forgets a connection.
func (h *Handler) Detach(id connID) {
	delete(h.sinks, id)
	delete(h.trackers, id)
	if s := h.shut; s != nil {
		if s.requester == id {
			h.shut = nil
			return
		}
		delete(s.waiting, id)
		h.checkShutdown()
	}
}

// Handle implements ipc.Handler.
func (h *Handler) Handle(c *ipc.Conn, id int32, msg []byte) {
	h.Process(c.ID(), id, msg, func(b []byte) { c.Respond(b) })
}

// Process answers one request of connection conn; the response may be
// deferred (TRYSHUTDOWN), so it goes to reply.
func (h *Handler) Process(conn connID, req int32, msg []byte, reply func([]byte)) {
	if req < 0 || int(req) >= len(RequestSizes) || len(msg) < RequestSizes[req] {
		h.Malformed++
		reply(response(0, ipc.ResponseHeaderSize, ipc.CsErrInvalidParm))
		return
	}
	switch req {
	case ReqRingStatusGet:
		reply(h.ringStatus())
	case ReqRingReenable:
		// Corosync 3 answers CS_ERR_NOT_SUPPORTED (links re-enable by
		// themselves).
		reply(response(ResRingReenable, 24, csErrNotSupported))
	case ReqKillNode:
		reply(response(ResKillNode, 24, h.killNode(le32(msg, 16), msg[killReasonOff:killReasonValueOff+killReasonMax])))
	case ReqTryShutdown:
		h.tryShutdown(conn, le32(msg, 16), reply)
	case ReqReplyToShutdown:
		h.replyToShutdown(conn, le32(msg, 16))
		reply(response(ResReplyToShutdown, 24, ipc.CsOK))
	case ReqGetNodeAddrs:
		reply(h.nodeAddrs(le32(msg, 16)))
	case ReqLocalGet:
		b := response(ResLocalGet, 32, ipc.CsOK)
		put32(b, 24, h.cfg.NodeID)
		reply(b)
	case ReqReloadConfig:
		h.reloadConfig(reply)
	case ReqReopenLogFiles:
		reply(response(ResReopenLogFiles, 24, call0(h.cfg.ReopenLogFiles)))
	case ReqNodeStatusGet:
		reply(h.nodeStatus(le32(msg, 16), le32(msg, 24)))
	case ReqTrackStart:
		h.trackers[conn] = true
		reply(response(ResTrackStart, 24, ipc.CsOK))
	case ReqTrackStop:
		delete(h.trackers, conn)
		reply(response(ResTrackStop, 24, ipc.CsOK))
	}
}

func call0(f func() ipc.CsError) ipc.CsError {
	if f == nil {
		return csErrNotSupported
	}
	return f()
}

func cString(b []byte) string {
	if i := slices.Index(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// ringStatus reports the single udp/udpu interface as Corosync does:
// name "<link> <local address>", status "OK".
func (h *Handler) ringStatus() []byte {
	b := response(ResRingStatusGet, ringStatusSize, ipc.CsOK)
	addrs := h.addresses(h.cfg.NodeID)
	if len(addrs) == 0 {
		return b
	}
	put32(b, 24, 1)
	putCString(b, 32, ifaceNameLen, "0 "+addrs[0].String())
	putCString(b, 32+maxInterfaces*ifaceNameLen, ifaceStatusLen, "OK")
	return b
}

// nodeAddrs answers GET_NODE_ADDRS (nodeid 0 = this node).
func (h *Handler) nodeAddrs(nodeid uint32) []byte {
	if nodeid == 0 {
		nodeid = h.cfg.NodeID
	}
	addrs := h.addresses(nodeid)
	if len(addrs) == 0 {
		return response(ResGetNodeAddrs, 32, ipc.CsErrNotExist)
	}
	b := response(ResGetNodeAddrs, 32+addrLen*len(addrs), ipc.CsOK)
	family := uint32(10) // AF_INET6
	if addrs[0].To4() != nil {
		family = 2 // AF_INET
	}
	put32(b, 24, family)
	put32(b, 28, uint32(len(addrs)))
	for i, a := range addrs {
		raw := []byte(a.To16())
		if a4 := a.To4(); a4 != nil {
			raw = a4
		}
		copy(b[32+addrLen*i:], raw)
	}
	return b
}

// nodeStatus answers NODESTATUSGET as totemudpu fills it in: known
// nodes have link 0 enabled, connected when reachable, MTU net_mtu and
// the node's address as source; unknown nodes come back all zero.
func (h *Handler) nodeStatus(nodeid, version uint32) []byte {
	if version != nodeStatusV1 {
		b := response(ResNodeStatusGet, nodeStatusVerSize, csErrNotSupported)
		return b
	}
	b := response(ResNodeStatusGet, nodeStatusV1Size, ipc.CsOK)
	const st = 24
	put32(b, st, nodeStatusV1)
	put32(b, st+4, nodeid)
	reachable := h.cfg.Members != nil && slices.Contains(h.cfg.Members(), nodeid)
	if reachable {
		b[st+8] = 1
	}
	if addrs := h.addresses(nodeid); len(addrs) > 0 {
		link := st + 16
		if h.cfg.InterfaceUp == nil || h.cfg.InterfaceUp() {
			b[link] = 1
		}
		if reachable {
			b[link+1] = 1
		}
		put32(b, link+4, h.cfg.NetMTU)
		putCString(b, link+8, maxHostLen, addrs[0].String())
	}
	return b
}

// addresses returns nodeid's ringX_addr values from the cmap nodelist
// (IP literals, or names through Config.Resolve), in ring order.
func (h *Handler) addresses(nodeid uint32) []net.IP {
	if h.cfg.Store == nil {
		return nil
	}
	idx, ok := h.nodeIndex(nodeid)
	if !ok {
		return nil
	}
	var out []net.IP
	for ring := 0; ring < 8; ring++ {
		s, err := h.cfg.Store.GetString(fmt.Sprintf("nodelist.node.%s.ring%d_addr", idx, ring))
		if err != nil {
			continue
		}
		ip := net.ParseIP(s)
		if ip == nil && h.cfg.Resolve != nil {
			ip = h.cfg.Resolve(s)
		}
		if ip != nil {
			out = append(out, ip)
		}
	}
	return out
}

// nodeIndex finds the nodelist.node.<idx> entry of nodeid: an explicit
// nodeid key, or for entries without one the IPv4 ring0_addr as a
// big-endian number (Corosync's automatic node id).
func (h *Handler) nodeIndex(nodeid uint32) (string, bool) {
	for _, it := range h.cfg.Store.Iter("nodelist.node.") {
		rest, ok := strings.CutPrefix(it.Key, "nodelist.node.")
		if !ok {
			continue
		}
		idx, field, ok := strings.Cut(rest, ".")
		if !ok || strings.Contains(field, ".") {
			continue
		}
		if _, err := strconv.Atoi(idx); err != nil {
			continue
		}
		switch field {
		case "nodeid":
			if v, err := h.cfg.Store.GetUint32(it.Key); err == nil && v == nodeid {
				return idx, true
			}
		case "ring0_addr":
			if _, err := h.cfg.Store.Get("nodelist.node." + idx + ".nodeid"); err == nil {
				continue
			}
			s, _ := h.cfg.Store.GetString(it.Key)
			if ip := net.ParseIP(s).To4(); ip != nil && uint32(ip[0])<<24|uint32(ip[1])<<16|uint32(ip[2])<<8|uint32(ip[3]) == nodeid {
				return idx, true
			}
		}
	}
	return "", false
}

package cpgipc

import (
	"github.com/sirupsen/logrus"

	"github.com/ringfence/ringfence/cpg"
	"github.com/ringfence/ringfence/exec"
	"github.com/ringfence/ringfence/ipc"
)

// EventSink is where a client's events go (an *ipc.Conn in the daemon).
type EventSink interface {
	SendEvent(msg []byte) error
}

// batchSink is an EventSink that can write an event from parts and ring
// the client's doorbell once for a burst (an *ipc.Conn).
type batchSink interface {
	SendEventLater(parts ...[]byte) error
	Notify()
}

// Handler serves libcpg over one cpg.Service. It is an ipc.Handler; all
// methods run on the daemon's owner goroutine, like the service itself.
type Handler struct {
	svc   *cpg.Service
	send  func(msgs ...exec.Message)
	log   *logrus.Entry
	sinks map[cpg.ClientID]EventSink
	// notify lists the batch sinks Flush wrote to (scratch); hdr is the
	// scratch header of delivery events.
	notify []batchSink
	hdr    [partialDeliverHeader]byte
	// Dropped counts events for clients that were already gone or whose
	// event queue overflowed.
	Dropped uint64
	// Malformed counts requests that failed to decode.
	Malformed uint64
}

// New serves svc. send receives the exec messages the service queues
// (PROCJOIN, MCAST, ...) for multicast to the cluster, in order.
//
// The Handler owns svc.Ready(): nothing else may call it. Whoever
// delivers exec messages or runs sync on svc must call Flush afterwards.
func New(svc *cpg.Service, send func(msgs ...exec.Message)) *Handler {
	return &Handler{svc: svc, send: send, log: logrus.WithField("subsys", "CPG"), sinks: map[cpg.ClientID]EventSink{}}
}

// IPCService describes the endpoint for ipc.Server.Serve.
func (h *Handler) IPCService() *ipc.Service {
	return &ipc.Service{Name: ServiceName, ID: ServiceID, Handler: h, RequestSizes: RequestSizes}
}

// Connected registers the new client (cpg_lib_init_fn).
func (h *Handler) Connected(c *ipc.Conn) { h.Attach(cpg.ClientID(c.ID()), c) }

// Disconnected tells the service the client is gone (cpg_lib_exit_fn).
func (h *Handler) Disconnected(c *ipc.Conn) { h.Detach(cpg.ClientID(c.ID())) }

// Handle answers one request.
func (h *Handler) Handle(c *ipc.Conn, id int32, msg []byte) {
	if resp := h.Process(cpg.ClientID(c.ID()), id, msg); resp != nil {
		c.Respond(resp)
	}
	h.Flush()
}

// Attach registers a client whose events go to sink (Connected without
// an ipc.Conn, for tests and fuzzing).
func (h *Handler) Attach(id cpg.ClientID, sink EventSink) {
	h.sinks[id] = sink
	h.svc.Connect(id)
}

// Detach is Disconnected by client id.
func (h *Handler) Detach(id cpg.ClientID) {
	h.svc.Disconnect(id)
	delete(h.sinks, id)
	h.Flush()
}

// Flush sends the service's pending callbacks to their clients and its
// pending exec messages to the send function.
func (h *Handler) Flush() {
	r := h.svc.Ready()
	for _, l := range r.Logs {
		logLine(h.log, l)
	}
	for _, ev := range r.Events {
		if !h.sendEvent(ev) {
			h.Dropped++
		}
	}
	// One doorbell write per client for the whole burst, before the
	// owner goes back to waiting.
	for i, b := range h.notify {
		b.Notify()
		h.notify[i] = nil
	}
	h.notify = h.notify[:0]
	if len(r.Messages) > 0 && h.send != nil {
		h.send(r.Messages...)
	}
}

// sendEvent hands one event to its client's sink. Deliveries to a batch
// sink go in two parts (header, data) without an intermediate copy, their
// doorbell left for the end of Flush.
func (h *Handler) sendEvent(ev cpg.Event) bool {
	sink := h.sinks[ev.Client]
	if sink == nil {
		return false
	}
	b, ok := sink.(batchSink)
	if !ok {
		msg := encodeEvent(ev)
		return msg != nil && sink.SendEvent(msg) == nil
	}
	var err error
	if ev.Kind == cpg.EventDeliver || ev.Kind == cpg.EventPartialDeliver {
		hdr, data := deliverParts(ev, h.hdr[:])
		err = b.SendEventLater(hdr, data)
	} else if msg := encodeEvent(ev); msg != nil {
		err = b.SendEventLater(msg)
	} else {
		return false
	}
	if n := len(h.notify); n == 0 || h.notify[n-1] != b {
		h.notify = append(h.notify, b)
	}
	return err == nil
}

func logLine(log *logrus.Entry, l exec.LogLine) {
	switch {
	case l.Level <= exec.LevelError:
		log.Error(l.Text)
	case l.Level == exec.LevelWarning:
		log.Warn(l.Text)
	case l.Level <= exec.LevelInfo:
		log.Info(l.Text)
	default:
		log.Debug(l.Text)
	}
}

// Process answers one request of client id that passed the server's id
// and minimum size checks; nil means "no response" (MCAST).
func (h *Handler) Process(id cpg.ClientID, req int32, msg []byte) []byte {
	if req < 0 || int(req) >= len(RequestSizes) || len(msg) < RequestSizes[req] {
		h.Malformed++
		if req == ReqMcast {
			return nil // MCAST is asynchronous: Corosync never answers it
		}
		return response(0, ipc.ResponseHeaderSize, ipc.CsErrInvalidParm)
	}
	switch req {
	case ReqJoin:
		g, ok := readGroup(msg, offGroup)
		if !ok {
			return response(ResJoin, 24, ipc.CsErrNameTooLong)
		}
		return response(ResJoin, 24, h.svc.Join(id, g, le32(msg, offJoinPID), le32(msg, offJoinFlags)))
	case ReqLeave:
		g, ok := readGroup(msg, offGroup)
		if !ok {
			return response(ResLeave, 24, ipc.CsErrNameTooLong)
		}
		return response(ResLeave, 24, h.svc.Leave(id, g, le32(msg, offJoinPID)))
	case ReqMcast:
		n := int(le32(msg, offMcastLen))
		if n > len(msg)-offMcastData {
			h.Malformed++
			h.log.WithFields(logrus.Fields{"msglen": n, "size": len(msg)}).Warn("cpg mcast longer than its message; dropped")
			return nil
		}
		h.svc.Mcast(id, msg[offMcastData:offMcastData+n])
		return nil // fire and forget, as Corosync
	case ReqMembership:
		g, ok := readGroup(msg, offGroup)
		b := response(ResMembership, membershipSize, ipc.CsOK)
		if !ok {
			put32(b, 16, uint32(ipc.CsErrNameTooLong))
			return b
		}
		members := h.svc.Membership(g)
		if len(members) > maxMembershipSlots {
			members = members[:maxMembershipSlots]
		}
		put32(b, 24, uint32(len(members)))
		for i, a := range members {
			putAddress(b, 32+24*i, a)
		}
		return b
	case ReqLocalGet:
		b := response(ResLocalGet, 32, ipc.CsOK)
		put32(b, 24, h.svc.LocalGet())
		return b
	case ReqIterInit:
		// The group is only filled in (and only read) for ONE_GROUP;
		// libcpg leaves it uninitialised otherwise.
		typ := le32(msg, offIterType)
		b := response(ResIterInit, 32, ipc.CsOK)
		var g string
		if typ == cpg.IterOneGroup {
			var ok bool
			if g, ok = readGroup(msg, offGroup); !ok {
				put32(b, 16, uint32(ipc.CsErrNameTooLong))
				return b
			}
		}
		handle, e := h.svc.IterationInitialize(id, typ, g)
		put32(b, 16, uint32(e))
		put64(b, 24, handle)
		return b
	case ReqIterNext:
		it, e := h.svc.IterationNext(le64(msg, offHandle))
		b := response(ResIterNext, iterNextSize, e)
		if e == ipc.CsOK {
			putGroup(b, 24, it.Group)
			put32(b, 24+groupSize, it.NodeID)
			put32(b, 24+groupSize+4, it.PID)
		}
		return b
	case ReqIterFinalize:
		return response(ResIterFinalize, 24, h.svc.IterationFinalize(le64(msg, offHandle)))
	case ReqFinalize:
		return response(ResFinalize, 24, h.svc.Finalize(id))
	case ReqZcAlloc:
		return response(resZcAlloc, 24, csErrNotSupported)
	case ReqZcFree:
		return response(resZcFree, 24, csErrNotSupported)
	case ReqZcExecute:
		return response(resZcExecute, 24, csErrNotSupported)
	case ReqPartialMcast:
		n := int(le32(msg, offPartFragLen))
		if n > len(msg)-offPartData {
			h.Malformed++
			return response(ResPartialMcast, 24, ipc.CsErrInvalidParm)
		}
		e := h.svc.PartialMcast(id, le32(msg, offPartMsgLen), le32(msg, offPartType), msg[offPartData:offPartData+n])
		return response(ResPartialMcast, 24, e)
	}
	return response(0, ipc.ResponseHeaderSize, ipc.CsErrInvalidParm)
}

package vqipc

import (
	"slices"
	"time"

	"github.com/ringfence/ringfence/ipc"
	"github.com/ringfence/ringfence/votequorum"
)

type vqConn struct {
	sink     EventSink
	tracking bool
	context  uint64
}

// Votequorum serves libvotequorum (service 5) over a votequorum.Machine.
type Votequorum struct {
	m        *votequorum.Machine
	conns    map[connID]*vqConn
	trackers []connID // newest first
	// pendingRegister holds the replies of QDEVICE_REGISTER requests the
	// machine answers later (Ready.RegisterReplies), in order.
	pendingRegister []func([]byte)
	// Malformed counts undecodable requests.
	Malformed uint64
	// Clock, when set, is read before each request and handed to the
	// machine's Tick: QDEVICE_POLL arms the device timer relative to the
	// machine's time, which must be now, not the last timer event.
	Clock func() time.Time
}

// NewVotequorum serves m.
func NewVotequorum(m *votequorum.Machine) *Votequorum {
	return &Votequorum{m: m, conns: map[connID]*vqConn{}}
}

// IPCService describes the endpoint for ipc.Server.Serve.
func (v *Votequorum) IPCService() *ipc.Service {
	return &ipc.Service{Name: VotequorumServiceName, ID: VotequorumServiceID, Handler: v, RequestSizes: VotequorumRequestSizes}
}

// Connected implements ipc.Handler.
func (v *Votequorum) Connected(c *ipc.Conn) { v.Attach(c.ID(), c) }

// Disconnected implements ipc.Handler.
func (v *Votequorum) Disconnected(c *ipc.Conn) { v.Detach(c.ID()) }

// Attach registers a connection (tests, fuzzing).
func (v *Votequorum) Attach(id connID, sink EventSink) { v.conns[id] = &vqConn{sink: sink} }

// Detach forgets a connection.
func (v *Votequorum) Detach(id connID) {
	delete(v.conns, id)
	v.trackers = slices.DeleteFunc(v.trackers, func(t connID) bool { return t == id })
}

// Handle implements ipc.Handler. The daemon's Flush (Services.Flush)
// must run after it so the machine's messages get multicast.
func (v *Votequorum) Handle(c *ipc.Conn, id int32, msg []byte) {
	if v.Clock != nil {
		v.m.Tick(v.Clock())
	}
	v.Process(c.ID(), id, msg, func(b []byte) { c.Respond(b) })
}

func status(e votequorum.Status) []byte { return response(VResStatus, 24, ipc.CsError(e)) }

// Process answers one request; reply may be called later (QDEVICE_REGISTER).
func (v *Votequorum) Process(id connID, req int32, msg []byte, reply func([]byte)) {
	vc := v.conns[id]
	if vc == nil || req < 0 || int(req) >= len(VotequorumRequestSizes) || len(msg) < VotequorumRequestSizes[req] {
		v.Malformed++
		reply(response(0, ipc.ResponseHeaderSize, ipc.CsErrInvalidParm))
		return
	}
	switch req {
	case VReqGetInfo:
		reply(encodeInfo(v.m.GetInfo(le32(msg, 16))))
	case VReqSetExpected:
		reply(status(v.m.SetExpected(le32(msg, 16))))
	case VReqSetVotes:
		reply(status(v.m.SetVotes(le32(msg, 20), le32(msg, 16))))
	case VReqTrackStart:
		ctx, flags := le64(msg, 16), le32(msg, 24)
		if flags&(trackCurrent|trackChanges) != 0 {
			v.send(vc, v.m.NodelistNotification(), ctx)
			v.send(vc, v.m.QuorumNotification(), ctx)
		}
		if vc.tracking {
			reply(status(votequorum.ErrExist))
			return
		}
		if flags&(trackChanges|trackChangesOnly) != 0 {
			vc.tracking, vc.context = true, ctx
			v.trackers = slices.Insert(v.trackers, 0, id)
		}
		reply(status(votequorum.OK))
	case VReqTrackStop:
		if !vc.tracking {
			reply(status(votequorum.ErrNotExist))
			return
		}
		vc.tracking = false
		v.trackers = slices.DeleteFunc(v.trackers, func(t connID) bool { return t == id })
		reply(status(votequorum.OK))
	case VReqQdeviceRegister:
		st, pending := v.m.QdeviceRegister(readName(msg, 16))
		if pending {
			v.pendingRegister = append(v.pendingRegister, reply)
			return
		}
		reply(status(st))
	case VReqQdeviceUnregister:
		reply(status(v.m.QdeviceUnregister(readName(msg, 16))))
	case VReqQdeviceUpdate:
		reply(status(v.m.QdeviceUpdate(readName(msg, 16), readName(msg, offQdevUpdateNewName))))
	case VReqQdevicePoll:
		ring := votequorum.RingID{Rep: le32(msg, 280), Seq: le64(msg, 288)}
		reply(status(v.m.QdevicePoll(readName(msg, 16), le32(msg, 272) != 0, ring)))
	case VReqQdeviceMasterWins:
		reply(status(v.m.QdeviceMasterWins(readName(msg, 16), le32(msg, 272) != 0)))
	}
}

func encodeInfo(info votequorum.Info, st votequorum.Status) []byte {
	b := response(VResGetInfo, getInfoSize, ipc.CsError(st))
	if st != votequorum.OK {
		return b
	}
	for i, f := range []uint32{info.NodeID, uint32(info.State), info.Votes, info.ExpectedVotes,
		info.HighestExpected, info.TotalVotes, info.Quorum, info.Flags, info.QdeviceVotes} {
		put32(b, 24+4*i, f)
	}
	name := info.QdeviceName
	if len(name) > qdeviceNameLen-1 {
		name = name[:qdeviceNameLen-1]
	}
	copy(b[offGetInfoQdevName:], name)
	return b
}

// notify sends a machine notification to every tracker with its context.
func (v *Votequorum) notify(n votequorum.Notification) {
	for _, id := range v.trackers {
		vc := v.conns[id]
		v.send(vc, n, vc.context)
	}
}

// registerReply answers the oldest deferred QDEVICE_REGISTER.
func (v *Votequorum) registerReply(st votequorum.Status) {
	if len(v.pendingRegister) == 0 {
		return
	}
	r := v.pendingRegister[0]
	v.pendingRegister = v.pendingRegister[1:]
	r(status(st))
}

func (v *Votequorum) send(vc *vqConn, n votequorum.Notification, ctx uint64) {
	if vc == nil {
		return
	}
	if b := encodeNotification(n, ctx); b != nil {
		vc.sink.SendEvent(b)
	}
}

func encodeNotification(n votequorum.Notification, ctx uint64) []byte {
	switch n.Kind {
	case votequorum.QuorumNotification:
		b := response(VEvQuorum, 48+8*len(n.Nodes), ipc.CsOK)
		put32(b, 24, b2u(n.Quorate))
		put64(b, 32, ctx)
		put32(b, 40, uint32(len(n.Nodes)))
		for i, e := range n.Nodes {
			put32(b, 48+8*i, e.NodeID)
			put32(b, 52+8*i, uint32(e.State))
		}
		return b
	case votequorum.NodelistNotification:
		b := response(VEvNodelist, 56+4*len(n.Members), ipc.CsOK)
		put64(b, 24, ctx)
		put32(b, 32, n.RingID.Rep)
		put64(b, 40, n.RingID.Seq)
		put32(b, 48, uint32(len(n.Members)))
		for i, id := range n.Members {
			put32(b, 56+4*i, id)
		}
		return b
	case votequorum.ExpectedVotesNotification:
		b := response(VEvExpectedVotes, 40, ipc.CsOK)
		put64(b, 24, ctx)
		put32(b, 32, n.ExpectedVotes)
		return b
	}
	return nil
}

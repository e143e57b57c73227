package vqipc

import (
	"slices"

	"github.com/ringfence/ringfence/exec"
	"github.com/ringfence/ringfence/ipc"
	"github.com/ringfence/ringfence/votequorum"
)

type connID = uint64

// EventSink is where a connection's events go (an *ipc.Conn).
type EventSink interface {
	SendEvent(msg []byte) error
}

type quorumConn struct {
	sink     EventSink
	model    uint32
	tracking bool
}

// Quorum serves libquorum (service 3), Corosync's vsf_quorum.
type Quorum struct {
	provider bool
	quorate  bool
	view     []uint32
	ring     votequorum.RingID // quorum_ring_id
	// last sync's nodelist change (V1 nodelist notifications)
	syncRing              votequorum.RingID
	members, joined, left []uint32
	conns                 map[connID]*quorumConn
	trackers              []connID // newest first, as qb_list_add
	// Malformed counts undecodable requests.
	Malformed uint64
}

// NewQuorum makes the quorum service; provider says whether
// quorum.provider is configured (GETTYPE answers 1, else 0). Without a
// provider Corosync reports the node quorate for ever, with an empty
// view list, and no QuorumEvents arrive.
func NewQuorum(provider bool) *Quorum {
	return &Quorum{provider: provider, quorate: !provider, conns: map[connID]*quorumConn{}}
}

// IPCService describes the endpoint for ipc.Server.Serve.
func (q *Quorum) IPCService() *ipc.Service {
	return &ipc.Service{Name: QuorumServiceName, ID: QuorumServiceID, Handler: q, RequestSizes: QuorumRequestSizes}
}

// Connected implements ipc.Handler.
func (q *Quorum) Connected(c *ipc.Conn) { q.Attach(c.ID(), c) }

// Disconnected implements ipc.Handler.
func (q *Quorum) Disconnected(c *ipc.Conn) { q.Detach(c.ID()) }

// Attach registers a connection (tests, fuzzing).
func (q *Quorum) Attach(id connID, sink EventSink) { q.conns[id] = &quorumConn{sink: sink} }

// Detach forgets a connection.
func (q *Quorum) Detach(id connID) {
	delete(q.conns, id)
	q.trackers = slices.DeleteFunc(q.trackers, func(t connID) bool { return t == id })
}

// Handle implements ipc.Handler.
func (q *Quorum) Handle(c *ipc.Conn, id int32, msg []byte) { c.Respond(q.Process(c.ID(), id, msg)) }

// Process answers one request; events it triggers are sent first.
func (q *Quorum) Process(id connID, req int32, msg []byte) []byte {
	qc := q.conns[id]
	if qc == nil || req < 0 || int(req) >= len(QuorumRequestSizes) || len(msg) < QuorumRequestSizes[req] {
		q.Malformed++
		return response(0, ipc.ResponseHeaderSize, ipc.CsErrInvalidParm)
	}
	switch req {
	case QReqGetQuorate:
		b := response(QResGetQuorate, 32, ipc.CsOK)
		put32(b, 24, b2u(q.quorate))
		return b
	case QReqTrackStart:
		flags := le32(msg, 16)
		if flags&(trackCurrent|trackChanges) != 0 {
			q.sendNodelist(qc, false)
			q.sendQuorum(qc)
		}
		if qc.tracking {
			return response(QResTrackStart, 24, ipc.CsErrExist)
		}
		if flags&(trackChanges|trackChangesOnly) != 0 {
			qc.tracking = true
			q.trackers = slices.Insert(q.trackers, 0, id)
		}
		return response(QResTrackStart, 24, ipc.CsOK)
	case QReqTrackStop:
		// Corosync answers OK even when the client was not tracking.
		qc.tracking = false
		q.trackers = slices.DeleteFunc(q.trackers, func(t connID) bool { return t == id })
		return response(QResTrackStop, 24, ipc.CsOK)
	case QReqGetType:
		b := response(QResGetType, 32, ipc.CsOK)
		put32(b, 24, q.quorumType())
		return b
	case QReqModelGetType:
		b := response(QResModelGetType, 32, ipc.CsOK)
		if m := le32(msg, 16); m == quorumModelV0 || m == quorumModelV1 {
			qc.model = m
		} else {
			put32(b, 16, uint32(ipc.CsErrInvalidParm))
		}
		put32(b, 24, q.quorumType())
		return b
	}
	return response(0, ipc.ResponseHeaderSize, ipc.CsErrInvalidParm)
}

func (q *Quorum) quorumType() uint32 {
	if q.provider {
		return quorumTypeSet
	}
	return quorumTypeFree
}

// SetQuorum applies one of the machine's quorum events (Corosync's
// quorum_api_set_quorum) and notifies every tracker.
func (q *Quorum) SetQuorum(ev votequorum.QuorumEvent) {
	q.quorate, q.view, q.ring = ev.Quorate, slices.Clone(ev.Members), ev.RingID
	for _, id := range q.trackers {
		q.sendQuorum(q.conns[id])
	}
}

// NodelistChange records a completed sync's membership change and sends
// V1 trackers their NODELIST notification with joined and left lists.
func (q *Quorum) NodelistChange(c exec.NodelistChange) {
	q.syncRing = votequorum.RingID{Rep: c.Ring.Rep, Seq: c.Ring.Seq}
	q.members, q.joined, q.left = slices.Clone(c.Members), slices.Clone(c.Joined), slices.Clone(c.Left)
	for _, id := range q.trackers {
		q.sendNodelist(q.conns[id], true)
	}
}

// Quorate reports the quorate flag the service hands out.
func (q *Quorum) Quorate() bool { return q.quorate }

func (q *Quorum) sendQuorum(qc *quorumConn) {
	if qc == nil {
		return
	}
	var b []byte
	if qc.model == quorumModelV1 {
		// sizeof 56 + 4n with the list at 52.
		b = response(QEvV1Quorum, 56+4*len(q.view), ipc.CsOK)
		put32(b, 24, b2u(q.quorate))
		put32(b, 32, q.ring.Rep)
		put64(b, 40, q.ring.Seq)
		put32(b, 48, uint32(len(q.view)))
		for i, n := range q.view {
			put32(b, 52+4*i, n)
		}
	} else {
		// sizeof 48 + 4n with the list at 44.
		b = response(QEvNotification, 48+4*len(q.view), ipc.CsOK)
		put32(b, 24, b2u(q.quorate))
		put64(b, 32, q.ring.Seq)
		put32(b, 40, uint32(len(q.view)))
		for i, n := range q.view {
			put32(b, 44+4*i, n)
		}
	}
	qc.sink.SendEvent(b)
}

// sendNodelist sends the V1 nodelist notification (V0 clients get none).
func (q *Quorum) sendNodelist(qc *quorumConn, withChanges bool) {
	if qc == nil || qc.model != quorumModelV1 {
		return
	}
	lists := [][]uint32{q.members}
	if withChanges {
		lists = append(lists, q.joined, q.left)
	}
	n := 0
	for _, l := range lists {
		n += len(l)
	}
	b := response(QEvV1Nodelist, 64+4*n, ipc.CsOK)
	put32(b, 24, q.syncRing.Rep)
	put64(b, 32, q.syncRing.Seq)
	for i, l := range lists {
		put32(b, 40+8*i, uint32(len(l)))
	}
	off := 60
	for _, l := range lists {
		for _, id := range l {
			put32(b, off, id)
			off += 4
		}
	}
	qc.sink.SendEvent(b)
}

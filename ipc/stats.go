package ipc

import "sync/atomic"

// ConnStats mirrors the per-connection counters Corosync publishes under
// stats.ipcs.service<id>.<pid>.<conn>.* in the stats map.
type ConnStats struct {
	Requests       uint64 // requests handed to the service
	Responses      uint64 // responses written to the response ring
	Dispatched     uint64 // events written to the event ring
	SendRetries    uint64 // responses/events that found their ring full
	RecvRetries    uint64 // doorbells with no request behind them
	InvalidRequest uint64 // malformed requests (bad size, unknown id, corrupt chunk)
	Overload       uint64 // requests refused with CS_ERR_TRY_AGAIN
	FlowControl    int32  // current flow-control word
	FlowControlCnt uint64 // times flow control was switched on
	Queued         uint32 // events waiting for room in the event ring
}

type connCounters struct {
	requests, responses, dispatched, sendRetries, recvRetries atomic.Uint64
	invalid, overload, fcCount                                atomic.Uint64
	queued                                                    atomic.Uint32
}

// ServerStats are the global counters (stats.ipcs.global.*).
type ServerStats struct {
	Active   uint64 // connections currently established
	Closed   uint64 // connections closed since start
	Refused  uint64 // handshakes answered with an error
	BadHello uint64 // setup sockets closed for a malformed connection request
}

// clear zeroes the counters (not the levels: queued, flow control), as
// libqb's clear-after-read and Corosync's own per-connection reset do.
func (c *connCounters) clear() {
	for _, v := range []*atomic.Uint64{&c.requests, &c.responses, &c.dispatched, &c.sendRetries, &c.recvRetries, &c.invalid, &c.overload, &c.fcCount} {
		v.Store(0)
	}
}

// ClearStats is corosync-cmapctl -C ipc: every open connection's
// counters and the global closed count start again from zero. Corosync
// also zeroes global.active, which then wraps below zero as those
// connections close; here it stays the number of open connections.
func (s *Server) ClearStats() {
	s.closed.Store(0)
	s.refused.Store(0)
	s.badHello.Store(0)
	for _, c := range s.Conns() {
		c.ctr.clear()
	}
}

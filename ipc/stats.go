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
	FlowControl    int32  // flow-control word as last switched (0 after a clear until it switches again)
	FlowControlCnt uint64 // times the flow-control word changed, on and off (libqb's flow_control_count)
	Queued         uint32 // events waiting for room in the event ring
}

type connCounters struct {
	requests, responses, dispatched, sendRetries, recvRetries atomic.Uint64
	invalid, overload, fcCount                                atomic.Uint64
	queued                                                    atomic.Uint32
	// fcState is the flow-control word as published: libqb records it
	// only when it changes, and a clear zeroes the record, so after
	// -C ipc it reads 0 until flow control next switches.
	fcState atomic.Int32
}

// ServerStats are the global counters (stats.ipcs.global.*).
type ServerStats struct {
	Active   uint64 // connections currently established
	Closed   uint64 // connections closed since start
	Refused  uint64 // handshakes answered with an error
	BadHello uint64 // setup sockets closed for a malformed connection request
}

// clear zeroes what libqb's clear-after-read (its whole per-connection
// stats record, the recorded flow-control state included) and Corosync's
// own per-connection reset (invalid_request, overload, sent) zero. The
// event queue length is not a record but measured, and is kept.
func (c *connCounters) clear() {
	for _, v := range []*atomic.Uint64{&c.requests, &c.responses, &c.dispatched, &c.sendRetries, &c.recvRetries, &c.invalid, &c.overload, &c.fcCount} {
		v.Store(0)
	}
	c.fcState.Store(0)
}

// ClearStats is corosync-cmapctl -C ipc: every open connection's
// counters and all the global ones start again from zero. Corosync
// 3.1.7 (cs_ipcs_clear_stats) zeroes its global stats record whole,
// global.active included although it is a gauge: it reads 0 with
// connections still open, and each of those that closes afterwards
// takes it one below zero (it is unsigned, so it wraps to 2^64-1). The
// same happens here, so that monitoring sees what it sees on Corosync.
func (s *Server) ClearStats() {
	s.active.Store(0)
	s.closed.Store(0)
	s.refused.Store(0)
	s.badHello.Store(0)
	for _, c := range s.Conns() {
		c.ctr.clear()
	}
}

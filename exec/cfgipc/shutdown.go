package cfgipc

import "github.com/ringfence/ringfence/ipc"

// tryShutdown starts a shutdown negotiation: every tracker but the
// requester is asked (TESTSHUTDOWN) and the answer is deferred until
// they all replied, went away, or the daemon calls ExpireShutdown.
func (h *Handler) tryShutdown(conn connID, flags uint32, reply func([]byte)) {
	if flags == ShutdownImmediate {
		reply(response(ResTryShutdown, 24, ipc.CsOK))
		h.sendShutdown(flags)
		return
	}
	if h.shut != nil {
		reply(response(ResTryShutdown, 24, ipc.CsErrExist))
		return
	}
	s := &shutdownState{requester: conn, reply: reply, flags: flags, waiting: map[connID]bool{}}
	h.shut = s
	for id := range h.trackers {
		if id == conn {
			continue
		}
		if sink := h.sinks[id]; sink != nil && sink.SendEvent(testShutdownEvent(flags, ipc.CsOK)) == nil {
			s.waiting[id] = true
		}
	}
	h.checkShutdown()
}

func testShutdownEvent(flags uint32, e ipc.CsError) []byte {
	ev := response(EvTestShutdown, 32, e)
	put32(ev, 24, flags)
	return ev
}

// replyToShutdown records one tracker's answer (1 yes, 0 no).
func (h *Handler) replyToShutdown(conn connID, answer uint32) {
	s := h.shut
	if s == nil || !s.waiting[conn] {
		return
	}
	delete(s.waiting, conn)
	if answer == 0 {
		s.no = true
	}
	h.checkShutdown()
}

// ShutdownPending reports whether a TRYSHUTDOWN waits for answers; the
// daemon calls ExpireShutdown after cfg.shutdown_timeout (5 s default).
func (h *Handler) ShutdownPending() bool { return h.shut != nil }

// ExpireShutdown counts trackers that did not answer as refusing (so
// only a REGARDLESS request goes ahead) and tells every tracker the
// question timed out, as Corosync's shutdown timer does.
func (h *Handler) ExpireShutdown() {
	s := h.shut
	if s == nil {
		return
	}
	if len(s.waiting) > 0 {
		s.no = true
	}
	clear(s.waiting)
	h.checkShutdown()
	for id := range h.trackers {
		if sink := h.sinks[id]; sink != nil {
			_ = sink.SendEvent(testShutdownEvent(s.flags, csErrTimeout))
		}
	}
}

func (h *Handler) checkShutdown() {
	s := h.shut
	if s == nil || len(s.waiting) > 0 {
		return
	}
	h.shut = nil
	if s.no && s.flags == ShutdownRequest {
		s.reply(response(ResTryShutdown, 24, ipc.CsErrBusy))
		return
	}
	s.reply(response(ResTryShutdown, 24, ipc.CsOK))
	h.sendShutdown(s.flags)
}

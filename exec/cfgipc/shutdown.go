package cfgipc

import "github.com/ringfence/ringfence/ipc"

// tryShutdown starts a shutdown negotiation: every tracker but the
// requester is asked (TESTSHUTDOWN) and the answer is deferred until
// they all replied, went away, or the daemon calls ExpireShutdown.
func (h *Handler) tryShutdown(conn connID, flags uint32, reply func([]byte)) {
	if h.shut != nil {
		reply(response(ResTryShutdown, 24, ipc.CsErrBusy))
		return
	}
	s := &shutdownState{requester: conn, reply: reply, flags: flags, waiting: map[connID]bool{}}
	h.shut = s
	if flags != ShutdownImmediate {
		for id := range h.trackers {
			if id == conn {
				continue
			}
			ev := response(EvTestShutdown, 32, ipc.CsOK)
			put32(ev, 24, flags)
			if sink := h.sinks[id]; sink != nil && sink.SendEvent(ev) == nil {
				s.waiting[id] = true
			}
		}
	}
	h.checkShutdown()
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

// ExpireShutdown treats trackers that did not answer as agreeing.
func (h *Handler) ExpireShutdown() {
	if h.shut != nil {
		clear(h.shut.waiting)
		h.checkShutdown()
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
	if h.cfg.Shutdown != nil {
		h.cfg.Shutdown(s.flags)
	}
}

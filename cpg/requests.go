package cpg

import (
	"slices"

	"github.com/ringfence/ringfence/exec"
	"github.com/ringfence/ringfence/ipc"
)

// Connect registers a new local client (cpg_lib_init_fn). Newer clients
// are notified before older ones, as in Corosync's list.
func (s *Service) Connect(id ClientID) {
	if _, ok := s.byID[id]; ok {
		return
	}
	c := &client{id: id}
	s.byID[id] = c
	s.clients = slices.Insert(s.clients, 0, c)
}

func (s *Service) client(id ClientID) *client { return s.byID[id] }

// Join handles CPG JOIN. On success a PROCJOIN is queued; the client is
// told about its own join (CONFCHG) when the message comes back.
func (s *Service) Join(id ClientID, group string, pid, flags uint32) ipc.CsError {
	c := s.client(id)
	if c == nil {
		return ipc.CsErrBadHandle
	}
	for _, o := range s.clients {
		if o.pid == pid && o.group == group {
			return ipc.CsErrExist
		}
	}
	// A leave of the same process may not be delivered yet.
	if s.findProc(group, pid, s.nodeID) >= 0 {
		return ipc.CsErrTryAgain
	}
	if len(group) > MaxNameLength {
		return ipc.CsErrNameTooLong
	}
	switch c.state {
	case stateLeaveStarted:
		return ipc.CsErrBusy
	case stateJoinStarted, stateJoinCompleted:
		return ipc.CsErrExist
	}
	c.state = stateJoinStarted
	c.pid, c.flags, c.group = pid, flags, group
	s.send((&ProcJoin{Group: group, PID: pid, Reason: ReasonJoin}).Encode())
	return csOK
}

// Leave handles CPG LEAVE. Like Corosync, the PROCLEAVE names the group
// and pid of the request, not those the client joined with.
func (s *Service) Leave(id ClientID, group string, pid uint32) ipc.CsError {
	c := s.client(id)
	if c == nil {
		return ipc.CsErrBadHandle
	}
	switch c.state {
	case stateUnjoined, stateLeaveStarted:
		return ipc.CsErrNotExist
	case stateJoinStarted:
		return ipc.CsErrBusy
	}
	if len(group) > MaxNameLength {
		return ipc.CsErrNameTooLong
	}
	c.state = stateLeaveStarted
	s.send((&ProcJoin{Leave: true, Group: group, PID: pid, Reason: ReasonLeave}).Encode())
	return csOK
}

// Mcast handles CPG MCAST (which has no IPC response: the error is only
// for logging). The message is queued as Corosync's two iovecs; data
// becomes the second one as it is, not copied (the IPC request is the
// handler's private copy), so the caller must not change it afterwards.
func (s *Service) Mcast(id ClientID, data []byte) ipc.CsError {
	c := s.client(id)
	if c == nil {
		return ipc.CsErrBadHandle
	}
	if c.state != stateJoinStarted && c.state != stateJoinCompleted {
		s.logf(exec.LevelError, "*** client %d can't mcast to group %s state:%d, error:%d", id, c.group, c.state, ipc.CsErrNotExist)
		return ipc.CsErrNotExist
	}
	m := &Mcast{Group: c.group, PID: c.pid, Source: Source{NodeID: s.nodeID, Conn: uint64(id)}, Data: data}
	s.msgs = append(s.msgs, exec.ServiceMessage(m.Encode()...))
	return csOK
}

// PartialMcast handles CPG PARTIAL_MCAST: one fragment of a large
// message, kept without a copy as Mcast keeps its data. A configuration change seen by the client since the first
// fragment interrupts the message (CS_ERR_INTERRUPT).
func (s *Service) PartialMcast(id ClientID, msgLen, typ uint32, fragment []byte) ipc.CsError {
	c := s.client(id)
	if c == nil {
		return ipc.CsErrBadHandle
	}
	err := csOK
	if c.state != stateJoinStarted && c.state != stateJoinCompleted {
		err = ipc.CsErrNotExist
	}
	if typ == PartialFirst {
		c.partialStart = c.transitions
	}
	if c.transitions != c.partialStart {
		err = csErrInterrupt
	}
	if err != csOK {
		s.logf(exec.LevelError, "*** client %d can't mcast to group %s state:%d, error:%d", id, c.group, c.state, err)
		return err
	}
	m := &PartialMcast{Group: c.group, MsgLen: msgLen, PID: c.pid, Type: typ,
		Source: Source{NodeID: s.nodeID, Conn: uint64(id)}, Data: fragment}
	s.msgs = append(s.msgs, exec.ServiceMessage(m.Encode()...))
	return csOK
}

// csErrInterrupt is CS_ERR_INTERRUPT.
const csErrInterrupt ipc.CsError = 16

// Membership answers CPG MEMBERSHIP: the group's processes in list order
// (reason 0).
func (s *Service) Membership(group string) []Address {
	var out []Address
	for _, p := range s.procs {
		if p.group == group {
			out = append(out, Address{NodeID: p.nodeID, PID: p.pid})
		}
	}
	return out
}

// LocalGet answers CPG LOCAL_GET.
func (s *Service) LocalGet() uint32 { return s.nodeID }

// Finalize handles CPG FINALIZE: the client gets no more callbacks; its
// connection closes next and Disconnect follows.
func (s *Service) Finalize(id ClientID) ipc.CsError {
	c := s.client(id)
	if c == nil {
		return ipc.CsErrBadHandle
	}
	c.finalized = true
	s.clients = slices.DeleteFunc(s.clients, func(o *client) bool { return o == c })
	return csOK
}

// Disconnect is cpg_lib_exit_fn: the connection is gone (closed, or the
// process died). A client still joined (or joining) is announced as
// leaving with reason PROCDOWN.
func (s *Service) Disconnect(id ClientID) {
	c := s.client(id)
	if c == nil {
		return
	}
	if c.group != "" && c.state != stateLeaveStarted {
		s.send((&ProcJoin{Leave: true, Group: c.group, PID: c.pid, Reason: ReasonProcDown}).Encode())
	}
	for _, h := range c.iterations {
		delete(s.iterations, h)
	}
	delete(s.byID, id)
	s.clients = slices.DeleteFunc(s.clients, func(o *client) bool { return o == c })
}

func (s *Service) send(b []byte) { s.msgs = append(s.msgs, exec.ServiceMessage(b)) }

// Iteration types of ITERATIONINITIALIZE.
const (
	IterNameOnly = 1
	IterOneGroup = 2
	IterAll      = 3
)

// IterItem is one answer of ITERATIONNEXT.
type IterItem struct {
	Group  string
	NodeID uint32
	PID    uint32
}

type iteration struct {
	owner ClientID
	items []IterItem
	next  int
}

// IterationInitialize snapshots the process list for an iteration and
// returns its handle. The order is Corosync's: each new group is put at
// the front, and within a group every process after the first is put
// right behind the first (so the rest come out reversed).
func (s *Service) IterationInitialize(id ClientID, typ uint32, group string) (uint64, ipc.CsError) {
	c := s.client(id)
	if c == nil {
		return 0, ipc.CsErrBadHandle
	}
	var items []IterItem
	for _, p := range s.procs {
		first := slices.IndexFunc(items, func(it IterItem) bool { return it.Group == p.group })
		switch typ {
		case IterNameOnly:
			if first >= 0 {
				continue
			}
		case IterOneGroup:
			if p.group != group {
				continue
			}
		}
		it := IterItem{Group: p.group, NodeID: p.nodeID, PID: p.pid}
		if typ == IterNameOnly {
			it.NodeID, it.PID = 0, 0
		}
		if first < 0 {
			items = slices.Insert(items, 0, it)
		} else {
			items = slices.Insert(items, first+1, it)
		}
	}
	s.nextHandle++
	h := s.nextHandle
	s.iterations[h] = &iteration{owner: id, items: items}
	c.iterations = append(c.iterations, h)
	return h, csOK
}

// IterationNext returns the next item, or CS_ERR_NO_SECTIONS at the end
// (CS_ERR_LIBRARY for an unknown handle).
func (s *Service) IterationNext(handle uint64) (IterItem, ipc.CsError) {
	it := s.iterations[handle]
	if it == nil {
		return IterItem{}, ipc.CsErrLibrary
	}
	if it.next >= len(it.items) {
		return IterItem{}, ipc.CsErrNoSections
	}
	it.next++
	return it.items[it.next-1], csOK
}

// IterationFinalize releases an iteration.
func (s *Service) IterationFinalize(handle uint64) ipc.CsError {
	it := s.iterations[handle]
	if it == nil {
		return ipc.CsErrLibrary
	}
	delete(s.iterations, handle)
	if c := s.client(it.owner); c != nil {
		c.iterations = slices.DeleteFunc(c.iterations, func(h uint64) bool { return h == handle })
	}
	return csOK
}

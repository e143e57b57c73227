package exec

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/ringfence/ringfence/totem/wire"
)

// syncPhase is Corosync's enum sync_state.
type syncPhase uint8

const (
	stateServiceListBuild syncPhase = iota // waiting for every member's SERVICE_BUILD
	stateProcess                           // the current service runs SyncProcess
	stateBarrier                           // waiting for every member's BARRIER (also: idle)
)

type syncEntry struct {
	id        int32
	name      string
	local     Syncer // nil for ids only peers run ("dummy" entries)
	activated bool
}

type syncProcessor struct {
	nodeID   uint32
	received bool
}

// syncState is the sync protocol's state (exec/sync.c plus main.c's
// sync_in_process).
type syncState struct {
	inProgress bool
	state      syncPhase
	ring       wire.RingID
	trans      []uint32 // last transitional membership, then ∩ members
	members    []uint32
	processors []syncProcessor
	services   []syncEntry
	idx        int
	pending    bool // scheduled SyncProcess work exists
}

// Pending reports whether Process has work: the current service's
// SyncProcess has not yet reported done. Corosync runs it as scheduled
// work, after the rest of the delivery batch; the daemon calls Process
// after each batch (and again later while Pending stays true, e.g. on
// the next token, because a service may be waiting for something).
func (e *Engine) Pending() bool { return e.sync.pending }

// SyncServices returns the ids the current sync processes, in order
// (local services plus ids only peers announced).
func (e *Engine) SyncServices() []int32 {
	ids := make([]int32, len(e.sync.services))
	for i, s := range e.sync.services {
		ids[i] = s.id
	}
	return ids
}

// localSyncers lists the registered services with sync callbacks in
// ascending id order, as sync_servicelist_build_enter finds them.
func (e *Engine) localSyncers() []syncEntry {
	var out []syncEntry
	for id, s := range e.services {
		if sy, ok := s.(Syncer); ok && s != nil {
			out = append(out, syncEntry{id: int32(id), name: s.Name(), local: sy})
		}
	}
	return out
}

func (e *Engine) syncStart(members []uint32, ring wire.RingID) {
	st := &e.sync
	st.ring = ring
	st.state = stateServiceListBuild
	st.members = slices.Clone(members)
	st.processors = st.processors[:0]
	for _, m := range members {
		st.processors = append(st.processors, syncProcessor{nodeID: m})
	}
	st.idx = 0
	st.pending = false
	st.services = e.localSyncers()

	build := ServiceBuild{Ring: ring}
	for _, s := range st.services {
		build.Services = append(build.Services, s.id)
	}
	e.Send(Message{Group: GroupSync, Iov: [][]byte{build.Encode()}})

	// sync_process_call_init: the saved transitional list, restricted to
	// the new members, goes to every local service's SyncInit.
	var trans []uint32
	for _, t := range st.trans {
		if slices.Contains(members, t) {
			trans = append(trans, t)
		}
	}
	st.trans = trans
	e.logf(LevelDebug, SubsysSync, "call init for locally known services")
	for _, s := range st.services {
		s.local.SyncInit(slices.Clone(trans), slices.Clone(members), ring)
	}
}

func (e *Engine) syncAbort() {
	st := &e.sync
	if st.state == stateProcess {
		st.pending = false
		if st.idx < len(st.services) && st.services[st.idx].local != nil {
			st.services[st.idx].local.SyncAbort()
		}
	}
	// A zero ring makes late barriers of the old ring harmless.
	st.ring = wire.RingID{}
}

// DeliverSync handles one complete group "sync" message from node from.
// The error reports a message that was ignored (undecodable or for
// another ring); it is counted and otherwise harmless.
func (e *Engine) DeliverSync(from uint32, msg []byte, swapped bool) error {
	_ = swapped // sync.c never converts byte order; see DecodeSync
	m, err := DecodeSync(msg)
	if err != nil {
		e.counters.SyncMalformed++
		return err
	}
	switch m := m.(type) {
	case *ServiceBuild:
		return e.onServiceBuild(from, m)
	case *Barrier:
		return e.onBarrier(from, m)
	}
	return nil
}

func (e *Engine) markReceived(from uint32) bool {
	st := &e.sync
	all := true
	for i := range st.processors {
		if st.processors[i].nodeID == from {
			st.processors[i].received = true
		}
		all = all && st.processors[i].received
	}
	return all
}

func (e *Engine) onServiceBuild(from uint32, m *ServiceBuild) error {
	st := &e.sync
	if m.Ring != st.ring {
		e.counters.SyncOldRing++
		e.logf(LevelDebug, SubsysSync, "service build for old ring - discarding")
		return fmt.Errorf("exec: service build from %d for ring %s, current %s", from, m.Ring, st.ring)
	}
	added := false
	for _, id := range m.Services {
		if slices.ContainsFunc(st.services, func(s syncEntry) bool { return s.id == id }) {
			continue
		}
		if len(st.services) >= MaxServices {
			// Corosync's table holds SERVICES_COUNT_MAX entries and
			// would overrun; we refuse to grow past it.
			e.logf(LevelWarning, SubsysSync, "service build from %d lists too many services; ignoring id %d", from, id)
			continue
		}
		st.services = append(st.services, syncEntry{id: id, name: fmt.Sprintf("Unknown External Service (id = %d)", id)})
		added = true
	}
	if added {
		slices.SortStableFunc(st.services, func(a, b syncEntry) int { return cmp.Compare(a.id, b.id) })
	}
	if e.markReceived(from) {
		e.logf(LevelDebug, SubsysSync, "enter sync process")
		e.syncProcessEnter()
	}
	return nil
}

func (e *Engine) onBarrier(from uint32, m *Barrier) error {
	st := &e.sync
	if m.Ring != st.ring {
		e.counters.SyncOldRing++
		e.logf(LevelDebug, SubsysSync, "barrier for old ring - discarding")
		return fmt.Errorf("exec: barrier from %d for ring %s, current %s", from, m.Ring, st.ring)
	}
	if st.idx >= len(st.services) {
		// Nothing is being synchronised (Corosync would read past its
		// table here); a peer's stray barrier changes nothing.
		return fmt.Errorf("exec: barrier from %d with no service in sync", from)
	}
	if !e.markReceived(from) {
		return nil
	}
	cur := &st.services[st.idx]
	e.logf(LevelDebug, SubsysSync, "Committing synchronization for %s", cur.name)
	cur.activated = true
	if cur.local != nil {
		cur.local.SyncActivate()
	}
	st.idx++
	if st.idx == len(st.services) {
		e.syncCompleted()
	} else {
		e.syncProcessEnter()
	}
	return nil
}

func (e *Engine) syncProcessEnter() {
	st := &e.sync
	st.state = stateProcess
	if len(st.services) == 0 {
		st.state = stateServiceListBuild
		e.syncCompleted()
		return
	}
	for i := range st.processors {
		st.processors[i].received = false
	}
	st.pending = true
}

// Process runs the scheduled sync work: the current service's
// SyncProcess, and the BARRIER once it reports done.
func (e *Engine) Process() {
	st := &e.sync
	if !st.pending {
		return
	}
	if st.idx >= len(st.services) || st.services[st.idx].activated {
		st.pending = false
		return
	}
	done := true
	if s := st.services[st.idx].local; s != nil {
		var msgs []Message
		done, msgs = s.SyncProcess()
		e.Send(msgs...)
	}
	if !done {
		return
	}
	st.pending = false
	st.state = stateBarrier
	e.Send(Message{Group: GroupSync, Iov: [][]byte{(&Barrier{Ring: st.ring}).Encode()}})
}

func (e *Engine) syncCompleted() {
	e.sync.inProgress = false
	e.sync.pending = false
	e.out.SyncCompleted = true
	e.logf(LevelNotice, SubsysMain, "Completed service synchronization, ready to provide service.")
}

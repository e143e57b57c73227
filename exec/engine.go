package exec

import (
	"errors"
	"fmt"
	"slices"

	"github.com/ringfence/ringfence/cmap"
	"github.com/ringfence/ringfence/totem/wire"
)

// Subsystem names used in log lines.
const (
	SubsysMain = "MAIN"
	SubsysSync = "SYNC"
)

// Log levels of LogLine, as syslog numbers them.
const (
	LevelError   = 3
	LevelWarning = 4
	LevelNotice  = 5
	LevelInfo    = 6
	LevelDebug   = 7
)

// LogLine is a log message the engine wants printed; the daemon logs it
// with logrus under field subsys=Subsys.
type LogLine struct {
	Level  int
	Subsys string
	Text   string
}

// Ready is what the engine produced since the last call to Ready.
type Ready struct {
	// Messages to multicast, in this order.
	Messages []Message
	// SyncCompleted is set when the sync of a ring finished: the daemon
	// now accepts IPC connections, lets flow-controlled IPC requests
	// through again and releases totempg's held messages (trans_ack).
	SyncCompleted bool
	Logs          []LogLine
}

// Counters are the engine's drop counters (per-fn rx/tx are separate).
type Counters struct {
	Delivered      uint64 // group "a" messages handed to a service
	Short          uint64 // shorter than the exec header
	UnknownService uint64 // no such service registered
	UnknownFn      uint64 // fn ≥ the service's exec handler count
	Malformed      uint64 // the service's decoder rejected it
	SyncMalformed  uint64 // undecodable group "sync" message
	SyncOldRing    uint64 // sync message for another ring, ignored
}

// Engine registers services, dispatches their exec messages and runs the
// sync protocol. It is not safe for concurrent use.
type Engine struct {
	nodeID   uint32
	services [MaxServices]Service
	rx, tx   [MaxServices][]uint64
	counters Counters
	out      Ready
	sync     syncState

	memberStore *cmap.Store
	ifaces      func(uint32) string
}

// NewEngine returns an engine for the local node nodeID.
func NewEngine(nodeID uint32) *Engine {
	e := &Engine{nodeID: nodeID}
	e.sync.state = stateBarrier // Corosync's initial my_state
	return e
}

// NodeID returns the local node id.
func (e *Engine) NodeID() uint32 { return e.nodeID }

// Register adds a service. Registering two services with one id, or an
// id beyond MaxServices, is an error.
func (e *Engine) Register(s Service) error {
	id := s.ID()
	if int(id) >= MaxServices {
		return fmt.Errorf("exec: service id %d out of range", id)
	}
	if e.services[id] != nil {
		return fmt.Errorf("exec: service id %d registered twice", id)
	}
	if s.ExecCount() < 0 || s.ExecCount() > 0xffff {
		return fmt.Errorf("exec: service %d has a bad exec handler count %d", id, s.ExecCount())
	}
	e.services[id] = s
	e.rx[id] = make([]uint64, s.ExecCount())
	e.tx[id] = make([]uint64, s.ExecCount())
	return nil
}

// Service returns the registered service with id, or nil.
func (e *Engine) Service(id ServiceID) Service {
	if int(id) >= MaxServices {
		return nil
	}
	return e.services[id]
}

// Counters returns the drop counters.
func (e *Engine) Counters() Counters { return e.counters }

// RxCount and TxCount return the per-fn counters of a service.
func (e *Engine) RxCount(id ServiceID, fn uint16) uint64 { return counterAt(e.rx, id, fn) }

// TxCount returns how many messages of service id, fn were sent.
func (e *Engine) TxCount(id ServiceID, fn uint16) uint64 { return counterAt(e.tx, id, fn) }

func counterAt(c [MaxServices][]uint64, id ServiceID, fn uint16) uint64 {
	if int(id) >= MaxServices || int(fn) >= len(c[id]) {
		return 0
	}
	return c[id][fn]
}

// ErrDropped wraps the reason a group "a" message was not handed to a
// service.
var ErrDropped = errors.New("exec: message dropped")

// DeliverServices handles one complete group "a" message from node from
// (Corosync's deliver_fn): it is counted and handed to its service.
func (e *Engine) DeliverServices(from uint32, msg []byte, swapped bool) error {
	h, err := DecodeHeader(msg, swapped)
	if err != nil {
		e.counters.Short++
		return fmt.Errorf("%w: %w", ErrDropped, err)
	}
	svcID, fn := h.Service(), h.Fn()
	s := e.Service(svcID)
	if s == nil {
		e.counters.UnknownService++
		return fmt.Errorf("%w: unknown service %d", ErrDropped, svcID)
	}
	if int(fn) >= s.ExecCount() {
		e.counters.UnknownFn++
		e.logf(LevelWarning, SubsysMain, "discarded unknown message %d for service %d (max id %d)", fn, svcID, s.ExecCount())
		return fmt.Errorf("%w: unknown fn %d for service %d", ErrDropped, fn, svcID)
	}
	e.rx[svcID][fn]++
	if err := s.Deliver(from, fn, msg, swapped); err != nil {
		e.counters.Malformed++
		return fmt.Errorf("%w: service %s fn %d: %w", ErrDropped, svcID.ShortName(), fn, err)
	}
	e.counters.Delivered++
	return nil
}

// Send queues messages for multicast and counts the group "a" ones as
// Corosync's main_mcast does (tx counters of registered services).
func (e *Engine) Send(msgs ...Message) {
	for _, m := range msgs {
		if m.Group == GroupServices && len(m.Iov) > 0 {
			if h, err := DecodeHeader(m.Iov[0], false); err == nil {
				id, fn := h.Service(), h.Fn()
				if int(id) < MaxServices && int(fn) < len(e.tx[id]) {
					e.tx[id][fn]++
				}
			}
		}
		e.out.Messages = append(e.out.Messages, m)
	}
}

// Ready returns and clears what the engine produced.
func (e *Engine) Ready() Ready {
	r := e.out
	e.out = Ready{}
	return r
}

// PublishStats writes runtime.services.<name>.service_id and
// runtime.services.<name>.<fn>.rx/.tx for every registered service.
func (e *Engine) PublishStats(s *cmap.Store) error {
	var errs []error
	for id, svc := range e.services {
		if svc == nil {
			continue
		}
		prefix := "runtime.services." + ServiceID(id).ShortName() + "."
		errs = append(errs, s.Set(prefix+"service_id", cmap.U16(uint16(id))))
		for fn := range e.rx[id] {
			errs = append(errs,
				s.Set(fmt.Sprintf("%s%d.rx", prefix, fn), cmap.U64(e.rx[id][fn])),
				s.Set(fmt.Sprintf("%s%d.tx", prefix, fn), cmap.U64(e.tx[id][fn])))
		}
	}
	return errors.Join(errs...)
}

// ConfChg handles a configuration change from totem (Corosync's
// confchg_fn): services with a ConfChgHandler see it, a sync in progress
// is aborted, a transitional list is saved for the next SyncInit and a
// regular change starts a new sync.
func (e *Engine) ConfChg(c ConfChg) {
	abort := e.sync.inProgress
	e.sync.inProgress = true
	e.memberObjects(c)
	for _, s := range e.services {
		if h, ok := s.(ConfChgHandler); ok && s != nil {
			h.ConfChg(c)
		}
	}
	if abort {
		e.syncAbort()
	}
	switch c.Kind {
	case Transitional:
		e.sync.trans = slices.Clone(c.Members)
	case Regular:
		e.syncStart(c.Members, c.Ring)
	}
}

// InSync reports whether a sync is in progress (Corosync's
// sync_in_process): the IPC layer answers flow-controlled requests with
// CS_ERR_TRY_AGAIN meanwhile.
func (e *Engine) InSync() bool { return e.sync.inProgress }

// Ring returns the ring of the current (or last) sync.
func (e *Engine) Ring() wire.RingID { return e.sync.ring }

func (e *Engine) logf(level int, subsys, format string, args ...any) {
	e.out.Logs = append(e.out.Logs, LogLine{Level: level, Subsys: subsys, Text: fmt.Sprintf(format, args...)})
}

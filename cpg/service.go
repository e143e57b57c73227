package cpg

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/ringfence/ringfence/exec"
	"github.com/ringfence/ringfence/ipc"
	"github.com/ringfence/ringfence/totem/wire"
)

// FlagDeliverInitialTotemConf is CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF:
// the client wants one TOTEM_CONFCHG right after its first confchg.
const FlagDeliverInitialTotemConf = 1

// clientState is enum cpd_state.
type clientState uint8

const (
	stateUnjoined clientState = iota
	stateLeaveStarted
	stateJoinStarted
	stateJoinCompleted
)

type client struct {
	id                   ClientID
	group                string
	pid                  uint32
	state                clientState
	flags                uint32
	initialTotemConfSent bool
	transitions          uint64 // confchgs sent (transition_counter)
	partialStart         uint64 // transitions when the partial message began
	finalized            bool   // FINALIZE seen: no more callbacks
	iterations           []uint64
}

type process struct {
	nodeID uint32
	pid    uint32
	group  string
}

type joinlistEntry struct {
	sender uint32
	pid    uint32
	group  string
}

// Service is the CPG service of one node. Create it with New, register
// it with the exec engine, and drive it through the methods below. It is
// not safe for concurrent use.
type Service struct {
	nodeID uint32
	// procs is the cluster-wide process list, sorted by (node, pid);
	// a process joined to several groups appears once per group.
	procs []process
	// clients in Corosync's cpg_pd list order: newest connection first.
	clients []*client
	byID    map[ClientID]*client

	members, oldMembers []uint32
	ring                wire.RingID // last_sync_ring_id
	sendDownlist        bool        // sync state: DOWNLIST not yet sent
	downlist            Downlist    // kept across syncs, as Corosync's static buffer
	joinlists           []joinlistEntry

	iterations map[uint64]*iteration
	nextHandle uint64

	events []Event
	msgs   []exec.Message
	logs   []exec.LogLine
}

// New returns the CPG service of node nodeID.
func New(nodeID uint32) *Service {
	return &Service{nodeID: nodeID, byID: map[ClientID]*client{}, iterations: map[uint64]*iteration{}, sendDownlist: true}
}

// Ready is what the service produced since the last call.
type Ready struct {
	Events   []Event        // callbacks, in delivery order
	Messages []exec.Message // exec messages to multicast (group "a")
	Logs     []exec.LogLine
}

// Ready returns and clears the service's output.
func (s *Service) Ready() Ready {
	r := Ready{Events: s.events, Messages: s.msgs, Logs: s.logs}
	s.events, s.msgs, s.logs = nil, nil, nil
	return r
}

func (s *Service) logf(level int, format string, args ...any) {
	s.logs = append(s.logs, exec.LogLine{Level: level, Subsys: "CPG", Text: fmt.Sprintf(format, args...)})
}

// --- exec.Service -----------------------------------------------------

// ID implements exec.Service.
func (s *Service) ID() exec.ServiceID { return ServiceID }

// Name implements exec.Service.
func (s *Service) Name() string { return "corosync cluster closed process group service v1.01" }

// ExecCount implements exec.Service.
func (s *Service) ExecCount() int { return execCount }

// Deliver implements exec.Service: one cpg exec message in agreed order.
func (s *Service) Deliver(from uint32, fn uint16, msg []byte, swapped bool) error {
	switch fn {
	case FnProcJoin, FnProcLeave:
		m, err := DecodeProcJoin(msg, fn, swapped)
		if err != nil {
			return err
		}
		if m.Leave {
			s.logf(exec.LevelDebug, "got procleave message from cluster node %d for pid %d", from, m.PID)
			s.procLeave(m.Group, m.PID, from, m.Reason)
		} else {
			s.logf(exec.LevelDebug, "got procjoin message from cluster node %d for pid %d", from, m.PID)
			s.procJoin(m.Group, m.PID, from, ReasonJoin, nil)
		}
	case FnJoinList:
		m, err := DecodeJoinList(msg, swapped)
		if err != nil {
			return err
		}
		s.logf(exec.LevelDebug, "got joinlist message from node %d", from)
		for _, e := range m.Entries {
			s.joinlists = append(s.joinlists, joinlistEntry{sender: from, pid: e.PID, group: e.Group})
		}
	case FnMcast:
		m, err := DecodeMcast(msg, swapped)
		if err != nil {
			return err
		}
		s.deliverMcast(from, m.Group, Event{Kind: EventDeliver, PID: m.PID, Data: m.Data, MsgLen: uint32(len(m.Data))})
	case FnPartialMcast:
		m, err := DecodePartialMcast(msg, swapped)
		if err != nil {
			return err
		}
		s.deliverMcast(from, m.Group, Event{Kind: EventPartialDeliver, PID: m.PID, Data: m.Data, MsgLen: m.MsgLen, Type: m.Type})
	case FnDownlistOld:
		s.logf(exec.LevelDebug, "downlist OLD from node %d", from)
	case FnDownlist:
		m, err := DecodeDownlist(msg, swapped)
		if err != nil {
			return err
		}
		s.logf(exec.LevelDebug, "downlist left_list: %d received", m.Count)
	default:
		return malformed("fn %d", fn)
	}
	return nil
}

// --- the process list ---------------------------------------------------

func (s *Service) findProc(group string, pid, node uint32) int {
	return slices.IndexFunc(s.procs, func(p process) bool { return p.pid == pid && p.nodeID == node && p.group == group })
}

// nodeInGroup reports whether node has a process in group.
func (s *Service) nodeInGroup(node uint32, group string) bool {
	return slices.ContainsFunc(s.procs, func(p process) bool { return p.nodeID == node && p.group == group })
}

// insertProc adds p after every entry that does not sort after it.
func (s *Service) insertProc(p process) {
	i := 0
	for i < len(s.procs) {
		q := s.procs[i]
		if q.nodeID > p.nodeID || (q.nodeID == p.nodeID && q.pid > p.pid) {
			break
		}
		i++
	}
	s.procs = slices.Insert(s.procs, i, p)
}

// joinBatch collects NODEUP joins per group during sync activation.
type joinBatch map[string]*groupAddrs

type groupAddrs struct {
	group string
	addrs []Address
}

// procJoin is do_proc_join: add the process (once) and either tell the
// group's clients now or collect the join into batch.
func (s *Service) procJoin(group string, pid, node, reason uint32, batch joinBatch) {
	if s.findProc(group, pid, node) >= 0 {
		return
	}
	s.insertProc(process{nodeID: node, pid: pid, group: group})
	a := Address{NodeID: node, PID: pid, Reason: reason}
	if batch == nil {
		s.notifyConfchg(group, []Address{a}, nil)
		return
	}
	k := mapKey(group)
	g := batch[k]
	if g == nil {
		g = &groupAddrs{group: group}
		batch[k] = g
	}
	g.addrs = append(g.addrs, a)
}

// procLeave is do_proc_leave: tell the group's clients (even when the
// process is unknown, as Corosync does), then forget the process.
func (s *Service) procLeave(group string, pid, node, reason uint32) {
	s.notifyConfchg(group, nil, []Address{{NodeID: node, PID: pid, Reason: reason}})
	s.procs = slices.DeleteFunc(s.procs, func(p process) bool { return p.pid == pid && p.nodeID == node && p.group == group })
}

// mapKey is the key Corosync's per-group maps use: the name as a C
// string, so it ends at the first NUL.
func mapKey(group string) string {
	if i := bytes.IndexByte([]byte(group), 0); i >= 0 {
		return group[:i]
	}
	return group
}

// sortedBatch returns a batch's groups in qb_skiplist (strcmp) order.
func sortedBatch(b joinBatch) []*groupAddrs {
	keys := make([]string, 0, len(b))
	for k := range b {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]*groupAddrs, len(keys))
	for i, k := range keys {
		out[i] = b[k]
	}
	return out
}

// notifyConfchg is notify_lib_joinlist: one CONFCHG to every client of
// the group that is joined (or leaving), then the initial TOTEM_CONFCHG
// to clients that asked for it and did not get it yet.
func (s *Service) notifyConfchg(group string, joined, left []Address) {
	var members []Address
	for _, p := range s.procs {
		if p.group != group {
			continue
		}
		if slices.ContainsFunc(left, func(a Address) bool { return a.NodeID == p.nodeID && a.PID == p.pid }) {
			continue
		}
		members = append(members, Address{NodeID: p.nodeID, PID: p.pid})
	}
	for _, j := range joined {
		if j.NodeID != s.nodeID {
			continue
		}
		for _, c := range s.clients {
			if c.pid == j.PID && c.group == group {
				c.state = stateJoinCompleted
			}
		}
	}
	for _, c := range s.clients {
		if c.group == group && (c.state == stateJoinCompleted || c.state == stateLeaveStarted) {
			s.events = append(s.events, Event{Client: c.id, Kind: EventConfchg, Group: group,
				Members: slices.Clone(members), Left: slices.Clone(left), Joined: slices.Clone(joined)})
			c.transitions++
		}
	}
	// Corosync means to reset local clients that left here, but its loop
	// runs over the joined count, so with a left list alone it never
	// does: a client that left stays LEAVE_STARTED. Reproduced.
	for _, c := range s.clients {
		if c.flags&FlagDeliverInitialTotemConf != 0 && !c.initialTotemConfSent {
			c.initialTotemConfSent = true
			s.totemConfchg(c, s.oldMembers)
		}
	}
}

func (s *Service) totemConfchg(c *client, nodes []uint32) {
	s.events = append(s.events, Event{Client: c.id, Kind: EventTotemConfchg, Ring: s.ring, Nodes: slices.Clone(nodes)})
}

// deliverMcast hands a (partial) message to every client joined to the
// group, provided the sending node has a process in it. Corosync stops
// at the first eligible client when the node is unknown.
// deliverMcast queues ev for every local client of group. ev.Data aliases
// the delivered message: it is copied once, and only when some client
// gets it (a node without members of the group copies nothing), and the
// clients' events share that copy.
func (s *Service) deliverMcast(from uint32, group string, ev Event) {
	known := false
	for _, c := range s.clients {
		if (c.state != stateLeaveStarted && c.state != stateJoinCompleted) || c.group != group {
			continue
		}
		if !known && !s.nodeInGroup(from, group) {
			s.logf(exec.LevelWarning, "Unknown node -> we will not deliver message")
			return
		}
		if !known {
			ev.Data = bytes.Clone(ev.Data)
		}
		known = true
		e := ev
		e.Client, e.Group, e.NodeID = c.id, group, from
		s.events = append(s.events, e)
	}
}

var _ exec.Service = (*Service)(nil)
var _ exec.Syncer = (*Service)(nil)

// csOK is a shorthand used by the request methods.
const csOK = ipc.CsOK

package votequorum

import (
	"fmt"
	"time"
)

// node is one entry of the node table (corosync's struct cluster_node).
type node struct {
	id       uint32
	state    NodeState
	votes    uint32
	expected uint32
	flags    uint32
}

// Machine is one node's votequorum state. It is not safe for concurrent
// use; one goroutine (the daemon's event loop or the simulator) owns it.
type Machine struct {
	cfg Config

	// nodes is the node table in corosync's list order (see addNode); it
	// holds us but not the quorum device.
	nodes   []*node
	us      *node
	qdevice *node

	quorum  uint32
	quorate bool

	twoNode         bool
	waitForAll      bool
	wfaAutoset      bool
	wfaStatus       bool
	atb             ATBType
	initialATB      ATBType
	atbList         []uint32
	lowestNodeID    int64 // -1 until first quorate
	highestNodeID   int64
	lms             bool
	lmsWindow       time.Duration
	allowDownscale  bool
	evBarrier       uint32
	evTracking      bool
	evTrackingValue uint32

	qdeviceName        string
	qdeviceTimeout     time.Duration
	qdeviceSyncTimeout time.Duration
	qdeviceCanOperate  bool
	qdeviceMasterWins  bool
	qdeviceRegPending  bool

	// timers: deadline plus corosync's "timer set" flags, which do not
	// always follow the timer (see fireQdeviceTimer).
	now               time.Time
	lmsDeadline       time.Time
	lmsTimerSet       bool
	qdeviceDeadline   time.Time
	qdeviceTimerArmed bool
	qdeviceTimerSet   bool

	syncInProgress   bool
	syncNodeinfoSent bool
	syncWaitForPoll  bool

	members     []uint32 // quorum_members: the current ring
	prevMembers []uint32
	ringID      RingID

	// primaryDesignated mirrors the quorum service's flag so that the
	// machine can log its transitions.
	primaryDesignated bool

	runtime map[string]RuntimeValue
	// runtimeGen counts changes of runtime (see RuntimeGen).
	runtimeGen uint64
	out        Ready
}

// New builds the machine from configuration as corosync's votequorum
// exec_init does: it validates the settings (returning corosync's startup
// error), computes the first quorum and queues this node's first NODEINFO.
// now is the virtual time of start; timers are measured from the times
// given to Tick.
func New(cfg Config, now time.Time) (*Machine, error) {
	if cfg.NodeID == QdeviceNodeID {
		return nil, ErrNodeIDZero
	}
	m := &Machine{
		cfg:                cfg,
		lowestNodeID:       -1,
		highestNodeID:      -1,
		lmsWindow:          DefaultLMSWindowMS * time.Millisecond,
		qdeviceTimeout:     DefaultQdeviceTimeoutMS * time.Millisecond,
		qdeviceSyncTimeout: DefaultQdeviceSyncTimeoutMS * time.Millisecond,
		qdeviceCanOperate:  true,
		now:                now,
		runtime:            map[string]RuntimeValue{},
	}
	m.qdevice = &node{id: QdeviceNodeID}
	m.us = m.addNode(cfg.NodeID)
	m.setRuntimeU32("runtime.votequorum.this_node_id", cfg.NodeID)
	m.us.state = StateMember
	m.us.votes = 1
	m.us.flags |= NodeFlagFirst

	if err := m.readConfig(cfg, false); err != nil {
		return nil, err
	}
	m.recalculate(false, false)
	m.sendNodeInfo(m.us.id)
	return m, nil
}

// Ready returns and clears the pending output.
func (m *Machine) Ready() Ready {
	r := m.out
	m.out = Ready{}
	return r
}

// addNode creates a node table entry. Corosync inserts before the first
// node with a higher id, but when there is none it inserts before the last
// node rather than after it, so the table (and the node list in quorum
// notifications) is not always sorted: 1 then 2 then 3 gives [2 3 1]. We
// keep that order because clients see it.
func (m *Machine) addNode(id uint32) *node {
	n := &node{id: id}
	if id == QdeviceNodeID {
		return n
	}
	pos := -1
	for i, e := range m.nodes {
		if int32(id) < int32(e.id) {
			pos = i
			break
		}
	}
	if pos < 0 {
		pos = len(m.nodes) - 1
		if pos < 0 {
			pos = 0
		}
	}
	m.nodes = append(m.nodes, nil)
	copy(m.nodes[pos+1:], m.nodes[pos:])
	m.nodes[pos] = n
	return n
}

// findNode looks a node up like corosync: 0 is the quorum device.
func (m *Machine) findNode(id uint32) *node {
	if id == m.us.id {
		return m.us
	}
	if id == QdeviceNodeID {
		return m.qdevice
	}
	for _, n := range m.nodes {
		if n.id == id {
			return n
		}
	}
	return nil
}

func (m *Machine) logf(line LogLine, args ...any) {
	if len(args) > 0 {
		line.Text = fmt.Sprintf(line.Text, args...)
	}
	m.out.Logs = append(m.out.Logs, line)
}

func (m *Machine) send(msg Message) { m.out.Messages = append(m.out.Messages, msg) }

// sendNodeInfo queues a NODEINFO for a node we know (us or the device).
//
// A quorum device NODEINFO always directly follows one for this node:
// corosync 3.1.7 asserts (votequorum.c:2123, sender_node != NULL) when a
// device NODEINFO arrives from a sender it has never had a NODEINFO from,
// and it can: queued messages survive a membership change, so the device
// half of an interrupted sync, or the pair sent when our device's
// registration is delivered (device first, as corosync orders it), can be
// the first thing of ours a node that just joined receives. Our own
// NODEINFO in front (the driver keeps the two in one totem packet) makes
// the device NODEINFO self-contained wherever it is delivered. Sync and
// reload already send that order; this only adds one before a device
// NODEINFO that would lack it.
func (m *Machine) sendNodeInfo(id uint32) {
	n := m.findNode(id)
	if n == nil {
		return
	}
	if id == QdeviceNodeID && !m.lastQueuedIsOwnNodeInfo() {
		m.sendNodeInfo(m.us.id)
	}
	m.send(NodeInfo{NodeID: id, Votes: n.votes, ExpectedVotes: n.expected, Flags: n.flags})
}

func (m *Machine) lastQueuedIsOwnNodeInfo() bool {
	q := m.out.Messages
	if len(q) == 0 {
		return false
	}
	ni, ok := q[len(q)-1].(NodeInfo)
	return ok && ni.NodeID == m.us.id
}

func (m *Machine) updateWFAStatus(on bool) {
	m.wfaStatus = on
	if on {
		m.us.flags |= NodeFlagWFAStatus
	} else {
		m.us.flags &^= NodeFlagWFAStatus
	}
	m.setRuntimeU8("runtime.votequorum.wait_for_all_status", on)
}

func (m *Machine) updateEVBarrier(v uint32) {
	m.evBarrier = v
	m.setRuntimeU32("runtime.votequorum.ev_barrier", v)
}

func (m *Machine) updateQdeviceCanOperate(on bool) {
	m.qdeviceCanOperate = on
	m.setRuntimeU8("runtime.votequorum.qdevice_can_operate", on)
}

func (m *Machine) updateQdeviceMasterWins(on bool) {
	m.qdeviceMasterWins = on
	m.setRuntimeU8("runtime.votequorum.qdevice_master_wins", on)
}

func (m *Machine) updateEVTrackingBarrier(v uint32) {
	m.evTrackingValue = v
	m.setRuntimeU32("runtime.votequorum.ev_tracking_barrier", v)
	if m.cfg.EVStore == nil {
		return
	}
	if err := m.cfg.EVStore.Save(v); err != nil {
		m.logf(LogLine{Level: levelWarn, Subsys: SubsysVotequorum, Text: "Unable to update ev_tracking_barrier on disk data!!!"})
	}
}

func (m *Machine) setATBType(t ATBType) {
	m.atb = t
	m.setRuntimeU32("runtime.votequorum.atb_type", uint32(t))
}

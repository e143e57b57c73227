package votequorum

import (
	"fmt"
	"time"
)

// The commands below are what the votequorum IPC handlers and the cmap
// triggers ask of the machine. Each returns the status corosync would send
// back; any exec messages they need are queued in Ready. Like corosync,
// they change the local view only as far as corosync does before the
// message comes back.

// SetExpected is SETEXPECTED (corosync-quorumtool -e). It is refused when
// the value is below the votes present, or when it would leave a quorate
// cluster without quorum.
func (m *Machine) SetExpected(expected uint32) Status {
	// allow_downscale must not hide a too-low value behind ev_barrier.
	saved := m.allowDownscale
	m.allowDownscale = false
	newQuorum, total := m.calculateQuorum(true, expected)
	m.allowDownscale = saved
	if expected < total || (m.quorate && newQuorum > total) {
		return ErrInvalidParam
	}
	m.updateNodeExpected(expected)
	m.send(Reconfigure{NodeID: m.us.id, Value: expected, Param: ParamExpectedVotes})
	return OK
}

// SetVotes is SETVOTES (corosync-quorumtool -v votes -n nodeid). The new
// quorum must lie between half the resulting votes and all of them. As in
// corosync, an accepted value is already in the local node table before
// the RECONFIGURE comes back.
func (m *Machine) SetVotes(nodeID, votes uint32) Status {
	n := m.findNode(nodeID)
	if n == nil {
		return ErrNameNotFound
	}
	saved := n.votes
	n.votes = votes
	newQuorum, total := m.calculateQuorum(true, 0)
	if newQuorum < total/2 || newQuorum > total {
		n.votes = saved
		return ErrInvalidParam
	}
	m.send(Reconfigure{NodeID: nodeID, Value: votes, Param: ParamNodeVotes})
	return OK
}

// CancelWaitForAll is what setting quorum.cancel_wait_for_all does: every
// node drops its wait_for_all status when the message is delivered.
// Corosync resets the key to 0 from inside its change callback, and that
// nested change runs an ordinary runtime config reload first (re-sending
// NODEINFO for us and the device, rewriting atb_type), so we do the same;
// the daemon must not reset the key through a path that reloads again.
func (m *Machine) CancelWaitForAll() {
	m.ReloadConfig(m.cfg)
	m.send(Reconfigure{NodeID: m.us.id, Value: 0, Param: ParamCancelWFA})
}

// Leave is called on clean shutdown (exec_exit). With allow_downscale the
// node announces itself LEAVING so that the others lower expected votes.
func (m *Machine) Leave() {
	if m.allowDownscale {
		m.us.flags |= NodeFlagLeaving
		m.sendNodeInfo(m.us.id)
	}
}

func validName(name string) bool { return len(name) < QdeviceMaxNameLen }

// QdeviceRegister is QDEVICE_REGISTER. pending is true when the answer
// waits for the QDEVICE_REG message to come back through Deliver; it then
// arrives in Ready.RegisterReplies.
func (m *Machine) QdeviceRegister(name string) (status Status, pending bool) {
	if !validName(name) {
		return ErrInvalidParam, false
	}
	if !m.qdeviceCanOperate {
		m.logf(LogLine{Level: levelInfo, Subsys: SubsysVotequorum,
			Text: "Registration of quorum device is disabled by incorrect corosync.conf. See logs for more information"})
		return ErrAccess, false
	}
	if m.us.flags&NodeFlagQdeviceRegistered != 0 {
		if name == m.qdeviceName {
			return OK, false
		}
		m.logf(LogLine{Level: levelWarn, Subsys: SubsysVotequorum,
			Text: fmt.Sprintf("A new qdevice with different name (new: %s old: %s) is trying to re-register!", name, m.qdeviceName)})
		return ErrExist, false
	}
	if m.qdeviceRegPending {
		m.logf(LogLine{Level: levelWarn, Subsys: SubsysVotequorum, Text: "Registration request already in progress"})
		return ErrTryAgain, false
	}
	m.qdeviceRegPending = true
	m.send(QdeviceReg{Operation: QdeviceOpRegister, Name: name})
	return OK, true
}

// QdeviceUnregister is QDEVICE_UNREGISTER.
func (m *Machine) QdeviceUnregister(name string) Status {
	if m.us.flags&NodeFlagQdeviceRegistered == 0 {
		return ErrNotExist
	}
	if name != m.qdeviceName {
		return ErrInvalidParam
	}
	if m.qdeviceTimerSet {
		m.qdeviceTimerArmed = false
		m.qdeviceTimerSet = false
		m.syncWaitForPoll = false
	}
	m.us.flags &^= NodeFlagQdeviceRegistered | NodeFlagQdeviceAlive | NodeFlagQdeviceCastVote | NodeFlagQdeviceMasterWins
	m.sendNodeInfo(m.us.id)
	m.send(QdeviceReg{Operation: QdeviceOpUnregister, Name: name})
	return OK
}

// QdeviceUpdate is QDEVICE_UPDATE (rename).
func (m *Machine) QdeviceUpdate(oldName, newName string) Status {
	if m.us.flags&NodeFlagQdeviceRegistered == 0 {
		return ErrNotExist
	}
	if oldName != m.qdeviceName || !validName(newName) {
		return ErrInvalidParam
	}
	m.send(QdeviceReconfigure{OldName: oldName, NewName: newName})
	return OK
}

// QdevicePoll is QDEVICE_POLL: the device is alive and says whether it
// casts its votes for this partition. A poll for another ring than the last
// sync's is refused; a good one restarts the device timeout and ends the
// sync wait.
func (m *Machine) QdevicePoll(name string, castVote bool, ring RingID) Status {
	if !m.qdeviceCanOperate {
		return ErrAccess
	}
	if m.us.flags&NodeFlagQdeviceRegistered == 0 {
		return ErrNotExist
	}
	if ring != m.ringID {
		m.logf(LogLine{Level: levelDebug, Subsys: SubsysVotequorum,
			Text: fmt.Sprintf("Received poll ring id (%s) != last sync ring id (%s). Ignoring poll call.", ring, m.ringID)})
		return ErrMessageError
	}
	if name != m.qdeviceName {
		return ErrInvalidParam
	}
	old := m.us.flags
	m.us.flags |= NodeFlagQdeviceAlive
	if castVote {
		m.us.flags |= NodeFlagQdeviceCastVote
	} else {
		m.us.flags &^= NodeFlagQdeviceCastVote
	}
	if m.us.flags != old {
		m.sendNodeInfo(m.us.id)
	}
	m.armQdeviceTimer(m.qdeviceTimeout)
	m.syncWaitForPoll = false
	return OK
}

// QdeviceMasterWins is QDEVICE_MASTER_WINS: while allowed, a partition in
// which some member's device casts its vote with master_wins is quorate.
func (m *Machine) QdeviceMasterWins(name string, allow bool) Status {
	if !m.qdeviceCanOperate {
		return ErrAccess
	}
	if m.us.flags&NodeFlagQdeviceRegistered == 0 {
		return ErrNotExist
	}
	if name != m.qdeviceName {
		return ErrInvalidParam
	}
	old := m.us.flags
	if allow {
		m.us.flags |= NodeFlagQdeviceMasterWins
	} else {
		m.us.flags &^= NodeFlagQdeviceMasterWins
	}
	if m.us.flags != old {
		m.sendNodeInfo(m.us.id)
	}
	m.updateQdeviceMasterWins(allow)
	return OK
}

func (m *Machine) armQdeviceTimer(d time.Duration) {
	m.qdeviceDeadline = m.now.Add(d)
	m.qdeviceTimerArmed = true
	m.qdeviceTimerSet = true
}

// Tick advances the machine's clock to now and fires the timers that are
// due: the last_man_standing window and the quorum device timeout.
// Commands and syncs arm timers relative to the latest Tick (or New).
func (m *Machine) Tick(now time.Time) {
	if now.After(m.now) {
		m.now = now
	}
	if m.lmsTimerSet && !m.now.Before(m.lmsDeadline) {
		m.lmsTimerSet = false
		if m.quorate {
			m.recalculate(true, true)
		}
	}
	if m.qdeviceTimerArmed && !m.now.Before(m.qdeviceDeadline) {
		m.qdeviceTimerArmed = false
		m.fireQdeviceTimer()
	}
}

// fireQdeviceTimer: the device missed its poll. Corosync leaves its "timer
// set" flag raised when the device was not alive at that moment; we keep
// that so later unregister/poll behave the same.
func (m *Machine) fireQdeviceTimer() {
	if m.us.flags&NodeFlagQdeviceAlive == 0 || !m.qdeviceTimerSet {
		return
	}
	m.us.flags &^= NodeFlagQdeviceAlive | NodeFlagQdeviceCastVote
	m.logf(LogLine{Level: levelInfo, Subsys: SubsysVotequorum, Text: fmt.Sprintf("lost contact with quorum device %s", m.qdeviceName)})
	m.sendNodeInfo(m.us.id)
	m.qdeviceTimerSet = false
	m.syncWaitForPoll = false
}

// NextDeadline is the earliest armed timer, for the driver's scheduling.
func (m *Machine) NextDeadline() (time.Time, bool) {
	var t time.Time
	ok := false
	if m.lmsTimerSet {
		t, ok = m.lmsDeadline, true
	}
	if m.qdeviceTimerArmed && (!ok || m.qdeviceDeadline.Before(t)) {
		t, ok = m.qdeviceDeadline, true
	}
	return t, ok
}

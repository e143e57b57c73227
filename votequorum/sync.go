package votequorum

import (
	"fmt"
	"slices"
)

// SyncInit starts votequorum's part of the sync after a membership change
// (corosync's sync_init): nodes of the previous ring that are not in the new
// one become DEAD, the last_man_standing window and the quorum device's
// sync wait start. trans is the transitional member list (unused by
// votequorum, kept for the common service shape).
func (m *Machine) SyncInit(trans, members []uint32, ring RingID) {
	_ = trans
	m.syncInProgress = true
	m.syncNodeinfoSent = false
	m.syncWaitForPoll = false
	if len(members) > 1 {
		m.us.flags &^= NodeFlagFirst
	}

	left := false
	for _, id := range m.members {
		if !slices.Contains(members, id) {
			left = true
			if n := m.findNode(id); n != nil {
				n.state = StateDead
			}
		}
	}

	if m.lms {
		n := uint32(len(members))
		if (n >= m.quorum && left) ||
			(n <= m.quorum && m.atb != ATBNone && m.isMember(m.lowestNodeID)) {
			m.lmsTimerSet = true
			m.lmsDeadline = m.now.Add(m.lmsWindow)
		}
	}

	m.prevMembers = m.members
	m.members = slices.Clone(members)
	m.ringID = ring

	if m.us.flags&NodeFlagQdeviceRegistered != 0 && m.us.flags&NodeFlagQdeviceAlive != 0 {
		// Hold the sync until the device polls with the new ring id, or
		// the sync timeout passes.
		m.armQdeviceTimer(m.qdeviceSyncTimeout)
		m.syncWaitForPoll = true
		m.logf(LogLine{Level: levelInfo, Subsys: SubsysVotequorum,
			Text: fmt.Sprintf("waiting for quorum device %s poll (but maximum for %d ms)", m.qdeviceName, m.qdeviceSyncTimeout.Milliseconds())})
	}
}

// SyncProcess is corosync's sync_process. The first call queues NODEINFO for
// this node and for the quorum device (and QDEVICE_REG when a device name is
// known) and a nodelist notification. It returns true while the sync must
// wait: a registered, alive quorum device has not yet polled with the new
// ring id and the sync timeout has not passed. The driver calls it again
// after QdevicePoll or Tick, and multicasts the sync barrier once it
// returns false.
func (m *Machine) SyncProcess() (wait bool) {
	if !m.syncNodeinfoSent {
		m.sendNodeInfo(m.us.id)
		m.sendNodeInfo(QdeviceNodeID)
		if m.qdeviceName != "" {
			m.send(QdeviceReg{Operation: QdeviceOpRegister, Name: m.qdeviceName})
		}
		m.notifyNodelist()
		m.syncNodeinfoSent = true
	}
	return m.us.flags&NodeFlagQdeviceRegistered != 0 && m.syncWaitForPoll
}

// SyncActivate ends the sync (every member's messages have been delivered):
// quorum is recalculated and the quorum service and trackers are told.
func (m *Machine) SyncActivate() {
	m.recalculate(false, false)
	m.quorumCallback()
	m.notifyQuorum()
	m.syncInProgress = false
}

// SyncAbort is called when a new membership interrupts the sync; votequorum
// keeps its state and waits for the next SyncInit.
func (m *Machine) SyncAbort() {}

package votequorum

import (
	"errors"
	"fmt"
)

// ErrUnknownSender is returned for a quorum device NODEINFO from a node we
// have no entry for (corosync asserts; we drop the message).
var ErrUnknownSender = errors.New("votequorum: qdevice NODEINFO from a node without NODEINFO")

// DeliverBytes decodes an exec message delivered by totem from sender and
// applies it. bigEndian says the sender's byte order differs from ours.
func (m *Machine) DeliverBytes(sender uint32, b []byte, bigEndian bool) error {
	msg, err := Decode(b, bigEndian)
	if err != nil {
		return err
	}
	return m.Deliver(sender, msg)
}

// Deliver applies an exec message delivered (in agreed order) from sender.
func (m *Machine) Deliver(sender uint32, msg Message) error {
	switch msg := msg.(type) {
	case NodeInfo:
		return m.deliverNodeInfo(sender, msg)
	case Reconfigure:
		m.deliverReconfigure(sender, msg)
	case QdeviceReg:
		m.deliverQdeviceReg(sender, msg)
	case QdeviceReconfigure:
		if msg.OldName == m.qdeviceName {
			m.qdeviceName = msg.NewName
		}
	default:
		return fmt.Errorf("votequorum: unknown message %T", msg)
	}
	return nil
}

func (m *Machine) deliverNodeInfo(sender uint32, msg NodeInfo) error {
	id := msg.NodeID
	n := m.findNode(id)
	var senderNode *node
	if id == QdeviceNodeID {
		if senderNode = m.findNode(sender); senderNode == nil || sender == QdeviceNodeID {
			return ErrUnknownSender
		}
	}
	isNew := n == nil
	if isNew {
		n = m.addNode(id)
	}
	oldVotes, oldExpected, oldFlags, oldState := n.votes, n.expected, n.flags, n.state
	if isNew {
		oldVotes, oldExpected, oldFlags, oldState = 0, 0, 0, StateDead
	}
	allowDowngrade, byNode := false, false

	if id == QdeviceNodeID {
		// The device's votes: a quorate node's view wins over ours while
		// we are not quorate; otherwise keep the highest seen.
		if !m.quorate && senderNode.flags&NodeFlagQuorate != 0 {
			n.votes = msg.Votes
		} else {
			n.votes = max(n.votes, msg.Votes)
		}
	} else {
		n.flags = msg.Flags
		n.votes = msg.Votes
		n.state = StateMember
		if n.flags&NodeFlagLeaving != 0 {
			n.state = StateLeaving
			allowDowngrade, byNode = true, true
		}
		// A quorate cluster's expected votes override ours while we are
		// not quorate (a node rejoining after expected votes were lowered).
		if !m.quorate && n.flags&NodeFlagQuorate != 0 {
			allowDowngrade = true
			m.us.expected = msg.ExpectedVotes
		}
		if n.flags&NodeFlagQuorate != 0 || m.evTracking {
			n.expected = msg.ExpectedVotes
		} else {
			n.expected = m.us.expected
		}
		if m.lms && n.votes > 1 {
			m.logf(LogLine{Level: levelWarn, Subsys: SubsysVotequorum,
				Text: "Last Man Standing feature is supported only when allcluster nodes votes are set to 1. Disabling LMS."})
			m.lms = false
			m.lmsTimerSet = false
		}
	}

	if isNew || id == m.us.id || n.flags&NodeFlagFirst != 0 ||
		oldVotes != n.votes || oldExpected != n.expected || oldFlags != n.flags || oldState != n.state {
		m.recalculate(allowDowngrade, byNode)
	}
	if m.waitForAll && n.flags&NodeFlagWFAStatus == 0 && n.flags&NodeFlagQuorate != 0 {
		m.updateWFAStatus(false)
	}
	return nil
}

func (m *Machine) deliverReconfigure(sender uint32, msg Reconfigure) {
	_ = sender
	switch msg.Param {
	case ParamExpectedVotes:
		m.updateNodeExpected(msg.Value)
		m.notifyExpectedVotes()
		m.updateEVBarrier(msg.Value)
		if m.evTracking {
			m.us.expected = max(m.us.expected, m.evTrackingValue)
		}
		m.recalculate(true, false)
	case ParamNodeVotes:
		n := m.findNode(msg.NodeID)
		if n == nil {
			return
		}
		n.votes = msg.Value
		m.recalculate(true, false)
	case ParamCancelWFA:
		m.updateWFAStatus(false)
		m.logf(LogLine{Level: levelInfo, Subsys: SubsysVotequorum,
			Text: fmt.Sprintf("wait_for_all_status reset by user on node %d.", msg.NodeID)})
		m.recalculate(false, false)
	}
}

func (m *Machine) deliverQdeviceReg(sender uint32, msg QdeviceReg) {
	switch msg.Operation {
	case QdeviceOpRegister:
		if sender != m.us.id {
			if m.qdeviceName == "" {
				m.qdeviceName = msg.Name
			}
			return
		}
		// Our own registration coming back. Ignore the re-announcement
		// sent at every sync, and anything nobody here asked for.
		if m.us.flags&NodeFlagQdeviceRegistered != 0 {
			return
		}
		if !m.qdeviceRegPending {
			m.logf(LogLine{Level: levelWarn, Subsys: SubsysVotequorum, Text: "Unable to determine origin of the qdevice register call!"})
			return
		}
		if m.qdeviceName == "" {
			m.qdeviceName = msg.Name
		}
		status := OK
		if msg.Name == m.qdeviceName {
			m.us.flags |= NodeFlagQdeviceRegistered
			m.sendNodeInfo(QdeviceNodeID)
			m.sendNodeInfo(m.us.id)
		} else {
			m.logf(LogLine{Level: levelWarn, Subsys: SubsysVotequorum,
				Text: fmt.Sprintf("A new qdevice with different name (new: %s old: %s) is trying to register!", msg.Name, m.qdeviceName)})
			status = ErrExist
		}
		m.out.RegisterReplies = append(m.out.RegisterReplies, status)
		m.qdeviceRegPending = false
	case QdeviceOpUnregister:
		for _, n := range m.nodes {
			if n.state == StateMember && n.flags&NodeFlagQdeviceRegistered != 0 {
				return
			}
		}
		m.qdeviceName = ""
	}
}

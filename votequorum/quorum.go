package votequorum

import "slices"

// calculateQuorum is corosync's calculate_quorum: quorum is a majority of
// the larger of the highest expected votes and the votes present. It reads
// state but changes nothing, so that commands can try values first.
func (m *Machine) calculateQuorum(allowDecrease bool, maxExpected uint32) (quorum, totalVotes uint32) {
	if m.allowDownscale && allowDecrease && maxExpected != 0 {
		maxExpected = max(m.evBarrier, maxExpected)
	}
	var highest, nodes uint32
	for _, n := range m.nodes {
		if n.state == StateMember {
			highest = max(highest, n.expected)
			totalVotes += n.votes
			nodes++
		}
	}
	if m.us.flags&NodeFlagQdeviceCastVote != 0 {
		totalVotes += m.qdevice.votes
		nodes++
	}
	if maxExpected > 0 {
		highest = maxExpected
	}
	q := max((highest+2)/2, (totalVotes+2)/2)
	if !allowDecrease {
		q = max(m.quorum, q)
	}
	// two_node: either node alone keeps quorum (fencing settles a split);
	// with more than two voters this stops applying.
	if m.twoNode && nodes <= 2 {
		q = 1
	}
	return q, totalVotes
}

// totalVotes is get_total_votes: member votes plus the device's configured
// votes whether or not it currently casts them. Only used to raise expected
// votes.
func (m *Machine) totalVotes() (votes, members uint32) {
	for _, n := range m.nodes {
		if n.state == StateMember {
			members++
			votes += n.votes
		}
	}
	if m.qdevice.votes != 0 {
		votes += m.qdevice.votes
		members++
	}
	return votes, members
}

func (m *Machine) updateNodeExpected(v uint32) {
	if v == 0 {
		return
	}
	for _, n := range m.nodes {
		if n.state == StateMember {
			n.expected = v
		}
	}
}

// recalculate is recalculate_quorum. byCurrentNodes lowers every member's
// expected votes to the current member count (last_man_standing, a leaving
// node with allow_downscale).
func (m *Machine) recalculate(allowDecrease, byCurrentNodes bool) {
	total, members := m.totalVotes()
	if !byCurrentNodes {
		members = 0
	}
	// Expected votes follow the highest number of votes ever present.
	if total > m.us.expected {
		m.us.expected = total
		m.notifyExpectedVotes()
	}
	if m.evTracking && m.us.expected > m.evTrackingValue {
		m.updateEVTrackingBarrier(m.us.expected)
	}
	q, votes := m.calculateQuorum(allowDecrease, members)
	// corosync keeps quorum in a uint8_t; keep its truncation so that a
	// cluster with more than 510 votes behaves the same.
	m.quorum = uint32(uint8(q))
	m.updateNodeExpected(members)
	m.areWeQuorate(votes)
}

func (m *Machine) areWeQuorate(total uint32) {
	if m.waitForAll && m.wfaStatus {
		if total != m.us.expected {
			m.logf(LogLine{Level: levelNotice, Subsys: SubsysVotequorum,
				Text: "Waiting for all cluster members. Current votes: %d expected_votes: %d"},
				int32(total), int32(m.us.expected))
			return
		}
		m.updateWFAStatus(false)
	}

	quorate := m.quorum <= total
	if quorate {
		m.updateLowestHighest()
	}
	// Auto tie breaker: in an exact half split (or half-1 with an odd
	// count) the side holding the chosen node wins, unless the other side
	// might already have quorum.
	if m.atb != ATBNone &&
		total == m.us.expected/2 &&
		int64(len(m.prevMembers))-int64(len(m.members)) < int64(m.quorum) &&
		m.checkATB() {
		quorate = true
	}
	if m.qdeviceMasterWins && !quorate && m.checkQdeviceMaster() {
		m.logf(LogLine{Level: levelDebug, Subsys: SubsysVotequorum, Text: "node is quorate as part of master_wins partition"})
		quorate = true
	}

	changed := m.quorate != quorate
	if changed {
		if quorate {
			m.logf(LogLine{Level: levelDebug, Subsys: SubsysVotequorum, Text: "quorum regained, resuming activity"})
		} else {
			m.logf(LogLine{Level: levelDebug, Subsys: SubsysVotequorum, Text: "quorum lost, blocking activity"})
		}
	}
	m.quorate = quorate
	if quorate {
		m.us.flags |= NodeFlagQuorate
	} else {
		m.us.flags &^= NodeFlagQuorate
	}
	if m.waitForAll {
		m.updateWFAStatus(!quorate)
	}
	if changed && !m.syncInProgress {
		m.quorumCallback()
		m.notifyQuorum()
	}
}

// updateLowestHighest records the lowest and highest member ids of a
// quorate partition; ATB later asks whether that node is still with us.
// Corosync compares node ids as signed ints.
func (m *Machine) updateLowestHighest() {
	lo, hi := int32(m.us.id), int32(m.us.id)
	for _, n := range m.nodes {
		if n.state == StateMember {
			lo = min(lo, int32(n.id))
			hi = max(hi, int32(n.id))
		}
	}
	m.lowestNodeID, m.highestNodeID = int64(lo), int64(hi)
	m.setRuntimeU32("runtime.votequorum.lowest_node_id", uint32(lo))
	m.setRuntimeU32("runtime.votequorum.highest_node_id", uint32(hi))
}

func (m *Machine) isMember(id int64) bool {
	for _, n := range m.nodes {
		if n.state == StateMember && int64(int32(n.id)) == id {
			return true
		}
	}
	return false
}

func (m *Machine) checkATB() bool {
	switch m.atb {
	case ATBLowest:
		return m.isMember(m.lowestNodeID)
	case ATBHighest:
		return m.isMember(m.highestNodeID)
	}
	// List: the first listed node present here decides, unless a node
	// listed before it was in the previous partition: that node may be on
	// the other side and win there.
	for i, id := range m.atbList {
		if slices.Contains(m.members, id) {
			for _, earlier := range m.atbList[:i] {
				if slices.Contains(m.prevMembers, earlier) {
					return false
				}
			}
			return true
		}
	}
	return false
}

func (m *Machine) checkQdeviceMaster() bool {
	for _, n := range m.nodes {
		if n.state == StateMember && n.flags&NodeFlagQdeviceMasterWins != 0 && n.flags&NodeFlagQdeviceCastVote != 0 {
			return true
		}
	}
	return false
}

// quorumCallback tells the quorum service about the current view and logs
// what corosync's quorum service logs for it.
func (m *Machine) quorumCallback() {
	was := m.primaryDesignated
	m.primaryDesignated = m.quorate
	if m.quorate && !was {
		m.logf(LogLine{Level: levelNotice, Subsys: SubsysQuorum, Text: "This node is within the primary component and will provide service."})
	} else if !m.quorate && was {
		m.logf(LogLine{Level: levelNotice, Subsys: SubsysQuorum, Text: "This node is within the non-primary component and will NOT provide any services."})
	}
	for _, l := range MembersLogLines(m.members) {
		m.logf(LogLine{Level: levelNotice, Subsys: SubsysQuorum, Text: l})
	}
	m.out.QuorumEvents = append(m.out.QuorumEvents, QuorumEvent{
		Quorate: m.quorate,
		Members: slices.Clone(m.members),
		RingID:  m.ringID,
	})
}

func (m *Machine) notifyExpectedVotes() {
	m.out.Notifications = append(m.out.Notifications, Notification{Kind: ExpectedVotesNotification, ExpectedVotes: m.us.expected})
}

func (m *Machine) notifyQuorum() {
	m.out.Notifications = append(m.out.Notifications, m.QuorumNotification())
}

func (m *Machine) notifyNodelist() {
	m.out.Notifications = append(m.out.Notifications, m.NodelistNotification())
}

// QuorumNotification is the current quorum notification (what a tracker
// gets at TRACKSTART): every known node with its state, dead ones included,
// in node table order, plus node 0 when a quorum device is registered here.
func (m *Machine) QuorumNotification() Notification {
	n := Notification{Kind: QuorumNotification, Quorate: m.quorate}
	for _, e := range m.nodes {
		n.Nodes = append(n.Nodes, NodeStatus{NodeID: e.id, State: e.state})
	}
	if m.us.flags&NodeFlagQdeviceRegistered != 0 {
		n.Nodes = append(n.Nodes, NodeStatus{NodeID: QdeviceNodeID, State: m.qdevice.state})
	}
	return n
}

// NodelistNotification is the current nodelist notification: the ring id
// and members of the last membership.
func (m *Machine) NodelistNotification() Notification {
	return Notification{Kind: NodelistNotification, RingID: m.ringID, Members: slices.Clone(m.members)}
}

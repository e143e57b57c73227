package votequorum

import (
	"fmt"
	"slices"
	"strings"
)

// Info is the GETINFO answer for one node.
type Info struct {
	NodeID          uint32
	State           NodeState
	Votes           uint32
	ExpectedVotes   uint32
	HighestExpected uint32
	TotalVotes      uint32
	Quorum          uint32
	Flags           uint32 // Info* bits
	QdeviceVotes    uint32
	QdeviceName     string
}

// GetInfo answers GETINFO for nodeID (0 means this node). Highest expected
// and total votes are summed over current members, plus the device's votes
// when the asked node's device casts them. Unknown nodes give ErrNotExist.
func (m *Machine) GetInfo(nodeID uint32) (Info, Status) {
	if nodeID == QdeviceNodeID {
		nodeID = m.us.id
	}
	n := m.findNode(nodeID)
	if n == nil {
		return Info{}, ErrNotExist
	}
	var info Info
	for _, e := range m.nodes {
		if e.state == StateMember {
			info.HighestExpected = max(info.HighestExpected, e.expected)
			info.TotalVotes += e.votes
		}
	}
	if n.flags&NodeFlagQdeviceCastVote != 0 {
		info.TotalVotes += m.qdevice.votes
	}
	info.NodeID = n.id
	info.State = n.state
	info.Votes = n.votes
	info.ExpectedVotes = n.expected
	info.Quorum = m.quorum
	info.QdeviceVotes = m.qdevice.votes
	info.QdeviceName = m.qdeviceName
	set := func(cond bool, f uint32) {
		if cond {
			info.Flags |= f
		}
	}
	set(m.twoNode, InfoTwoNode)
	set(m.quorate, InfoQuorate)
	set(m.waitForAll, InfoWaitForAll)
	set(m.lms, InfoLastManStanding)
	set(m.atb != ATBNone, InfoAutoTieBreaker)
	set(m.allowDownscale, InfoAllowDownscale)
	set(n.flags&NodeFlagQdeviceRegistered != 0, InfoQdeviceRegistered)
	set(n.flags&NodeFlagQdeviceAlive != 0, InfoQdeviceAlive)
	set(n.flags&NodeFlagQdeviceCastVote != 0, InfoQdeviceCastVote)
	set(n.flags&NodeFlagQdeviceMasterWins != 0, InfoQdeviceMasterWins)
	return info, OK
}

// QuorumLine is corosync-quorumtool's "Quorum:" line: a single space after
// the number when quorate, "Activity blocked" otherwise.
func (i Info) QuorumLine() string {
	suffix := "Activity blocked"
	if i.Flags&InfoQuorate != 0 {
		suffix = " "
	}
	return fmt.Sprintf("Quorum:           %d %s", int32(i.Quorum), suffix)
}

// FlagsLine is corosync-quorumtool's "Flags:" line (each name followed by
// a space).
func (i Info) FlagsLine() string {
	return "Flags:            " + i.FlagNames()
}

// FlagNames lists the flags quorumtool prints, in its order, each followed
// by a space.
func (i Info) FlagNames() string {
	var b strings.Builder
	for _, f := range []struct {
		bit  uint32
		name string
	}{
		{InfoTwoNode, "2Node"}, {InfoQuorate, "Quorate"}, {InfoWaitForAll, "WaitForAll"},
		{InfoLastManStanding, "LastManStanding"}, {InfoAutoTieBreaker, "AutoTieBreaker"},
		{InfoAllowDownscale, "AllowDownscale"}, {InfoQdeviceRegistered, "Qdevice"},
	} {
		if i.Flags&f.bit != 0 {
			b.WriteString(f.name + " ")
		}
	}
	return b.String()
}

// VotequorumBlock is the "Votequorum information" block of
// corosync-quorumtool -s for this info.
func (i Info) VotequorumBlock() string {
	return fmt.Sprintf("Votequorum information\n----------------------\nExpected votes:   %d\nHighest expected: %d\nTotal votes:      %d\n%s\n%s\n",
		int32(i.ExpectedVotes), int32(i.HighestExpected), int32(i.TotalVotes), i.QuorumLine(), i.FlagsLine())
}

// NodeID is this node's id.
func (m *Machine) NodeID() uint32 { return m.us.id }

// Quorate reports whether this node is quorate now.
func (m *Machine) Quorate() bool { return m.quorate }

// Quorum is the current quorum (votes needed).
func (m *Machine) Quorum() uint32 { return m.quorum }

// Members is the member list of the last membership (quorum_members).
func (m *Machine) Members() []uint32 { return slices.Clone(m.members) }

// RingID is the ring id of the last membership.
func (m *Machine) RingID() RingID { return m.ringID }

// Flags are this node's NODEINFO flags.
func (m *Machine) Flags() uint32 { return m.us.flags }

// WaitForAllStatus reports whether the node still waits for all members.
func (m *Machine) WaitForAllStatus() bool { return m.wfaStatus }

// QdeviceName is the registered (or remotely announced) device name.
func (m *Machine) QdeviceName() string { return m.qdeviceName }

// SyncInProgress reports whether a sync has started and not yet activated.
func (m *Machine) SyncInProgress() bool { return m.syncInProgress }

// NodeView is one node's own claim for the split-brain check.
type NodeView struct {
	NodeID  uint32
	Quorate bool
	Members []uint32 // the membership it believes in (its partition)
	// Syncing: the node is between SyncInit and SyncActivate. Its quorate
	// flag may still be the previous membership's (corosync tells the
	// quorum service nothing during a sync, and a quorum device's old vote
	// counts until it polls again), and nothing is delivered to
	// applications until the sync ends, so the check skips it.
	Syncing bool
}

// View is this node's NodeView.
func (m *Machine) View() NodeView {
	return NodeView{NodeID: m.us.id, Quorate: m.quorate, Members: m.Members(), Syncing: m.syncInProgress}
}

// CheckSplitBrain is the simulator's quorum invariant: no two nodes whose
// memberships are disjoint may both be quorate at the same instant, among
// nodes that are not in the middle of a sync (see NodeView.Syncing). It
// returns an error naming the first offending pair. Configurations that
// knowingly allow it are the caller's to exempt: two_node (a fence race
// decides) and a master_wins quorum device that answers both sides.
func CheckSplitBrain(views []NodeView) error {
	for i, a := range views {
		if !a.Quorate || a.Syncing {
			continue
		}
		for _, b := range views[i+1:] {
			if !b.Quorate || b.Syncing {
				continue
			}
			if disjoint(a.Members, b.Members) {
				return fmt.Errorf("votequorum: split brain: node %d (members %v) and node %d (members %v) are both quorate",
					a.NodeID, a.Members, b.NodeID, b.Members)
			}
		}
	}
	return nil
}

func disjoint(a, b []uint32) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return false
		}
	}
	return true
}

package exec

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ringfence/ringfence/totem/wire"
)

// NodelistChange is what the quorum service tells its IPC listeners
// (quorum nodelist notification) when a sync activates.
type NodelistChange struct {
	Ring                  wire.RingID
	Members, Joined, Left []uint32
}

// QuorumSync is the sync participant of the quorum service (service 3,
// exec/vsf_quorum.c). It has no exec messages and sends nothing during
// sync; at SyncInit it works out which nodes joined and left since the
// last completed sync (logging "Sync members[n]: …" as Corosync does)
// and at SyncActivate it hands that change to the quorum IPC service.
// Registering it makes our SERVICE_BUILD list the same ids as Corosync's.
type QuorumSync struct {
	oldMembers []uint32
	pending    NodelistChange
	changes    []NodelistChange
	logs       []LogLine
}

// NewQuorumSync returns the quorum service's sync participant.
func NewQuorumSync() *QuorumSync { return &QuorumSync{} }

// ID implements Service.
func (q *QuorumSync) ID() ServiceID { return ServiceQuorum }

// Name implements Service.
func (q *QuorumSync) Name() string { return "corosync cluster quorum service v0.1" }

// ExecCount implements Service: the quorum service has no exec messages.
func (q *QuorumSync) ExecCount() int { return 0 }

// Deliver implements Service; the engine never calls it (ExecCount 0).
func (q *QuorumSync) Deliver(uint32, uint16, []byte, bool) error {
	return fmt.Errorf("exec: quorum service has no exec messages")
}

// SyncInit implements Syncer: a node left if it was an old member and is
// not in the transitional list (or not in the new membership); a member
// joined if it is new or also counted as left.
func (q *QuorumSync) SyncInit(trans, members []uint32, ring wire.RingID) {
	var left, joined []uint32
	for _, o := range q.oldMembers {
		if !slices.Contains(trans, o) || !slices.Contains(members, o) {
			left = append(left, o)
		}
	}
	for _, m := range members {
		if !slices.Contains(q.oldMembers, m) || slices.Contains(left, m) {
			joined = append(joined, m)
		}
	}
	q.pending = NodelistChange{Ring: ring, Members: slices.Clone(members), Joined: joined, Left: left}
	q.logView(members, "Sync members")
	if len(joined) > 0 {
		q.logView(joined, "Sync joined")
	}
	if len(left) > 0 {
		q.logView(left, "Sync left")
	}
}

func (q *QuorumSync) logView(ids []uint32, what string) {
	var b strings.Builder
	for _, id := range ids {
		fmt.Fprintf(&b, " %d", id)
	}
	q.logs = append(q.logs, LogLine{Level: LevelNotice, Subsys: "QUORUM", Text: fmt.Sprintf("%s[%d]:%s", what, len(ids), b.String())})
}

// SyncProcess implements Syncer: nothing to send.
func (q *QuorumSync) SyncProcess() (bool, []Message) { return true, nil }

// SyncActivate implements Syncer: the change becomes the new baseline
// and is queued for the IPC listeners.
func (q *QuorumSync) SyncActivate() {
	q.oldMembers = slices.Clone(q.pending.Members)
	q.changes = append(q.changes, q.pending)
}

// SyncAbort implements Syncer.
func (q *QuorumSync) SyncAbort() {}

// Changes returns and clears the nodelist changes of activated syncs.
func (q *QuorumSync) Changes() []NodelistChange {
	c := q.changes
	q.changes = nil
	return c
}

// Logs returns and clears the log lines.
func (q *QuorumSync) Logs() []LogLine {
	l := q.logs
	q.logs = nil
	return l
}

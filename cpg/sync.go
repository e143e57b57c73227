package cpg

import (
	"slices"

	"github.com/ringfence/ringfence/exec"
	"github.com/ringfence/ringfence/totem/wire"
)

// SyncInit implements exec.Syncer (cpg_sync_init): remember the new
// membership and ring, and compute the downlist: members of the previous
// ring that are not in the transitional one.
func (s *Service) SyncInit(trans, members []uint32, ring wire.RingID) {
	s.sendDownlist = true
	s.members = slices.Clone(members)
	s.ring = ring
	n := 0
	for _, old := range s.oldMembers {
		if !slices.Contains(trans, old) && n < MaxProcessors {
			s.downlist.IDs[n] = old
			n++
		}
	}
	s.downlist.Count = uint32(n)
}

// SyncProcess implements exec.Syncer: DOWNLIST, then JOINLIST with the
// local processes if there are any. Both always fit (the daemon's totem
// queue never refuses here), so it is done in one call.
func (s *Service) SyncProcess() (bool, []exec.Message) {
	var out []exec.Message
	if s.sendDownlist {
		s.downlist.OldMembers = uint32(len(s.oldMembers))
		out = append(out, exec.ServiceMessage(s.downlist.Encode()))
		s.sendDownlist = false
	}
	var jl JoinList
	for _, p := range s.procs {
		if p.nodeID == s.nodeID {
			jl.Entries = append(jl.Entries, JoinEntry{PID: p.pid, Group: p.group})
		}
	}
	if len(jl.Entries) > 0 {
		out = append(out, exec.ServiceMessage(jl.Encode()))
	}
	return true, out
}

// SyncActivate implements exec.Syncer (cpg_sync_activate), producing the
// callbacks in Corosync's order:
//
//  1. one CONFCHG per group (groups in strcmp order) listing the
//     processes of nodes in our downlist as left with NODEDOWN;
//  2. one CONFCHG per group (strcmp order) with the processes of other
//     nodes' joinlists that are new to us as joined with NODEUP (the
//     joined list runs from the last received entry to the first);
//  3. one CONFCHG per process of another node that no joinlist
//     mentioned, left with PROCDOWN;
//  4. a TOTEM_CONFCHG with the new membership to every client.
func (s *Service) SyncActivate() {
	s.oldMembers = slices.Clone(s.members)

	// 1. processes of nodes that went down
	down := joinBatch{}
	left := s.downlist.Left()
	kept := s.procs[:0:0]
	for _, p := range s.procs {
		if !slices.Contains(left, p.nodeID) {
			kept = append(kept, p)
			continue
		}
		k := mapKey(p.group)
		g := down[k]
		if g == nil {
			g = &groupAddrs{group: p.group}
			down[k] = g
		}
		g.addrs = append(g.addrs, Address{NodeID: p.nodeID, PID: p.pid, Reason: ReasonNodeDown})
	}
	s.procs = kept
	for _, g := range sortedBatch(down) {
		s.notifyConfchg(g.group, nil, g.addrs)
	}

	// 2. processes announced by other nodes' joinlists, newest first
	up := joinBatch{}
	for i := len(s.joinlists) - 1; i >= 0; i-- {
		e := s.joinlists[i]
		if e.sender == s.nodeID {
			continue
		}
		s.procJoin(e.group, e.pid, e.sender, ReasonNodeUp, up)
	}
	for _, g := range sortedBatch(up) {
		s.notifyConfchg(g.group, g.addrs, nil)
	}

	// 3. remote processes no joinlist vouches for
	for _, p := range slices.Clone(s.procs) {
		if p.nodeID == s.nodeID {
			continue
		}
		vouched := slices.ContainsFunc(s.joinlists, func(e joinlistEntry) bool {
			return e.sender != s.nodeID && e.sender == p.nodeID && e.pid == p.pid && e.group == p.group
		})
		if !vouched && s.findProc(p.group, p.pid, p.nodeID) >= 0 {
			s.procLeave(p.group, p.pid, p.nodeID, ReasonProcDown)
		}
	}
	s.joinlists = nil

	// 4. the new membership for everyone
	for _, c := range s.clients {
		s.totemConfchg(c, s.members)
	}
}

// SyncAbort implements exec.Syncer: drop the joinlists collected so far.
func (s *Service) SyncAbort() { s.joinlists = nil }

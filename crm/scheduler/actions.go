package scheduler

import (
	"fmt"

	"github.com/ringfence/ringfence/crm/cib"
)

// Action is one scheduled (or considered) operation.
type Action struct {
	ID         int
	Rsc        *Resource
	Task       string // start, stop, promote, demote, monitor, stonith, do_shutdown, ...
	Node       *Node
	IntervalMS int64
	Optional   bool
	Runnable   bool
	Pseudo     bool
	Probe      bool
	Meta       map[string]string
	inputs     []*Action
	// pendingStart marks a start re-issued because one is in flight; it
	// does not imply a stop first
	pendingStart bool
}

// edge flags
const (
	fImpliesThen = 1 << iota
	fImpliesFirst
	fRunnableLeft
	fRestart
	fOptional
)

type edge struct {
	first, then *Action
	flags       int
}

func (s *Scheduler) newAction(r *Resource, task string, n *Node, optional bool) *Action {
	key := fmt.Sprintf("%p/%s/%p", r, task, n)
	if a := s.actionKey[key]; a != nil {
		if !optional {
			a.Optional = false
		}
		return a
	}
	a := &Action{Rsc: r, Task: task, Node: n, Optional: optional, Runnable: true, Meta: map[string]string{}}
	s.actionKey[key] = a
	s.Actions = append(s.Actions, a)
	s.byRsc[r] = append(s.byRsc[r], a)
	return a
}

func (s *Scheduler) findAction(r *Resource, task string, n *Node) *Action {
	return s.actionKey[fmt.Sprintf("%p/%s/%p", r, task, n)]
}

func (s *Scheduler) order(first, then *Action, flags int) {
	if first == nil || then == nil || first == then {
		return
	}
	s.edges = append(s.edges, &edge{first: first, then: then, flags: flags})
}

// quorumBlocksStart says whether starts are forbidden for lack of quorum.
func (s *Scheduler) quorumBlocksStart(r *Resource, starting bool) bool {
	if s.HaveQuorum || r.Requires == "nothing" {
		return false
	}
	switch s.NoQuorumPolicy {
	case "ignore":
		return false
	case "demote":
		if r.Role == RolePromoted || r.Role == RoleUnpromoted {
			return false
		}
	case "freeze":
		return starting
	}
	return true
}

// createPrimitiveActions brings a primitive down to Stopped and back to its
// current role where needed (restart, move, recovery), then from its current
// role to its next role.
func (s *Scheduler) createPrimitiveActions(r *Resource) {
	assigned := r.Assigned
	next := r.NextRole
	promotable := r.cloneParent() != nil && r.cloneParent().Promotable
	if assigned == nil {
		next = RoleStopped
	}
	if next == "" {
		next = RoleStarted
		if promotable {
			next = RoleUnpromoted
		}
	}
	role := r.Role
	if promotable && role == RoleStarted {
		role = RoleUnpromoted
	}
	if promotable && next == RoleStarted {
		next = RoleUnpromoted
	}
	current := r.currentNode()
	if r.Migrating != nil && r.isRunningOn(r.Migrating.Source) {
		current = r.Migrating.Source
	}
	needStop, needPromote, moving, allowMig := false, false, false, false
	if current != nil && assigned != nil && current != assigned && roleRank(next) >= roleRank(RoleStarted) {
		moving, needStop = true, true
		allowMig = r.AllowMigrate && r.Managed && !r.Failed && len(r.Pending) == 0 && !current.Unclean && !assigned.Unclean
	}
	continueMig := false
	unexpected := false
	if r.Migrating != nil && r.Migrating.Partial {
		if allowMig && len(r.Running) == 2 && current == r.Migrating.Source && assigned == r.Migrating.Target {
			continueMig = true
		} else {
			needStop = true
			allowMig = false
		}
	} else if len(r.Running) > 1 {
		switch r.MultipleActive {
		case "block":
			r.Managed = false
		case "stop_unexpected":
			needStop, unexpected = true, true
		default:
			needStop = true
		}
		if r.MultipleActive == "stop_only" {
			next = RoleStopped
		}
	}
	for _, n := range r.restartOn {
		if n == current && assigned == n {
			needStop = true
		}
	}
	if !moving {
		switch {
		case r.Failed && r.stopFlag:
			needStop = true
		case r.Failed:
			if next == RolePromoted {
				needPromote = true
			}
		case r.Blocked:
			needStop = true
		}
	}
	// down to Stopped on every node it runs on
	if role != RoleStopped && role != RoleUnknown {
		for _, c := range r.Running {
			if unexpected && c == assigned {
				continue
			}
			if r.RoleOn[c] == RolePromoted {
				s.newAction(r, "demote", c, !needStop)
			}
			s.newAction(r, "stop", c, !needStop)
		}
		// and back up to the current role
		if roleRank(role) <= roleRank(next) && !r.Blocked {
			s.newAction(r, "start", assigned, !needStop || (unexpected && r.isRunningOn(assigned)))
			if role == RolePromoted {
				s.newAction(r, "promote", assigned, !(needStop || needPromote))
			}
		}
	}
	// from the current role to the next one
	if role != next {
		switch {
		case role == RoleStopped || role == RoleUnknown:
			if next != RoleStopped {
				s.newAction(r, "start", assigned, false)
				if next == RolePromoted {
					s.newAction(r, "promote", assigned, false)
				}
			}
		case next == RoleStopped:
			for _, c := range r.Running {
				if r.RoleOn[c] == RolePromoted {
					s.newAction(r, "demote", c, false)
				}
				s.newAction(r, "stop", c, false)
			}
		case next == RolePromoted:
			s.newAction(r, "promote", assigned, false)
		case role == RolePromoted:
			for _, c := range r.Running {
				if r.RoleOn[c] == RolePromoted {
					s.newAction(r, "demote", c, false)
				}
			}
		}
	}
	if assigned != nil && r.Pending[assigned] == "start" && next != RoleStopped {
		ps := s.newAction(r, "start", assigned, false)
		ps.pendingStart = !needStop
	}
	if next != RoleStopped && s.findAction(r, "start", assigned) == nil {
		s.newAction(r, "start", assigned, true)
	}
	if next == RoleStopped && s.findAction(r, "start", nil) == nil {
		st := s.newAction(r, "start", nil, true)
		st.Runnable = false
	}
	// internal ordering
	start := s.findAction(r, "start", assigned)
	if assigned == nil || next == RoleStopped {
		start = s.findAction(r, "start", nil)
	}
	for _, c := range r.Running {
		st := s.findAction(r, "stop", c)
		if d := s.findAction(r, "demote", c); d != nil && st != nil {
			s.order(d, st, fImpliesFirst)
		}
		if st != nil && start != nil {
			s.order(st, start, fImpliesThen|fRestart)
		}
	}
	if pr := s.findAction(r, "promote", assigned); pr != nil && start != nil {
		s.order(start, pr, fRunnableLeft)
		if !start.Optional && assigned != nil && next == RolePromoted {
			pr.Optional = false
		}
	}
	if allowMig || continueMig {
		r.migrate = &migPlan{src: current, tgt: assigned, cont: continueMig}
	}
	if r.dangling != nil {
		s.newAction(r, "stop", r.dangling, false)
	}
}

type migPlan struct {
	src, tgt *Node
	cont     bool
}

// applyMigrations replaces stop/start pairs by live migrations where
// the resource allows it and both ends can run the actions.
func (s *Scheduler) applyMigrations() {
	cand := map[*Resource]bool{}
	for _, r := range s.All {
		m := r.migrate
		if m == nil {
			continue
		}
		start := s.findAction(r, "start", m.tgt)
		stop := s.findAction(r, "stop", m.src)
		if start == nil || stop == nil || !start.Runnable || !stop.Runnable || start.Optional || stop.Optional {
			continue
		}
		cand[r] = true
	}
	// a resource cannot migrate while something it is ordered after is
	// restarted the ordinary way
	for changed := true; changed; {
		changed = false
		for _, e := range s.edges {
			t := e.then
			if t.Task != "start" || t.Rsc == nil || !cand[t.Rsc] || e.flags&fOptional != 0 && e.flags == fOptional {
				continue
			}
			f := e.first
			if f.Rsc == nil || f.Rsc == t.Rsc || f.Probe || f.Optional || !f.Runnable {
				continue
			}
			if (f.Task == "start" || f.Task == "promote") && !cand[f.Rsc] {
				delete(cand, t.Rsc)
				changed = true
			}
		}
	}
	for _, r := range s.All {
		m := r.migrate
		if m == nil || !cand[r] {
			continue
		}
		start := s.findAction(r, "start", m.tgt)
		stop := s.findAction(r, "stop", m.src)
		start.Pseudo = true
		if !m.cont {
			mt := s.newAction(r, "migrate_to", m.src, false)
			mt.Meta["CRM_meta_migrate_source"] = m.src.Name
			mt.Meta["CRM_meta_migrate_target"] = m.tgt.Name
		}
		mf := s.newAction(r, "migrate_from", m.tgt, false)
		mf.Meta["CRM_meta_migrate_source"] = m.src.Name
		mf.Meta["CRM_meta_migrate_target"] = m.tgt.Name
		if mt := s.findAction(r, "migrate_to", m.src); mt != nil {
			s.order(mt, mf, fOptional)
		}
		s.order(mf, stop, fOptional)
		s.order(mf, start, fOptional)
	}
}

func (s *Scheduler) createActions() {
	for _, r := range s.All {
		if !r.isPrimitive() {
			continue
		}
		s.createPrimitiveActions(r)
	}
}

// applyRunnability marks actions that cannot run.
func (s *Scheduler) applyRunnability() {
	for _, a := range s.Actions {
		r := a.Rsc
		if r == nil {
			continue
		}
		switch a.Task {
		case "start", "promote":
			if a.Node == nil || !a.Node.available() || !r.Managed {
				a.Runnable = false
			}
			if s.quorumBlocksStart(r, a.Task == "start" && !r.isRunningOn(a.Node)) {
				a.Runnable = false
			}
			for _, n := range s.Nodes {
				if n.Fence && r.Requires == "fencing" && !n.fenceRunnable {
					a.Runnable = false
				}
			}
			if r.Blocked {
				a.Runnable = false
			}
		case "stop", "demote":
			if !r.Managed {
				a.Runnable = false
			}
			if a.Node.Kind == "guest" && a.Node.Fence && a.Node.fenceRunnable {
				a.Pseudo = true
			} else if !a.Node.Online || a.Node.Unclean {
				if a.Node.Fence && a.Node.fenceRunnable {
					a.Pseudo = true
				} else if !a.Node.Online && !a.Node.Unclean {
					a.Pseudo = true
				} else {
					a.Runnable = false
				}
			}
		}
	}
}

// propagate walks the ordering edges until nothing changes.
func (s *Scheduler) propagate() {
	for changed := true; changed; {
		changed = s.propagateAny()
		for _, e := range s.edges {
			f, t := e.first, e.then
			if e.flags&fRunnableLeft != 0 && !f.Runnable && t.Runnable {
				t.Runnable = false
				changed = true
			}
			if e.flags&fImpliesThen != 0 && !f.Optional && t.Optional && f.Runnable {
				t.Optional = false
				changed = true
			}
			if e.flags&fImpliesFirst != 0 && !t.Optional && f.Optional {
				f.Optional = false
				changed = true
			}
			// a stop that must wait for a blocked stop is blocked too
			if e.flags&fImpliesFirst != 0 && f.Task == "stop" && t.Task == "stop" && !f.Optional && !f.Runnable && t.Runnable && f.Rsc != t.Rsc {
				t.Runnable = false
				changed = true
			}
			if e.flags&fRestart != 0 && f.Optional && !t.Optional && t.Runnable && f.Rsc == t.Rsc && f.Node == t.Node && f.Task == "stop" && !t.pendingStart {
				f.Optional = false
				changed = true
			}
			if e.flags&fRestart != 0 && !f.Optional && !f.Runnable && t.Runnable && !t.Pseudo {
				t.Runnable = false
				changed = true
			}
		}
	}
}

// resourceAction gives the action standing for "r does task" at the
// resource level (a primitive's own action, or every child's).
func (s *Scheduler) resourceActions(r *Resource, task string) []*Action {
	var out []*Action
	for _, p := range r.primitives() {
		for _, a := range s.Actions {
			if a.Rsc == p && a.Task == task {
				out = append(out, a)
			}
		}
	}
	return out
}

var _ = cib.Infinity

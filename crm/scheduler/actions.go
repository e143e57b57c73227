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
	case "freeze":
		return starting
	}
	return true
}

// createPrimitiveActions creates start/stop/promote/demote for one primitive.
func (s *Scheduler) createPrimitiveActions(r *Resource) {
	next := r.Assigned
	nextRole := r.NextRole
	if next == nil {
		nextRole = RoleStopped
	}
	multiple := len(r.Running) > 1
	var stops []*Action
	for _, c := range r.Running {
		need := c != next || r.FailedOn[c] || multiple || nextRole == RoleStopped
		if r.Migrating != nil && multiple {
			need = c != next || r.FailedOn[c]
		}
		cur := r.RoleOn[c]
		if cur == RolePromoted && (need || nextRole != RolePromoted) {
			s.newAction(r, "demote", c, false)
		}
		if !r.Managed && need {
			need = false
		}
		st := s.newAction(r, "stop", c, !need)
		stops = append(stops, st)
		if d := s.findAction(r, "demote", c); d != nil {
			s.order(d, st, fImpliesFirst)
		}
	}
	if next != nil && nextRole != RoleStopped {
		running := r.isRunningOn(next) && !r.FailedOn[next] && !multiple
		start := s.newAction(r, "start", next, running)
		for _, st := range stops {
			s.order(st, start, fImpliesThen|fRestart)
		}
		curRole := r.RoleOn[next]
		if nextRole == RolePromoted {
			pr := s.newAction(r, "promote", next, running && curRole == RolePromoted)
			s.order(start, pr, fRunnableLeft|fImpliesThen)
		}
	} else {
		// a start that cannot happen, so that orderings can block dependents
		st := s.newAction(r, "start", nil, false)
		st.Runnable = false
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
			if !a.Node.Online || a.Node.Unclean {
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

package scheduler

import (
	"time"

	"github.com/ringfence/ringfence/crm/cib"
)

// Result is the output of one scheduler run.
type Result struct {
	Graph *Graph
	XML   string
	s     *Scheduler
}

// Schedule computes the transition graph for a CIB at time now. If now is
// zero the CIB's execution-date is used, and failing that the Unix epoch
// start is avoided by using the current clock at the caller's discretion.
func Schedule(c *cib.CIB, now time.Time) (*Result, error) {
	if now.IsZero() {
		now = c.ExecutionDate
	}
	s := &Scheduler{CIB: c, Now: now, nodeByID: map[string]*Node{}, nodeByNam: map[string]*Node{},
		byID: map[string]*Resource{}, actionKey: map[string]*Action{}, byRsc: map[*Resource][]*Action{}}
	s.unpackOptions()
	s.unpackNodes()
	if err := s.unpackResources(); err != nil {
		return nil, err
	}
	s.setupRemotes()
	s.unpackHistory()
	for _, r := range s.All {
		r.origNextRole = r.NextRole
		if r.TargetRole != "" && r.isPrimitive() {
			tr := r.TargetRole
			if tr == RoleStarted {
				tr = ""
			}
			if tr != "" && (r.NextRole == "" || roleRank(tr) < roleRank(r.NextRole)) {
				if !(tr == RolePromoted) {
					r.NextRole = tr
				}
			}
			if tr == RoleUnpromoted && r.cloneParent() == nil {
				r.NextRole = ""
			}
		}
		r.origNextRole = r.NextRole
	}
	s.initAllowed()
	s.unpackLocations()
	s.applyNodeHealth()
	s.applyStateScores()
	s.banConnectionsFromRemotes()
	s.unpackColocations()
	s.unpackOrders()
	s.unpackTickets()
	s.assignAll()
	s.scheduleFencing()
	s.checkDefinitionChanges()
	s.createActions()
	s.scheduleProbes()
	s.internalOrders()
	s.constraintOrders()
	s.orderFencing()
	s.remoteOrders()
	s.applyRunnability()
	s.propagate()
	s.stopUnrunnable()
	s.propagate()
	s.applyMigrations()
	s.scheduleShutdowns()
	g := s.buildGraph()
	return &Result{Graph: g, XML: s.graphXML(g), s: s}, nil
}

// stopUnrunnable stops running resources whose start became impossible.
func (s *Scheduler) stopUnrunnable() {
	for _, a := range s.Actions {
		if a.Task != "start" || a.Runnable || a.Rsc == nil {
			continue
		}
		r := a.Rsc
		if !r.Managed {
			continue
		}
		for _, n := range r.Running {
			if st := s.findAction(r, "stop", n); st != nil && st.Optional {
				st.Optional = false
				if d := s.findAction(r, "demote", n); d != nil {
					d.Optional = false
				}
			}
		}
	}
}

package scheduler

import "github.com/ringfence/ringfence/crm/cib"

// historyOn finds a resource's history on another node.
func (s *Scheduler) historyOn(n *Node, id string) *cib.LRMResource {
	if n == nil || n.state == nil {
		return nil
	}
	for _, lr := range n.state.Resources {
		if lr.ID == id {
			return lr
		}
	}
	return nil
}

func nonMonitorAfter(lr *cib.LRMResource, after *cib.LRMOp) bool {
	if lr == nil {
		return false
	}
	for _, o := range lr.Ops {
		if o == after || o.Operation == "monitor" || o.Operation == "notify" {
			continue
		}
		if o.CallID > after.CallID && after.CallID >= 0 {
			return true
		}
	}
	return false
}

// migrateToSuccess interprets a successful migrate_to on the source: the
// migration either completed (the source needs a clean-up stop), is still
// partial (active on both ends), or failed.
func (s *Scheduler) migrateToSuccess(r *Resource, src *Node, o *cib.LRMOp, lr *cib.LRMResource) (role string, handled bool) {
	tgt := s.findNode(o.MigrateTarget)
	sourceNewer := nonMonitorAfter(lr, o)
	tlr := s.historyOn(tgt, lr.ID)
	var mf *cib.LRMOp
	if tlr != nil {
		for _, x := range tlr.Ops {
			if x.Operation == "migrate_from" && (x.MigrateSource == "" || x.MigrateSource == src.Name) {
				mf = x
			}
		}
	}
	if sourceNewer && mf != nil {
		return "", false
	}
	targetNewer := false
	if tlr != nil {
		for _, x := range tlr.Ops {
			if x.Operation == "monitor" && x.IntervalMS > 0 {
				continue
			}
			if mf != nil {
				if x.CallID > mf.CallID && x != mf {
					targetNewer = true
				}
			} else if x.LastRCChange > o.LastRCChange && x.Operation != "monitor" {
				targetNewer = true
			}
		}
	}
	if sourceNewer && targetNewer {
		return "", false
	}
	role = RoleStarted
	switch {
	case mf != nil && mf.RC == 0 && mf.OpStatus == 0:
		r.dangling = src
		return RoleStopped, true
	case mf != nil && mf.OpStatus != -1:
		if !targetNewer && tgt != nil && tgt.Online {
			s.addRunning(r, tgt, RoleStarted)
		} else {
			r.Failed, r.stopFlag, r.AllowMigrate = true, true, false
		}
	default:
		if !targetNewer && tgt != nil && tgt.Online {
			s.addRunning(r, tgt, RoleStarted)
			if src.Online {
				r.Migrating = &migration{Source: src, Target: tgt, Partial: true}
			}
		} else if !sourceNewer {
			r.Failed, r.stopFlag, r.AllowMigrate = true, true, false
		}
	}
	return role, true
}

func (s *Scheduler) addRunning(r *Resource, n *Node, role string) {
	if !r.isRunningOn(n) {
		r.Running = append(r.Running, n)
	}
	if roleRank(role) > roleRank(r.RoleOn[n]) {
		r.RoleOn[n] = role
	}
	if roleRank(role) > roleRank(r.Role) {
		r.Role = role
	}
	r.Known[n] = true
}

func (s *Scheduler) migrateToFailure(r *Resource, src *Node, o *cib.LRMOp, lr *cib.LRMResource) {
	// the resource may be active on the target too: check its history
	tgt := s.findNode(o.MigrateTarget)
	if tgt == nil || !tgt.Online {
		return
	}
	tlr := s.historyOn(tgt, lr.ID)
	if tlr == nil {
		return
	}
	active := historyActive(tlr.Ops)
	if active {
		s.addRunning(r, tgt, RoleStarted)
	}
}

func (s *Scheduler) migrateFromFailure(r *Resource, tgt *Node, o *cib.LRMOp, lr *cib.LRMResource) {
	src := s.findNode(o.MigrateSource)
	if src == nil || !src.Online {
		return
	}
	slr := s.historyOn(src, lr.ID)
	if slr == nil {
		return
	}
	if historyActive(slr.Ops) {
		s.addRunning(r, src, RoleStarted)
	}
}

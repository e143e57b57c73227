package scheduler

import "github.com/ringfence/ringfence/crm/cib"

// knownOn reports whether the cluster already has history for the
// primitive on the node (for anonymous clones, any instance counts).
func (s *Scheduler) knownOn(p *Resource, n *Node) bool {
	if p.Known[n] {
		return true
	}
	if cp := p.cloneParent(); cp != nil && !cp.Unique {
		for _, inst := range cp.Children {
			for _, q := range inst.primitives() {
				if q.Def == p.Def && q.Known[n] {
					return true
				}
			}
		}
	}
	return false
}

func (s *Scheduler) scheduleProbes() {
	if !s.StartupProbes {
		return
	}
	for _, n := range s.Nodes {
		if !n.Online || n.Unclean || !n.RscDiscovery {
			continue
		}
		if v, ok := n.Attrs["probe_complete"]; ok && !cib.IsTrue(v) {
			continue
		}
		for _, r := range s.Resources {
			s.probe(r, n)
		}
	}
}

func (s *Scheduler) probe(r *Resource, n *Node) {
	if n.Kind != "member" {
		if r.Class == "stonith" || r.isRemote {
			return
		}
		if n.Kind == "guest" && containsGuest(r) {
			return
		}
	}
	switch r.Kind {
	case cib.KindGroup:
		for _, c := range r.Children {
			s.probe(c, n)
		}
		return
	case cib.KindClone:
		if r.Unique {
			for _, c := range r.Children {
				s.probe(c, n)
			}
			return
		}
		// anonymous: probe a single instance, preferring one already
		// associated with the node
		inst := r.anonByNode[n]
		if inst == nil {
			for _, c := range r.Children {
				if c.Assigned == n || c.assignedNode() == n {
					inst = c
					break
				}
			}
		}
		if inst == nil && len(r.Children) > 0 {
			inst = r.Children[0]
		}
		if inst != nil {
			s.probe(inst, n)
		}
		return
	case cib.KindBundle:
		return
	}
	if r.Orphan || (r.container != nil && !r.isRemote) {
		return
	}
	if n.Kind != "member" && r.Class == "stonith" {
		return
	}
	if s.knownOn(r, n) {
		return
	}
	top := r.top()
	excl := r.Exclusive || top.Exclusive
	mode, has := r.Discover[n]
	if excl && (!has || mode != "exclusive") {
		return
	}
	if has && mode == "never" {
		return
	}
	if n.Kind == "guest" && n.Conn != nil && n.Conn.container != nil {
		g := n.Conn.container
		if g.Role == RoleStopped || g.Assigned == nil || g.FailedOn[g.currentNode()] {
			return
		}
	}
	a := s.newAction(r, "monitor", n, false)
	a.Probe = true
	flags := fOptional
	if n.Pending {
		// nothing can run on a node that has not finished joining; a
		// resource whose state there is unknown cannot start elsewhere
		a.Runnable = false
		if len(r.Running) == 0 {
			flags = fRunnableLeft
		}
	}
	// a probe must finish before the resource starts anywhere
	for _, st := range s.byRsc[r] {
		if st.Task == "start" {
			s.order(a, st, flags)
		}
	}
}

func containsGuest(r *Resource) bool {
	for _, p := range append([]*Resource{r}, r.primitives()...) {
		if len(p.contained) > 0 {
			return true
		}
	}
	return false
}

package scheduler

import (
	"sort"

	"github.com/ringfence/ringfence/crm/cib"
)

// assignClone spreads a clone's instances over nodes.
func (s *Scheduler) assignClone(c *Resource) {
	if !c.Provisional || c.assigning {
		return
	}
	c.assigning = true
	for _, co := range c.rscCons {
		s.assign(co.Prim, nil)
	}
	for _, co := range c.rscConsLHS {
		if !co.Influence {
			continue
		}
		c.Allowed = s.addColocatedScores(co.Dep, c.Allowed, co.NodeAttr, float64(co.Score)/float64(cib.Infinity), true, true)
	}
	avail := 0
	for n, w := range c.Allowed {
		if w >= 0 && n.available() {
			avail++
		}
	}
	allColoc := c.CloneMax < avail
	allColoc = !allColoc
	insts := append([]*Resource(nil), c.Children...)
	sort.SliceStable(insts, func(i, j int) bool {
		a, b := insts[i], insts[j]
		aa, ba := len(a.activeNodes()) > 0, len(b.activeNodes()) > 0
		if aa != ba {
			return aa
		}
		return false
	})
	count := map[*Node]int{}
	allocated := 0
	for _, inst := range insts {
		s.inheritCloneColocs(c, inst, allColoc)
	}
	tryInstance := func(inst *Resource, prefer *Node) bool {
		backup := map[*Resource]map[*Node]int{}
		for _, p := range append([]*Resource{inst}, inst.Children...) {
			backup[p] = copyScores(p.Allowed)
		}
		for _, p := range append([]*Resource{inst}, inst.Children...) {
			for n := range p.Allowed {
				if count[n] >= c.CloneNodeMax {
					p.Allowed[n] = -cib.Infinity
				}
				if w, ok := c.Allowed[n]; !ok || w < 0 {
					p.Allowed[n] = -cib.Infinity
				}
			}
		}
		n := s.assign(inst, prefer)
		if prefer != nil && n != prefer {
			// undo: the instance would not stay on its current node
			s.unassign(inst)
			for p, m := range backup {
				p.Allowed = m
			}
			return false
		}
		if n != nil {
			count[n]++
			return true
		}
		return false
	}
	for _, inst := range insts {
		act := inst.activeNodes()
		if len(act) != 1 || instFailed(inst) || !inst.Provisional {
			continue
		}
		cur := act[0]
		if w, ok := c.Allowed[cur]; !ok || w < 0 || !cur.available() {
			continue
		}
		if count[cur] >= c.CloneNodeMax || allocated >= c.CloneMax {
			continue
		}
		if tryInstance(inst, cur) {
			allocated++
		}
	}
	for _, inst := range insts {
		if !inst.Provisional {
			continue
		}
		if allocated >= c.CloneMax {
			s.stopInstance(inst)
			continue
		}
		if tryInstance(inst, nil) {
			allocated++
		}
	}
	c.Provisional = false
	c.assigning = false
	if c.Promotable {
		s.setInstanceRoles(c)
	}
}

func instFailed(r *Resource) bool {
	for _, p := range r.primitives() {
		if p.Failed {
			return true
		}
	}
	return false
}

func (s *Scheduler) inheritCloneColocs(c, inst *Resource, all bool) {
	target := inst
	if inst.Kind == cib.KindGroup && len(inst.Children) > 0 {
		target = inst.Children[0]
	}
	for _, co := range c.rscCons {
		if co.DepRole != "" {
			continue
		}
		if all || co.Score < 0 || co.Score >= cib.Infinity {
			target.rscCons = append(target.rscCons, co)
		}
	}
	for _, co := range c.rscConsLHS {
		if !co.Influence || co.PrimRole != "" {
			continue
		}
		if all || co.Score < 0 {
			target.rscConsLHS = append(target.rscConsLHS, co)
		}
	}
}

func (s *Scheduler) unassign(r *Resource) {
	for _, p := range append([]*Resource{r}, r.Children...) {
		if p.Assigned != nil && p.isPrimitive() {
			p.Assigned.Assigned--
		}
		p.Assigned = nil
		p.Provisional = true
		if p.NextRole != RoleStopped || p.Managed {
			p.NextRole = p.origNextRole
		}
	}
}

func (s *Scheduler) stopInstance(r *Resource) {
	for _, p := range append([]*Resource{r}, r.Children...) {
		p.Provisional = false
		p.Assigned = nil
		p.NextRole = RoleStopped
	}
}

// promotionScore reads the promotion attribute for an instance on a node.
func (s *Scheduler) promotionScore(r *Resource, n *Node) (int, bool) {
	if r.Kind == cib.KindGroup {
		total, any := 0, false
		for _, c := range r.Children {
			v, ok := s.promotionScore(c, n)
			total += v
			any = any || ok
		}
		return total, any
	}
	cp := r.cloneParent()
	if !(len(r.Running) == 0 && len(r.Known) == 0) && !r.Known[n] && !r.isRunningOn(n) {
		if cp != nil && !cp.Unique {
			if !cp.Known[n] {
				return 0, false
			}
		} else {
			return 0, false
		}
	}
	if v, ok := n.Attrs["master-"+r.ID]; ok {
		return cib.ParseScore(v), true
	}
	if v, ok := n.Attrs["master-"+r.Base]; ok && (cp == nil || !cp.Unique) {
		return cib.ParseScore(v), true
	}
	return 0, false
}

func (s *Scheduler) setInstanceRoles(c *Resource) {
	type cand struct {
		inst *Resource
		node *Node
		prio int
		sort int
	}
	weights := copyScores(c.Allowed)
	var cands []*cand
	for _, inst := range c.Children {
		n := inst.assignedNode()
		if n == nil {
			continue
		}
		cd := &cand{inst: inst, node: n}
		next := inst.nextRoleOf()
		switch next {
		case RoleUnpromoted, RoleStopped:
			if inst.TargetRole == RoleUnpromoted || next == RoleStopped {
				cd.prio = -cib.Infinity
			} else {
				sc, ok := s.promotionScore(inst, n)
				cd.prio = sc
				if !ok {
					cd.prio = -1
				}
			}
		default:
			sc, ok := s.promotionScore(inst, n)
			cd.prio = sc
			if !ok {
				cd.prio = -1
			}
		}
		if inst.TargetRole == RoleUnpromoted || c.TargetRole == RoleUnpromoted {
			cd.prio = -cib.Infinity
		}
		for _, rl := range inst.roleLocs {
			if rl.role == RolePromoted && rl.node == n {
				cd.prio = cib.AddScore(cd.prio, rl.score)
			}
		}
		cd.sort = cd.prio
		cands = append(cands, cd)
	}
	for _, cd := range cands {
		if cd.sort >= 0 {
			weights[cd.node] = cib.AddScore(cd.sort, weights[cd.node])
		}
	}
	for _, co := range c.rscCons {
		if co.DepRole != RolePromoted {
			continue
		}
		targets := co.Prim.assignedNodes(co.PrimRole)
		for n := range weights {
			match := false
			for _, t := range targets {
				if t.Attrs[co.NodeAttr] == n.Attrs[co.NodeAttr] {
					match = true
				}
			}
			if co.Score >= cib.Infinity && !match {
				weights[n] = -cib.Infinity
			} else if co.Score <= -cib.Infinity && match {
				weights[n] = -cib.Infinity
			} else if match {
				weights[n] = cib.AddScore(weights[n], co.Score)
			}
		}
	}
	if c.promotionTicketsMissing() {
		for n := range weights {
			weights[n] = -cib.Infinity
		}
	}
	for _, cd := range cands {
		if !cd.inst.Managed && cd.inst.Role == RolePromoted {
			cd.sort = cib.Infinity
		} else if cd.sort >= 0 {
			cd.sort = weights[cd.node]
		}
	}
	sort.SliceStable(cands, func(i, j int) bool {
		if cands[i].sort != cands[j].sort {
			return cands[i].sort > cands[j].sort
		}
		return roleRank(cands[i].inst.Role) > roleRank(cands[j].inst.Role)
	})
	promoted := 0
	perNode := map[*Node]int{}
	for _, cd := range cands {
		ok := cd.sort >= 0 && (cd.prio >= 0 || (!cd.inst.Managed && cd.inst.Role == RolePromoted)) && promoted < c.PromotedMax && perNode[cd.node] < c.PromotedNodeMax && cd.node.available()
		if ok && roleRank(cd.inst.Role) < roleRank(RolePromoted) && !s.HaveQuorum && s.NoQuorumPolicy == "freeze" {
			ok = false
		}
		if ok && !s.HaveQuorum && s.NoQuorumPolicy == "demote" {
			ok = false
		}
		if ok {
			promoted++
			perNode[cd.node]++
			setNextRole(cd.inst, RolePromoted)
		} else {
			setNextRole(cd.inst, RoleUnpromoted)
		}
	}
}

func setNextRole(r *Resource, role string) {
	r.NextRole = role
	for _, c := range r.Children {
		setNextRole(c, role)
	}
}

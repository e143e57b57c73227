package scheduler

import (
	"sort"

	"github.com/ringfence/ringfence/crm/cib"
)

func copyScores(m map[*Node]int) map[*Node]int {
	out := make(map[*Node]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func anyAvailable(m map[*Node]int) bool {
	for n, w := range m {
		if w >= 0 && n.available() {
			return true
		}
	}
	return false
}

// sortedNodes orders candidate nodes the way Pacemaker breaks ties.
func (s *Scheduler) sortedNodes(m map[*Node]int, active *Node) []*Node {
	out := make([]*Node, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	w := func(n *Node) int {
		if n.available() {
			return m[n]
		}
		return -cib.Infinity
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if w(a) != w(b) {
			return w(a) > w(b)
		}
		if s.Placement != "minimal" {
			if s.Placement == "balanced" {
				if c := compareCapacity(a, b); c != 0 {
					return c < 0
				}
			}
			if a.Assigned != b.Assigned {
				return a.Assigned < b.Assigned
			}
			if active != nil {
				if a == active {
					return true
				}
				if b == active {
					return false
				}
			}
		}
		return a.Name < b.Name
	})
	return out
}

func (s *Scheduler) assign(r *Resource, prefer *Node) *Node {
	switch r.Kind {
	case cib.KindGroup:
		return s.assignGroup(r, prefer)
	case cib.KindClone:
		s.assignClone(r)
		return nil
	case cib.KindBundle:
		return nil
	}
	return s.assignPrimitive(r, prefer)
}

func (s *Scheduler) assignGroup(r *Resource, prefer *Node) *Node {
	if !r.Provisional {
		return r.Assigned
	}
	if r.assigning || len(r.Children) == 0 {
		return nil
	}
	r.assigning = true
	var first *Node
	for i, c := range r.Children {
		n := s.assign(c, prefer)
		if i == 0 {
			first = n
		}
	}
	r.NextRole = r.Children[0].NextRole
	r.assigning = false
	r.Provisional = false
	r.Assigned = first
	return first
}

func (s *Scheduler) assignPrimitive(r *Resource, prefer *Node) *Node {
	if r.Parent != nil && !r.Parent.assigning && r.Parent.Provisional {
		s.assign(r.Parent, prefer)
	}
	if !r.Provisional {
		return r.Assigned
	}
	if r.assigning {
		return nil
	}
	r.assigning = true
	for _, co := range r.rscCons {
		s.applyThisWith(r, co)
	}
	for _, co := range r.rscConsLHS {
		s.applyWithThis(r, co)
	}
	if r.NextRole == RoleStopped {
		for n := range r.Allowed {
			r.Allowed[n] = -cib.Infinity
		}
	} else if roleRank(r.NextRole) > roleRank(r.Role) && !s.HaveQuorum && s.NoQuorumPolicy == "freeze" {
		r.NextRole = r.Role
	}
	if s.StonithEnabled && !s.HaveFencing {
		r.Managed = false
	}
	switch {
	case !r.Managed:
		if r.Role != RoleStopped {
			r.NextRole = r.Role
		}
		s.finalize(r, r.currentNode(), true)
	case s.StopAll:
		s.finalize(r, nil, true)
	default:
		s.assignBest(r, prefer)
	}
	r.assigning = false
	if r.isRemote {
		s.remoteAssigned(r)
	}
	return r.Assigned
}

func (s *Scheduler) assignBest(r *Resource, prefer *Node) bool {
	if most := s.banInsufficientCapacity(r); prefer == nil && most != nil {
		prefer = most
	}
	nodes := s.sortedNodes(r.Allowed, r.currentNode())
	var best, chosen *Node
	if len(nodes) > 0 {
		best = nodes[0]
	}
	if prefer != nil && best != nil {
		if w, ok := r.Allowed[prefer]; ok && w >= r.Allowed[best] && prefer.available() && w >= 0 {
			chosen = prefer
		}
	}
	if chosen == nil && best != nil {
		chosen = best
		cp := r.cloneParent()
		uniq := cp != nil && cp.Unique
		if !uniq && r.Allowed[chosen] > 0 && chosen.available() {
			if running := r.currentNode(); running != nil && running.available() {
				for _, n := range nodes[1:] {
					if r.Allowed[n] != r.Allowed[chosen] || !n.available() {
						break
					}
					if n == running {
						chosen = n
					}
				}
			}
		}
	}
	return s.finalize(r, chosen, false)
}

// finalize commits a node choice (nil = stopped).
func (s *Scheduler) finalize(r *Resource, n *Node, force bool) bool {
	if n != nil && !force {
		w, ok := r.Allowed[n]
		if !ok || w < 0 || !n.available() {
			n = nil
		}
	}
	r.Provisional = false
	if n == nil {
		r.Assigned = nil
		if !force || r.NextRole == "" || r.NextRole != RoleStopped {
			if r.Managed || r.Role == RoleStopped {
				r.NextRole = RoleStopped
			}
		}
		for k := range r.Allowed {
			_ = k
		}
		return false
	}
	r.Assigned = n
	n.Assigned++
	if r.NextRole == "" {
		if cp := r.cloneParent(); cp != nil && cp.Promotable {
			r.NextRole = RoleUnpromoted
		} else {
			r.NextRole = RoleStarted
		}
	}
	s.consumeUtil(r, n)
	return true
}

// assignedNodes lists where a resource (or its instances) will run.
func (r *Resource) assignedNodes(role string) []*Node {
	var out []*Node
	if r.Kind == cib.KindClone {
		for _, c := range r.Children {
			if role != "" && c.nextRoleOf() != role {
				continue
			}
			if n := c.assignedNode(); n != nil {
				out = append(out, n)
			}
		}
		return out
	}
	if n := r.assignedNode(); n != nil {
		if role == "" || r.nextRoleOf() == role {
			out = append(out, n)
		}
	}
	return out
}

func (r *Resource) assignedNode() *Node {
	if r.Kind == cib.KindGroup {
		if len(r.Children) == 0 {
			return nil
		}
		for _, c := range r.Children {
			if c.Assigned == nil {
				return nil
			}
		}
		return r.Children[0].Assigned
	}
	return r.Assigned
}

func (r *Resource) nextRoleOf() string {
	if r.Kind == cib.KindGroup && len(r.Children) > 0 {
		return r.Children[0].NextRole
	}
	return r.NextRole
}

func (s *Scheduler) applyThisWith(r *Resource, co *Coloc) {
	var archive map[*Node]int
	if co.DepRole == RolePromoted || (co.Score < 0 && co.Score > -cib.Infinity) {
		archive = copyScores(r.Allowed)
	}
	s.assign(co.Prim, nil)
	s.applyColocScore(r, co.Prim, co)
	if archive != nil && !anyAvailable(r.Allowed) {
		r.Allowed = archive
	}
}

// applyColocScore adjusts a dependent's node scores for its primary's
// placement.
func (s *Scheduler) applyColocScore(dep, prim *Resource, co *Coloc) {
	if prim.Provisional && prim.Kind != cib.KindClone {
		return
	}
	if co.Score > 0 && co.DepRole != "" && co.DepRole != dep.NextRole && !(co.DepRole == RoleUnpromoted) {
		return
	}
	if co.DepRole == RolePromoted || co.DepRole == RoleUnpromoted {
		// affects promotion, handled when roles are chosen
		return
	}
	var targets []*Node
	if prim.Kind == cib.KindClone {
		targets = prim.assignedNodes(co.PrimRole)
	} else {
		if co.Score > 0 && co.PrimRole != "" && co.PrimRole != prim.nextRoleOf() {
			return
		}
		targets = prim.assignedNodes("")
	}
	if len(targets) == 0 && co.Score < 0 {
		return
	}
	match := func(n *Node) bool {
		for _, t := range targets {
			if n.Attrs[co.NodeAttr] == t.Attrs[co.NodeAttr] && t.Attrs[co.NodeAttr] != "" {
				return true
			}
		}
		return false
	}
	work := copyScores(dep.Allowed)
	for n, w := range work {
		switch {
		case len(targets) == 0:
			work[n] = cib.AddScore(-co.Score, w)
		case match(n):
			if co.Score < cib.Infinity {
				work[n] = cib.AddScore(co.Score, w)
			}
		case co.Score >= cib.Infinity:
			work[n] = cib.AddScore(-co.Score, w)
		}
	}
	if co.Score <= -cib.Infinity || co.Score >= cib.Infinity || anyAvailable(work) {
		dep.Allowed = work
	}
}

func (s *Scheduler) applyWithThis(r *Resource, co *Coloc) {
	if !co.Influence {
		return
	}
	if co.DepRole != "" || co.PrimRole != "" {
		// role-limited colocations influence promotion, not placement
		if co.Dep.Kind == cib.KindClone && co.Dep.Promotable {
			return
		}
	}
	factor := float64(co.Score) / float64(cib.Infinity)
	r.Allowed = s.addColocatedScores(co.Dep, r.Allowed, co.NodeAttr, factor, true, false)
}

const infinityHack = -cib.Infinity * 100

func bestScoreMatching(r *Resource, attr, value string) int {
	best := -cib.Infinity
	for n, w := range r.Allowed {
		if w > best && n.available() && n.Attrs[attr] == value {
			best = w
		}
	}
	return best
}

// addColocatedScores merges another resource's (attenuated) preferences
// into a score table, following chains of colocations.
func (s *Scheduler) addColocatedScores(other *Resource, nodes map[*Node]int, attr string, factor float64, selectActive, nonneg bool) map[*Node]int {
	if other.merging {
		return nodes
	}
	other.merging = true
	defer func() { other.merging = false }()
	src := other
	if other.Kind == cib.KindGroup && len(other.Children) > 0 {
		src = other.Children[0]
	}
	work := copyScores(nodes)
	for n, w := range work {
		score := bestScoreMatching(src, attr, n.Attrs[attr])
		if factor < 0 && score < 0 {
			continue
		}
		if w == infinityHack {
			continue
		}
		f := factor * float64(score)
		var v int
		if f < 0 {
			v = int(f - 0.5)
		} else {
			v = int(f + 0.5)
		}
		if v == 0 && score != 0 {
			if factor > 0 {
				v = 1
			} else if factor < 0 {
				v = -1
			}
		}
		nw := cib.AddScore(v, w)
		if nonneg && nw < 0 && w > 0 {
			work[n] = infinityHack
			continue
		}
		if nonneg && nw < 0 && w == 0 {
			continue
		}
		work[n] = nw
	}
	if anyAvailable(work) {
		mult := 1.0
		if factor < 0 {
			mult = -1
		}
		lhs := other.rscConsLHS
		if other.Kind == cib.KindGroup && len(other.Children) > 0 {
			lhs = other.Children[len(other.Children)-1].rscConsLHS
		}
		for _, co := range lhs {
			if !co.Influence {
				continue
			}
			work = s.addColocatedScores(co.Dep, work, co.NodeAttr, mult*float64(co.Score)/float64(cib.Infinity), true, nonneg)
		}
		if nonneg {
			for n, w := range work {
				if w == infinityHack {
					work[n] = 1
				}
			}
		}
		return work
	} else if selectActive {
		return nodes
	}
	return work
}

// assignAll assigns every top-level resource in priority order.
func (s *Scheduler) assignAll() {
	order := append([]*Resource(nil), s.Resources...)
	sort.SliceStable(order, func(i, j int) bool { return order[i].Priority > order[j].Priority })
	if s.Placement != "default" {
		s.sortForUtilization(order)
	}
	for _, r := range order {
		if r.isRemote {
			s.assign(r, nil)
		}
	}
	for _, r := range order {
		s.assign(r, nil)
	}
}

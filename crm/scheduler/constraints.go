package scheduler

import (
	"strings"

	"github.com/ringfence/ringfence/crm/cib"
)

func (s *Scheduler) influence(c *cib.Element, dep *Resource) bool {
	if v := c.Get("influence"); v != "" {
		return cib.IsTrue(v)
	}
	return dep.Critical
}

func (s *Scheduler) newColoc(id string, score int, dep, prim *Resource, depRole, primRole, attr string, infl bool) {
	if dep == nil || prim == nil || score == 0 || dep == prim {
		return
	}
	// a group is represented by its members: "group with X" is "first
	// member with X"; "X with group" uses the last member for mandatory
	// colocations and the first otherwise.
	if dep.Kind == cib.KindGroup && len(dep.Children) > 0 {
		dep = dep.Children[0]
	}
	if prim.Kind == cib.KindGroup && len(prim.Children) > 0 {
		if score >= cib.Infinity {
			prim = prim.Children[len(prim.Children)-1]
		} else {
			prim = prim.Children[0]
		}
	}
	co := &Coloc{ID: id, Dep: dep, Prim: prim, Score: score, DepRole: cib.NormalizeRole(depRole),
		PrimRole: cib.NormalizeRole(primRole), NodeAttr: attr, Influence: infl}
	if co.DepRole == RoleStarted {
		co.DepRole = ""
	}
	if co.PrimRole == RoleStarted {
		co.PrimRole = ""
	}
	if co.NodeAttr == "" {
		co.NodeAttr = "#uname"
	}
	s.Colocs = append(s.Colocs, co)
	dep.rscCons = append(dep.rscCons, co)
	prim.rscConsLHS = append(prim.rscConsLHS, co)
}

func (s *Scheduler) setMembers(set *cib.Element) []*Resource {
	var out []*Resource
	for _, ref := range set.All("resource_ref") {
		out = append(out, s.resolveRefs(ref.Get("id"))...)
	}
	return out
}

func (s *Scheduler) unpackColocations() {
	for _, r := range s.All {
		if r.Kind != cib.KindGroup {
			continue
		}
		for i := 1; i < len(r.Children); i++ {
			s.newColoc("group:internal_colocation", cib.Infinity, r.Children[i], r.Children[i-1], "", "", "", r.Children[i].Critical)
		}
	}
	for _, c := range s.CIB.Constraints {
		if c.Name != "rsc_colocation" {
			continue
		}
		id := c.Get("id")
		score := cib.ParseScore(c.Get("score"))
		attr := c.Get("node-attribute")
		sets := c.All("resource_set")
		if len(sets) == 0 {
			deps := s.resolveRefs(c.Get("rsc"))
			prims := s.resolveRefs(c.Get("with-rsc"))
			for _, d := range deps {
				for _, p := range prims {
					s.newColoc(id, score, d, p, c.Get("rsc-role"), c.Get("with-rsc-role"), attr, s.influence(c, d))
				}
			}
			continue
		}
		var last *cib.Element
		for _, set := range sets {
			local := score
			if sc := set.Get("score"); sc != "" {
				local = cib.ParseScore(sc)
			}
			role := set.Get("role")
			members := s.setMembers(set)
			seq := isTrueDefault(set.Get("sequential"), true)
			ordering := set.Get("ordering")
			if ordering == "" {
				ordering = "group"
			}
			if local != 0 && seq {
				if local > 0 && ordering == "group" {
					for i := 1; i < len(members); i++ {
						s.newColoc(id, local, members[i], members[i-1], role, role, attr, s.influence(c, members[i]))
					}
				} else if local > 0 {
					for i := 1; i < len(members); i++ {
						s.newColoc(id, local, members[i-1], members[i], role, role, attr, s.influence(c, members[i-1]))
					}
				} else {
					for i := range members {
						for j := 0; j < i; j++ {
							s.newColoc(id, local, members[i], members[j], role, role, attr, s.influence(c, members[i]))
						}
					}
				}
			}
			if last != nil {
				s.colocSets(c, id, last, set, score, attr)
			}
			last = set
		}
	}
}

func (s *Scheduler) colocSets(c *cib.Element, id string, set1, set2 *cib.Element, score int, attr string) {
	if score == 0 {
		return
	}
	m1, m2 := s.setMembers(set1), s.setMembers(set2)
	r1, r2 := set1.Get("role"), set2.Get("role")
	var a, b *Resource
	if isTrueDefault(set1.Get("sequential"), true) && len(m1) > 0 {
		a = m1[0]
	}
	if isTrueDefault(set2.Get("sequential"), true) && len(m2) > 0 {
		b = m2[len(m2)-1]
	}
	switch {
	case a != nil && b != nil:
		s.newColoc(id, score, a, b, r1, r2, attr, s.influence(c, a))
	case a != nil:
		for _, x := range m2 {
			s.newColoc(id, score, a, x, r1, r2, attr, s.influence(c, a))
		}
	case b != nil:
		for _, x := range m1 {
			s.newColoc(id, score, x, b, r1, r2, attr, s.influence(c, x))
		}
	default:
		for _, x := range m1 {
			for _, y := range m2 {
				s.newColoc(id, score, x, y, r1, r2, attr, s.influence(c, x))
			}
		}
	}
}

// orderKind decodes kind/score of an rsc_order.
func orderKind(c *cib.Element) string {
	k := c.Get("kind")
	if k == "" {
		if sc := c.Get("score"); sc != "" {
			if cib.ParseScore(sc) == 0 {
				return "Optional"
			}
		}
		return "Mandatory"
	}
	switch strings.ToLower(k) {
	case "optional":
		return "Optional"
	case "serialize":
		return "Serialize"
	}
	return "Mandatory"
}

func normAction(a, def string) string {
	if a == "" {
		return def
	}
	return a
}

func (s *Scheduler) addOrder(id string, first *Resource, fop string, then *Resource, top string, kind string, symmetrical bool) {
	if first == nil || then == nil {
		return
	}
	if (first.Class == "stonith") != (then.Class == "stonith") && (first.isPrimitive() && then.isPrimitive()) {
		// orderings between fencing devices and other resources are ignored
	}
	s.Orders = append(s.Orders, &Order{ID: id, First: first, Then: then, FirstOp: fop, ThenOp: top, Kind: kind})
	if symmetrical && kind != "Serialize" {
		inv := map[string]string{"start": "stop", "stop": "start", "promote": "demote", "demote": "promote"}
		if fi, ok := inv[fop]; ok {
			if ti, ok2 := inv[top]; ok2 {
				s.Orders = append(s.Orders, &Order{ID: id + "-inv", First: then, Then: first, FirstOp: ti, ThenOp: fi, Kind: kind})
			}
		}
	}
}

func (s *Scheduler) unpackOrders() {
	for _, c := range s.CIB.Constraints {
		if c.Name != "rsc_order" {
			continue
		}
		id := c.Get("id")
		kind := orderKind(c)
		symmetrical := isTrueDefault(c.Get("symmetrical"), kind != "Serialize")
		sets := c.All("resource_set")
		if len(sets) == 0 {
			fop := normAction(c.Get("first-action"), "start")
			top := normAction(c.Get("then-action"), fop)
			for _, f := range s.resolveRefs(c.Get("first")) {
				for _, t := range s.resolveRefs(c.Get("then")) {
					s.addOrder(id, f, fop, t, top, kind, symmetrical)
				}
			}
			continue
		}
		// resource sets: sequential sets chain their members; consecutive
		// sets order every member of one before every member of the next
		// (require-all=false handled as "any one of").
		var prev []*Resource
		var prevAction string
		var prevAny bool
		for _, set := range sets {
			members := s.setMembers(set)
			action := normAction(set.Get("action"), "start")
			skind := kind
			if k := set.Get("kind"); k != "" {
				skind = orderKind(set)
			}
			if isTrueDefault(set.Get("sequential"), true) {
				for i := 1; i < len(members); i++ {
					s.addOrder(id, members[i-1], action, members[i], action, skind, symmetrical)
				}
			}
			reqAll := isTrueDefault(set.Get("require-all"), true)
			if prev != nil {
				firsts := prev
				if !prevAny && isTrueDefault(prevSetSeq(sets, set), true) && len(prev) > 0 {
					firsts = prev[len(prev)-1:]
				}
				thens := members
				if isTrueDefault(set.Get("sequential"), true) && len(members) > 0 {
					thens = members[:1]
				}
				if prevAny {
					for _, t := range thens {
						o := &Order{ID: id, Then: t, FirstOp: prevAction, ThenOp: action, Kind: kind, requireAllFirstSets: prev}
						s.Orders = append(s.Orders, o)
					}
				} else {
					for _, f := range firsts {
						for _, t := range thens {
							s.addOrder(id, f, prevAction, t, action, kind, symmetrical)
						}
					}
				}
			}
			prev, prevAction, prevAny = members, action, !reqAll
		}
	}
}

func prevSetSeq(sets []*cib.Element, cur *cib.Element) string {
	for i, s := range sets {
		if s == cur && i > 0 {
			return sets[i-1].Get("sequential")
		}
	}
	return ""
}

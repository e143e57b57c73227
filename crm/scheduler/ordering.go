package scheduler

import "github.com/ringfence/ringfence/crm/cib"

// actionsOf returns the primitive-level actions that make up "r task".
func (s *Scheduler) actionsOf(r *Resource, task string) []*Action {
	var out []*Action
	for _, p := range r.primitives() {
		for _, a := range s.byRsc[p] {
			if a.Task == task {
				out = append(out, a)
			}
		}
	}
	return out
}

// firstPart picks the member actions that represent a resource's action
// when it is the first side of an ordering (a group is started when its
// last member is; stopped when its first member is).
func (s *Scheduler) sideActions(r *Resource, task string, first bool) []*Action {
	if r.Kind == cib.KindGroup && len(r.Children) > 0 {
		var m *Resource
		startish := task == "start" || task == "promote"
		if first == startish {
			m = r.Children[len(r.Children)-1]
		} else {
			m = r.Children[0]
		}
		return s.sideActions(m, task, first)
	}
	return s.actionsOf(r, task)
}

// internalOrders adds group member chains.
func (s *Scheduler) internalOrders() {
	for _, r := range s.All {
		if r.Kind != cib.KindGroup {
			continue
		}
		for i := 1; i < len(r.Children); i++ {
			a, b := r.Children[i-1], r.Children[i]
			s.orderRsc(a, "start", b, "start", fImpliesThen|fRunnableLeft)
			s.orderRsc(b, "stop", a, "stop", fImpliesFirst)
			s.orderRsc(a, "promote", b, "promote", fImpliesThen|fRunnableLeft)
			s.orderRsc(b, "demote", a, "demote", fImpliesFirst)
		}
	}
}

func (s *Scheduler) orderRsc(a *Resource, aop string, b *Resource, bop string, flags int) {
	fa := s.sideActions(a, aop, true)
	tb := s.sideActions(b, bop, false)
	anyFirst := a.Kind == cib.KindClone
	if anyFirst && flags&fRunnableLeft != 0 {
		s.anyOrders = append(s.anyOrders, anyOrder{first: fa, then: tb, firstRsc: a, op: aop, min: a.CloneMin})
		flags &^= fRunnableLeft
	}
	if a.Kind == cib.KindClone && b.Kind == cib.KindClone && b.Interleave {
		for _, f := range fa {
			for _, t := range tb {
				if f.Node == t.Node && f.Node != nil {
					s.order(f, t, flags)
				}
			}
		}
		return
	}
	for _, f := range fa {
		for _, t := range tb {
			s.order(f, t, flags)
		}
	}
}

type anyOrder struct {
	first    []*Action
	then     []*Action
	firstRsc *Resource
	op       string
	min      int
}

// constraintOrders turns rsc_order constraints into action edges.
func (s *Scheduler) constraintOrders() {
	for _, o := range s.Orders {
		if o.First == nil {
			// require-all=false set: then runs if any of the set can
			var fa []*Action
			for _, r := range o.requireAllFirstSets {
				fa = append(fa, s.sideActions(r, o.FirstOp, true)...)
			}
			s.anyOrders = append(s.anyOrders, anyOrder{first: fa, then: s.sideActions(o.Then, o.ThenOp, false), min: 1})
			continue
		}
		if (o.First.Class == "stonith") != (o.Then.Class == "stonith") && o.First.isPrimitive() && o.Then.isPrimitive() {
			continue
		}
		flags := 0
		switch o.Kind {
		case "Mandatory":
			if isInverse(o) {
				flags = fImpliesFirst
			} else {
				flags = fImpliesThen
				if o.FirstOp == "start" || o.FirstOp == "promote" {
					flags |= fRunnableLeft
				}
			}
		default:
			flags = fOptional
		}
		if o.First.Kind == cib.KindClone && flags&fImpliesThen != 0 {
			flags &^= fImpliesThen
		}
		// a clone's required pseudo action does not force every instance
		if o.Then.Kind == cib.KindClone && flags&fImpliesThen != 0 {
			flags &^= fImpliesThen
		}
		if o.First.Kind == cib.KindClone && flags&fImpliesFirst != 0 {
			flags &^= fImpliesFirst
		}
		s.orderRsc(o.First, o.FirstOp, o.Then, o.ThenOp, flags)
	}
}

func isInverse(o *Order) bool {
	return len(o.ID) > 4 && o.ID[len(o.ID)-4:] == "-inv"
}

// propagateAny applies "runnable if enough of the first actions can run".
func (s *Scheduler) propagateAny() bool {
	changed := false
	for _, ao := range s.anyOrders {
		n := 0
		for _, f := range ao.first {
			if f.Runnable && f.Node != nil {
				n++
			}
		}
		min := ao.min
		if min <= 0 {
			min = 1
		}
		if n >= min {
			continue
		}
		for _, t := range ao.then {
			if t.Runnable {
				t.Runnable = false
				changed = true
			}
		}
	}
	return changed
}

package scheduler

import (
	"sort"

	"github.com/ringfence/ringfence/crm/cib"
)

func (n *Node) remaining(k string) int { return n.Util[k] - n.usedUtil(k) }

// compareCapacity is negative when a has more free capacity than b.
func compareCapacity(a, b *Node) int {
	result := 0
	for k := range a.Util {
		fa, fb := a.remaining(k), b.remaining(k)
		if fa > fb {
			result--
		} else if fa < fb {
			result++
		}
	}
	for k := range b.Util {
		if _, ok := a.Util[k]; ok {
			continue
		}
		if 0 > b.remaining(k) {
			result--
		} else if 0 < b.remaining(k) {
			result++
		}
	}
	return result
}

func (n *Node) usedUtil(k string) int {
	if n.used == nil {
		return 0
	}
	return n.used[k]
}

func (s *Scheduler) consumeUtil(r *Resource, n *Node) {
	if s.Placement == "default" || len(r.Util) == 0 {
		return
	}
	if n.used == nil {
		n.used = map[string]int{}
	}
	for k, v := range r.Util {
		n.used[k] += v
	}
}

func haveCapacity(n *Node, need map[string]int) bool {
	for k, v := range need {
		if n.remaining(k) < v {
			return false
		}
	}
	return true
}

// colocatedSet collects resources tied to r by mandatory colocations.
func colocatedSet(r *Resource) []*Resource {
	seen := map[*Resource]bool{r: true}
	queue := []*Resource{r}
	for i := 0; i < len(queue); i++ {
		x := queue[i]
		for _, co := range x.rscCons {
			if co.Score >= cib.Infinity && !seen[co.Prim] {
				seen[co.Prim] = true
				queue = append(queue, co.Prim)
			}
		}
		for _, co := range x.rscConsLHS {
			if co.Score >= cib.Infinity && !seen[co.Dep] {
				seen[co.Dep] = true
				queue = append(queue, co.Dep)
			}
		}
	}
	return queue
}

// banInsufficientCapacity removes nodes that cannot hold the resource (and
// the unassigned resources colocated with it); for "balanced" it returns
// the node with most free capacity to prefer.
func (s *Scheduler) banInsufficientCapacity(r *Resource) *Node {
	if s.Placement == "default" {
		return nil
	}
	need := map[string]int{}
	for _, x := range colocatedSet(r) {
		for _, p := range x.primitives() {
			if !p.Provisional && p != r {
				continue
			}
			for k, v := range p.Util {
				need[k] += v
			}
		}
	}
	anyCapable := false
	var most *Node
	for n := range r.Allowed {
		if !n.available() || r.Allowed[n] < 0 {
			continue
		}
		if haveCapacity(n, need) {
			anyCapable = true
		}
		if most == nil || compareCapacity(n, most) < 0 || (compareCapacity(n, most) == 0 && n.Name < most.Name) {
			most = n
		}
	}
	if anyCapable {
		for n := range r.Allowed {
			if n.available() && r.Allowed[n] >= 0 && !haveCapacity(n, need) {
				r.Allowed[n] = -cib.Infinity
			}
		}
		most = nil
	} else {
		for n := range r.Allowed {
			if n.available() && r.Allowed[n] >= 0 && !haveCapacity(n, r.Util) {
				r.Allowed[n] = -cib.Infinity
			}
		}
	}
	if s.Placement != "balanced" {
		return nil
	}
	return most
}

// sortForUtilization orders resources for non-default placement
// strategies: priority, then score on the current node, then scores on
// nodes in capacity order.
func (s *Scheduler) sortForUtilization(order []*Resource) {
	nodes := append([]*Node(nil), s.Nodes...)
	sort.SliceStable(nodes, func(i, j int) bool {
		a, b := nodes[i], nodes[j]
		wa, wb := 0, 0
		if !a.available() {
			wa = -cib.Infinity
		}
		if !b.available() {
			wb = -cib.Infinity
		}
		if wa != wb {
			return wa > wb
		}
		if s.Placement == "balanced" {
			if c := compareCapacity(a, b); c != 0 {
				return c < 0
			}
		}
		return a.Name < b.Name
	})
	weight := func(r *Resource, n *Node) int {
		if n == nil {
			return -cib.Infinity
		}
		m := r.Allowed
		if r.Kind == cib.KindGroup && len(r.Children) > 0 {
			m = r.Children[0].Allowed
		}
		w, ok := m[n]
		if !ok {
			return -cib.Infinity
		}
		return w
	}
	sort.SliceStable(order, func(i, j int) bool {
		a, b := order[i], order[j]
		if a.Priority != b.Priority {
			return a.Priority > b.Priority
		}
		wa, wb := weight(a, a.currentNode()), weight(b, b.currentNode())
		if len(a.activeNodes()) > 0 {
			wa = weight(a, a.activeNodes()[0])
		}
		if len(b.activeNodes()) > 0 {
			wb = weight(b, b.activeNodes()[0])
		}
		if wa != wb {
			return wa > wb
		}
		for _, n := range nodes {
			x, y := weight(a, n), weight(b, n)
			if x != y {
				return x > y
			}
		}
		return false
	})
}

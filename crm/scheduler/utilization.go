package scheduler

// compareCapacity prefers the node with more free capacity (balanced).
func compareCapacity(a, b *Node) int {
	result := 0
	for k, cap := range a.Util {
		fa := cap - a.usedUtil(k)
		fb := b.Util[k] - b.usedUtil(k)
		if fa > fb {
			result--
		} else if fa < fb {
			result++
		}
	}
	for k, cap := range b.Util {
		if _, ok := a.Util[k]; ok {
			continue
		}
		if 0 > cap-b.usedUtil(k) {
			result--
		} else if 0 < cap-b.usedUtil(k) {
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

func (s *Scheduler) sortForUtilization(order []*Resource) {}

package scheduler

// canFence says whether the cluster may fence a node now.
func (s *Scheduler) canFence(n *Node) bool {
	if !s.StonithEnabled || !s.HaveFencing {
		return false
	}
	if n.Kind == "guest" {
		return true
	}
	if s.HaveQuorum || s.NoQuorumPolicy == "ignore" {
		return true
	}
	return n.Online
}

// scheduleFencing creates fencing and shutdown actions.
func (s *Scheduler) scheduleFencing() {
	for _, n := range s.Nodes {
		if n.Kind == "guest" {
			if n.RemoteReset && s.canFence(n) {
				n.Fence = true
				n.fenceRunnable = true
				a := s.newAction(nil, "stonith", n, false)
				a.Pseudo = true
				a.Meta["CRM_meta_stonith_action"] = "reboot"
			}
			continue
		}
		if n.Unclean {
			if s.canFence(n) {
				n.Fence = true
				n.fenceRunnable = true
				a := s.newAction(nil, "stonith", n, false)
				a.Meta["CRM_meta_stonith_action"] = s.StonithAction
			}
		}
	}
}

func (s *Scheduler) scheduleShutdowns() {
	for _, n := range s.Nodes {
		if n.Online && n.Shutdown && !n.Unclean && n.Kind == "member" {
			a := s.newAction(nil, "do_shutdown", n, false)
			for _, x := range s.Actions {
				if x.Task == "stop" && x.Node == n {
					s.order(x, a, fOptional)
				}
			}
		}
	}
}

// orderFencing makes stops on fenced nodes pseudo and starts wait for
// fencing.
func (s *Scheduler) orderFencing() {
	for _, f := range s.Actions {
		if f.Task != "stonith" {
			continue
		}
		for _, a := range s.Actions {
			if a.Rsc == nil {
				continue
			}
			if (a.Task == "stop" || a.Task == "demote") && a.Node == f.Node {
				s.order(f, a, fOptional)
			}
			if a.Task == "start" && a.Rsc.Requires == "fencing" {
				s.order(f, a, fOptional)
			}
		}
	}
}

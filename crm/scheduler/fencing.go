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
		if n.Kind == "remote" && !n.Online && n.Conn != nil && s.remoteConnectionFailed(n) {
			s.fenceNode(n, "the connection is unrecoverable")
		}
	}
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

// remoteConnectionFailed reports whether a remote node's connection is
// gone for good (it will not run again and it failed, or its host died).
func (s *Scheduler) remoteConnectionFailed(n *Node) bool {
	c := n.Conn
	host := c.currentNode()
	if c.NextRole == RoleStopped || c.Assigned == nil {
		if host != nil && host.Unclean {
			return true
		}
		if !c.Failed {
			return false
		}
		if c.NextRole == RoleStopped && c.Meta["reconnect_interval"] != "" && !shutdownRequested(n) {
			return false
		}
		return true
	}
	return false
}

package scheduler

import (
	"strconv"
	"strings"

	"github.com/ringfence/ringfence/crm/cib"
)

// unpackOptions evaluates crm_config into the scheduler's switches.
func (s *Scheduler) unpackOptions() {
	s.Options = map[string]string{}
	cib.Unpack(s.CIB.CrmConfig, &cib.RuleContext{Now: s.Now, NodeAttrs: map[string]string{}}, s.Options, false)
	opt := func(name, def string) string {
		if v, ok := s.Options[name]; ok && v != "" {
			return v
		}
		return def
	}
	s.StonithEnabled = cib.IsTrue(opt("stonith-enabled", "true"))
	s.HaveQuorum = s.CIB.HaveQuorum
	s.NoQuorumPolicy = opt("no-quorum-policy", "stop")
	s.Symmetric = cib.IsTrue(opt("symmetric-cluster", "true"))
	s.StartFatal = cib.IsTrue(opt("start-failure-is-fatal", "true"))
	s.StopAll = cib.IsTrue(opt("stop-all-resources", "false"))
	s.MaintenanceMode = cib.IsTrue(opt("maintenance-mode", "false"))
	s.Placement = strings.ToLower(opt("placement-strategy", "default"))
	s.StartupProbes = cib.IsTrue(opt("enable-startup-probes", "true"))
	s.ConcurrentFence = cib.IsTrue(opt("concurrent-fencing", "false"))
	s.StonithAction = opt("stonith-action", "reboot")
	if s.StonithAction == "poweroff" {
		s.StonithAction = "off"
	}
	s.ShutdownLock = cib.IsTrue(opt("shutdown-lock", "false"))
	if s.NoQuorumPolicy == "suicide" && !s.StonithEnabled {
		s.NoQuorumPolicy = "stop"
	}
}

func (s *Scheduler) findNode(idOrName string) *Node {
	if n := s.nodeByNam[idOrName]; n != nil {
		return n
	}
	return s.nodeByID[idOrName]
}

func (s *Scheduler) addNode(id, name, kind string) *Node {
	n := &Node{ID: id, Name: name, Kind: kind, Attrs: map[string]string{}, Util: map[string]int{}, RscDiscovery: true}
	s.Nodes = append(s.Nodes, n)
	s.nodeByID[id] = n
	s.nodeByNam[name] = n
	return n
}

// unpackNodes creates nodes from the configuration and classifies cluster
// nodes from their node_state. Remote and guest nodes are finished later,
// once their connection resources' state is known.
func (s *Scheduler) unpackNodes() {
	startupFencing := s.StonithEnabled && cib.IsTrue(optDefault(s.Options, "startup-fencing", "true"))
	for _, nd := range s.CIB.Nodes {
		kind := nd.Type
		if kind != "remote" && kind != "ping" {
			kind = "member"
		}
		n := s.addNode(nd.ID, nd.Uname, kind)
		if kind == "member" {
			n.Unclean = startupFencing
			n.Unseen = true
		}
		ctx := &cib.RuleContext{Now: s.Now, NodeAttrs: map[string]string{"#uname": nd.Uname, "#id": nd.ID, "#kind": kind}}
		cib.Unpack(nd.Attrs, ctx, n.Attrs, false)
		um := map[string]string{}
		cib.Unpack(nd.Utilization, ctx, um, false)
		for k, v := range um {
			iv, _ := strconv.Atoi(v)
			n.Util[k] = iv
		}
	}
	for _, n := range s.Nodes {
		n.Attrs["#uname"] = n.Name
		n.Attrs["#id"] = n.ID
		k := n.Kind
		if k == "member" {
			k = "cluster"
		}
		n.Attrs["#kind"] = k
		if s.CIB.DCUUID != "" && s.CIB.DCUUID == n.ID {
			n.Attrs["#is_dc"] = "true"
		} else {
			n.Attrs["#is_dc"] = "false"
		}
		if cn, ok := s.Options["cluster-name"]; ok {
			n.Attrs["#cluster-name"] = cn
		}
	}
	for _, st := range s.CIB.NodeStates {
		n := s.nodeByID[st.ID]
		if n == nil {
			n = s.nodeByNam[st.Uname]
		}
		if n == nil {
			continue
		}
		n.state = st
		for k, v := range st.Attrs {
			n.Attrs[k] = v
		}
		if n.Kind != "member" {
			continue
		}
		n.Unclean = false
		n.Unseen = false
		s.classifyMember(n, st)
		if !s.HaveQuorum && n.Online && s.NoQuorumPolicy == "suicide" {
			s.fenceNode(n, "cluster does not have quorum")
		}
	}
	for _, n := range s.Nodes {
		if cib.IsTrue(n.Attrs["standby"]) {
			n.Standby = true
		}
		if cib.IsTrue(n.Attrs["maintenance"]) {
			n.Maintenance = true
		}
	}
}

func optDefault(m map[string]string, k, d string) string {
	if v, ok := m[k]; ok && v != "" {
		return v
	}
	return d
}

func shutdownRequested(n *Node) bool {
	v := n.Attrs["shutdown"]
	return v != "" && v != "0"
}

func (s *Scheduler) classifyMember(n *Node, st *cib.NodeState) {
	n.Shutdown = shutdownRequested(n)
	n.ExpectedUp = !n.Shutdown && strings.EqualFold(st.Expected, "member")
	var online bool
	inCluster := cib.IsTrue(st.InCCM)
	crmdOnline := strings.EqualFold(st.Crmd, "online")
	if !s.StonithEnabled {
		switch {
		case !inCluster:
		case crmdOnline:
			online = strings.EqualFold(st.Join, "member")
		case !n.ExpectedUp:
		default:
			s.fenceNode(n, "peer is unexpectedly down")
		}
	} else {
		term := n.Attrs["terminate"]
		doTerm := cib.IsTrue(term) || (term != "" && term[0] != '0' && term[0] >= '0' && term[0] <= '9')
		exp := st.Expected
		if exp == "" {
			exp = "down"
		}
		online = inCluster
		switch {
		case n.Shutdown:
			online = crmdOnline
		case !st.HasInCCM:
			s.fenceNode(n, "peer has not been seen by the cluster")
		case strings.EqualFold(st.Join, "banned") || strings.EqualFold(st.Join, "nack"):
			s.fenceNode(n, "peer failed Pacemaker membership criteria")
		case !doTerm && strings.EqualFold(exp, "down"):
			if inCluster || crmdOnline {
				n.Standby, n.Pending = true, true
			}
		case doTerm && strings.EqualFold(st.Join, "down") && !inCluster && !crmdOnline:
			online = false
		case !inCluster:
			s.fenceNode(n, "peer is no longer part of the cluster")
		case !crmdOnline:
			s.fenceNode(n, "peer process is no longer available")
		case doTerm:
			s.fenceNode(n, "termination was requested")
		case strings.EqualFold(st.Join, "member"):
		case strings.EqualFold(st.Join, "pending") || strings.EqualFold(st.Join, "down"):
			n.Standby, n.Pending = true, true
		default:
			s.fenceNode(n, "peer was in an unknown state")
		}
	}
	n.Online = online
}

// fenceNode marks a node unclean; fencing actions are created later when
// possible.
func (s *Scheduler) fenceNode(n *Node, reason string) {
	if n.Kind == "guest" {
		// a guest is "fenced" by recovering its container; it is not
		// marked unclean so it can run resources once recovered
		if n.Conn != nil && n.Conn.container != nil {
			c := n.Conn.container
			if !c.Failed && c.Managed {
				n.RemoteReset = true
				c.Failed, c.stopFlag = true, true
				if !n.Unclean {
					n.FenceReason = reason
				}
			}
		}
		return
	}
	if n.Kind == "remote" {
		if n.Conn != nil && !n.Conn.Managed {
			return
		}
		n.RemoteReset = true
	}
	if !n.Unclean {
		n.FenceReason = reason
	}
	n.Unclean = true
}

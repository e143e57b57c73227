package scheduler

import (
	"github.com/ringfence/ringfence/crm/cib"
)

func isRemoteAgent(r *Resource) bool {
	return r.isPrimitive() && r.Class == "ocf" && r.Provider == "pacemaker" && r.Type == "remote"
}

// setupRemotes creates Pacemaker Remote nodes for connection resources and
// guest nodes (with their implicit connection) for remote-node resources.
func (s *Scheduler) setupRemotes() {
	startupFencing := s.StonithEnabled && cib.IsTrue(optDefault(s.Options, "startup-fencing", "true"))
	for _, r := range append([]*Resource(nil), s.All...) {
		if !r.isPrimitive() {
			continue
		}
		if isRemoteAgent(r) && r.container == nil {
			r.isRemote = true
			n := s.findNode(r.ID)
			if n == nil {
				n = s.addNode(r.ID, r.ID, "remote")
				n.Attrs["#uname"], n.Attrs["#id"], n.Attrs["#kind"] = n.Name, n.ID, "remote"
			}
			n.Kind = "remote"
			n.Attrs["#kind"] = "remote"
			n.Conn = r
			n.Unclean, n.Unseen = startupFencing, true
			continue
		}
		if c := r.Meta["container"]; c != "" && s.byID[c] != nil {
			r.container = s.byID[c]
		}
		guest := r.Meta["remote-node"]
		if guest == "" || r.Parent != nil {
			continue
		}
		def := &cib.ResourceDef{Kind: cib.KindPrimitive, ID: guest, Class: "ocf", Provider: "pacemaker", Type: "remote"}
		conn := s.newResource(def, nil, guest)
		conn.isRemote = true
		conn.container = r
		conn.AllowMigrate = false
		conn.Requires = "quorum"
		r.contained = append(r.contained, conn)
		s.register(conn)
		s.Resources = append(s.Resources, conn)
		n := s.findNode(guest)
		if n == nil {
			n = s.addNode(guest, guest, "guest")
		}
		n.Kind = "guest"
		n.Attrs["#uname"], n.Attrs["#id"], n.Attrs["#kind"] = n.Name, n.ID, "container"
		n.Conn = conn
	}
	for _, st := range s.CIB.NodeStates {
		n := s.nodeByID[st.ID]
		if n == nil {
			n = s.nodeByNam[st.Uname]
		}
		if n != nil && n.Kind != "member" {
			n.state = st
		}
	}
}

// remoteOnline decides a remote/guest node's status from its connection.
func (s *Scheduler) remoteOnline(n *Node) {
	rsc := n.Conn
	if rsc == nil {
		n.Online = false
		return
	}
	container := rsc.container
	if rsc.Role == RoleStarted {
		n.Online = true
	}
	if rsc.Role == RoleStarted && rsc.NextRole == RoleStopped {
		n.Shutdown = true
	}
	var host *Node
	if container != nil {
		host = container.currentNode()
	}
	switch {
	case container != nil && container.Failed:
		n.Online = false
		n.RemoteReset = true
	case rsc.Failed:
		n.Online = false
	case rsc.Role == RoleStopped || (container != nil && container.Role == RoleStopped):
		n.Online = false
		n.RemoteReset = false
	case host != nil && !host.Online && host.Unclean:
		n.Online = false
		n.RemoteReset = true
	}
	if !n.RemoteReset {
		n.Unclean = false
		n.Unseen = false
	}
	if st := n.state; st != nil {
		for k, v := range st.Attrs {
			n.Attrs[k] = v
		}
		if shutdownRequested(n) {
			n.Shutdown = true
		}
		if cib.IsTrue(n.Attrs["standby"]) {
			n.Standby = true
		}
		if cib.IsTrue(n.Attrs["maintenance"]) || !rsc.Managed {
			n.Maintenance = true
		}
		if v, ok := n.Attrs["resource-discovery-enabled"]; ok && !cib.IsTrue(v) {
			n.RscDiscovery = false
		}
	}
}

// remoteAssigned updates a remote node once its connection is placed.
func (s *Scheduler) remoteAssigned(conn *Resource) {
	var n *Node
	for _, x := range s.Nodes {
		if x.Conn == conn {
			n = x
		}
	}
	if n == nil {
		return
	}
	if conn.Assigned != nil && conn.NextRole != RoleStopped {
		n.Online = true
		if n.Unseen {
			n.Unclean = false
		}
	} else {
		n.Shutdown = true
	}
}

// banConnectionsFromRemotes keeps connection resources (and guest
// containers) off Pacemaker Remote nodes.
func (s *Scheduler) banConnectionsFromRemotes() {
	for _, r := range s.All {
		if !r.isRemote && len(r.contained) == 0 && !(r.isPrimitive() && r.Class == "stonith") {
			continue
		}
		for _, n := range s.Nodes {
			if n.Kind != "member" {
				addLocation(r, n, -cib.Infinity)
			}
		}
	}
	// a guest's connection must run where its container runs
	for _, r := range s.All {
		if r.isRemote && r.container != nil {
			s.newColoc("remote-conn-with-container", cib.Infinity, r, r.container, "", "", "", true)
			s.Orders = append(s.Orders, &Order{ID: "remote-conn-after-container", First: r.container, Then: r, FirstOp: "start", ThenOp: "start", Kind: "Mandatory"})
			s.Orders = append(s.Orders, &Order{ID: "remote-conn-after-container-inv", First: r, Then: r.container, FirstOp: "stop", ThenOp: "stop", Kind: "Mandatory"})
		}
	}
}

// remoteOrders makes actions on remote nodes wait for their connection.
func (s *Scheduler) remoteOrders() {
	for _, a := range s.Actions {
		if a.Rsc == nil || a.Node == nil || a.Node.Kind == "member" || a.Node.Conn == nil || a.Rsc.isRemote {
			continue
		}
		conn := a.Node.Conn
		switch a.Task {
		case "start", "promote":
			for _, c := range s.byRsc[conn] {
				if c.Task == "start" && c.Node != nil {
					s.order(c, a, fRunnableLeft)
				}
			}
			if conn.Assigned == nil || conn.NextRole == RoleStopped {
				a.Runnable = false
			}
		}
	}
}

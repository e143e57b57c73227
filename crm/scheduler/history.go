package scheduler

import (
	"regexp"
	"strings"

	"github.com/ringfence/ringfence/crm/cib"
)

// on-fail severities, ordered as Pacemaker compares them.
const (
	failIgnore    = 10
	failDemote    = 20
	failRecover   = 30
	failReset     = 40
	failContainer = 50
	failMigrate   = 60
	failBlock     = 70
	failStop      = 80
	failStandby   = 90
	failFence     = 100
)

var cloneSuffix = regexp.MustCompile(`:\d+$`)

// opConfig finds the configured <op> for a task/interval.
func (r *Resource) opConfig(task string, intervalMS int64) *cib.OpDef {
	for _, o := range r.Ops {
		if o.Name == task && o.IntervalMS == intervalMS {
			if en, ok := o.Attrs["enabled"]; ok && !cib.IsTrue(en) {
				continue
			}
			return o
		}
	}
	return nil
}

// onFail returns the failure response and the role to fall back to.
func (s *Scheduler) onFail(r *Resource, task string, intervalMS int64) (int, string) {
	val := ""
	if o := r.opConfig(task, intervalMS); o != nil {
		val = o.Attrs["on-fail"]
	}
	if val == "" && task == "monitor" && intervalMS == 0 {
		// probes take on-fail from no configured op
		val = ""
	}
	if val == "" {
		m := map[string]string{}
		cib.Unpack(s.CIB.OpDefaults, &cib.RuleContext{Now: s.Now, HasOp: true, OpName: task, OpInterval: intervalMS,
			RscClass: r.Class, RscProvider: r.Provider, RscType: r.Type}, m, false)
		val = m["on-fail"]
	}
	switch strings.ToLower(val) {
	case "ignore":
		return failIgnore, RoleStarted
	case "block":
		return failBlock, RoleStarted
	case "fence":
		if s.StonithEnabled {
			return failFence, RoleStarted
		}
		return failBlock, RoleStarted
	case "standby":
		return failStandby, RoleStarted
	case "stop":
		return failStop, RoleStopped
	case "demote":
		return failDemote, RoleStarted
	case "restart":
		return failRecover, RoleStarted
	case "restart-container":
		return failContainer, RoleStarted
	}
	if task == "stop" {
		if s.StonithEnabled {
			return failFence, RoleStarted
		}
		return failBlock, RoleStarted
	}
	if r.isRemote && task == "monitor" && intervalMS > 0 {
		return failReset, RoleStarted
	}
	return failRecover, RoleStarted
}

func cmpOnFail(a, b int) int { return a - b }

// findHistoryResource maps an lrm_resource id on a node to a resource,
// choosing clone instances the way Pacemaker does.
func (s *Scheduler) findHistoryResource(n *Node, lr *cib.LRMResource, active bool) *Resource {
	if r := s.byID[lr.ID]; r != nil && r.isPrimitive() && r.cloneParent() == nil {
		return r
	}
	base := cloneSuffix.ReplaceAllString(lr.ID, "")
	var clone *Resource
	var def *cib.ResourceDef
	for _, top := range s.Resources {
		if top.Kind != cib.KindClone {
			continue
		}
		cib.Walk(top.Def.Children, func(d *cib.ResourceDef) {
			if d.ID == base && d.Kind == cib.KindPrimitive {
				clone, def = top, d
			}
		})
		if clone != nil {
			break
		}
	}
	if clone == nil {
		return nil
	}
	member := func(inst *Resource) *Resource {
		for _, p := range inst.primitives() {
			if p.Def == def {
				return p
			}
		}
		return nil
	}
	if clone.Unique {
		if r := s.byID[lr.ID]; r != nil && r.isPrimitive() {
			return r
		}
		inst := s.orphanInstance(clone)
		return member(inst)
	}
	if inst := clone.anonByNode[n]; inst != nil {
		m := member(inst)
		if active && m != nil && m.isRunningOn(n) {
			// a second active copy on the same node is an orphan
			return member(s.orphanInstance(clone))
		}
		return m
	}
	if !active {
		// inactive history: any instance will do; remember only knowledge
		for _, inst := range clone.Children {
			if clone.anonUsedOn(inst) == nil {
				return member(inst)
			}
		}
		return member(clone.Children[0])
	}
	for _, inst := range clone.Children {
		if clone.anonUsedOn(inst) == nil && len(inst.activeNodes()) == 0 {
			clone.anonByNode[n] = inst
			return member(inst)
		}
	}
	inst := s.orphanInstance(clone)
	clone.anonByNode[n] = inst
	return member(inst)
}

func (c *Resource) anonUsedOn(inst *Resource) *Node {
	for n, i := range c.anonByNode {
		if i == inst {
			return n
		}
	}
	return nil
}

func (s *Scheduler) orphanInstance(clone *Resource) *Resource {
	inst, err := s.addInstance(clone)
	if err != nil {
		return nil
	}
	for _, r := range append([]*Resource{inst}, inst.primitives()...) {
		r.Orphan = true
		r.banAll = true
	}
	s.prepareNew(inst)
	return inst
}

// prepareNew gives a resource created after unpacking its base state.
func (s *Scheduler) prepareNew(r *Resource) {
	for _, x := range append([]*Resource{r}, r.primitives()...) {
		x.Requires = s.defaultRequires(x)
	}
}

func (s *Scheduler) defaultRequires(r *Resource) string {
	if v := r.Meta["requires"]; v != "" {
		return v
	}
	if r.Class == "stonith" {
		return "quorum"
	}
	if s.StonithEnabled {
		return "fencing"
	}
	return "quorum"
}

func (s *Scheduler) orphanPrimitive(lr *cib.LRMResource) *Resource {
	def := &cib.ResourceDef{Kind: cib.KindPrimitive, ID: lr.ID, Class: lr.Class, Provider: lr.Provider, Type: lr.Type}
	r := s.newResource(def, nil, lr.ID)
	r.Orphan = true
	r.banAll = true
	if !cib.IsTrue(optDefault(s.Options, "stop-orphan-resources", "true")) {
		r.Managed = false
	}
	r.Requires = s.defaultRequires(r)
	s.register(r)
	s.Resources = append(s.Resources, r)
	return r
}

// opActive predicts whether history leaves the resource active, used only
// to pick a clone instance before the full replay.
func historyActive(ops []*cib.LRMOp) bool {
	active := false
	for _, o := range ops {
		switch o.Operation {
		case "start", "migrate_from", "promote", "demote":
			active = o.RC == 0 || o.OpStatus != 0
		case "stop":
			active = !(o.RC == 0 && o.OpStatus == 0)
		case "monitor":
			if o.OpStatus == -1 || o.RC == 193 {
				continue
			}
			if o.RC == 7 || o.RC == 5 {
				active = false
			} else if o.RC == 0 || o.RC == 8 {
				active = true
			} else if o.IntervalMS == 0 {
				active = o.RC != 5 && o.RC != 7
			} else {
				active = true
			}
		case "migrate_to":
			active = true
		}
	}
	return active
}

// unpackHistory replays every node's history into resource state.
func (s *Scheduler) unpackHistory() {
	done := map[*Node]bool{}
	for _, n := range s.Nodes {
		if n.Kind == "member" && n.Online {
			s.unpackNodeHistory(n)
			done[n] = true
		}
	}
	// offline cluster nodes' history only matters when fencing could
	// make it true; without fencing Pacemaker never reads it
	for _, n := range s.Nodes {
		if n.Kind == "member" && !done[n] && (s.StonithEnabled || s.ShutdownLock) {
			s.unpackNodeHistory(n)
			done[n] = true
		}
	}
	for progress := true; progress; {
		progress = false
		for _, n := range s.Nodes {
			if done[n] || n.Conn == nil {
				continue
			}
			conn := n.Conn
			if conn.Role != RoleStarted || (conn.container != nil && conn.container.Role != RoleStarted) {
				continue
			}
			s.remoteOnline(n)
			s.unpackNodeHistory(n)
			done[n] = true
			progress = true
		}
	}
	for _, n := range s.Nodes {
		if done[n] || n.Kind == "member" {
			continue
		}
		if s.StonithEnabled || s.ShutdownLock {
			s.remoteOnline(n)
			s.unpackNodeHistory(n)
		}
	}
}

func (s *Scheduler) unpackNodeHistory(n *Node) {
	{
		st := n.state
		if st == nil {
			return
		}
		for _, lr := range st.Resources {
			if len(lr.Ops) == 0 {
				continue
			}
			r := s.findHistoryResource(n, lr, historyActive(lr.Ops))
			if r == nil {
				r = s.orphanPrimitive(lr)
			}
			s.replay(r, n, lr)
		}
	}
}

func isProbe(o *cib.LRMOp) bool { return o.Operation == "monitor" && o.IntervalMS == 0 }

func (s *Scheduler) failureExpired(r *Resource, n *Node, o *cib.LRMOp) bool {
	if r.FailureTimeoutS <= 0 || o.LastRCChange == 0 {
		return false
	}
	if o.LastRCChange+r.FailureTimeoutS > s.Now.Unix() {
		return false
	}
	return true
}

// replay walks one resource's ops on one node.
func (s *Scheduler) replay(r *Resource, n *Node, lr *cib.LRMResource) {
	role := RoleUnknown
	onFail := failIgnore
	nextRole := ""
	var lastFailure *cib.LRMOp
	parent := r
	if cp := r.cloneParent(); cp != nil && !cp.Unique {
		parent = cp
	}
	setActive := func() {
		if roleRank(role) < roleRank(RoleStarted) {
			if r.cloneParent() != nil && r.cloneParent().Promotable {
				role = RoleUnpromoted
			} else {
				role = RoleStarted
			}
		}
	}
	for _, o := range lr.Ops {
		if o.Operation == "notify" || o.Operation == "meta-data" {
			continue
		}
		rc, status := o.RC, o.OpStatus
		target := o.TargetRC
		probe := isProbe(o)
		expired := status != 7 && o.RC != target && s.failureExpired(r, n, o)
		// remap
		if o.Operation == "monitor" {
			if rc == 190 {
				rc = 0
			} else if rc == 191 {
				rc = 8
			}
		}
		masked := probe && (rc == 5 || rc == 2 || status == 7)
		if masked {
			status, rc = 0, 7
		}
		if status == 0 || status == 4 {
			status = 0
			if target < 0 || target != rc {
				status = 4
			}
			switch rc {
			case 0:
				if probe && target == 7 {
					status = 0
				}
			case 7:
				if probe || target == rc || !r.Managed {
					status = 0
					role = RoleStopped
					onFail = failIgnore
					nextRole = ""
				}
			case 8:
				if probe && rc != target {
					status = 0
				}
				role = RolePromoted
			case 9, 191:
				role = RolePromoted
				status = 4
			case 6:
				status = 6
			case 3:
				if o.IntervalMS == 0 {
					status = 5
				} else {
					status = 3
				}
			case 5, 2, 4:
				status = 5
			default:
				if status == 0 {
					status = 4
				}
			}
		}
		if expired && masked && o.RC != target {
			if roleRank(role) <= roleRank(RoleStopped) {
				role = RoleUnknown
			}
			continue
		} else if expired && rc != target {
			if o.IntervalMS == 0 || (n.Online && !n.Unclean) {
				continue
			}
		}
		updateState := func(rcUse int) {
			clear := false
			switch {
			case rcUse == 5 || masked:
				role = RoleStopped
			case rcUse == 7:
				clear = true
			case o.Operation == "monitor":
				if lastFailure != nil && lastFailure.Operation == o.Operation && lastFailure.IntervalMS == o.IntervalMS {
					clear = true
				}
				setActive()
			case o.Operation == "start":
				role = RoleStarted
				clear = true
			case o.Operation == "stop":
				role = RoleStopped
				clear = true
			case o.Operation == "promote":
				role = RolePromoted
				clear = true
			case o.Operation == "demote":
				if onFail == failDemote {
					clear = true
				}
				role = RoleUnpromoted
			case o.Operation == "migrate_from":
				role = RoleStarted
				clear = true
			case o.Operation == "migrate_to":
				if nr, ok := s.migrateToSuccess(r, n, o, lr); ok {
					role = nr
				}
			default:
				setActive()
			}
			if clear {
				switch onFail {
				case failStop, failFence, failMigrate, failStandby:
				case failReset:
					if r.Meta["reconnect_interval"] == "" {
						onFail = failIgnore
						nextRole = ""
					}
				default:
					onFail = failIgnore
					nextRole = ""
				}
			}
		}
		if masked {
			updateState(target)
			parent.banOn(n)
			continue
		}
		switch status {
		case 1: // cancelled
			continue
		case -1:
			switch o.Operation {
			case "start":
				setActive()
			case "promote":
				role = RolePromoted
			}
			if o.IntervalMS != 0 || o.Operation != "monitor" {
				r.Pending[n] = o.Operation
			}
			continue
		case 0:
			updateState(rc)
			continue
		case 7:
			parent.banOn(n)
		}
		if status == 10 || status == 11 {
			status = 5
		}
		strategy, failRole := s.onFail(r, o.Operation, o.IntervalMS)
		if probe {
			strategy, failRole = s.onFail(r, "monitor", 0)
		}
		if strategy == failIgnore || (strategy == failContainer && o.Operation == "stop") {
			r.ignoredFailures = true
			updateState(target)
			continue
		}
		r.countedFailures = true
		// failure
		lastFailure = o
		if cmpOnFail(onFail, strategy) < 0 {
			onFail = strategy
		}
		switch o.Operation {
		case "stop":
			r.banOn(n)
		case "promote":
			role = RolePromoted
		case "demote":
			if strategy == failBlock {
				role = RolePromoted
				nextRole = RoleStopped
			} else if rc == 7 {
				role = RoleStopped
			} else {
				role = RoleUnpromoted
			}
		case "migrate_to":
			s.migrateToFailure(r, n, o, lr)
		case "migrate_from":
			s.migrateFromFailure(r, n, o, lr)
		}
		if probe && rc == 5 {
			role = RoleStopped
		} else if roleRank(role) < roleRank(RoleStarted) {
			setActive()
		}
		if failRole != RoleStarted && (nextRole == "" || roleRank(nextRole) < roleRank(failRole)) {
			nextRole = failRole
		}
		if failRole == RoleStopped {
			// cannot be started anywhere
			parent.banAll = true
		}
		if status == 5 {
			parent.banOn(n)
		}
		if status == 6 {
			parent.banAll = true
		}
	}
	s.processState(r, n, role, onFail, nextRole)
}

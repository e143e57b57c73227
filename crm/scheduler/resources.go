package scheduler

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ringfence/ringfence/crm/cib"
)

// Resource is a primitive, group, clone (and its instances) or bundle.
type Resource struct {
	ID     string // instance-qualified id, e.g. "rsc:0"
	Base   string // id as recorded in history for anonymous instances
	Kind   string
	Def    *cib.ResourceDef
	Parent *Resource
	// Children: group members, clone instances.
	Children []*Resource

	Class, Provider, Type string
	Meta, Params          map[string]string
	Ops                   []*cib.OpDef

	Priority           int
	Stickiness         int
	Managed            bool
	Maintenance        bool
	TargetRole         string
	MigrationThreshold int
	FailureTimeoutS    int64
	AllowMigrate       bool
	Requires           string
	MultipleActive     string
	Critical           bool
	Orphan             bool

	// clone settings
	CloneMax, CloneNodeMax       int
	PromotedMax, PromotedNodeMax int
	Promotable, Unique           bool
	Interleave, Notify, Ordered  bool
	CloneMin                     int
	nextInstance                 int
	anonByNode                   map[*Node]*Resource

	// current state
	Running   []*Node
	RoleOn    map[*Node]string
	Role      string
	Known     map[*Node]bool
	Failed    bool
	FailedOn  map[*Node]bool
	Blocked   bool
	OnFail    string
	Pending   map[*Node]string
	Migrating *migration
	recurring map[*Node][]*cib.LRMOp
	lastOps   map[*Node]*cib.LRMOp
	stopIDOn  map[*Node]bool

	// placement
	Allowed                          map[*Node]int
	Discover                         map[*Node]string
	Exclusive                        bool
	Assigned                         *Node
	Provisional                      bool
	assigning                        bool
	merging                          bool
	NextRole                         string
	rscCons                          []*Coloc // this resource is the dependent
	rscConsLHS                       []*Coloc // this resource is the primary
	promoScore                       int
	banned                           map[*Node]bool
	banAll                           bool
	origNextRole                     string
	roleLocs                         []roleLocation
	failBanned                       map[*Node]bool
	rscTickets                       []*rscTicket
	stopFlag                         bool
	migrate                          *migPlan
	dangling                         *Node
	restartOn                        []*Node
	ignoredFailures, countedFailures bool
	Util                             map[string]int
	isRemote                         bool
	container                        *Resource
	contained                        []*Resource
}

type migration struct {
	Source, Target *Node
	Partial        bool // migrate_to done, migrate_from not
	Failed         bool
}

func (r *Resource) top() *Resource {
	for r.Parent != nil {
		r = r.Parent
	}
	return r
}

func (r *Resource) isPrimitive() bool { return r.Kind == cib.KindPrimitive }

// cloneParent returns the enclosing clone, if any.
func (r *Resource) cloneParent() *Resource {
	for p := r.Parent; p != nil; p = p.Parent {
		if p.Kind == cib.KindClone {
			return p
		}
	}
	return nil
}

func (r *Resource) primitives() []*Resource {
	if r.isPrimitive() {
		return []*Resource{r}
	}
	var out []*Resource
	for _, c := range r.Children {
		out = append(out, c.primitives()...)
	}
	return out
}

func (r *Resource) currentNode() *Node {
	if len(r.Running) > 0 {
		return r.Running[0]
	}
	return nil
}

func (r *Resource) isRunningOn(n *Node) bool {
	for _, x := range r.Running {
		if x == n {
			return true
		}
	}
	return false
}

// activeNodes collects the nodes where any primitive under r runs.
func (r *Resource) activeNodes() []*Node {
	seen := map[*Node]bool{}
	var out []*Node
	for _, p := range r.primitives() {
		for _, n := range p.Running {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	return out
}

func metaInt(m map[string]string, key string, def int) int {
	v, ok := m[key]
	if !ok || v == "" {
		return def
	}
	if strings.EqualFold(v, "INFINITY") || strings.EqualFold(v, "+INFINITY") {
		return cib.Infinity
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return cib.ParseScore(v)
	}
	return n
}

// normalizeMeta turns legacy meta names into their current spelling.
func normalizeMeta(m map[string]string) {
	for old, nu := range map[string]string{"master-max": "promoted-max", "master-node-max": "promoted-node-max"} {
		if v, ok := m[old]; ok {
			if _, has := m[nu]; !has {
				m[nu] = v
			}
		}
	}
	if v, ok := m["target-role"]; ok {
		m["target-role"] = cib.NormalizeRole(v)
	}
}

func (s *Scheduler) ruleCtx(def *cib.ResourceDef) *cib.RuleContext {
	ctx := &cib.RuleContext{Now: s.Now, NodeAttrs: map[string]string{}}
	if def != nil {
		ctx.RscClass, ctx.RscProvider, ctx.RscType = def.Class, def.Provider, def.Type
	}
	return ctx
}

func (s *Scheduler) newResource(def *cib.ResourceDef, parent *Resource, id string) *Resource {
	r := &Resource{ID: id, Base: def.ID, Kind: def.Kind, Def: def, Parent: parent,
		Class: def.Class, Provider: def.Provider, Type: def.Type, Ops: def.Ops,
		Meta: map[string]string{}, Params: map[string]string{}, RoleOn: map[*Node]string{},
		Known: map[*Node]bool{}, FailedOn: map[*Node]bool{}, Pending: map[*Node]string{},
		recurring: map[*Node][]*cib.LRMOp{}, lastOps: map[*Node]*cib.LRMOp{}, stopIDOn: map[*Node]bool{},
		Discover: map[*Node]string{}, banned: map[*Node]bool{}, Provisional: true, Role: RoleStopped,
		Util: map[string]int{}}
	ctx := s.ruleCtx(def)
	cib.Unpack(def.Meta, ctx, r.Meta, false)
	if parent != nil {
		for k, v := range parent.Meta {
			if _, ok := r.Meta[k]; !ok {
				r.Meta[k] = v
			}
		}
	}
	cib.Unpack(s.CIB.RscDefaults, ctx, r.Meta, false)
	normalizeMeta(r.Meta)
	cib.Unpack(def.Params, ctx, r.Params, false)
	utl := map[string]string{}
	cib.Unpack(def.Util, ctx, utl, false)
	for k, v := range utl {
		r.Util[k] = metaInt(utl, k, 0)
		_ = v
	}
	r.Priority = metaInt(r.Meta, "priority", 0)
	r.Managed = true
	if v, ok := r.Meta["is-managed"]; ok {
		r.Managed = cib.IsTrue(v)
	}
	if cib.IsTrue(r.Meta["maintenance"]) || s.MaintenanceMode {
		r.Maintenance = true
		r.Managed = false
	}
	r.TargetRole = r.Meta["target-role"]
	r.MigrationThreshold = metaInt(r.Meta, "migration-threshold", cib.Infinity)
	if r.MigrationThreshold < 0 {
		r.MigrationThreshold = 0
	}
	if ft := r.Meta["failure-timeout"]; ft != "" {
		ms, _ := cib.ParseDurationMS(ft)
		r.FailureTimeoutS = ms / 1000
	}
	r.AllowMigrate = cib.IsTrue(r.Meta["allow-migrate"])
	if def.Class == "ocf" && def.Provider == "pacemaker" && def.Type == "remote" {
		if _, ok := r.Meta["allow-migrate"]; !ok {
			r.AllowMigrate = true
		}
	}
	r.MultipleActive = r.Meta["multiple-active"]
	r.Critical = true
	if v, ok := r.Meta["critical"]; ok {
		r.Critical = cib.IsTrue(v)
	}
	r.Stickiness = metaInt(r.Meta, "resource-stickiness", 0)
	if _, ok := r.Meta["resource-stickiness"]; !ok {
		if v, ok2 := r.Meta["default-resource-stickiness"]; ok2 {
			r.Stickiness = cib.ParseScore(v)
		} else if v, ok2 := s.Options["default-resource-stickiness"]; ok2 {
			r.Stickiness = cib.ParseScore(v)
		}
	}
	return r
}

func (s *Scheduler) register(r *Resource) {
	s.All = append(s.All, r)
	if _, dup := s.byID[r.ID]; !dup {
		s.byID[r.ID] = r
	}
}

// unpackResources builds the resource tree, creating clone instances.
func (s *Scheduler) unpackResources() error {
	for _, def := range s.CIB.Resources {
		r, err := s.buildResource(def, nil, def.ID)
		if err != nil {
			return err
		}
		s.Resources = append(s.Resources, r)
	}
	for _, r := range s.All {
		if r.isPrimitive() && r.Class == "stonith" {
			s.HaveFencing = true
		}
	}
	for _, r := range s.All {
		if !r.isPrimitive() {
			continue
		}
		req := r.Meta["requires"]
		if req == "" {
			switch {
			case r.Class == "stonith":
				req = "quorum"
			case s.StonithEnabled:
				req = "fencing"
			default:
				req = "quorum"
			}
		}
		r.Requires = req
	}
	return nil
}

func (s *Scheduler) buildResource(def *cib.ResourceDef, parent *Resource, id string) (*Resource, error) {
	r := s.newResource(def, parent, id)
	s.register(r)
	switch def.Kind {
	case cib.KindGroup:
		suffix := ""
		if i := strings.LastIndex(id, ":"); i >= 0 && parent != nil {
			suffix = id[i:]
		}
		for _, cd := range def.Children {
			c, err := s.buildResource(cd, r, cd.ID+suffix)
			if err != nil {
				return nil, err
			}
			r.Children = append(r.Children, c)
		}
	case cib.KindClone:
		if len(def.Children) != 1 {
			return nil, fmt.Errorf("clone %s must have exactly one child", def.ID)
		}
		if _, ok := r.Meta["resource-stickiness"]; !ok {
			r.Meta["resource-stickiness"] = "1"
			r.Stickiness = 1
		}
		r.Promotable = def.Promotable || cib.IsTrue(r.Meta["promotable"])
		r.Unique = cib.IsTrue(r.Meta["globally-unique"])
		r.Interleave = cib.IsTrue(r.Meta["interleave"])
		r.Notify = cib.IsTrue(r.Meta["notify"])
		r.Ordered = cib.IsTrue(r.Meta["ordered"])
		nodes := 0
		for _, n := range s.Nodes {
			if n.Kind == "member" || true {
				nodes++
			}
		}
		r.CloneMax = metaInt(r.Meta, "clone-max", s.countClusterNodes())
		r.CloneNodeMax = metaInt(r.Meta, "clone-node-max", 1)
		r.CloneMin = metaInt(r.Meta, "clone-min", 0)
		r.PromotedMax = metaInt(r.Meta, "promoted-max", 1)
		r.PromotedNodeMax = metaInt(r.Meta, "promoted-node-max", 1)
		r.anonByNode = map[*Node]*Resource{}
		for i := 0; i < r.CloneMax; i++ {
			if _, err := s.addInstance(r); err != nil {
				return nil, err
			}
		}
	}
	return r, nil
}

// countClusterNodes counts every node a clone could run on, including
// remote and guest nodes that are only implied by resources.
func (s *Scheduler) countClusterNodes() int {
	names := map[string]bool{}
	for _, x := range s.Nodes {
		names[x.Name] = true
	}
	cib.Walk(s.CIB.Resources, func(d *cib.ResourceDef) {
		if d.Kind != cib.KindPrimitive {
			return
		}
		if d.Class == "ocf" && d.Provider == "pacemaker" && d.Type == "remote" && d.Parent == nil {
			names[d.ID] = true
		}
		m := map[string]string{}
		cib.Unpack(d.Meta, &cib.RuleContext{Now: s.Now}, m, false)
		if g := m["remote-node"]; g != "" && d.Parent == nil {
			names[g] = true
		}
	})
	return len(names)
}

func (s *Scheduler) addInstance(clone *Resource) (*Resource, error) {
	cd := clone.Def.Children[0]
	id := fmt.Sprintf("%s:%d", cd.ID, clone.nextInstance)
	clone.nextInstance++
	inst, err := s.buildResource(cd, clone, id)
	if err != nil {
		return nil, err
	}
	clone.Children = append(clone.Children, inst)
	return inst, nil
}

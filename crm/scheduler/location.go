package scheduler

import (
	"regexp"
	"strings"

	"github.com/ringfence/ringfence/crm/cib"
)

type roleLocation struct {
	node  *Node
	score int
	role  string
}

// resolveRefs expands a resource reference through tags.
func (s *Scheduler) resolveRefs(id string) []*Resource {
	if r := s.byID[id]; r != nil {
		return []*Resource{r}
	}
	var out []*Resource
	if _, isTemplate := s.CIB.Templates[id]; isTemplate {
		for _, r := range s.All {
			if r.isPrimitive() && r.Def.Template == id && r.cloneParent() == nil {
				out = append(out, r)
			}
		}
		return out
	}
	for _, ref := range s.CIB.Tags[id] {
		out = append(out, s.resolveRefs(ref)...)
	}
	return out
}

func (s *Scheduler) initAllowed() {
	for _, r := range s.All {
		r.Allowed = map[*Node]int{}
		if s.Symmetric {
			for _, n := range s.Nodes {
				r.Allowed[n] = 0
			}
		}
	}
}

// addLocation adds a score for a node to a resource and its descendants.
func addLocation(r *Resource, n *Node, score int) {
	if v, ok := r.Allowed[n]; ok {
		r.Allowed[n] = cib.AddScore(v, score)
	} else {
		r.Allowed[n] = score
	}
	for _, c := range r.Children {
		addLocation(c, n, score)
	}
}

func setDiscover(r *Resource, n *Node, mode string) {
	if mode == "exclusive" {
		r.Exclusive = true
	}
	if old, ok := r.Discover[n]; !ok || old == "always" || mode == "never" {
		r.Discover[n] = mode
	}
	for _, c := range r.Children {
		setDiscover(c, n, mode)
	}
}

func (s *Scheduler) unpackLocations() {
	for _, c := range s.CIB.Constraints {
		if c.Name != "rsc_location" {
			continue
		}
		var targets []*Resource
		if id := c.Get("rsc"); id != "" {
			targets = s.resolveRefs(id)
		} else if pat := c.Get("rsc-pattern"); pat != "" {
			re, err := regexp.Compile(pat)
			if err == nil {
				for _, r := range s.Resources {
					if re.MatchString(r.ID) {
						targets = append(targets, r)
					}
				}
			}
		}
		for _, set := range c.All("resource_set") {
			for _, ref := range set.All("resource_ref") {
				targets = append(targets, s.resolveRefs(ref.Get("id"))...)
			}
		}
		role := cib.NormalizeRole(c.Get("role"))
		disc := c.Get("resource-discovery")
		if disc == "" {
			disc = "always"
		}
		for _, r := range targets {
			s.applyLocation(c, r, role, disc)
		}
	}
}

func (s *Scheduler) applyLocation(c *cib.Element, r *Resource, role, disc string) {
	apply := func(n *Node, score int, role string) {
		if role == RoleStarted {
			role = ""
		}
		if role != "" && role != RoleStopped {
			r.addRoleLocation(n, score, role)
			return
		}
		addLocation(r, n, score)
		setDiscover(r, n, disc)
	}
	if nodeName := c.Get("node"); nodeName != "" {
		n := s.findNode(nodeName)
		if n == nil {
			return
		}
		apply(n, cib.ParseScore(c.Get("score")), role)
		return
	}
	rules := c.All("rule")
	for _, rule := range rules {
		if ref := rule.Get("id-ref"); ref != "" && s.CIB.Lookup(ref) != nil {
			rule = s.CIB.Lookup(ref)
		}
		rrole := role
		if rr := cib.NormalizeRole(rule.Get("role")); rr != "" {
			rrole = rr
		}
		scoreAttr := rule.Get("score-attribute")
		score := cib.ParseScore(rule.Get("score"))
		for _, n := range s.Nodes {
			ctx := &cib.RuleContext{Now: s.Now, NodeAttrs: n.Attrs, RscParams: r.Params, RscMeta: r.Meta,
				RscClass: r.Class, RscProvider: r.Provider, RscType: r.Type, NextChange: &s.RecheckBy}
			if !cib.EvalRule(rule, ctx) {
				continue
			}
			sc := score
			if scoreAttr != "" {
				v, ok := n.Attrs[scoreAttr]
				if !ok {
					continue
				}
				sc = cib.ParseScore(v)
			}
			apply(n, sc, rrole)
		}
	}
}

func (r *Resource) addRoleLocation(n *Node, score int, role string) {
	if r.roleLocs == nil {
		r.roleLocs = nil
	}
	r.roleLocs = append(r.roleLocs, roleLocation{node: n, score: score, role: role})
	for _, c := range r.Children {
		c.addRoleLocation(n, score, role)
	}
}

// applyStateScores applies bans from failures, history and stickiness.
func (s *Scheduler) applyStateScores() {
	// exclusive discovery also confines placement to the exclusive nodes
	for _, r := range s.All {
		if !(r.Exclusive || r.top().Exclusive) {
			continue
		}
		for n := range r.Allowed {
			if r.Discover[n] != "exclusive" {
				r.Allowed[n] = -cib.Infinity
			}
		}
	}
	for _, r := range s.All {
		if r.banAll {
			for _, n := range s.Nodes {
				addLocation(r, n, -cib.Infinity)
			}
		}
		for n := range r.banned {
			addLocation(r, n, -cib.Infinity)
		}
	}
	for _, r := range s.All {
		if !r.isPrimitive() {
			continue
		}
		for _, n := range s.Nodes {
			fc := s.failCount(r, n)
			if fc > 0 && r.MigrationThreshold > 0 && fc >= r.MigrationThreshold {
				target := r
				if cp := r.cloneParent(); cp != nil && !cp.Unique {
					target = cp
				}
				addLocation(target, n, -cib.Infinity)
			}
		}
		if r.Managed && r.Stickiness != 0 && len(r.Running) == 1 {
			n := r.Running[0]
			if _, ok := r.Allowed[n]; ok || s.Symmetric {
				r.Allowed[n] = cib.AddScore(r.Allowed[n], r.Stickiness)
			}
		}
	}
}

func isTrueDefault(v string, def bool) bool {
	if v == "" {
		return def
	}
	return cib.IsTrue(strings.TrimSpace(v))
}

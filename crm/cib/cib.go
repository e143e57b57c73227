package cib

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// CIB is a parsed cluster information base.
type CIB struct {
	Root          *Element
	ValidateWith  string
	HaveQuorum    bool
	DCUUID        string
	ExecutionDate time.Time // zero when absent

	CrmConfig   []*NVSet
	Nodes       []*NodeDef
	Resources   []*ResourceDef
	Templates   map[string]*Element
	Constraints []*Element // rsc_location, rsc_colocation, rsc_order, rsc_ticket (tags expanded later)
	RscDefaults []*NVSet
	OpDefaults  []*NVSet
	Tags        map[string][]string
	Fencing     []*Element

	NodeStates []*NodeState
	Tickets    map[string]map[string]string

	// Warnings lists tolerated oddities (entries Pacemaker also ignores).
	Warnings []string

	index map[string]*Element
}

// NodeDef is a configured <node>.
type NodeDef struct {
	ID, Uname, Type string
	Attrs           []*NVSet
	Utilization     []*NVSet
	El              *Element
}

// Parse reads and validates a CIB document.
func Parse(r io.Reader) (*CIB, error) {
	root, err := ParseDOM(r)
	if err != nil {
		return nil, err
	}
	return FromDOM(root)
}

// FromDOM builds the model from an already parsed tree.
func FromDOM(root *Element) (*CIB, error) {
	if root.Name != "cib" {
		return nil, fmt.Errorf("%s: root element must be <cib>", root.Path())
	}
	c := &CIB{Root: root, ValidateWith: root.Get("validate-with"), DCUUID: root.Get("dc-uuid"),
		Templates: map[string]*Element{}, Tags: map[string][]string{}, Tickets: map[string]map[string]string{},
		index: map[string]*Element{}}
	c.HaveQuorum = IsTrue(root.Get("have-quorum"))
	if ed := root.Get("execution-date"); ed != "" {
		n, err := strconv.ParseInt(ed, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: bad execution-date %q", root.Path(), ed)
		}
		c.ExecutionDate = time.Unix(n, 0).UTC()
	}
	var walk func(e *Element)
	walk = func(e *Element) {
		if id := e.Get("id"); id != "" && !e.Has("id-ref") {
			if _, dup := c.index[id]; !dup {
				c.index[id] = e
			}
		}
		for _, ch := range e.Children {
			walk(ch)
		}
	}
	walk(root)
	conf := root.Child("configuration")
	if conf == nil {
		return nil, fmt.Errorf("%s: missing <configuration>", root.Path())
	}
	if cc := conf.Child("crm_config"); cc != nil {
		c.CrmConfig = parseNVSets(cc, "cluster_property_set", c.index)
	}
	if ns := conf.Child("nodes"); ns != nil {
		for _, n := range ns.All("node") {
			if n.Get("id") == "" {
				return nil, fmt.Errorf("%s: node without id", n.Path())
			}
			nd := &NodeDef{ID: n.Get("id"), Uname: n.Get("uname"), Type: n.Get("type"), El: n}
			if nd.Uname == "" {
				nd.Uname = nd.ID
			}
			if nd.Type == "" || nd.Type == "normal" {
				nd.Type = "member"
			}
			nd.Attrs = parseNVSets(n, "instance_attributes", c.index)
			nd.Utilization = parseNVSets(n, "utilization", c.index)
			c.Nodes = append(c.Nodes, nd)
		}
	}
	if rs := conf.Child("resources"); rs != nil {
		for _, el := range rs.Children {
			if el.Name == "template" {
				c.Templates[el.Get("id")] = el
			}
		}
		for _, el := range rs.Children {
			if el.Name == "template" {
				continue
			}
			r, err := c.parseResource(el, nil)
			if err != nil {
				return nil, err
			}
			if r != nil {
				c.Resources = append(c.Resources, r)
			}
		}
	}
	if cs := conf.Child("constraints"); cs != nil {
		for _, el := range cs.Children {
			switch el.Name {
			case "rsc_location", "rsc_colocation", "rsc_order", "rsc_ticket":
				if el.Get("id") == "" {
					return nil, fmt.Errorf("%s: constraint without id", el.Path())
				}
				c.Constraints = append(c.Constraints, el)
			}
		}
	}
	if d := conf.Child("rsc_defaults"); d != nil {
		c.RscDefaults = parseNVSets(d, "meta_attributes", c.index)
	}
	if d := conf.Child("op_defaults"); d != nil {
		c.OpDefaults = parseNVSets(d, "meta_attributes", c.index)
	}
	if t := conf.Child("tags"); t != nil {
		for _, tag := range t.All("tag") {
			for _, ref := range tag.All("obj_ref") {
				c.Tags[tag.Get("id")] = append(c.Tags[tag.Get("id")], ref.Get("id"))
			}
		}
	}
	if f := conf.Child("fencing-topology"); f != nil {
		c.Fencing = f.All("fencing-level")
	}
	if st := root.Child("status"); st != nil {
		for _, ns := range st.All("node_state") {
			s, err := c.parseNodeState(ns)
			if err != nil {
				return nil, err
			}
			if s != nil {
				c.NodeStates = append(c.NodeStates, s)
			}
		}
		if t := st.Child("tickets"); t != nil {
			for _, ts := range t.All("ticket_state") {
				m := map[string]string{}
				for _, a := range ts.Attrs {
					m[a.Name.Local] = a.Value
				}
				c.Tickets[ts.Get("id")] = m
			}
		}
	}
	return c, nil
}

// Lookup finds any element by id.
func (c *CIB) Lookup(id string) *Element { return c.index[id] }

// IsTrue implements Pacemaker's boolean spelling.
func IsTrue(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "on", "yes", "y", "1":
		return true
	}
	return false
}

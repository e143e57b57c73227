package cib

import "fmt"

// Resource kinds.
const (
	KindPrimitive = "primitive"
	KindGroup     = "group"
	KindClone     = "clone"
	KindBundle    = "bundle"
)

// OpDef is a configured <op>.
type OpDef struct {
	ID, Name   string
	IntervalMS int64
	Role       string
	Attrs      map[string]string // every XML attribute of <op>
	Meta       []*NVSet
	Params     []*NVSet
	El         *Element
}

// ResourceDef is a configured resource (tree).
type ResourceDef struct {
	Kind                  string
	ID                    string
	Class, Provider, Type string
	Meta, Params, Util    []*NVSet
	Ops                   []*OpDef
	Children              []*ResourceDef
	Parent                *ResourceDef
	Template              string
	Promotable            bool // legacy <master>
	El                    *Element
}

func (c *CIB) parseResource(el *Element, parent *ResourceDef) (*ResourceDef, error) {
	r := &ResourceDef{ID: el.Get("id"), Parent: parent, El: el}
	if r.ID == "" {
		return nil, fmt.Errorf("%s: resource without id", el.Path())
	}
	switch el.Name {
	case "primitive":
		r.Kind = KindPrimitive
		r.Class, r.Provider, r.Type = el.Get("class"), el.Get("provider"), el.Get("type")
		var tmplOps []*OpDef
		if t := el.Get("template"); t != "" {
			tel := c.Templates[t]
			if tel == nil {
				return nil, fmt.Errorf("%s: unknown template %q", el.Path(), t)
			}
			r.Template = t
			if r.Class == "" {
				r.Class, r.Provider, r.Type = tel.Get("class"), tel.Get("provider"), tel.Get("type")
			}
			r.Meta = append(r.Meta, parseNVSets(tel, "meta_attributes", c.index)...)
			r.Params = append(r.Params, parseNVSets(tel, "instance_attributes", c.index)...)
			r.Util = append(r.Util, parseNVSets(tel, "utilization", c.index)...)
			tmplOps = c.parseOps(tel)
		}
		// own sets first so they win over the template's
		r.Meta = append(parseNVSets(el, "meta_attributes", c.index), r.Meta...)
		r.Params = append(parseNVSets(el, "instance_attributes", c.index), r.Params...)
		r.Util = append(parseNVSets(el, "utilization", c.index), r.Util...)
		own := c.parseOps(el)
		r.Ops = own
		for _, t := range tmplOps {
			dup := false
			for _, o := range own {
				if o.Name == t.Name && o.IntervalMS == t.IntervalMS {
					dup = true
				}
			}
			if !dup {
				r.Ops = append(r.Ops, t)
			}
		}
		if r.Class == "" || r.Type == "" {
			return nil, fmt.Errorf("%s: primitive needs class and type", el.Path())
		}
	case "group", "clone", "master":
		r.Kind = KindGroup
		if el.Name != "group" {
			r.Kind = KindClone
			r.Promotable = el.Name == "master"
		}
		r.Meta = parseNVSets(el, "meta_attributes", c.index)
		r.Params = parseNVSets(el, "instance_attributes", c.index)
		for _, ch := range el.Children {
			switch ch.Name {
			case "primitive", "group", "clone", "master":
				k, err := c.parseResource(ch, r)
				if err != nil {
					return nil, err
				}
				r.Children = append(r.Children, k)
			}
		}
		if len(r.Children) == 0 && r.Kind == KindClone {
			return nil, fmt.Errorf("%s: clone without a child", el.Path())
		}
	case "bundle":
		r.Kind = KindBundle
		r.Meta = parseNVSets(el, "meta_attributes", c.index)
		for _, ch := range el.Children {
			if ch.Name == "primitive" {
				k, err := c.parseResource(ch, r)
				if err != nil {
					return nil, err
				}
				r.Children = append(r.Children, k)
			}
		}
	default:
		return nil, nil
	}
	return r, nil
}

func (c *CIB) parseOps(el *Element) []*OpDef {
	var out []*OpDef
	ops := el.Child("operations")
	if ops == nil {
		return nil
	}
	if ref := ops.Get("id-ref"); ref != "" && c.index[ref] != nil {
		ops = c.index[ref]
	}
	for _, o := range ops.All("op") {
		iv, _ := ParseDurationMS(o.Get("interval"))
		od := &OpDef{ID: o.Get("id"), Name: o.Get("name"), IntervalMS: iv, Role: NormalizeRole(o.Get("role")),
			Attrs: map[string]string{}, El: o}
		for _, a := range o.Attrs {
			od.Attrs[a.Name.Local] = a.Value
		}
		od.Meta = parseNVSets(o, "meta_attributes", c.index)
		od.Params = parseNVSets(o, "instance_attributes", c.index)
		out = append(out, od)
	}
	return out
}

// Walk visits every resource definition depth first.
func Walk(rs []*ResourceDef, fn func(*ResourceDef)) {
	for _, r := range rs {
		fn(r)
		Walk(r.Children, fn)
	}
}

package cib

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// NodeState is a <node_state> of the status section.
type NodeState struct {
	ID, Uname                   string
	InCCM, Crmd, Join, Expected string
	HasInCCM                    bool
	RemoteNode                  bool
	Shutdown                    string
	Attrs                       map[string]string // transient attributes (unconditional sets)
	AttrSets                    []*NVSet
	Resources                   []*LRMResource
	El                          *Element
}

// LRMResource is the operation history of one resource on one node.
type LRMResource struct {
	ID, Class, Provider, Type string
	Container                 string
	Ops                       []*LRMOp // sorted by call-id
}

// LRMOp is one recorded operation result.
type LRMOp struct {
	ID, Operation        string
	IntervalMS           int64
	CallID               int
	RC, OpStatus         int
	TargetRC             int // from transition-key; -1 when unknown
	TransitionKey        string
	OpDigest             string
	RestartDigest        string
	SecureDigest         string
	LastRCChange         int64
	LastRun              int64
	MigrateSource        string
	MigrateTarget        string
	ExitReason           string
	OnNode               string
	El                   *Element
	HasCallID, HasRCCode bool
}

func atoiDefault(s string, d int) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return d
	}
	return n
}

func (c *CIB) parseNodeState(ns *Element) (*NodeState, error) {
	s := &NodeState{ID: ns.Get("id"), Uname: ns.Get("uname"), InCCM: ns.Get("in_ccm"), HasInCCM: ns.Has("in_ccm"),
		Crmd: ns.Get("crmd"), Join: ns.Get("join"), Expected: ns.Get("expected"), Shutdown: ns.Get("shutdown"),
		RemoteNode: IsTrue(ns.Get("remote_node")), Attrs: map[string]string{}, El: ns}
	if s.ID == "" || s.Uname == "" {
		// Pacemaker ignores malformed node_state entries; so do we.
		c.Warnings = append(c.Warnings, fmt.Sprintf("%s: ignoring node_state without id or uname", ns.Path()))
		return nil, nil
	}
	if ta := ns.Child("transient_attributes"); ta != nil {
		s.AttrSets = parseNVSets(ta, "instance_attributes", c.index)
		Unpack(s.AttrSets, nil, s.Attrs, false)
	}
	if lrm := ns.Child("lrm"); lrm != nil {
		if lr := lrm.Child("lrm_resources"); lr != nil {
			for _, r := range lr.All("lrm_resource") {
				res := &LRMResource{ID: r.Get("id"), Class: r.Get("class"), Provider: r.Get("provider"), Type: r.Get("type"),
					Container: r.Get("container")}
				if res.ID == "" {
					return nil, fmt.Errorf("%s: lrm_resource without id", r.Path())
				}
				for _, o := range r.All("lrm_rsc_op") {
					op, err := parseLRMOp(o)
					if err != nil {
						return nil, err
					}
					res.Ops = append(res.Ops, op)
				}
				SortOps(res.Ops)
				s.Resources = append(s.Resources, res)
			}
		}
	}
	return s, nil
}

func parseLRMOp(o *Element) (*LRMOp, error) {
	op := &LRMOp{ID: o.Get("id"), Operation: o.Get("operation"), TransitionKey: o.Get("transition-key"),
		OpDigest: o.Get("op-digest"), RestartDigest: o.Get("op-restart-digest"), SecureDigest: o.Get("op-secure-digest"),
		MigrateSource: o.Get("migrate_source"), MigrateTarget: o.Get("migrate_target"), ExitReason: o.Get("exit-reason"),
		OnNode: o.Get("on_node"), El: o, TargetRC: -1}
	if op.Operation == "" {
		return nil, fmt.Errorf("%s: lrm_rsc_op without operation", o.Path())
	}
	iv, err := strconv.ParseInt(strings.TrimSpace(o.Get("interval")), 10, 64)
	if err != nil && o.Get("interval") != "" {
		ms, ok := ParseDurationMS(o.Get("interval"))
		if !ok {
			return nil, fmt.Errorf("%s: bad interval %q", o.Path(), o.Get("interval"))
		}
		iv = ms
	}
	op.IntervalMS = iv
	op.HasCallID = o.Has("call-id")
	op.CallID = atoiDefault(o.Get("call-id"), -1)
	op.HasRCCode = o.Has("rc-code")
	op.RC = atoiDefault(o.Get("rc-code"), -1)
	op.OpStatus = atoiDefault(o.Get("op-status"), 0)
	if parts := strings.Split(op.TransitionKey, ":"); len(parts) >= 3 {
		op.TargetRC = atoiDefault(parts[2], -1)
	}
	if op.TargetRC < 0 {
		// transition-magic: STATUS:RC;ACTION:TRANSITION:TARGET:UUID
		if m := o.Get("transition-magic"); m != "" {
			if i := strings.Index(m, ";"); i >= 0 {
				if parts := strings.Split(m[i+1:], ":"); len(parts) >= 3 {
					op.TargetRC = atoiDefault(parts[2], -1)
				}
			}
		}
	}
	op.LastRCChange = int64(atoiDefault(o.Get("last-rc-change"), 0))
	op.LastRun = int64(atoiDefault(o.Get("last-run"), 0))
	return op, nil
}

// SortOps orders history by call-id; pending (-1) ops go last, and
// migrate/last-rc-change break ties.
func SortOps(ops []*LRMOp) {
	sort.SliceStable(ops, func(i, j int) bool {
		a, b := ops[i], ops[j]
		if a.CallID == b.CallID {
			return a.LastRCChange < b.LastRCChange
		}
		if a.CallID < 0 {
			return false
		}
		if b.CallID < 0 {
			return true
		}
		return a.CallID < b.CallID
	})
}

package scheduler

import (
	"encoding/xml"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/ringfence/ringfence/crm/cib"
)

// Graph is a transition graph.
type Graph struct {
	Attrs    map[string]string
	Synapses []*Synapse
}

// Synapse is one step of the graph.
type Synapse struct {
	ID       int
	Priority int
	Action   *Action
	Inputs   []*Action
}

func (s *Scheduler) inGraph(a *Action) bool {
	return a.Runnable && !a.Optional && (a.Node != nil)
}

func (s *Scheduler) buildGraph() *Graph {
	g := &Graph{Attrs: map[string]string{}}
	var acts []*Action
	for _, a := range s.Actions {
		if s.inGraph(a) {
			acts = append(acts, a)
		}
	}
	sort.SliceStable(acts, func(i, j int) bool { return taskRank(acts[i]) < taskRank(acts[j]) })
	for i, a := range acts {
		a.ID = i + 1
	}
	in := map[*Action]bool{}
	for _, a := range acts {
		in[a] = true
	}
	inputs := map[*Action][]*Action{}
	for _, e := range s.edges {
		if in[e.first] && in[e.then] {
			inputs[e.then] = append(inputs[e.then], e.first)
		}
	}
	for i, a := range acts {
		syn := &Synapse{ID: i, Action: a, Inputs: dedup(inputs[a])}
		if a.Rsc != nil {
			syn.Priority = a.Rsc.Priority
		}
		g.Synapses = append(g.Synapses, syn)
	}
	return g
}

func dedup(in []*Action) []*Action {
	seen := map[*Action]bool{}
	var out []*Action
	for _, a := range in {
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}

func taskRank(a *Action) int {
	switch a.Task {
	case "stonith":
		return 0
	case "monitor":
		if a.Probe {
			return 1
		}
		return 9
	case "demote":
		return 2
	case "stop":
		return 3
	case "do_shutdown":
		return 4
	case "start":
		return 5
	case "promote":
		return 6
	}
	return 8
}

// OperationKey returns RSC_TASK_INTERVAL for an action.
func (a *Action) OperationKey() string {
	if a.Rsc == nil {
		return a.Task
	}
	return fmt.Sprintf("%s_%s_%d", a.Rsc.graphID(), a.Task, a.IntervalMS)
}

func (r *Resource) graphID() string {
	if cp := r.cloneParent(); cp != nil && !cp.Unique {
		return r.Base
	}
	return r.ID
}

func xmlAttr(b *strings.Builder, k, v string) {
	b.WriteString(" ")
	b.WriteString(k)
	b.WriteString(`="`)
	xml.EscapeText(writerFunc(func(p []byte) (int, error) { b.Write(p); return len(p), nil }), []byte(v))
	b.WriteString(`"`)
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func (s *Scheduler) actionXML(b *strings.Builder, a *Action, ref bool) {
	var tag string
	switch {
	case a.Task == "stonith" || a.Task == "do_shutdown":
		tag = "crm_event"
	case a.Pseudo:
		tag = "pseudo_event"
	default:
		tag = "rsc_op"
	}
	b.WriteString("<" + tag)
	xmlAttr(b, "id", strconv.Itoa(a.ID))
	op := a.Task
	key := a.OperationKey()
	if a.Task == "stonith" {
		key = "stonith-" + a.Node.Name + "-" + a.Meta["CRM_meta_stonith_action"]
	} else if a.Task == "do_shutdown" {
		key = "do_shutdown-" + a.Node.Name
	}
	xmlAttr(b, "operation", op)
	xmlAttr(b, "operation_key", key)
	if a.Node != nil && tag != "pseudo_event" {
		xmlAttr(b, "on_node", a.Node.Name)
		xmlAttr(b, "on_node_uuid", a.Node.ID)
	}
	if ref {
		b.WriteString("/>")
		return
	}
	b.WriteString(">")
	if a.Rsc != nil && tag == "rsc_op" {
		b.WriteString("<primitive")
		xmlAttr(b, "id", a.Rsc.graphID())
		if a.Rsc.graphID() != a.Rsc.ID {
			xmlAttr(b, "long-id", a.Rsc.ID)
		}
		xmlAttr(b, "class", a.Rsc.Class)
		if a.Rsc.Provider != "" {
			xmlAttr(b, "provider", a.Rsc.Provider)
		}
		xmlAttr(b, "type", a.Rsc.Type)
		b.WriteString("/>")
	}
	attrs := map[string]string{}
	for k, v := range a.Meta {
		attrs[k] = v
	}
	if a.Node != nil {
		attrs["CRM_meta_on_node"] = a.Node.Name
		attrs["CRM_meta_on_node_uuid"] = a.Node.ID
	}
	if a.Rsc != nil {
		attrs["CRM_meta_timeout"] = strconv.FormatInt(s.opTimeout(a), 10)
		if a.Probe {
			attrs["CRM_meta_op_target_rc"] = "7"
		}
		if a.IntervalMS > 0 {
			attrs["CRM_meta_interval"] = strconv.FormatInt(a.IntervalMS, 10)
		}
		for k, v := range a.Rsc.Params {
			if validXMLName(k) {
				attrs[k] = v
			}
		}
	}
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b.WriteString("<attributes")
	for _, k := range keys {
		xmlAttr(b, k, attrs[k])
	}
	b.WriteString("/>")
	if a.Task == "stonith" || a.Task == "do_shutdown" {
		b.WriteString(`<downed><node id="` + a.Node.ID + `"/></downed>`)
	}
	b.WriteString("</" + tag + ">")
}

func (s *Scheduler) opTimeout(a *Action) int64 {
	task := a.Task
	if o := a.Rsc.opConfig(task, a.IntervalMS); o != nil {
		if t, ok := cib.ParseDurationMS(o.Attrs["timeout"]); ok && t > 0 {
			return t
		}
	}
	m := map[string]string{}
	cib.Unpack(s.CIB.OpDefaults, &cib.RuleContext{Now: s.Now, HasOp: true, OpName: task, OpInterval: a.IntervalMS}, m, false)
	if t, ok := cib.ParseDurationMS(m["timeout"]); ok && t > 0 {
		return t
	}
	return 20000
}

// XML renders the graph as Pacemaker's transition_graph document.
func (s *Scheduler) graphXML(g *Graph) string {
	var b strings.Builder
	b.WriteString(`<transition_graph cluster-delay="60s" stonith-timeout="60s" failed-stop-offset="INFINITY"`)
	if s.StartFatal {
		b.WriteString(` failed-start-offset="INFINITY"`)
	} else {
		b.WriteString(` failed-start-offset="1"`)
	}
	b.WriteString(` transition_id="0"`)
	if !s.RecheckBy.IsZero() {
		xmlAttr(&b, "recheck-by", strconv.FormatInt(s.RecheckBy.Unix(), 10))
	}
	b.WriteString(">\n")
	for _, syn := range g.Synapses {
		fmt.Fprintf(&b, "  <synapse id=\"%d\"", syn.ID)
		if syn.Priority != 0 {
			fmt.Fprintf(&b, " priority=\"%d\"", syn.Priority)
		}
		b.WriteString(">\n    <action_set>\n      ")
		s.actionXML(&b, syn.Action, false)
		b.WriteString("\n    </action_set>\n")
		if len(syn.Inputs) == 0 {
			b.WriteString("    <inputs/>\n")
		} else {
			b.WriteString("    <inputs>\n")
			for _, in := range syn.Inputs {
				b.WriteString("      <trigger>\n        ")
				s.actionXML(&b, in, true)
				b.WriteString("\n      </trigger>\n")
			}
			b.WriteString("    </inputs>\n")
		}
		b.WriteString("  </synapse>\n")
	}
	b.WriteString("</transition_graph>\n")
	return b.String()
}

func validXMLName(k string) bool {
	if k == "" {
		return false
	}
	for i, c := range k {
		ok := c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c > 127
		if i > 0 {
			ok = ok || c == '-' || c == '.' || (c >= '0' && c <= '9')
		}
		if !ok {
			return false
		}
	}
	return true
}

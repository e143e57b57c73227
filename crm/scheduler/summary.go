package scheduler

import (
	"fmt"
	"sort"
	"strings"
)

// Summary renders crm_simulate-style "Transition Summary" lines.
func (r *Result) Summary() string {
	s := r.s
	var b strings.Builder
	b.WriteString("Transition Summary:\n")
	var lines []string
	for _, n := range s.Nodes {
		if f := s.findAction(nil, "stonith", n); f != nil && s.inGraph(f) {
			lines = append(lines, fmt.Sprintf("  * Fence (%s) %s '%s'", f.Meta["CRM_meta_stonith_action"], n.Name, n.FenceReason))
		}
	}
	for _, rsc := range s.All {
		if !rsc.isPrimitive() {
			continue
		}
		var starts, stops []*Action
		var promote, demote *Action
		migrating := false
		for _, a := range s.byRsc[rsc] {
			if !s.inGraph(a) && !(a.Pseudo && a.Runnable && !a.Optional) {
				continue
			}
			switch a.Task {
			case "start":
				starts = append(starts, a)
			case "stop":
				stops = append(stops, a)
			case "promote":
				promote = a
			case "demote":
				demote = a
			case "migrate_from":
				migrating = true
			}
		}
		name := rsc.ID
		switch {
		case len(starts) == 1 && len(stops) == 1 && starts[0].Node == stops[0].Node:
			verb := "Restart"
			if rsc.FailedOn[stops[0].Node] {
				verb = "Recover"
			}
			lines = append(lines, fmt.Sprintf("  * %-10s %-20s ( %s )", verb, name, starts[0].Node.Name))
		case len(starts) == 1 && len(stops) == 1:
			verb := "Move"
			if migrating {
				verb = "Migrate"
			}
			if rsc.FailedOn[stops[0].Node] {
				verb = "Recover"
			}
			lines = append(lines, fmt.Sprintf("  * %-10s %-20s ( %s -> %s )", verb, name, stops[0].Node.Name, starts[0].Node.Name))
		default:
			for _, st := range stops {
				lines = append(lines, fmt.Sprintf("  * %-10s %-20s ( %s )", "Stop", name, st.Node.Name))
			}
			for _, st := range starts {
				lines = append(lines, fmt.Sprintf("  * %-10s %-20s ( %s )", "Start", name, st.Node.Name))
			}
		}
		if promote != nil {
			lines = append(lines, fmt.Sprintf("  * %-10s %-20s ( %s )", "Promote", name, promote.Node.Name))
		}
		if demote != nil {
			lines = append(lines, fmt.Sprintf("  * %-10s %-20s ( %s )", "Demote", name, demote.Node.Name))
		}
	}
	sort.SliceStable(lines, func(i, j int) bool { return false })
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	return b.String()
}

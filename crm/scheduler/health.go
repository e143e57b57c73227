package scheduler

import (
	"strings"

	"github.com/ringfence/ringfence/crm/cib"
)

// applyNodeHealth turns #health-* node attributes into location scores
// according to node-health-strategy.
func (s *Scheduler) applyNodeHealth() {
	strategy := strings.ToLower(optDefault(s.Options, "node-health-strategy", "none"))
	var red, yellow, green int
	switch strategy {
	case "none", "":
		return
	case "migrate-on-red":
		red = -cib.Infinity
	case "only-green":
		red, yellow = -cib.Infinity, -cib.Infinity
	default:
		red = cib.ParseScore(optDefault(s.Options, "node-health-red", "-INFINITY"))
		yellow = cib.ParseScore(optDefault(s.Options, "node-health-yellow", "0"))
		green = cib.ParseScore(optDefault(s.Options, "node-health-green", "0"))
	}
	base := 0
	if strategy == "progressive" {
		base = cib.ParseScore(optDefault(s.Options, "node-health-base", "0"))
	}
	for _, n := range s.Nodes {
		health := base
		for k, v := range n.Attrs {
			if !strings.HasPrefix(k, "#health") {
				continue
			}
			var sc int
			switch strings.ToLower(v) {
			case "red":
				sc = red
			case "yellow":
				sc = yellow
			case "green":
				sc = green
			default:
				sc = cib.ParseScore(v)
			}
			health = cib.AddScore(health, sc)
		}
		if health == 0 {
			continue
		}
		for _, r := range s.Resources {
			if health < 0 && cib.IsTrue(r.Meta["allow-unhealthy-nodes"]) {
				continue
			}
			addLocation(r, n, health)
		}
	}
}

package scheduler

import (
	"strconv"
	"strings"

	"github.com/ringfence/ringfence/crm/cib"
)

func (r *Resource) banOn(n *Node) {
	r.banned[n] = true
}

// processState records the outcome of replaying a resource's history on a
// node: where it runs, in which role, and what its failure demands.
func (s *Scheduler) processState(r *Resource, n *Node, role string, onFail int, nextRole string) {
	if cp := r.cloneParent(); cp != nil && cp.Promotable && role == RoleStarted {
		role = RoleUnpromoted
	}
	if role != RoleUnknown {
		for it := r; it != nil; it = it.Parent {
			it.Known[n] = true
			if it.Kind == cib.KindClone && it.Unique {
				break
			}
		}
	}
	active := role != RoleUnknown && role != RoleStopped
	if active && !n.Online && !n.Maintenance && r.Managed {
		if n.Kind == "guest" {
			r.Failed = true
			r.stopFlag = true
			s.fenceNode(n, r.ID+" is thought to be active there")
		} else if s.StonithEnabled {
			if n.Kind == "remote" && n.Conn != nil && !n.Conn.Failed {
				n.Unseen = true
			}
			s.fenceNode(n, r.ID+" is thought to be active there")
		}
	}
	saved := onFail
	if n.Unclean {
		onFail = failIgnore
	}
	switch onFail {
	case failDemote:
		r.Failed = true
		r.FailedOn[n] = true
	case failFence:
		s.fenceNode(n, r.ID+" failed there")
	case failStandby:
		n.Standby = true
	case failBlock:
		r.Managed = false
		r.Blocked = true
	case failMigrate:
		r.banOn(n)
	case failStop:
		nextRole = RoleStopped
	}
	if nextRole != "" {
		if r.NextRole == "" || roleRank(nextRole) < roleRank(r.NextRole) {
			r.NextRole = nextRole
		}
	}
	if active {
		if !r.isRunningOn(n) {
			r.Running = append(r.Running, n)
		}
		r.RoleOn[n] = role
		if roleRank(role) > roleRank(r.Role) {
			r.Role = role
		}
		if saved != failIgnore && onFail != failIgnore {
			switch onFail {
			case failDemote, failBlock:
				r.Failed = true
			default:
				r.Failed = true
				r.stopFlag = true
			}
			r.FailedOn[n] = true
		}
		if n.Unclean && saved != failIgnore {
			r.FailedOn[n] = true
		}
	}
}

// failCount sums the fail-count attributes of a resource on a node,
// ignoring expired failures.
func (s *Scheduler) failCount(r *Resource, n *Node) int {
	names := []string{r.ID}
	if cp := r.cloneParent(); cp != nil && !cp.Unique {
		names = []string{r.Base, r.ID}
	} else if r.Base != r.ID {
		names = append(names, r.Base)
	}
	total := 0
	seen := map[string]bool{}
	for k, v := range n.Attrs {
		var rest string
		switch {
		case strings.HasPrefix(k, "fail-count-"):
			rest = k[len("fail-count-"):]
		default:
			continue
		}
		name := rest
		if i := strings.Index(rest, "#"); i >= 0 {
			name = rest[:i]
		}
		match := false
		for _, nm := range names {
			if name == nm {
				match = true
			}
		}
		if !match || seen[k] {
			continue
		}
		if i := strings.Index(rest, "#"); i >= 0 {
			// failures of operations configured with on-fail=ignore
			// do not count
			opi := rest[i+1:]
			if j := strings.LastIndex(opi, "_"); j > 0 {
				if iv, err := strconv.ParseInt(opi[j+1:], 10, 64); err == nil {
					if o := r.opConfig(opi[:j], iv); o != nil && strings.EqualFold(o.Attrs["on-fail"], "ignore") {
						continue
					}
				}
			}
		} else {
			ignoreAll := false
			for _, o := range r.Ops {
				if strings.EqualFold(o.Attrs["on-fail"], "ignore") {
					ignoreAll = true
				}
			}
			if ignoreAll && !strings.Contains(k, "#") && r.hasOnlyIgnoredFailures() {
				continue
			}
		}
		seen[k] = true
		if r.FailureTimeoutS > 0 {
			lf := n.Attrs["last-failure-"+rest]
			if t, err := strconv.ParseInt(lf, 10, 64); err == nil && t > 0 && t+r.FailureTimeoutS <= s.Now.Unix() {
				continue
			}
		}
		total = cib.AddScore(total, cib.ParseScore(v))
	}
	return total
}

// hasOnlyIgnoredFailures reports whether every recorded failure of the
// resource came from operations whose failures are ignored.
func (r *Resource) hasOnlyIgnoredFailures() bool {
	return r.ignoredFailures && !r.countedFailures
}

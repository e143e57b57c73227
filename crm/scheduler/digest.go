package scheduler

import (
	"crypto/md5"
	"encoding/hex"
	"sort"
	"strconv"
	"strings"

	"github.com/ringfence/ringfence/crm/cib"
)

// opDigest reproduces Pacemaker's operation digest: MD5 of a one-line
// <parameters .../> element with sorted attributes, preceded by a space
// and followed by a newline.
func opDigest(params map[string]string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(" <parameters")
	for _, k := range keys {
		b.WriteString(" ")
		b.WriteString(k)
		b.WriteString(`="`)
		b.WriteString(escapeAttr(params[k]))
		b.WriteString(`"`)
	}
	b.WriteString("/>\n")
	sum := md5.Sum([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}

func escapeAttr(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "\n", "&#10;", "\r", "&#13;", "\t", "&#9;")
	return r.Replace(s)
}

// digestParams builds the parameter set a recorded operation was run with.
func (s *Scheduler) digestParams(r *Resource, task string, intervalMS int64) (all map[string]string, extra bool) {
	all = map[string]string{}
	for k, v := range r.Params {
		all[k] = v
	}
	if o := r.opConfig(task, intervalMS); o != nil {
		m := map[string]string{}
		cib.Unpack(o.Params, &cib.RuleContext{Now: s.Now}, m, false)
		for k, v := range m {
			all[k] = v
			extra = true
		}
		if intervalMS > 0 {
			to := s.opTimeoutFor(r, task, intervalMS)
			all["CRM_meta_timeout"] = strconv.FormatInt(to, 10)
		}
	}
	for k := range all {
		if strings.HasPrefix(k, "CRM_meta_") && !(k == "CRM_meta_timeout" && intervalMS > 0) {
			delete(all, k)
		}
	}
	for _, k := range []string{"id", "crm_feature_set", "op-digest", "on_node", "on_node_uuid", "pcmk_external_ip"} {
		delete(all, k)
	}
	return all, extra
}

// checkDefinitionChanges schedules restarts of active resources whose
// parameters differ from those their last start ran with.
func (s *Scheduler) checkDefinitionChanges() {
	for _, r := range s.All {
		if !r.isPrimitive() || !r.Managed || r.Orphan {
			continue
		}
		for _, n := range r.Running {
			lr := s.historyFor(r, n)
			if lr == nil {
				continue
			}
			startIdx := -1
			for i, o := range lr.Ops {
				if (o.Operation == "start" || o.Operation == "migrate_from") && o.RC == 0 && o.OpStatus == 0 {
					startIdx = i
				}
			}
			for i, o := range lr.Ops {
				if i < startIdx || o.IntervalMS != 0 {
					continue
				}
				switch o.Operation {
				case "start", "monitor", "promote", "migrate_from":
				default:
					continue
				}
				if o.OpDigest == "" {
					continue
				}
				all, extra := s.digestParams(r, o.Operation, 0)
				restart := false
				if o.RestartDigest != "" {
					keep := map[string]string{}
					for _, k := range strings.Fields(o.El.Get("op-force-restart")) {
						if v, ok := all[k]; ok {
							keep[k] = v
						}
					}
					if opDigest(keep) != o.RestartDigest {
						restart = true
					}
				}
				if !restart && opDigest(all) != o.OpDigest {
					if extra || o.RestartDigest == "" {
						restart = true
					}
				}
				if restart && o.SecureDigest != "" {
					// simulations see sanitized secrets: a change only
					// in private parameters does not count
					sec := map[string]string{}
					hidden := map[string]bool{}
					for _, k := range strings.Fields(o.El.Get("op-secure-params")) {
						hidden[k] = true
					}
					src := all
					old := compareVersionString(o.El.Get("crm_feature_set"), "3.16.0") < 0
					if old {
						src = r.Params
					}
					for k, v := range src {
						if hidden[k] || strings.HasPrefix(k, "CRM_meta_") {
							continue
						}
						if old && r.Class == "stonith" && (strings.HasPrefix(k, "pcmk_") || k == "provides") {
							continue
						}
						sec[k] = v
					}
					if opDigest(sec) == o.SecureDigest {
						restart = false
					}
				}
				if restart {
					r.restartOn = append(r.restartOn, n)
				}
			}
		}
	}
}

func (s *Scheduler) historyFor(r *Resource, n *Node) *cib.LRMResource {
	if n.state == nil {
		return nil
	}
	for _, lr := range n.state.Resources {
		if lr.ID == r.ID || lr.ID == r.Base && r.cloneParent() != nil && !r.cloneParent().Unique {
			return lr
		}
	}
	return nil
}

func (s *Scheduler) opTimeoutFor(r *Resource, task string, intervalMS int64) int64 {
	if o := r.opConfig(task, intervalMS); o != nil {
		if t, ok := cib.ParseDurationMS(o.Attrs["timeout"]); ok && t > 0 {
			return t
		}
	}
	m := map[string]string{}
	cib.Unpack(s.CIB.OpDefaults, &cib.RuleContext{Now: s.Now, HasOp: true, OpName: task, OpInterval: intervalMS}, m, false)
	if t, ok := cib.ParseDurationMS(m["timeout"]); ok && t > 0 {
		return t
	}
	return 20000
}

func compareVersionString(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) || i < len(pb); i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

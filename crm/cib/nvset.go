package cib

import "sort"

// NVPair is one name/value pair of an nvset.
type NVPair struct {
	Name, Value string
}

// NVSet is an instance_attributes / meta_attributes / utilization /
// cluster_property_set block. Sets may be conditional on a rule and are
// applied in descending score order (first one to set a name wins).
type NVSet struct {
	ID    string
	Kind  string
	Score int
	Rule  *Element
	Pairs []NVPair
	// order keeps document order for stable sorting.
	order int
}

func parseNVSets(parent *Element, kind string, idx map[string]*Element) []*NVSet {
	var out []*NVSet
	for i, el := range parent.All(kind) {
		if ref := el.Get("id-ref"); ref != "" && idx[ref] != nil {
			el = idx[ref]
		}
		s := &NVSet{ID: el.Get("id"), Kind: kind, order: i}
		if sc := el.Get("score"); sc != "" {
			s.Score = ParseScore(sc)
		}
		s.Rule = el.Child("rule")
		if s.Rule != nil && s.Rule.Get("id-ref") != "" && idx[s.Rule.Get("id-ref")] != nil {
			s.Rule = idx[s.Rule.Get("id-ref")]
		}
		for _, p := range el.All("nvpair") {
			if ref := p.Get("id-ref"); ref != "" && idx[ref] != nil {
				p = idx[ref]
			}
			s.Pairs = append(s.Pairs, NVPair{Name: p.Get("name"), Value: p.Get("value")})
		}
		// utilization/attributes written as direct attributes are not used in the suite
		out = append(out, s)
	}
	return out
}

// SortNVSets orders sets by descending score, stable in document order.
func SortNVSets(sets []*NVSet) []*NVSet {
	out := append([]*NVSet(nil), sets...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Score > out[j].Score })
	return out
}

// Unpack flattens nvsets into a map: sets whose rule does not match ctx are
// skipped; earlier (higher-score) sets win over later ones unless overwrite.
func Unpack(sets []*NVSet, ctx *RuleContext, into map[string]string, overwrite bool) {
	for _, s := range SortNVSets(sets) {
		if s.Rule != nil && !EvalRule(s.Rule, ctx) {
			continue
		}
		for _, p := range s.Pairs {
			if _, ok := into[p.Name]; ok && !overwrite {
				continue
			}
			into[p.Name] = p.Value
		}
	}
}

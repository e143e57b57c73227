package srp

import "sort"

// Membership sets are small sorted slices of nodeids; all set operations
// compare nodeids only, as Corosync's memb_set_* do.

func setHas(s []uint32, id uint32) bool {
	for _, x := range s {
		if x == id {
			return true
		}
	}
	return false
}

func setAdd(s []uint32, ids ...uint32) []uint32 {
	for _, id := range ids {
		if !setHas(s, id) {
			s = append(s, id)
		}
	}
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s
}

func setSub(a, b []uint32) []uint32 {
	out := []uint32{}
	for _, x := range a {
		if !setHas(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func setSubset(a, b []uint32) bool {
	for _, x := range a {
		if !setHas(b, x) {
			return false
		}
	}
	return true
}

func setEqual(a, b []uint32) bool { return setSubset(a, b) && setSubset(b, a) }

func sorted(s []uint32) []uint32 {
	out := append([]uint32(nil), s...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

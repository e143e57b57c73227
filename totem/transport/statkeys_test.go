package transport

import (
	"reflect"
	"testing"
)

// Every counter has a published name: a field added to Stats without one
// would never reach cmap.
func TestStatsKeysCoverEveryField(t *testing.T) {
	var s Stats
	v := reflect.ValueOf(&s).Elem()
	for i := range v.NumField() {
		v.Field(i).SetUint(uint64(i + 1))
	}
	keys := s.Keys()
	if len(keys) != v.NumField() {
		t.Fatalf("%d keys for %d counters", len(keys), v.NumField())
	}
	seen := map[uint64]string{}
	for k, x := range keys {
		if prev, dup := seen[x]; dup {
			t.Errorf("%s and %s publish the same counter", k, prev)
		}
		seen[x] = k
	}
}

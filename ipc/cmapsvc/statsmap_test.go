package cmapsvc

import (
	"testing"

	"github.com/ringfence/ringfence/ipc"
)

// TestStatsWrite: the stats map takes only stats.clear.<known> sets, as
// Corosync's stats_map_is_key_ro / stats_map_set / stats_map_delete.
func TestStatsWrite(t *testing.T) {
	var cleared []string
	s := New(nil, nil)
	s.ClearStats = func(what string) { cleared = append(cleared, what) }
	for _, c := range []struct {
		key   string
		isSet bool
		want  ipc.CsError
	}{
		{"stats.srp.mcast_rx", true, ipc.CsErrAccess},
		{"stats.srp.mcast_rx", false, ipc.CsErrAccess},
		{"stats.clear.totem", true, ipc.CsOK},
		{"stats.clear.all", true, ipc.CsOK},
		{"stats.clear.all", false, csErrNotSupported},
		{"stats.clear.bogus", true, csErrNotSupported},
	} {
		if got := s.statsWrite(c.key, c.isSet); got != c.want {
			t.Errorf("%s (set %v): %v, want %v", c.key, c.isSet, got, c.want)
		}
	}
	if len(cleared) != 2 || cleared[0] != "totem" || cleared[1] != "all" {
		t.Errorf("cleared %v", cleared)
	}
}

package netns

import (
	"slices"
	"strings"
	"testing"
)

// cmapctlMembers is `corosync-cmapctl runtime.members.` from a 3-node
// corosync 3.1.7 ring after node 3 was killed.
const cmapctlMembers = `runtime.members.1.config_version (u64) = 0
runtime.members.1.ip (str) = r(0) ip(198.18.0.1) 
runtime.members.1.join_count (u32) = 1
runtime.members.1.status (str) = joined
runtime.members.2.config_version (u64) = 0
runtime.members.2.ip (str) = r(0) ip(198.18.0.2) 
runtime.members.2.join_count (u32) = 1
runtime.members.2.status (str) = joined
runtime.members.3.config_version (u64) = 0
runtime.members.3.ip (str) = r(0) ip(198.18.0.3) 
runtime.members.3.join_count (u32) = 1
runtime.members.3.status (str) = left
`

func TestParseJoinedMembers(t *testing.T) {
	if got := ParseJoinedMembers(cmapctlMembers); !slices.Equal(got, []uint32{1, 2}) {
		t.Fatalf("got %v", got)
	}
	if got := ParseJoinedMembers(strings.ReplaceAll(cmapctlMembers, "= left", "= joined")); !slices.Equal(got, []uint32{1, 2, 3}) {
		t.Fatalf("got %v", got)
	}
	if got := ParseJoinedMembers("runtime.members.x.status (str) = joined\nruntime.members.5.ip (str) = joined\n"); len(got) != 0 {
		t.Fatalf("garbage parsed as %v", got)
	}
}

func FuzzParseJoinedMembers(f *testing.F) {
	f.Add(cmapctlMembers)
	f.Add("runtime.members.4294967295.status (str) = joined\n")
	f.Fuzz(func(t *testing.T, s string) {
		for _, id := range ParseJoinedMembers(s) {
			if !strings.Contains(s, "runtime.members.") {
				t.Fatalf("member %d from input without the prefix", id)
			}
		}
	})
}

func FuzzOwnerPid(f *testing.F) {
	f.Add("rfns123x4-h7")
	f.Add("rfcap19130n1")
	f.Fuzz(func(t *testing.T, s string) {
		if pid, ok := ownerPid(s); ok && (pid <= 0 || !strings.HasPrefix(s, NamePrefix)) {
			t.Fatalf("%q -> %d", s, pid)
		}
	})
}

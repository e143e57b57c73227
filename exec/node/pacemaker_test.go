package node

import (
	"strings"
	"testing"
)

// TestNetnsPacemakerOnRingfenced runs Debian's Pacemaker 2.1 unmodified on
// three ringfenced nodes: crm_mon on every node shows three online nodes
// and one DC, crm_node and cibadmin work, a fence_dummy device and an
// ocf:pacemaker:Dummy resource are configured; the resource's node is
// SIGKILLed, fenced through fence_dummy, the resource starts elsewhere and
// the node rejoins after a restart.
func TestNetnsPacemakerOnRingfenced(t *testing.T) {
	needPacemaker(t)
	pc := newPcmkCluster(t, stackRingfenced, stackRingfenced, stackRingfenced)
	runPcmkFailover(pc)
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func grepLines(s string, words ...string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		for _, w := range words {
			if strings.Contains(l, w) {
				out = append(out, l)
				break
			}
		}
	}
	return tail(strings.Join(out, "\n"), 40)
}

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
	o := runPcmkFailover(pc)
	ringfencedOutcome = &o
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

// ringfencedOutcome keeps TestNetnsPacemakerOnRingfenced's outcome so the
// comparison below need not play the ringfenced side again.
var ringfencedOutcome *pcmkOutcome

// TestNetnsPacemakerSameOnCorosync plays the same scenario on Debian's
// corosync 3.1.7 and checks Pacemaker does the same things as on
// ringfenced: the killed node is fenced, the resource relocates, the node
// rejoins and the resource stays where it went.
// It takes about a minute (skipped with -short); make bench compares the
// two stacks the same way every round (TestPacemakerFailoverFigures).
func TestNetnsPacemakerSameOnCorosync(t *testing.T) {
	if testing.Short() {
		t.Skip("about a minute of Pacemaker on corosync; skipped with -short")
	}
	needPacemaker(t)
	co := runPcmkFailover(newPcmkCluster(t, stackCorosync, stackCorosync, stackCorosync))
	rf := ringfencedOutcome
	if rf == nil {
		o := runPcmkFailover(newPcmkCluster(t, stackRingfenced, stackRingfenced, stackRingfenced))
		rf = &o
	}
	if err := rf.same(co); err != nil {
		t.Fatal(err)
	}
	t.Logf("same outcome: %s killed and fenced, dummy relocated, node rejoined; relocation %.2fs on ringfenced, %.2fs on corosync",
		rf.Victim, rf.Relocate.Seconds(), co.Relocate.Seconds())
}

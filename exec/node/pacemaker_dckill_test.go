package node

import (
	"testing"
	"time"
)

// TestNetnsPacemakerDCKill kills the DC, which also runs the resource, on
// three ringfenced nodes: the two survivors elect a new DC among
// themselves, that DC has the old one fenced through fence_dummy, the
// resource starts on a survivor, and the old DC, restarted, rejoins as an
// ordinary member while the resource stays where it went. This is the
// path where Pacemaker learns of the loss only from the daemon (CPG and
// quorum), with no DC left to tell it.
func TestNetnsPacemakerDCKill(t *testing.T) {
	if testing.Short() {
		t.Skip("about a minute of Pacemaker on three nodes; skipped with -short")
	}
	needPacemaker(t)
	pc := newPcmkCluster(t, stackRingfenced, stackRingfenced, stackRingfenced)
	pc.startAll()
	dc := pc.waitView(pc.nodes, 120*time.Second)
	old := pc.node(dc)
	pc.configure(old, dc)
	pc.waitRunningOn(old, "dummy", 60*time.Second, func(at string) bool { return at == dc })
	pc.waitRunningOn(old, "fence-dummy", 60*time.Second, func(string) bool { return true })
	var survivors []*pcmkNode
	for _, n := range pc.nodes {
		if n != old {
			survivors = append(survivors, n)
		}
	}
	t.Logf("dummy runs on the DC, %s; killing it", dc)

	killed := time.Now()
	pc.killNode(old)
	newDC := pc.waitView(survivors, 90*time.Second)
	elected := time.Since(killed)
	if newDC == dc {
		t.Fatalf("the survivors still name the killed node %s as DC", dc)
	}
	moved := pc.waitRunningOn(survivors[0], "dummy", 90*time.Second, func(at string) bool { return at != dc })
	relocated := time.Since(killed)
	hist := pc.fenceHistory(survivors[0], dc)
	m := fencedRe.FindStringSubmatch(hist)
	if m == nil || m[1] != dc {
		pc.dumpPacemaker()
		t.Fatalf("the old DC %s was not fenced through fence_dummy; history:\n%s", dc, hist)
	}
	t.Logf("new DC %s after %.2fs; %s fenced by %s; dummy on %s after %.2fs", newDC, elected.Seconds(), dc, m[2], moved, relocated.Seconds())

	pc.reboot(old)
	t.Logf("after %s's restart the DC is %s", dc, pc.waitView(pc.nodes, 120*time.Second))
	pc.checkTools(pc.nodes)
	pc.waitRunningOn(old, "dummy", 30*time.Second, func(at string) bool { return at == moved })
	pc.waitActive(moved, 30*time.Second)
}

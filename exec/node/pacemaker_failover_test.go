package node

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// pcmkOutcome is what one failover scenario did, in terms both stacks
// must agree on, plus its timings.
type pcmkOutcome struct {
	Stack     string
	DC        string // DC before the kill
	Victim    string // node killed: it ran the resource and was not DC
	Fenced    string // target of the successful fencing, from stonith_admin --history
	FencedBy  string // the device's delegate
	MovedTo   string // where the resource ran after the kill
	Rejoined  bool   // the victim was online again everywhere after its restart
	StayedPut bool   // after the rejoin the resource still ran on MovedTo only

	Startup  time.Duration // pacemakerd start → all three online with one DC
	MembLost time.Duration // kill → the daemon on the DC drops the victim
	Relocate time.Duration // kill → the resource runs on a survivor
	Rejoin   time.Duration // restart → the victim online on every node
}

// same reports how two outcomes differ in what must not depend on the
// stack; timings and node names the election chose are left out.
func (o pcmkOutcome) same(p pcmkOutcome) error {
	var diffs []string
	if (o.Fenced == o.Victim) != (p.Fenced == p.Victim) {
		diffs = append(diffs, fmt.Sprintf("victim fenced: %v vs %v", o.Fenced == o.Victim, p.Fenced == p.Victim))
	}
	if (o.MovedTo != "" && o.MovedTo != o.Victim) != (p.MovedTo != "" && p.MovedTo != p.Victim) {
		diffs = append(diffs, fmt.Sprintf("resource relocated: %q vs %q", o.MovedTo, p.MovedTo))
	}
	if o.Rejoined != p.Rejoined || o.StayedPut != p.StayedPut {
		diffs = append(diffs, fmt.Sprintf("rejoin/stayed: %v/%v vs %v/%v", o.Rejoined, o.StayedPut, p.Rejoined, p.StayedPut))
	}
	if len(diffs) > 0 {
		return fmt.Errorf("%s and %s differ: %s", o.Stack, p.Stack, strings.Join(diffs, "; "))
	}
	return nil
}

var fencedRe = regexp.MustCompile(`(?m)^\s*\S*\s*(?:reboot|off) of (node\d+) successful: delegate=(node\d+)`)

// runPcmkFailover plays the whole scenario on three nodes of one stack:
// Pacemaker up, tools checked, fence_dummy and Dummy configured, the
// Dummy's node (not the DC) killed, fenced, the resource relocated, the
// node restarted and back. Every step is asserted; the outcome is
// returned for comparison and figures.
func runPcmkFailover(pc *pcmkCluster) pcmkOutcome {
	t := pc.t
	o := pcmkOutcome{Stack: pc.nodes[0].stack}
	start := time.Now()
	pc.startAll()
	o.DC = pc.waitView(pc.nodes, 120*time.Second)
	o.Startup = time.Since(start)
	t.Logf("%s: three nodes online, DC %s, after %.1fs", o.Stack, o.DC, o.Startup.Seconds())
	pc.checkTools(pc.nodes)

	// The victim is the last node that is not DC, so the figures do not
	// include a DC election.
	for _, n := range pc.nodes {
		if n.name != o.DC {
			o.Victim = n.name
		}
	}
	dcNode, victim := pc.node(o.DC), pc.node(o.Victim)
	pc.configure(dcNode, o.Victim)
	pc.waitRunningOn(dcNode, "dummy", 60*time.Second, func(at string) bool { return at == o.Victim })
	pc.waitRunningOn(dcNode, "fence-dummy", 60*time.Second, func(string) bool { return true })
	t.Logf("%s: dummy runs on %s, fence_dummy configured, stonith-enabled=true", o.Stack, o.Victim)

	var survivors []*pcmkNode
	for _, n := range pc.nodes {
		if n != victim {
			survivors = append(survivors, n)
		}
	}
	killed := time.Now()
	pc.killNode(victim)
	// The daemon's view, polled alongside Pacemaker's.
	lost := make(chan time.Duration, 1)
	go func() {
		want := []uint32{}
		for _, n := range survivors {
			want = append(want, uint32(n.h.Index))
		}
		for time.Since(killed) < 60*time.Second {
			if ids, err := dcNode.h.Members(nil); err == nil && slices.Equal(ids, want) {
				lost <- time.Since(killed)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		lost <- -1
	}()
	o.MovedTo = pc.waitRunningOn(dcNode, "dummy", 90*time.Second, func(at string) bool { return at != o.Victim })
	o.Relocate = time.Since(killed)
	o.MembLost = <-lost
	hist := pc.fenceHistory(dcNode, o.Victim)
	if m := fencedRe.FindStringSubmatch(hist); m != nil {
		o.Fenced, o.FencedBy = m[1], m[2]
	}
	t.Logf("%s: %s killed; membership lost after %.2fs, dummy on %s after %.2fs; fencing history:\n%s",
		o.Stack, o.Victim, o.MembLost.Seconds(), o.MovedTo, o.Relocate.Seconds(), hist)
	if o.Fenced != o.Victim {
		pc.dumpPacemaker()
		t.Fatalf("%s: %s was not fenced through fence_dummy; history:\n%s", o.Stack, o.Victim, hist)
	}
	pc.waitView(survivors, 30*time.Second)

	restarted := time.Now()
	pc.reboot(victim)
	pc.waitView(pc.nodes, 120*time.Second)
	o.Rejoin = time.Since(restarted)
	o.Rejoined = true
	pc.checkTools(pc.nodes)
	// Stickiness keeps the resource where it went; it must run once, in
	// Pacemaker's view and in fact (the agent's state file).
	pc.waitRunningOn(victim, "dummy", 30*time.Second, func(at string) bool { return at == o.MovedTo })
	pc.waitActive(o.MovedTo, 30*time.Second)
	o.StayedPut = true
	t.Logf("%s: %s rejoined after %.1fs; dummy still on %s", o.Stack, o.Victim, o.Rejoin.Seconds(), o.MovedTo)
	return o
}

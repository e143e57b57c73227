package node

import (
	"context"
	osexec "os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringfence/ringfence/tools/netns"
)

// TestNetnsCutIsolatedNodeKeepsTurning cuts one node of a 3-node ring off
// while it sends CPG traffic, and checks the isolated node, not the
// survivors: its event loop must keep turning while its link is down.
//
// On udpu its datagrams to the two peers wait in the kernel's neighbour
// queues (the link is down, their addresses cannot be resolved) and fill
// the send buffer of the socket they leave from. A send that waited for
// room held the loop until a resolution failed, every 3 s: each IPC
// query took 2.8 s. The test wants the one-node ring installed within
// isolatedFormBound, IPC queries answered within isolatedIPCBound (the
// median), and the three nodes in one ring again after the heal.
//
// udp runs the same steps as a control: its multicasts need no neighbour
// resolution, and the own copy is handed over in process, so its loop
// never waited there.
func TestNetnsCutIsolatedNodeKeepsTurning(t *testing.T) {
	needCmapctl(t)
	for _, tr := range []string{"udpu", "udp"} {
		t.Run(tr, func(t *testing.T) { isolatedNodeKeepsTurning(t, tr) })
	}
}

// Bounds for a loaded 2-core machine: the fixed loop answers in tens of
// ms and installs its ring in a quarter of a second.
const (
	isolatedFormBound = 8 * time.Second
	isolatedIPCBound  = time.Second
)

func isolatedNodeKeepsTurning(t *testing.T, transport string) {
	c := netns.NewCluster(t, 3, netns.Options{})
	bin := daemonBinary(t)
	h1, h3 := c.Hosts[0], c.Hosts[2]
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, procs, _, err := c.StartRing(ctx, netns.CorosyncOptions{Token: 1000, Transport: transport, Daemon: []string{bin}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		waitLog(t, p, "Completed service synchronization, ready to provide service.", 10*time.Second)
	}
	p3 := procs[2]
	// Traffic on the isolated node: its multicasts to the peers are what
	// fills the neighbour queues. (An idle node sends a few small
	// datagrams a second, which take long to fill them.)
	load, err := h3.Start("cpgbench", cpgbenchBinary(t), "-sizes", "1024", "-inflight", "64", "-duration", "10m")
	if err != nil {
		t.Fatal(err)
	}
	defer load.Kill()
	time.Sleep(time.Second)

	cut := time.Now()
	if err := h3.Cut(); err != nil {
		t.Fatal(err)
	}
	var formed time.Time
	for deadline := cut.Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if at, ok := netns.LogFormed(p3.LogPath, cut, time.Now()); ok {
			formed = at
			break
		}
	}
	if formed.IsZero() {
		t.Fatalf("the isolated node never installed a ring after the cut:\n%s", tail(readLog(t, p3), 40))
	}
	t.Logf("isolated node: one-node ring installed %v after the cut", formed.Sub(cut).Round(time.Millisecond))
	if d := formed.Sub(cut); d > isolatedFormBound {
		t.Errorf("isolated node installed its ring %v after the cut, want under %v", d, isolatedFormBound)
	}

	// Its IPC keeps answering while the link stays down (about 6 s, two
	// cycles of failed neighbour resolution): membership queries through
	// cmap, then a quorumtool status.
	var lat []time.Duration
	for i := 0; i < 20; i++ {
		qctx, qcancel := context.WithTimeout(ctx, 30*time.Second)
		start := time.Now()
		got, err := h3.Members(qctx)
		d := time.Since(start)
		qcancel()
		lat = append(lat, d.Round(time.Millisecond))
		if err != nil {
			t.Errorf("cmapctl on the isolated node, query %d: %v after %v", i, err, d)
		} else if !slices.Equal(got, []uint32{3}) {
			t.Errorf("isolated node lists %v, want [3]", got)
		}
		time.Sleep(250 * time.Millisecond)
	}
	qctx, qcancel := context.WithTimeout(ctx, 30*time.Second)
	start := time.Now()
	out, err := h3.Run(qctx, "corosync-quorumtool", "-s")
	qcancel()
	d := time.Since(start)
	if err != nil && d >= 30*time.Second {
		t.Errorf("corosync-quorumtool -s on the isolated node timed out:\n%s", out)
	}
	lat = append(lat, d.Round(time.Millisecond))
	t.Logf("isolated node: IPC answers took %v (cut %v ago)", lat, time.Since(cut).Round(time.Millisecond))
	// The median, so that one query slowed by a loaded machine does not
	// decide.
	sorted := slices.Sorted(slices.Values(lat))
	if med := sorted[len(sorted)/2]; med > isolatedIPCBound {
		t.Errorf("IPC queries on the isolated node took %v (median %v), want a median under %v", lat, med, isolatedIPCBound)
	}
	if transport == "udpu" {
		// Once the heartbeat finds the peers unreachable the isolated
		// node sends them no multicast copies, so the neighbour queues
		// stop filling its send buffer; what went out before (the miss
		// window, under load) may still have filled it, and the stall
		// bound then dropped the rest (TestUDPUSendStallBounded). Both
		// are published once a second.
		time.Sleep(1100 * time.Millisecond)
		n, err := h3.StatsCounter(ctx, "stats.ringfence.transport.dropped_send_full")
		t.Logf("isolated node: stats.ringfence.transport.dropped_send_full = %d (%v)", n, err)
		skipped, err := h3.StatsCounter(ctx, "stats.ringfence.transport.skipped_unreachable")
		t.Logf("isolated node: stats.ringfence.transport.skipped_unreachable = %d", skipped)
		if err != nil || skipped == 0 {
			t.Errorf("stats.ringfence.transport.skipped_unreachable = %d, %v: the isolated node kept sending copies to unreachable peers", skipped, err)
		}
	}
	if testing.Verbose() {
		t.Logf("isolated node's totem notices:\n%s", grepLines(readLog(t, p3), "TOTEM"))
	}

	// The heal. What the neighbour queues still hold (up to
	// unres_qlen_bytes per peer of the isolated node's last seconds)
	// reaches the survivors when resolution succeeds; the rings
	// installed on node 1 after the heal show whether it made them churn.
	heal := time.Now()
	if err := h3.Heal(); err != nil {
		t.Fatal(err)
	}
	all := []uint32{1, 2, 3}
	t.Logf("heal: node 1 lists all three after %v", waitHost(t, h1, heal, all, 60*time.Second).Round(time.Millisecond))
	for _, h := range c.Hosts {
		waitHost(t, h, heal, all, 60*time.Second)
	}
	time.Sleep(3 * time.Second)
	for _, h := range c.Hosts {
		waitHost(t, h, heal, all, 60*time.Second)
	}
	rings := membershipsSince(readLog(t, procs[0]), heal)
	t.Logf("heal: node 1 installed %d rings in the %v after it:\n%s", len(rings), time.Since(heal).Round(time.Millisecond), strings.Join(rings, "\n"))
	if t.Failed() {
		t.Logf("isolated node's log:\n%s", tail(readLog(t, p3), 60))
	}
}

// membershipsSince lists the membership notices in a daemon's log
// stamped at or after from.
func membershipsSince(log string, from time.Time) []string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		if len(line) < 19 || !strings.Contains(line, "A new membership (") {
			continue
		}
		at, err := time.ParseInLocation("Jan _2 15:04:05.000", line[:19], time.Local)
		if err != nil || at.AddDate(from.Year(), 0, 0).Before(from.Add(-time.Millisecond)) {
			continue
		}
		out = append(out, line[:19]+" "+line[strings.Index(line, "A new membership ("):])
	}
	return out
}

// cpgbenchBinary builds tools/cpgbench next to the daemon binary, once.
func cpgbenchBinary(t *testing.T) string {
	t.Helper()
	out := filepath.Join(filepath.Dir(daemonBinary(t)), "cpgbench")
	if _, err := osexec.LookPath(out); err == nil {
		return out
	}
	if b, err := osexec.Command("go", "build", "-o", out, "github.com/ringfence/ringfence/tools/cpgbench").CombinedOutput(); err != nil {
		t.Fatalf("go build tools/cpgbench: %v\n%s", err, b)
	}
	return out
}

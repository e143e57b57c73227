package node

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ringfence/ringfence/tools/netns"
)

// TestNetnsCutTwoOfFiveSurvivorsLoseNothing cuts two nodes of a 5-node
// ring off while node 1 sends CPG traffic, and watches the survivors.
// Multicasts to the two would wait in the kernel's neighbour queues for
// their addresses, charged to the survivor's send buffer, and two full
// queues outgrow a default buffer: with sends that waited for room the
// survivors' ring re-formed every 3 s (4 times in the 15 s watched here);
// with the 10 ms stall bound alone node 1 dropped datagrams to its live
// peers (117) and the ring re-formed once. Since the survivors leave the
// members the heartbeat found unreachable out of their multicasts
// (transport.UDPU.SetUnreachable), nothing is queued for them: no drops,
// no membership change.
//
// The neighbour timers are shortened in the namespaces (entries go stale
// after about a second instead of about 30), so the queues would fill
// within seconds.
func TestNetnsCutTwoOfFiveSurvivorsLoseNothing(t *testing.T) {
	needCmapctl(t)
	c := netns.NewCluster(t, 5, netns.Options{})
	bin := daemonBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, h := range c.Hosts {
		for _, kv := range []string{"net.ipv4.neigh.eth0.base_reachable_time_ms=1000", "net.ipv4.neigh.eth0.delay_first_probe_time=1"} {
			if out, err := h.Run(ctx, "sysctl", "-q", "-w", kv); err != nil {
				t.Skipf("sysctl -w %s: %v %s", kv, err, out)
			}
		}
	}
	_, procs, _, err := c.StartRing(ctx, netns.CorosyncOptions{Token: 1000, Daemon: []string{bin}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		waitLog(t, p, "Completed service synchronization, ready to provide service.", 10*time.Second)
	}
	load, err := c.Hosts[0].Start("cpgbench", cpgbenchBinary(t), "-sizes", "1024", "-inflight", "64", "-duration", "10m")
	if err != nil {
		t.Fatal(err)
	}
	defer load.Kill()
	time.Sleep(time.Second)
	for _, i := range []int{3, 4} {
		if err := c.Hosts[i].Cut(); err != nil {
			t.Fatal(err)
		}
	}
	cut := time.Now()
	survivors := c.Hosts[:3]
	for _, h := range survivors {
		waitHost(t, h, cut, []uint32{1, 2, 3}, 30*time.Second)
	}
	formed := time.Now()
	// Long enough for the entries to expire (about 1 s), be probed
	// (1 s delay, 3 probes a second apart) and fail, and for the queues
	// of the next resolution to fill: about 6 s, twice over.
	time.Sleep(15 * time.Second)
	for _, h := range survivors {
		got, err := h.Members(ctx)
		if err != nil || fmt.Sprint(got) != "[1 2 3]" {
			t.Errorf("node %d lists %v (%v) %v after the cut, want [1 2 3]", h.Index, got, err, time.Since(cut).Round(time.Second))
		}
		n, err := h.StatsCounter(ctx, "stats.ringfence.transport.dropped_send_full")
		t.Logf("node %d: stats.ringfence.transport.dropped_send_full = %d", h.Index, n)
		if err != nil || n != 0 {
			t.Errorf("node %d dropped %d datagrams for a full send buffer (%v)", h.Index, n, err)
		}
		// Node 1 multicasts all along (the others only now and then).
		if skipped, err := h.StatsCounter(ctx, "stats.ringfence.transport.skipped_unreachable"); h.Index == 1 && (err != nil || skipped == 0) {
			t.Errorf("node 1 left no multicast copies out for the cut nodes (%d, %v)", skipped, err)
		}
		if rings := membershipsSince(readLog(t, procs[h.Index-1]), formed.Add(time.Second)); len(rings) > 0 {
			t.Errorf("node %d changed membership after the survivors' ring formed:\n%s", h.Index, strings.Join(rings, "\n"))
		}
	}
	if neigh, err := c.Hosts[0].Run(ctx, "ip", "neigh"); err == nil {
		t.Logf("node 1's neighbours:\n%s", neigh)
	}
	if t.Failed() {
		t.Logf("node 1's notices:\n%s", grepLines(readLog(t, procs[0]), "TOTEM"))
	}
}

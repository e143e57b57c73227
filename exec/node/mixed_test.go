package node

import (
	"context"
	osexec "os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringfence/ringfence/tools/netns"
)

// startMixed builds 3 hosts, starts Debian's corosync on corosyncHosts
// (1-based) and ringfenced on the others, all from one udpu config, and
// waits until every host lists all three and every daemon completed the
// sync of that ring (corosync logs it only once every member, ours
// included, passed every sync barrier). It skips without corosync.
func startMixed(t *testing.T, corosyncHosts ...int) (c *netns.Cluster, conf string, daemons [][]string, procs []*netns.Proc) {
	t.Helper()
	return startMixedN(t, 3, corosyncHosts...)
}

// startMixedN is startMixed with n hosts.
func startMixedN(t *testing.T, n int, corosyncHosts ...int) (c *netns.Cluster, conf string, daemons [][]string, procs []*netns.Proc) {
	t.Helper()
	return startMixedWith(t, n, netns.CorosyncOptions{Token: 1000}, corosyncHosts...)
}

// startMixedWith is startMixedN with the config's options.
func startMixedWith(t *testing.T, n int, o netns.CorosyncOptions, corosyncHosts ...int) (c *netns.Cluster, conf string, daemons [][]string, procs []*netns.Proc) {
	t.Helper()
	needCmapctl(t)
	if _, err := osexec.LookPath("corosync"); err != nil {
		t.Skip("needs corosync (Debian package corosync)")
	}
	c = netns.NewCluster(t, n, netns.Options{})
	bin := daemonBinary(t)
	conf, err := c.WriteCorosyncConf(o)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for _, h := range c.Hosts {
		d := []string{bin}
		if slices.Contains(corosyncHosts, h.Index) {
			d = []string{"corosync"}
		}
		p, err := h.StartDaemon(conf, d...)
		if err != nil {
			t.Fatal(err)
		}
		daemons, procs = append(daemons, d), append(procs, p)
	}
	wait := 60 * time.Second
	if n > 3 {
		wait = 90 * time.Second // more daemons starting on two cores
	}
	for i, h := range c.Hosts {
		t.Logf("%s node %d lists all %d after %v", filepath.Base(daemons[i][0]), h.Index, n, waitHost(t, h, start, netns.Indices(c.Hosts...), wait))
	}
	for _, p := range procs {
		waitSyncAfterLastMembership(t, p, 10*time.Second)
	}
	return c, conf, daemons, procs
}

// TestNetnsMixedOneCorosync puts one Debian corosync 3.1.7 (host 1) and
// two ringfenced processes (hosts 2, 3) on one udpu ring in network
// namespaces: corosync-quorumtool -s on the corosync node lists all three;
// libcpg clients on all three nodes exchange messages in one order; a
// SIGKILL of a ringfenced node and then of the corosync node is seen by
// every survivor, and each comes back.
func TestNetnsMixedOneCorosync(t *testing.T) {
	c, conf, daemons, procs := startMixed(t, 1)
	h1, h2 := c.Hosts[0], c.Hosts[1]

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := h1.Run(ctx, "corosync-quorumtool", "-s")
	if err != nil {
		t.Fatalf("corosync-quorumtool -s on the corosync node: %v\n%s", err, out)
	}
	t.Logf("corosync-quorumtool -s on corosync node 1:\n%s", out)
	for _, re := range []string{`Quorate:\s+Yes`, `Total votes:\s+3`, `(?m)^\s+1\s+1 node1 \(local\)$`, `(?m)^\s+2\s+1 node2$`, `(?m)^\s+3\s+1 node3$`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("corosync-quorumtool -s lacks %s", re)
		}
	}
	if out, err := h2.Run(ctx, "corosync-quorumtool", "-s"); err != nil || !regexp.MustCompile(`(?m)^\s+1\s+1 node1$`).MatchString(out) || !strings.Contains(out, "node2 (local)") {
		t.Errorf("corosync-quorumtool -s on ringfenced node 2: %v\n%s", err, out)
	}

	cpgBin, why := cpgExchangeBinary(t)
	exchange := func(group string) {
		t.Helper()
		if why != "" {
			t.Log("cpg exchange skipped:", why)
			return
		}
		order := cpgExchange(t, cpgBin, c.Hosts, group, 200)
		t.Logf("%s: libcpg clients on corosync node 1 and ringfenced nodes 2, 3 delivered %d messages in one order (interleaved: %v)", group, len(order), interleaved(order))
	}
	exchange("rfmixed1")

	// A ringfenced node crashes: the corosync node and the other
	// ringfenced node both see it go, and come back. Then the corosync
	// node crashes: both ringfenced nodes see it go.
	crashAndRestart(t, c, conf, daemons, procs, 3)
	exchange("rfmixed2")
	crashAndRestart(t, c, conf, daemons, procs, 1)
}

// crashAndRestart SIGKILLs the daemon on host victim, waits until every
// other host lists the rest, restarts it and waits until every host lists
// all again and every daemon completed that ring's sync.
func crashAndRestart(t *testing.T, c *netns.Cluster, conf string, daemons [][]string, procs []*netns.Proc, victim int) {
	t.Helper()
	kind := filepath.Base(daemons[victim-1][0])
	var rest []uint32
	for _, h := range c.Hosts {
		if h.Index != victim {
			rest = append(rest, uint32(h.Index))
		}
	}
	start := time.Now()
	if err := procs[victim-1].Kill(); err != nil {
		t.Fatal(err)
	}
	for _, h := range c.Hosts {
		if h.Index != victim {
			t.Logf("SIGKILL of %s node %d seen by %s node %d after %v", kind, victim, filepath.Base(daemons[h.Index-1][0]), h.Index, waitHost(t, h, start, rest, 30*time.Second))
		}
	}
	start = time.Now()
	p, err := c.Hosts[victim-1].StartDaemon(conf, daemons[victim-1]...)
	if err != nil {
		t.Fatal(err)
	}
	procs[victim-1] = p
	for _, h := range c.Hosts {
		waitHost(t, h, start, netns.Indices(c.Hosts...), 30*time.Second)
	}
	t.Logf("%s node %d back on every node after %v", kind, victim, time.Since(start))
	for _, p := range procs {
		waitSyncAfterLastMembership(t, p, 10*time.Second)
	}
}

// TestNetnsMixedHeartbeatAcrossCorosyncNodes: ringfenced nodes 1 and 5 in
// a 9-node ring whose other members are Corosync 3.1.7, so that every
// nodelist neighbour of node 5 within three places runs Corosync. Node 5
// is killed and its link cut: node 1 must still report it through the
// heartbeat (the two watch each other once discovery found that the
// Corosync nodes do not answer), and the Corosync nodes must take the
// failure from node 1's join, never waiting for the token (5.55 s at 9
// nodes) to time out.
func TestNetnsMixedHeartbeatAcrossCorosyncNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 9 daemons in network namespaces")
	}
	c, _, daemons, procs := startMixedN(t, 9, 2, 3, 4, 6, 7, 8, 9)
	time.Sleep(2 * time.Second) // discovery is over: 10 probe intervals
	var rest []uint32
	for _, h := range c.Hosts {
		if h.Index != 5 {
			rest = append(rest, uint32(h.Index))
		}
	}
	// Only what the daemons log from the kill on counts: a Corosync node
	// may have lost a token while the nine started.
	before := make([]int, len(procs))
	for i, p := range procs {
		before[i] = len(readLog(t, p))
	}
	since := func(i int) string { return readLog(t, procs[i])[before[i]:] }
	start := time.Now()
	if err := procs[4].Kill(); err != nil {
		t.Fatal(err)
	}
	if err := c.Hosts[4].Cut(); err != nil {
		t.Fatal(err)
	}
	for _, h := range c.Hosts {
		if h.Index != 5 {
			t.Logf("%s node %d lists the other 8 after %v", filepath.Base(daemons[h.Index-1][0]), h.Index, waitHost(t, h, start, rest, 60*time.Second))
		}
	}
	if log := since(0); !strings.Contains(log, "node 5 is unreachable on every link (heartbeat)") {
		t.Errorf("ringfenced node 1 did not report node 5 through the heartbeat:\n%s", log)
	}
	for i, d := range daemons {
		if filepath.Base(d[0]) != "corosync" {
			continue
		}
		if log := since(i); strings.Contains(log, "token timed out") {
			t.Errorf("corosync node %d waited for the token instead of taking node 1's report:\n%s", i+1, log)
		}
	}
}

// TestNetnsMixedUDPMulticast is the mixed ring on Corosync's udp transport
// (IP multicast, one group for all, tokens unicast): corosync 3.1.7 on
// host 1 and ringfenced on hosts 2 and 3 form one ring, libcpg clients on
// all three deliver one order, and a SIGKILL of either kind is seen by
// every survivor, and each node comes back.
func TestNetnsMixedUDPMulticast(t *testing.T) {
	if testing.Short() {
		t.Skip("mixed ring in network namespaces")
	}
	c, conf, daemons, procs := startMixedWith(t, 3, netns.CorosyncOptions{Token: 1000, Transport: "udp"}, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if out, err := c.Hosts[0].Run(ctx, "corosync-cmapctl", "-g", "totem.transport"); err != nil || !strings.Contains(out, "= udp") {
		t.Fatalf("corosync node runs %q (%v), want udp", out, err)
	}
	out, err := c.Hosts[0].Run(ctx, "corosync-quorumtool", "-s")
	if err != nil || !regexp.MustCompile(`Total votes:\s+3`).MatchString(out) || !strings.Contains(out, "Quorate:          Yes") {
		t.Fatalf("corosync-quorumtool -s on the corosync node: %v\n%s", err, out)
	}
	if bin, why := cpgExchangeBinary(t); why == "" {
		order := cpgExchange(t, bin, c.Hosts, "rfmixedudp", 200)
		t.Logf("udp: libcpg clients on corosync node 1 and ringfenced nodes 2, 3 delivered %d messages in one order (interleaved: %v)", len(order), interleaved(order))
	} else {
		t.Log("cpg exchange skipped:", why)
	}
	crashAndRestart(t, c, conf, daemons, procs, 3)
	crashAndRestart(t, c, conf, daemons, procs, 1)
}

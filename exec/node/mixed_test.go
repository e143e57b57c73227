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
	needCmapctl(t)
	if _, err := osexec.LookPath("corosync"); err != nil {
		t.Skip("needs corosync (Debian package corosync)")
	}
	c = netns.NewCluster(t, 3, netns.Options{})
	bin := daemonBinary(t)
	conf, err := c.WriteCorosyncConf(netns.CorosyncOptions{Token: 1000})
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
	for i, h := range c.Hosts {
		t.Logf("%s node %d lists all three after %v", filepath.Base(daemons[i][0]), h.Index, waitHost(t, h, start, []uint32{1, 2, 3}, 60*time.Second))
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

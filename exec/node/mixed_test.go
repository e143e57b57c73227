package node

import (
	"context"
	osexec "os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ringfence/ringfence/tools/netns"
)

// TestNetnsMixedOneCorosync puts one Debian corosync 3.1.7 (host 1) and
// two ringfenced processes (hosts 2, 3) on one udpu ring in network
// namespaces: corosync-quorumtool -s on the corosync node lists all three;
// libcpg clients on all three nodes exchange messages in one order; a
// SIGKILL of a ringfenced node and then of the corosync node is seen by
// every survivor, and each comes back.
func TestNetnsMixedOneCorosync(t *testing.T) {
	needCmapctl(t)
	if _, err := osexec.LookPath("corosync"); err != nil {
		t.Skip("needs corosync (Debian package corosync)")
	}
	c := netns.NewCluster(t, 3, netns.Options{})
	bin := daemonBinary(t)
	h1, h2, h3 := c.Hosts[0], c.Hosts[1], c.Hosts[2]
	conf, err := c.WriteCorosyncConf(netns.CorosyncOptions{Token: 1000})
	if err != nil {
		t.Fatal(err)
	}
	daemons := [][]string{{"corosync"}, {bin}, {bin}}
	procs := make([]*netns.Proc, 3)
	start := time.Now()
	for i, h := range c.Hosts {
		if procs[i], err = h.StartDaemon(conf, daemons[i]...); err != nil {
			t.Fatal(err)
		}
	}
	all := []uint32{1, 2, 3}
	for _, h := range c.Hosts {
		t.Logf("host %d lists all three after %v", h.Index, waitHost(t, h, start, all, 60*time.Second))
	}
	for _, p := range procs {
		waitSyncAfterLastMembership(t, p, 10*time.Second)
	}

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
	// ringfenced node both see it go, and come back.
	start = time.Now()
	if err := procs[2].Kill(); err != nil {
		t.Fatal(err)
	}
	t.Logf("SIGKILL of ringfenced node 3 seen by corosync node 1 after %v", waitHost(t, h1, start, []uint32{1, 2}, 30*time.Second))
	waitHost(t, h2, start, []uint32{1, 2}, 30*time.Second)
	start = time.Now()
	if procs[2], err = h3.StartDaemon(conf, bin); err != nil {
		t.Fatal(err)
	}
	for _, h := range c.Hosts {
		waitHost(t, h, start, all, 30*time.Second)
	}
	t.Logf("ringfenced node 3 back on every node after %v", time.Since(start))
	for _, p := range procs {
		waitSyncAfterLastMembership(t, p, 10*time.Second)
	}
	exchange("rfmixed2")

	// The corosync node crashes: both ringfenced nodes see it go.
	start = time.Now()
	if err := procs[0].Kill(); err != nil {
		t.Fatal(err)
	}
	t.Logf("SIGKILL of corosync node 1 seen by ringfenced node 2 after %v", waitHost(t, h2, start, []uint32{2, 3}, 30*time.Second))
	waitHost(t, h3, start, []uint32{2, 3}, 30*time.Second)
	start = time.Now()
	if procs[0], err = h1.StartDaemon(conf, "corosync"); err != nil {
		t.Fatal(err)
	}
	for _, h := range c.Hosts {
		waitHost(t, h, start, all, 30*time.Second)
	}
	t.Logf("corosync node 1 back on every node after %v", time.Since(start))
}

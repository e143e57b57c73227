package netns

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// needDaemon skips when the daemon or the corosync tools are missing.
func needDaemon(t testing.TB) {
	t.Helper()
	for _, c := range []string{DaemonCommand()[0], "corosync-cmapctl"} {
		if _, err := exec.LookPath(c); err != nil {
			t.Skipf("needs %s (Debian package corosync)", c)
		}
	}
}

func startRing(t testing.TB, c *Cluster, o CorosyncOptions) (string, []*Proc, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conf, procs, formed, err := c.StartRing(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	return conf, procs, formed
}

func waitMembers(t *testing.T, h *Host, start time.Time, want ...*Host) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := h.WaitMembers(ctx, start, Indices(want...), 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestCorosyncRing runs real corosync 3.1.7 (udpu, token 1000) on three
// hosts: formation, a crash and a restart, a 2|1 partition and its heal.
func TestCorosyncRing(t *testing.T) {
	needDaemon(t)
	c := NewCluster(t, 3, Options{})
	h1, h2, h3 := c.Hosts[0], c.Hosts[1], c.Hosts[2]
	conf, procs, formed := startRing(t, c, CorosyncOptions{Token: 1000})
	t.Logf("ring of 3 formed in %v", formed)

	start := time.Now()
	if err := procs[2].Kill(); err != nil {
		t.Fatal(err)
	}
	t.Logf("SIGKILL of node 3 seen by node 1 after %v", waitMembers(t, h1, start, h1, h2))
	waitMembers(t, h2, start, h1, h2)
	// Corosync never deletes member entries; a crashed node is "left".
	if out, err := h1.Run(nil, "corosync-cmapctl", "runtime.members."); err != nil || !strings.Contains(out, "runtime.members.3.status (str) = left\n") {
		t.Fatalf("cmapctl after the crash: %v\n%s", err, out)
	} else {
		t.Logf("cmapctl runtime.members. after the crash:\n%s", out)
	}

	start = time.Now()
	var err error
	if procs[2], err = h3.StartDaemon(conf); err != nil {
		t.Fatal(err)
	}
	t.Logf("restarted node 3 back in the ring after %v", waitMembers(t, h1, start, h1, h2, h3))
	waitMembers(t, h3, start, h1, h2, h3)

	start = time.Now()
	if err := h3.Cut(); err != nil {
		t.Fatal(err)
	}
	t.Logf("2|1 cut: majority re-formed after %v", waitMembers(t, h1, start, h1, h2))
	waitMembers(t, h3, start, h3)

	start = time.Now()
	if err := h3.Heal(); err != nil {
		t.Fatal(err)
	}
	t.Logf("heal: one ring again after %v", waitMembers(t, h3, start, h1, h2, h3))
	waitMembers(t, h1, start, h1, h2, h3)
	waitMembers(t, h2, start, h1, h2, h3)

	// The harness ran three daemons that never crossed into each other's
	// /run: each still has its own pid file.
	for _, h := range c.Hosts {
		if _, err := h.Run(nil, "test", "-s", "/run/corosync.pid"); err != nil {
			t.Errorf("host %d: %v", h.Index, err)
		}
	}
}

package node

import (
	"context"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ringfence/ringfence/tools/netns"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// daemonBinary builds bin/ringfenced once per test binary run. The
// directory outlives single tests (several tests share the binary) and is
// removed by TestMain.
func daemonBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "ringfenced-bin-")
		if buildErr != nil {
			return
		}
		out, err := osexec.Command("go", "build", "-o", filepath.Join(buildDir, "ringfenced"), "github.com/ringfence/ringfence/cmd/ringfenced").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(buildDir, "ringfenced")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

func needCmapctl(t testing.TB) {
	t.Helper()
	if _, err := osexec.LookPath("corosync-cmapctl"); err != nil {
		t.Skip("needs corosync-cmapctl (Debian package corosync) to read members over our cmap IPC")
	}
}

func waitHost(t *testing.T, h *netns.Host, start time.Time, want []uint32, timeout time.Duration) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	d, err := h.WaitMembers(ctx, start, want, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func readLog(t *testing.T, p *netns.Proc) string {
	t.Helper()
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitLog waits until the process log contains text.
func waitLog(t *testing.T, p *netns.Proc, text string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if strings.Contains(readLog(t, p), text) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never logged %q:\n%s", p.LogPath, text, readLog(t, p))
}

// TestNetnsThreeDaemons runs three real ringfenced processes in network
// namespaces: formation, SIGKILL and restart, a 2|1 link cut and its
// heal, and a clean SIGTERM leave.
func TestNetnsThreeDaemons(t *testing.T) {
	needCmapctl(t)
	c := netns.NewCluster(t, 3, netns.Options{})
	bin := daemonBinary(t)
	h1, h2, h3 := c.Hosts[0], c.Hosts[1], c.Hosts[2]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	o := netns.CorosyncOptions{Token: 1000, Daemon: []string{bin}}
	conf, procs, formed, err := c.StartRing(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ring of 3 formed in %v (as seen through corosync-cmapctl)", formed)
	for _, p := range procs {
		waitLog(t, p, "Completed service synchronization, ready to provide service.", 5*time.Second)
		if !strings.Contains(readLog(t, p), "[TOTEM ] A new membership (") {
			t.Fatalf("no membership notice in %s", readLog(t, p))
		}
	}
	out, err := h1.Run(ctx, "corosync-cmapctl", "-g", "runtime.members.2.ip")
	if err != nil || strings.TrimSpace(out) != "runtime.members.2.ip (str) = r(0) ip(198.18.0.2)" {
		t.Fatalf("cmapctl -g runtime.members.2.ip: %v %q", err, out)
	}

	// The cfg and cpg IPC services answer Corosync's own tools.
	if out, err := h1.Run(ctx, "corosync-cfgtool", "-s"); err != nil || !strings.Contains(out, "Local node ID 1") {
		t.Fatalf("corosync-cfgtool -s: %v\n%s", err, out)
	} else {
		t.Logf("corosync-cfgtool -s on node 1:\n%s", out)
	}
	if out, err := h2.Run(ctx, "corosync-cpgtool"); err != nil {
		t.Fatalf("corosync-cpgtool: %v\n%s", err, out)
	}
	// quorum and votequorum IPC: the quorumtool status of a ringfenced node.
	if out, err := h3.Run(ctx, "corosync-quorumtool", "-s"); err != nil || !strings.Contains(out, "Quorate:          Yes") || !regexp.MustCompile(`Total votes:\s+3`).MatchString(out) {
		t.Fatalf("corosync-quorumtool -s on node 3: %v\n%s", err, out)
	} else {
		t.Logf("corosync-quorumtool -s on node 3:\n%s", out)
	}

	// The stats map (corosync-cmapctl -m stats) counts tokens.
	if v, err := h1.StatsCounter(ctx, "stats.srp.orf_token_rx"); err != nil || v == 0 {
		// Published once a second: give it one more second.
		time.Sleep(1100 * time.Millisecond)
		if v, err = h1.StatsCounter(ctx, "stats.srp.orf_token_rx"); err != nil || v == 0 {
			t.Fatalf("stats.srp.orf_token_rx = %d, %v", v, err)
		}
	}

	all, two := []uint32{1, 2, 3}, []uint32{1, 2}
	start := time.Now()
	if err := procs[2].Kill(); err != nil {
		t.Fatal(err)
	}
	t.Logf("SIGKILL of node 3 seen by node 1 after %v", waitHost(t, h1, start, two, 30*time.Second))
	waitHost(t, h2, start, two, 30*time.Second)
	waitLog(t, procs[0], "left: 3", 5*time.Second)
	waitLog(t, procs[1], "left: 3", 5*time.Second)
	if out, err := h1.Run(ctx, "corosync-cmapctl", "-g", "runtime.members.3.status"); err != nil || !strings.Contains(out, "= left") {
		t.Fatalf("runtime.members.3.status after the crash: %v %q", err, out)
	}

	start = time.Now()
	if procs[2], err = h3.StartDaemon(conf, bin); err != nil {
		t.Fatal(err)
	}
	t.Logf("restarted node 3 back in the ring after %v", waitHost(t, h1, start, all, 30*time.Second))
	waitHost(t, h3, start, all, 30*time.Second)
	if out, err := h1.Run(ctx, "corosync-cmapctl", "-g", "runtime.members.3.join_count"); err != nil || !strings.Contains(out, "= 2") {
		t.Fatalf("join_count of node 3 after the rejoin: %v %q", err, out)
	}

	start = time.Now()
	if err := h3.Cut(); err != nil {
		t.Fatal(err)
	}
	t.Logf("2|1 cut: majority re-formed after %v", waitHost(t, h1, start, two, 30*time.Second))
	waitHost(t, h3, start, []uint32{3}, 30*time.Second)
	start = time.Now()
	if err := h3.Heal(); err != nil {
		t.Fatal(err)
	}
	t.Logf("heal: one ring again after %v", waitHost(t, h1, start, all, 30*time.Second))
	waitHost(t, h3, start, all, 30*time.Second)
	waitHost(t, h2, start, all, 30*time.Second)

	// A clean leave: SIGTERM, exit 0, and the others re-form at once
	// (no token timeout, the LEAVE join tells them).
	start = time.Now()
	if err := procs[1].Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-procs[1].Done():
	case <-time.After(10 * time.Second):
		t.Fatal("ringfenced did not exit after SIGTERM")
	}
	if err := procs[1].Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, readLog(t, procs[1]))
	}
	if !strings.Contains(readLog(t, procs[1]), "exiting normally") {
		t.Fatalf("no exit notice:\n%s", readLog(t, procs[1]))
	}
	t.Logf("clean leave of node 2 seen by node 1 after %v", waitHost(t, h1, start, []uint32{1, 3}, 30*time.Second))
}

// TestNetnsSixteenDaemons forms one ring of 16 (and 32 unless -short)
// ringfenced processes.
func TestNetnsSixteenDaemons(t *testing.T) {
	needCmapctl(t)
	sizes := []int{16}
	if !testing.Short() {
		sizes = append(sizes, 32)
	}
	bin := daemonBinary(t)
	for _, n := range sizes {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			c := netns.NewCluster(t, n, netns.Options{})
			ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
			defer cancel()
			_, procs, formed, err := c.StartRing(ctx, netns.CorosyncOptions{Token: 1000, Daemon: []string{bin}})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("ring of %d formed in %v", n, formed)
			if testing.Verbose() {
				t.Logf("node 1's notices:\n%s", grepLines(readLog(t, procs[0]), "TOTEM", "Completed"))
			}
			for _, p := range procs {
				if p.Exited() {
					t.Fatalf("%s exited:\n%s", p.LogPath, readLog(t, p))
				}
			}
		})
	}
}

// TestNetnsUDPMulticast forms a ring over the udp (IP multicast)
// transport.
func TestNetnsUDPMulticast(t *testing.T) {
	needCmapctl(t)
	c := netns.NewCluster(t, 3, netns.Options{})
	bin := daemonBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, procs, formed, err := c.StartRing(ctx, netns.CorosyncOptions{Token: 1000, Transport: "udp", Daemon: []string{bin}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("udp ring of 3 formed in %v", formed)
	start := time.Now()
	if err := procs[2].Kill(); err != nil {
		t.Fatal(err)
	}
	t.Logf("SIGKILL seen after %v", waitHost(t, c.Hosts[0], start, []uint32{1, 2}, 30*time.Second))
}

// TestNetnsMixedWithCorosync puts one ringfenced into a ring with two
// Debian corosync 3.1.7 nodes (udpu).
func TestNetnsMixedWithCorosync(t *testing.T) {
	c, _, _, procs := startMixed(t, 1, 2)
	h1, h2, h3 := c.Hosts[0], c.Hosts[1], c.Hosts[2]
	p3 := procs[2]
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := h1.Run(ctx, "corosync-quorumtool", "-l")
	if err != nil {
		t.Fatalf("corosync-quorumtool -l: %v\n%s", err, out)
	}
	t.Logf("corosync-quorumtool -l on corosync node 1:\n%s", out)
	for _, name := range []string{"node1", "node2", "node3"} {
		if !strings.Contains(out, name) {
			t.Errorf("quorumtool -l lacks %s", name)
		}
	}
	// Our votequorum NODEINFO reached corosync: node 3 has its vote.
	if strings.Contains(out, "Unable to get node 3 info") || !regexp.MustCompile(`(?m)^\s+3\s+1 node3$`).MatchString(out) {
		t.Errorf("corosync does not count ringfenced's vote:\n%s", out)
	}
	if out, err := h1.Run(ctx, "corosync-quorumtool", "-s"); err != nil && !strings.Contains(out, "Quorate:          Yes") {
		t.Errorf("corosync-quorumtool -s: %v\n%s", err, out)
	} else if !regexp.MustCompile(`Total votes:\s+3`).MatchString(out) || !strings.Contains(out, "Quorate:          Yes") {
		t.Errorf("corosync-quorumtool -s:\n%s", out)
	}
	if out, err := h3.Run(ctx, "corosync-cmapctl", "-g", "runtime.votequorum.this_node_id"); err != nil || !strings.Contains(out, "= 3") {
		t.Errorf("runtime.votequorum keys on ringfenced: %v %q", err, out)
	}
	if out, err := h3.Run(ctx, "corosync-quorumtool", "-l"); err != nil || !regexp.MustCompile(`(?m)^\s+1\s+1 node1$`).MatchString(out) {
		t.Errorf("corosync-quorumtool -l on ringfenced: %v\n%s", err, out)
	} else {
		t.Logf("corosync-quorumtool -l on the ringfenced node:\n%s", out)
	}

	// libcpg clients on both kinds of node exchange messages: each
	// delivers everyone's, in one order.
	if bin, why := cpgExchangeBinary(t); why == "" {
		order := cpgExchange(t, bin, c.Hosts, "rfmixed", 200)
		t.Logf("libcpg clients on corosync nodes 1, 2 and ringfenced node 3: %d messages in one order (interleaved: %v)", len(order), interleaved(order))
	} else {
		t.Log("cpg exchange skipped:", why)
	}

	start := time.Now()
	if err := p3.Kill(); err != nil {
		t.Fatal(err)
	}
	t.Logf("corosync nodes saw the SIGKILL of ringfenced after %v", waitHost(t, h1, start, []uint32{1, 2}, 30*time.Second))
	waitHost(t, h2, start, []uint32{1, 2}, 30*time.Second)
}

// waitSyncAfterLastMembership waits until the log shows a completed sync
// after its last membership notice (the one for the current ring).
func waitSyncAfterLastMembership(t *testing.T, p *netns.Proc, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		log := readLog(t, p)
		i := strings.LastIndex(log, "A new membership (")
		if i >= 0 && strings.Contains(log[i:], "Completed service synchronization, ready to provide service.") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no completed sync after the last membership:\n%s", p.LogPath, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestFailoverFigures measures formation and failover times for ringfenced
// and, side by side, Debian's corosync: RINGFENCE_BENCH=1 go test -run
// FailoverFigures ./exec/node (RINGFENCE_BENCH_SIZES="3 16" by default).
// While iterating, RINGFENCE_BENCH_DAEMONS=ringfenced skips corosync (the
// published figures keep both) and RINGFENCE_BENCH_LOGS=<dir> keeps every
// daemon's log there, one directory per run, for timelines.
func TestFailoverFigures(t *testing.T) {
	if os.Getenv("RINGFENCE_BENCH") != "1" {
		t.Skip("measurement: set RINGFENCE_BENCH=1")
	}
	needCmapctl(t)
	sizes := []int{3, 16}
	if v := os.Getenv("RINGFENCE_BENCH_SIZES"); v != "" {
		sizes = nil
		for _, f := range strings.Fields(v) {
			var n int
			fmt.Sscan(f, &n)
			sizes = append(sizes, n)
		}
	}
	bin := daemonBinary(t)
	daemons := [][]string{{bin}}
	if _, err := osexec.LookPath("corosync"); err == nil {
		daemons = append(daemons, []string{"corosync"})
	}
	if v := os.Getenv("RINGFENCE_BENCH_DAEMONS"); v != "" {
		var keep [][]string
		for _, d := range daemons {
			if strings.Contains(" "+v+" ", " "+filepath.Base(d[0])+" ") {
				keep = append(keep, d)
			}
		}
		daemons = keep
	}
	results := map[string]netns.Failover{}
	for _, n := range sizes {
		for _, d := range daemons {
			name := filepath.Base(d[0])
			t.Run(fmt.Sprintf("%s/%d", name, n), func(t *testing.T) {
				var opts netns.Options
				if dir := os.Getenv("RINGFENCE_BENCH_LOGS"); dir != "" {
					opts.Dir = filepath.Join(dir, fmt.Sprintf("%s-%d-%d", name, n, time.Now().Unix()))
					if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
						t.Fatal(err)
					}
				}
				c := netns.NewCluster(t, n, opts)
				// RINGFENCE_BENCH_DEBUG=1: logging.debug on, for the logs kept.
				r, err := c.MeasureFailover(netns.CorosyncOptions{Token: 1000, Daemon: d, Debug: os.Getenv("RINGFENCE_BENCH_DEBUG") == "1"}, 90*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				results[fmt.Sprintf("%s/%d", name, n)] = r
				fmt.Printf("%-10s %s\n", name, r)
				if opts.Dir != "" {
					fmt.Printf("%-10s logs in %s, SIGKILL at %s, cut at %s (cut confirmed after %v)\n", name, opts.Dir,
						r.KillAt.Format("15:04:05.000"), r.CutAt.Format("15:04:05.000"), r.CutCmd.Round(time.Millisecond))
				}
			})
		}
	}
	printFailoverTable(sizes, results)
}

// printFailoverTable prints ringfenced and corosync side by side with the
// ratio corosync/ringfenced (above 1: ringfenced is faster).
func printFailoverTable(sizes []int, results map[string]netns.Failover) {
	fmt.Printf("\nfailover, udpu, token 1000, seen from node 1's log (ratio = corosync / ringfenced)\n")
	fmt.Printf("%-6s %-10s %9s %9s %9s %9s %9s %9s\n", "nodes", "daemon", "form", "SIGKILL", "rejoin", "link cut", "heal", "settled")
	sec := func(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }
	ratio := func(c, r time.Duration) string {
		if r <= 0 {
			return "-"
		}
		return fmt.Sprintf("%.2fx", c.Seconds()/r.Seconds())
	}
	for _, n := range sizes {
		r, okR := results[fmt.Sprintf("ringfenced/%d", n)]
		c, okC := results[fmt.Sprintf("corosync/%d", n)]
		if okR {
			fmt.Printf("%-6d %-10s %9s %9s %9s %9s %9s %9s\n", n, "ringfenced", sec(r.Form), sec(r.Kill), sec(r.Rejoin), sec(r.Cut), sec(r.Heal), sec(r.Settled))
		}
		if okC {
			fmt.Printf("%-6d %-10s %9s %9s %9s %9s %9s %9s\n", n, "corosync", sec(c.Form), sec(c.Kill), sec(c.Rejoin), sec(c.Cut), sec(c.Heal), sec(c.Settled))
		}
		if okR && okC {
			fmt.Printf("%-6d %-10s %9s %9s %9s %9s %9s %9s\n", n, "ratio", ratio(c.Form, r.Form), ratio(c.Kill, r.Kill), ratio(c.Rejoin, r.Rejoin), ratio(c.Cut, r.Cut), ratio(c.Heal, r.Heal), ratio(c.Settled, r.Settled))
		}
	}
}

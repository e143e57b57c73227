package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ringfence/ringfence/tools/netns"
)

// figure is one measurement: a daemon, a client, a cluster size.
type figure struct {
	daemon, client string
	nodes          int
	res            Result
}

// TestCPGBenchFigures (RINGFENCE_BENCH=1, root) runs cpgbench — the Go
// client and, when libcpg-dev is installed, the libcpg C client — on host
// 1 of 3- and 16-node network-namespace clusters, against ringfenced and
// against Debian's corosync with the same corosync.conf (udpu, token
// 1000), and against corosync on its default transport, knet (the same
// file with transport: knet, crypto off as in the others), and prints a
// table with the ratios. RINGFENCE_BENCH_SIZES picks the cluster sizes,
// RINGFENCE_CPGBENCH_DURATION the time per message size,
// RINGFENCE_BENCH_KNET=0 leaves knet out.
func TestCPGBenchFigures(t *testing.T) {
	if os.Getenv("RINGFENCE_BENCH") != "1" {
		t.Skip("set RINGFENCE_BENCH=1 to run the CPG throughput figures")
	}
	if err := netns.Available(); err != nil {
		t.Skip(err)
	}
	if _, err := exec.LookPath("corosync-cmapctl"); err != nil {
		t.Skip("needs corosync-cmapctl (Debian package corosync) to see the ring form")
	}
	dir := t.TempDir()
	rf := filepath.Join(dir, "ringfenced")
	goBench := filepath.Join(dir, "cpgbench")
	for bin, pkg := range map[string]string{rf: "../../cmd/ringfenced", goBench: "."} {
		if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	clients := map[string][]string{}
	duration := 4 * time.Second
	if v := os.Getenv("RINGFENCE_CPGBENCH_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatal(err)
		}
		duration = d
	}
	const sizes, inflight = "100,1024,10240", 64
	clients["go"] = []string{goBench, "-sizes", sizes, "-inflight", strconv.Itoa(inflight), "-duration", duration.String()}
	if _, err := os.Stat("/usr/include/corosync/cpg.h"); err == nil {
		cBench := filepath.Join(dir, "cpgbench-c")
		if out, err := exec.Command("gcc", "-O2", "-o", cBench, "testdata/cpgbench.c", "-lcpg").CombinedOutput(); err != nil {
			t.Fatalf("gcc: %v\n%s", err, out)
		}
		clients["libcpg"] = []string{cBench, sizes, strconv.Itoa(inflight), strconv.FormatFloat(duration.Seconds(), 'f', -1, 64)}
	} else {
		t.Log("libcpg-dev not installed: measuring the Go client only")
	}
	daemons := []benchDaemon{{name: "ringfenced", bin: rf, transport: "udpu"}}
	if _, err := exec.LookPath("corosync"); err == nil {
		daemons = append(daemons, benchDaemon{name: "corosync", bin: "corosync", transport: "udpu"})
		if os.Getenv("RINGFENCE_BENCH_KNET") != "0" {
			daemons = append(daemons, benchDaemon{name: "knet", bin: "corosync", transport: "knet"})
		}
	} else {
		t.Log("corosync not installed: no ratios")
	}
	nodeCounts := []int{3, 16}
	if v := os.Getenv("RINGFENCE_BENCH_SIZES"); v != "" {
		nodeCounts = nil
		for _, f := range strings.Fields(v) {
			n, err := strconv.Atoi(f)
			if err != nil {
				t.Fatalf("RINGFENCE_BENCH_SIZES: %v", err)
			}
			nodeCounts = append(nodeCounts, n)
		}
	}
	var figs []figure
	for _, n := range nodeCounts {
		c := netns.NewCluster(t, n, netns.Options{})
		for _, d := range daemons {
			figs = append(figs, measureDaemon(t, c, d, clients)...)
		}
		c.Close()
	}
	t.Log("\n" + table(figs, daemons, inflight))
}

// benchDaemon is one column of the table: a daemon on a transport.
type benchDaemon struct{ name, bin, transport string }

// measureDaemon starts daemon on every host, runs each client on host 1
// and stops the ring again.
func measureDaemon(t *testing.T, c *netns.Cluster, d benchDaemon, clients map[string][]string) []figure {
	t.Helper()
	name := d.name
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	_, procs, _, err := c.StartRing(ctx, netns.CorosyncOptions{Daemon: []string{d.bin}, Transport: d.transport})
	if err != nil {
		t.Fatalf("%s on %d nodes: %v", name, len(c.Hosts), err)
	}
	defer stopAll(procs)
	var figs []figure
	for _, cl := range []string{"go", "libcpg"} {
		argv, ok := clients[cl]
		if !ok {
			continue
		}
		out, err := c.Hosts[0].Run(ctx, argv...)
		if err != nil {
			t.Fatalf("%s client against %s on %d nodes: %v", cl, name, len(c.Hosts), err)
		}
		sc := bufio.NewScanner(strings.NewReader(out))
		for sc.Scan() {
			if !strings.HasPrefix(sc.Text(), "size=") {
				continue
			}
			r, err := ParseResult(sc.Text())
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d nodes, %s, %s client: %s", len(c.Hosts), name, cl, r)
			figs = append(figs, figure{daemon: name, client: cl, nodes: len(c.Hosts), res: r})
		}
	}
	return figs
}

func stopAll(procs []*netns.Proc) {
	for _, p := range procs {
		if p != nil {
			p.Signal(syscall.SIGTERM)
		}
	}
	for _, p := range procs {
		if p == nil {
			continue
		}
		select {
		case <-p.Done():
		case <-time.After(10 * time.Second):
			p.Kill()
			<-p.Done()
		}
	}
}

// table renders one row per cluster size, client and message size with
// ringfenced's, corosync udpu's and (when measured) corosync knet's
// figures, the ratio to udpu and the ratio to the better of the two.
func table(figs []figure, daemons []benchDaemon, inflight int) string {
	find := func(d, cl string, n, size int) (Result, bool) {
		for _, f := range figs {
			if f.daemon == d && f.client == cl && f.nodes == n && f.res.Size == size {
				return f.res, true
			}
		}
		return Result{}, false
	}
	var b strings.Builder
	fmt.Fprintf(&b, "CPG throughput, one sender, %d in flight, token 1000 (ratios: ringfenced msg/s / corosync udpu, / the better of corosync udpu and knet)\n", inflight)
	fmt.Fprintf(&b, "%-5s %-7s %-6s | %-29s | %-29s | %-29s | %-5s %s\n", "nodes", "client", "size", "ringfenced msg/s MB/s p50/p99", "corosync udpu", "corosync knet", "udpu", "best")
	cell := func(r Result) string {
		return fmt.Sprintf("%7.0f %6.2f %5.1f/%5.1fms", r.MsgsPerSec(), r.MBPerSec(), ms(r.P50), ms(r.P99))
	}
	for _, f := range figs {
		if f.daemon != "ringfenced" {
			continue
		}
		us, ks, ratio, best := "-", "-", "-", "-"
		bestRate := 0.0
		if r, ok := find("corosync", f.client, f.nodes, f.res.Size); ok {
			us, bestRate = cell(r), r.MsgsPerSec()
			if r.MsgsPerSec() > 0 {
				ratio = fmt.Sprintf("%.2f", f.res.MsgsPerSec()/r.MsgsPerSec())
			}
		}
		if r, ok := find("knet", f.client, f.nodes, f.res.Size); ok {
			ks, bestRate = cell(r), max(bestRate, r.MsgsPerSec())
		}
		if bestRate > 0 {
			best = fmt.Sprintf("%.2f", f.res.MsgsPerSec()/bestRate)
		}
		fmt.Fprintf(&b, "%-5d %-7s %-6d | %-29s | %-29s | %-29s | %-5s %s\n", f.nodes, f.client, f.res.Size, cell(f.res), us, ks, ratio, best)
	}
	return b.String()
}

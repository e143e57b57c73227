package node

import (
	"context"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ringfence/ringfence/tools/netns"
)

// hbScenario is one round of the heartbeat benchmark, seen from node 1.
type hbScenario struct {
	Kill, Cut time.Duration // SIGKILL + link down / link down → new membership
	Stopped   bool          // a membership change happened during the SIGSTOP
	CPU       float64       // ringfenced only: share of one core per daemon, idle ring
}

// TestHeartbeatFigures measures what issue 7 asks, ringfenced (heartbeat
// on) next to corosync 3.1.7 on the same scenarios:
//
//   - the last node killed (SIGKILL and its link downed), and its link cut
//     alone: time until node 1 lists the others (token 1000);
//   - the last node's daemon SIGSTOPped for 2 s with token 3000: no
//     membership change may follow (stats.srp.operational_entered on node
//     1 must not move);
//   - at the largest size, the CPU of each ringfenced daemon on an idle
//     ring over 10 s, with the heartbeat on and off.
//
// RINGFENCE_BENCH=1 runs it (make bench); RINGFENCE_HB_SIZES="3 16 32"
// picks the sizes, RINGFENCE_HB_ONLY=1 leaves corosync out, and
// RINGFENCE_HB_MODE=userspace measures the responder process instead of
// XDP.
func TestHeartbeatFigures(t *testing.T) {
	if os.Getenv("RINGFENCE_BENCH") != "1" {
		t.Skip("measurement: set RINGFENCE_BENCH=1")
	}
	needCmapctl(t)
	sizes := []int{3, 16, 32}
	if v := os.Getenv("RINGFENCE_HB_SIZES"); v != "" {
		sizes = nil
		for _, f := range strings.Fields(v) {
			n, err := strconv.Atoi(f)
			if err != nil || n < 2 {
				t.Fatalf("RINGFENCE_HB_SIZES: bad size %q", f)
			}
			sizes = append(sizes, n)
		}
	}
	bin := daemonBinary(t)
	daemons := [][]string{{bin}}
	// RINGFENCE_HB_ONLY=1 skips corosync (its 32-node run takes minutes).
	if _, err := osexec.LookPath("corosync"); err == nil && os.Getenv("RINGFENCE_HB_ONLY") != "1" {
		daemons = append(daemons, []string{"corosync"})
	}
	results := map[string]hbScenario{}
	var cpuOff float64
	for _, n := range sizes {
		for _, d := range daemons {
			name := filepath.Base(d[0])
			t.Run(fmt.Sprintf("%s/%d", name, n), func(t *testing.T) {
				t.Setenv(hbEnv, os.Getenv("RINGFENCE_HB_MODE"))
				r := hbMeasure(t, n, d, name == "ringfenced" && n == sizes[len(sizes)-1])
				results[fmt.Sprintf("%s/%d", name, n)] = r
				fmt.Printf("%-10s %2d nodes: kill+down %.3fs, link cut %.3fs, SIGSTOP 2s changed membership: %v\n",
					name, n, r.Kill.Seconds(), r.Cut.Seconds(), r.Stopped)
			})
		}
	}
	// The heartbeat's own cost: the same idle ring with it off.
	t.Run(fmt.Sprintf("cpu-off/%d", sizes[len(sizes)-1]), func(t *testing.T) {
		t.Setenv(hbEnv, "off")
		c := netns.NewCluster(t, sizes[len(sizes)-1], netns.Options{})
		_, procs := hbStart(t, c, []string{bin}, 1000)
		cpuOff = hbCPU(t, procs, 10*time.Second)
	})
	fmt.Printf("\nheartbeat failover, udpu, seen from node 1's membership notice (target: new membership < 0.5 s)\n")
	fmt.Printf("%-6s %-10s %10s %10s %14s\n", "nodes", "daemon", "kill+down", "link cut", "SIGSTOP 2s/3s")
	for _, n := range sizes {
		for _, d := range daemons {
			name := filepath.Base(d[0])
			r, ok := results[fmt.Sprintf("%s/%d", name, n)]
			if !ok {
				continue
			}
			stop := "stable"
			if r.Stopped {
				stop = "CHANGED"
			}
			fmt.Printf("%-6d %-10s %9.3fs %9.3fs %14s\n", n, name, r.Kill.Seconds(), r.Cut.Seconds(), stop)
		}
	}
	if r, ok := results[fmt.Sprintf("ringfenced/%d", sizes[len(sizes)-1])]; ok {
		fmt.Printf("CPU per ringfenced daemon, idle %d-node ring: heartbeat on %.2f%%, off %.2f%% of a core (probe cost %.2f%%)\n",
			sizes[len(sizes)-1], 100*r.CPU, 100*cpuOff, 100*(r.CPU-cpuOff))
	}
}

// hbStart forms a ring of n daemons with the given token and returns
// their processes.
func hbStart(t *testing.T, c *netns.Cluster, daemon []string, token int) (string, []*netns.Proc) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	conf, procs, _, err := c.StartRing(ctx, netns.CorosyncOptions{Token: token, Daemon: daemon})
	if err != nil {
		t.Fatal(err)
	}
	return conf, procs
}

func hbMeasure(t *testing.T, n int, daemon []string, cpu bool) hbScenario {
	var r hbScenario
	c := netns.NewCluster(t, n, netns.Options{})
	conf, procs := hbStart(t, c, daemon, 1000)
	if cpu {
		r.CPU = hbCPU(t, procs, 10*time.Second)
	}
	all := netns.Indices(c.Hosts...)
	rest := all[:n-1]
	victim := c.Hosts[n-1]
	time.Sleep(time.Second) // probes answered: the victim counts as ringfenced
	// Each figure is read from node 1's membership notice, as in
	// TestFailoverFigures (netns.Failover says why polling alone is not).
	formed := func(start time.Time, polled time.Duration) time.Duration {
		if at, ok := netns.LogFormed(procs[0].LogPath, start, time.Now()); ok {
			return at.Sub(start)
		}
		return polled
	}
	start := time.Now()
	if err := procs[n-1].Kill(); err != nil {
		t.Fatal(err)
	}
	if err := victim.Cut(); err != nil {
		t.Fatal(err)
	}
	r.Kill = formed(start, waitHost(t, c.Hosts[0], start, rest, 2*time.Minute))
	if err := victim.Heal(); err != nil {
		t.Fatal(err)
	}
	p, err := victim.StartDaemon(conf, daemon...)
	if err != nil {
		t.Fatal(err)
	}
	waitHost(t, c.Hosts[0], time.Now(), all, 2*time.Minute)
	time.Sleep(time.Second)
	start = time.Now()
	if err := victim.Cut(); err != nil {
		t.Fatal(err)
	}
	r.Cut = formed(start, waitHost(t, c.Hosts[0], start, rest, 2*time.Minute))
	if err := victim.Heal(); err != nil {
		t.Fatal(err)
	}
	waitHost(t, c.Hosts[0], time.Now(), all, 2*time.Minute)
	p.Kill()
	c.Close()

	// SIGSTOP for 2 s with token 3000 on a fresh ring.
	c2 := netns.NewCluster(t, n, netns.Options{})
	_, procs = hbStart(t, c2, daemon, 3000)
	time.Sleep(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	before, err := c2.Hosts[0].StatsCounter(ctx, "stats.srp.operational_entered")
	if err != nil {
		t.Fatal(err)
	}
	if err := procs[n-1].Stop(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if err := procs[n-1].Cont(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Second) // longer than token + consensus would take to show
	after, err := c2.Hosts[0].StatsCounter(ctx, "stats.srp.operational_entered")
	if err != nil {
		t.Fatal(err)
	}
	r.Stopped = after != before
	return r
}

// hbCPU is the mean share of one core each daemon used over d, with
// its child processes (the heartbeat responder of userspace mode).
func hbCPU(t *testing.T, procs []*netns.Proc, d time.Duration) float64 {
	t.Helper()
	var pids []int
	for _, p := range procs {
		pids = append(pids, p.Pid)
		// The children of every thread of the daemon.
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", p.Pid))
		for _, task := range tasks {
			b, _ := os.ReadFile(task)
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil {
					pids = append(pids, pid)
				}
			}
		}
	}
	ticks := func() (sum uint64) {
		for _, pid := range pids {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			if err != nil {
				t.Fatal(err)
			}
			// Fields after the command name: state is field 3, utime 14,
			// stime 15.
			f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
			u, _ := strconv.ParseUint(f[11], 10, 64)
			s, _ := strconv.ParseUint(f[12], 10, 64)
			sum += u + s
		}
		return sum
	}
	time.Sleep(2 * time.Second)
	t0, w0 := ticks(), time.Now()
	time.Sleep(d)
	used := float64(ticks()-t0) / 100 // USER_HZ
	return used / time.Since(w0).Seconds() / float64(len(procs))
}

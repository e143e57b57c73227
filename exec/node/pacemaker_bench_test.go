package node

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestPacemakerFailoverFigures plays the Pacemaker failover scenario
// (runPcmkFailover) on ringfenced and on Debian's corosync, alternating,
// RINGFENCE_PCMK_ROUNDS times each (default 3), checks both stacks did the
// same things every round, and prints the medians side by side:
// RINGFENCE_BENCH=1 go test -run PacemakerFailoverFigures ./exec/node.
func TestPacemakerFailoverFigures(t *testing.T) {
	if os.Getenv("RINGFENCE_BENCH") != "1" {
		t.Skip("measurement: set RINGFENCE_BENCH=1")
	}
	needPacemaker(t)
	rounds := 3
	if v := os.Getenv("RINGFENCE_PCMK_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("RINGFENCE_PCMK_ROUNDS=%q: want a positive number", v)
		}
		rounds = n
	}
	results := map[string][]pcmkOutcome{}
	for r := 1; r <= rounds; r++ {
		for _, stack := range []string{stackRingfenced, stackCorosync} {
			t.Run(fmt.Sprintf("%s/%d", stack, r), func(t *testing.T) {
				o := runPcmkFailover(newPcmkCluster(t, stack, stack, stack))
				results[stack] = append(results[stack], o)
				fmt.Printf("%-10s round %d: startup %.2fs, membership lost %.2fs, resource relocated %.2fs, rejoin %.2fs\n",
					stack, r, o.Startup.Seconds(), o.MembLost.Seconds(), o.Relocate.Seconds(), o.Rejoin.Seconds())
			})
		}
		if rf, co := results[stackRingfenced], results[stackCorosync]; len(rf) == r && len(co) == r {
			if err := rf[r-1].same(co[r-1]); err != nil {
				t.Error(err)
			}
		}
	}
	printPcmkTable(results[stackRingfenced], results[stackCorosync])
}

// printPcmkTable prints medians with the ratio corosync/ringfenced (above
// 1: ringfenced is faster), as the daemon failover table does.
func printPcmkTable(rf, co []pcmkOutcome) {
	median := func(os []pcmkOutcome, f func(pcmkOutcome) time.Duration) time.Duration {
		var ds []time.Duration
		for _, o := range os {
			ds = append(ds, f(o))
		}
		if len(ds) == 0 {
			return 0
		}
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	cols := []struct {
		name string
		f    func(pcmkOutcome) time.Duration
	}{
		{"startup", func(o pcmkOutcome) time.Duration { return o.Startup }},
		{"memb lost", func(o pcmkOutcome) time.Duration { return o.MembLost }},
		{"relocated", func(o pcmkOutcome) time.Duration { return o.Relocate }},
		{"rejoin", func(o pcmkOutcome) time.Duration { return o.Rejoin }},
	}
	fmt.Printf("\nPacemaker 2.1.5 failover, 3 nodes, udpu, median of %d/%d rounds (ratio = corosync / ringfenced)\n", len(rf), len(co))
	fmt.Printf("Pacemaker timers, same for both: %s\n", pcmkTimersString())
	fmt.Printf("SIGKILL of the Dummy's node (not DC) -> fenced by fence_dummy -> Dummy running on a survivor; polled every 250ms\n")
	fmt.Printf("daemons as shipped: ringfenced with its default heartbeat (RINGFENCE_HEARTBEAT=%q), corosync with token loss only\n", os.Getenv("RINGFENCE_HEARTBEAT"))
	fmt.Printf("%-10s", "")
	for _, c := range cols {
		fmt.Printf(" %10s", c.name)
	}
	fmt.Println()
	row := func(name string, f func(func(pcmkOutcome) time.Duration) string) {
		fmt.Printf("%-10s", name)
		for _, c := range cols {
			fmt.Printf(" %10s", f(c.f))
		}
		fmt.Println()
	}
	sec := func(os []pcmkOutcome) func(func(pcmkOutcome) time.Duration) string {
		return func(f func(pcmkOutcome) time.Duration) string {
			if len(os) == 0 {
				return "-"
			}
			return fmt.Sprintf("%.2fs", median(os, f).Seconds())
		}
	}
	row("ringfenced", sec(rf))
	row("corosync", sec(co))
	row("ratio", func(f func(pcmkOutcome) time.Duration) string {
		r, c := median(rf, f), median(co, f)
		if r <= 0 || c <= 0 {
			return "-"
		}
		return fmt.Sprintf("%.2fx", c.Seconds()/r.Seconds())
	})
}

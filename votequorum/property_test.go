package votequorum

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestRandomPartitionsNoSplitBrain runs random partitions, crashes,
// restarts and clock ticks against configurations whose corosync
// semantics promise a single quorate partition, and checks the
// simulator's invariant after every step (runScenario's harness does the
// checking). two_node, auto_tie_breaker and last_man_standing are left out
// on purpose: corosync lets them produce two quorate sides (two_node by
// design, the other two after particular sequences of partitions; see
// testdata/atb_hazard.txt and testdata/lms_hazard.txt, found by this test).
func TestRandomPartitionsNoSplitBrain(t *testing.T) {
	configs := []string{
		"nodes=1,2,3,4,5",
		"nodes=1,2,3,4,5 wait_for_all=1",
		"nodes=1,2:2,3,4:3",
	}
	steps := 300
	if testing.Short() {
		steps = 60
	}
	for ci, conf := range configs {
		for seed := uint64(1); seed <= 5; seed++ {
			t.Run(fmt.Sprintf("%d/seed%d", ci, seed), func(t *testing.T) {
				randomRun(t, conf, seed, steps)
			})
		}
	}
}

func randomRun(t *testing.T, conf string, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, 0x766f7465))
	c := newCluster(t)
	if err := c.run("config", strings.Fields(conf)); err != nil {
		t.Fatal(err)
	}
	var all []uint32
	for _, e := range strings.Split(strings.TrimPrefix(strings.Fields(conf)[0], "nodes="), ",") {
		var id uint32
		fmt.Sscanf(e, "%d", &id)
		all = append(all, id)
	}
	var history []string
	do := func(cmd string, args ...string) {
		history = append(history, cmd+" "+strings.Join(args, " "))
		c.out.Reset()
		if err := c.run(cmd, args); err != nil {
			t.Fatalf("%v (history %q)", err, history)
		}
		if err := c.splitBrainCheck(); err != nil {
			t.Fatalf("%v\nshortest failing history found:\n%s", err, strings.Join(shrink(t, conf, history), "\n"))
		}
	}
	for _, id := range all {
		do("start", fmt.Sprint(id))
	}
	for step := 0; step < steps; step++ {
		running := c.sortedIDs()
		switch r := rng.IntN(10); {
		case r < 6 && len(running) > 0:
			// random partition of the running nodes into 1..3 groups
			groups := make([][]string, 1+rng.IntN(3))
			for _, id := range running {
				g := rng.IntN(len(groups))
				groups[g] = append(groups[g], fmt.Sprint(id))
			}
			var args []string
			for _, g := range groups {
				if len(g) == 0 {
					continue
				}
				if len(args) > 0 {
					args = append(args, "|")
				}
				args = append(args, g...)
			}
			do("partition", args...)
		case r < 7 && len(running) > 1:
			do("kill", fmt.Sprint(running[rng.IntN(len(running))]))
		case r < 8:
			for _, id := range all {
				if c.nodes[id] == nil {
					do("start", fmt.Sprint(id))
					break
				}
			}
		default:
			do("tick", fmt.Sprintf("%ds", 1+rng.IntN(15)))
		}
	}
}

// replay runs a command history on a fresh cluster and returns the first
// split-brain error (or a command error, treated as "does not fail").
func replay(t *testing.T, conf string, history []string) error {
	c := newCluster(t)
	if err := c.run("config", strings.Fields(conf)); err != nil {
		return nil
	}
	for _, h := range history {
		f := strings.Fields(h)
		c.out.Reset()
		if err := c.run(f[0], f[1:]); err != nil {
			return nil
		}
		if err := c.splitBrainCheck(); err != nil {
			return err
		}
	}
	return nil
}

// shrink removes commands from a failing history while it still fails.
func shrink(t *testing.T, conf string, history []string) []string {
	for changed := true; changed; {
		changed = false
		for i := range history {
			cand := append(append([]string{}, history[:i]...), history[i+1:]...)
			if replay(t, conf, cand) != nil {
				history = cand
				changed = true
				break
			}
		}
	}
	return history
}

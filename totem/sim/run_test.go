package sim

import (
	"testing"
)

func TestRandomRunsKeepVirtualSynchrony(t *testing.T) {
	seeds := 40
	if testing.Short() {
		seeds = 10
	}
	for seed := int64(1); seed <= int64(seeds); seed++ {
		nodes := 2 + int(seed)%7
		res := Run(RunConfig{Seed: seed, Nodes: nodes, Faults: AllFaults()})
		if res.Err != nil {
			rr := Run(RunConfig{Seed: seed, Nodes: nodes, Faults: AllFaults(), Trace: true})
			tr := rr.Trace
			if len(tr) > 300 {
				tr = tr[len(tr)-300:]
			}
			for _, l := range tr {
				t.Log(l)
			}
			t.Fatalf("seed %d nodes %d: %v", seed, nodes, res.Err)
		}
	}
}

func TestThirtyTwoNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("32-node runs take a few seconds")
	}
	for seed := int64(1); seed <= 2; seed++ {
		res := Run(RunConfig{Seed: seed, Nodes: 32, Faults: AllFaults()})
		if res.Err != nil {
			t.Fatalf("seed %d: %v", seed, res.Err)
		}
		if res.Confs == 0 || res.Delivered == 0 {
			t.Fatalf("seed %d: nothing happened: %+v", seed, res)
		}
	}
}

// Unusual constants reach paths the defaults rarely do: FAILED TO
// RECEIVE, token hold on short idleness, immediate retransmit requests,
// a tiny flow-control window.
func TestRandomRunsWithTightConstants(t *testing.T) {
	seeds := 30
	if testing.Short() {
		seeds = 6
	}
	for seed := int64(1); seed <= int64(seeds); seed++ {
		nodes := 2 + int(seed)%9
		tm := SimTiming(nodes)
		tm.FailRecvConst = 10
		tm.SeqnoUnchangedConst = 3
		tm.MissCountConst = 1
		tm.WindowSize = 8
		tm.MaxMessages = 3
		res := Run(RunConfig{Seed: seed, Nodes: nodes, Faults: AllFaults(), Timing: &tm, MsgPerSec: 300})
		if res.Err != nil {
			t.Fatalf("seed %d nodes %d: %v", seed, nodes, res.Err)
		}
	}
}

// A seed must replay exactly, or "-seed N -trace" would not reproduce a
// violation.
func TestRunsAreDeterministic(t *testing.T) {
	a := Run(RunConfig{Seed: 7, Nodes: 6, Faults: AllFaults(), Trace: true})
	b := Run(RunConfig{Seed: 7, Nodes: 6, Faults: AllFaults(), Trace: true})
	if len(a.Trace) == 0 || len(a.Trace) != len(b.Trace) {
		t.Fatalf("trace lengths %d and %d", len(a.Trace), len(b.Trace))
	}
	for i := range a.Trace {
		if a.Trace[i] != b.Trace[i] {
			t.Fatalf("runs diverge at line %d:\n%s\n%s", i, a.Trace[i], b.Trace[i])
		}
	}
	if a.Delivered != b.Delivered || a.Packets != b.Packets {
		t.Fatalf("results differ: %+v vs %+v", a, b)
	}
}

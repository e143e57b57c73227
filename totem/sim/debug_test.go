package sim

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var (
	debugSeed  = flag.Int64("debugseed", 0, "replay one seed with a trace")
	debugNodes = flag.Int("debugnodes", 3, "nodes for -debugseed")
	debugOut   = flag.String("debugtrace", "", "write the -debugseed trace to this file instead of the test log")
)

// TestDebugSeed replays one seed with its event log:
// go test ./totem/sim -run DebugSeed -args -debugseed 13 -debugnodes 8 -debugtrace /tmp/t.txt
func TestDebugSeed(t *testing.T) {
	if *debugSeed == 0 {
		t.Skip("set -debugseed to replay one run")
	}
	res := Run(RunConfig{Seed: *debugSeed, Nodes: *debugNodes, Faults: AllFaults(), Trace: true})
	if *debugOut != "" {
		if err := os.WriteFile(*debugOut, []byte(strings.Join(res.Trace, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	} else {
		for _, l := range res.Trace {
			t.Log(l)
		}
	}
	t.Logf("result: %v", res.Err)
}

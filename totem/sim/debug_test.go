package sim

import (
	"flag"
	"fmt"
	"os"
	"testing"
)

var debugSeed = flag.Int64("debugseed", 0, "replay one seed with a trace")
var debugNodes = flag.Int("debugnodes", 3, "nodes for -debugseed")

func TestDebugSeed(t *testing.T) {
	if *debugSeed == 0 {
		t.Skip("set -debugseed to replay one run")
	}
	res := Run(RunConfig{Seed: *debugSeed, Nodes: *debugNodes, Faults: AllFaults(), Trace: true})
	f, _ := os.Create("/tmp/simtrace.txt")
	for _, l := range res.Trace {
		fmt.Fprintln(f, l)
	}
	f.Close()
	t.Logf("result: %v", res.Err)
}

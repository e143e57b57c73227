package node

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ringfence/ringfence/cmap"
	"github.com/ringfence/ringfence/tools/netns"
)

func TestSchedWatchThreshold(t *testing.T) {
	var w schedWatch
	t0 := time.Unix(1000, 0)
	token := time.Second
	for i, c := range []struct {
		at     time.Duration
		missed bool
	}{
		{0, false}, // the first check only starts the clock
		{100 * time.Millisecond, false},
		{900 * time.Millisecond, false},  // 800 ms: at the threshold
		{1800 * time.Millisecond, true},  // 900 ms
		{1900 * time.Millisecond, false}, // back to normal
	} {
		if _, missed := w.observe(t0.Add(c.at), token); missed != c.missed {
			t.Errorf("check %d at %v: missed %v, want %v", i, c.at, missed, c.missed)
		}
	}
}

// A loop that stalls for longer than 80% of the token timeout warns with
// Corosync's wording and records the miss in the stats map; -C schedmiss
// forgets it.
func TestSchedmissWarnsAndRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a ring on loopback")
	}
	tn := startNode(t, loopbackConf(1, netns.FreeLoopbackPort(t, 1), 300), 1, t.TempDir())
	waitRing(t, []*testNode{tn}, []uint32{1}, 15*time.Second)
	n := tn.n
	time.Sleep(300 * time.Millisecond) // the first checks start the clock
	// Token 300 ms: the threshold is 240 ms.
	if err := n.Do(context.Background(), func() { time.Sleep(600 * time.Millisecond) }); err != nil {
		t.Fatal(err)
	}
	const warning = "warning [MAIN  ] Corosync main process was not scheduled (@"
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(tn.log.String(), warning) {
		if time.Now().After(deadline) {
			t.Fatalf("no scheduling warning after a 600 ms stall:\n%s", tn.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(tn.log.String(), "(threshold is 240.0000 ms). Consider token timeout increase.") {
		t.Errorf("threshold not in the warning:\n%s", tn.log.String())
	}
	var ts, delay cmap.Value
	var terr, derr error
	do := func(f func()) {
		if err := n.Do(context.Background(), f); err != nil {
			t.Fatal(err)
		}
	}
	do(func() {
		ts, terr = n.stats.Get("stats.schedmiss.0.timestamp")
		delay, derr = n.stats.Get("stats.schedmiss.0.delay")
	})
	if terr != nil || derr != nil || ts.Type != cmap.TypeUint64 || delay.Type != cmap.TypeFloat {
		t.Fatalf("schedmiss keys: %v %v, %v %v", ts, terr, delay, derr)
	}
	if ms, _ := ts.AsUint64(); time.Since(time.UnixMilli(int64(ms))) > time.Minute {
		t.Errorf("timestamp %d is not now", ms)
	}
	if d := math.Float32frombits(uint32(delay.Bytes()[0]) | uint32(delay.Bytes()[1])<<8 | uint32(delay.Bytes()[2])<<16 | uint32(delay.Bytes()[3])<<24); d < 550 {
		t.Errorf("delay %v ms for a 600 ms stall", d)
	}
	do(func() { n.clearStats("schedmiss") })
	do(func() { _, terr = n.stats.Get("stats.schedmiss.0.timestamp") })
	if terr == nil {
		t.Error("stats.schedmiss.0.timestamp survived -C schedmiss")
	}
}

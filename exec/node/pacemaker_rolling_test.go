package node

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// rscSample is one look at where the Dummy runs during the migration.
type rscSample struct {
	at    time.Duration
	step  string // the migration step under way
	where []string
}

// rscWatch records, every 250ms, on which hosts the Dummy is really
// active: where its agent's state file exists (what its monitor checks).
// Pacemaker's own view (crm_resource --locate) is not used here: while a
// new DC rebuilds the status section it briefly reports the resource
// stopped although nothing ran its stop.
type rscWatch struct {
	pc    *pcmkCluster
	start time.Time

	mu      sync.Mutex
	step    string
	samples []rscSample
	stop    chan struct{}
	done    chan struct{}
}

// dummyState is the Dummy's state file (its "state" parameter): the
// agent is active on a host exactly while it exists. /run is private to
// each host and wiped by reboot.
const dummyState = "/run/Dummy-dummy.state"

// dummyActive lists the nodes where the Dummy's state file exists; ok is
// false when a host could not be asked.
func (pc *pcmkCluster) dummyActive() (where []string, ok bool) {
	for _, n := range pc.nodes {
		out, err := pc.run(n, "sh", "-c", "if [ -e "+dummyState+" ]; then echo on; else echo off; fi")
		if err != nil {
			return nil, false
		}
		if strings.TrimSpace(out) == "on" {
			where = append(where, n.name)
		}
	}
	return where, true
}

// activeDummy is dummyActive for callers that need an answer.
func (pc *pcmkCluster) activeDummy() []string {
	pc.t.Helper()
	where, ok := pc.dummyActive()
	if !ok {
		pc.t.Fatal("could not look for the Dummy's state file on every host")
	}
	return where
}

// waitActive waits until the Dummy is active on node name only.
func (pc *pcmkCluster) waitActive(name string, timeout time.Duration) {
	pc.t.Helper()
	pc.waitFor("Dummy active on "+name, timeout, 250*time.Millisecond, func() string {
		if where := pc.activeDummy(); len(where) != 1 || where[0] != name {
			return fmt.Sprintf("active on %v", where)
		}
		return ""
	})
}

func (pc *pcmkCluster) watch() *rscWatch {
	w := &rscWatch{pc: pc, start: time.Now(), stop: make(chan struct{}), done: make(chan struct{})}
	go w.loop()
	return w
}

func (w *rscWatch) setStep(step string) {
	w.mu.Lock()
	w.step = step
	w.mu.Unlock()
}

func (w *rscWatch) loop() {
	defer close(w.done)
	for {
		w.mu.Lock()
		step := w.step
		w.mu.Unlock()
		if where, ok := w.pc.dummyActive(); ok {
			w.mu.Lock()
			w.samples = append(w.samples, rscSample{at: time.Since(w.start), step: step, where: where})
			w.mu.Unlock()
		}
		select {
		case <-w.stop:
			return
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (w *rscWatch) finish() []rscSample {
	close(w.stop)
	<-w.done
	return w.samples
}

// checkStayedUp asserts what "the resource stays up" means here, on the
// samples of where the Dummy is really active:
//   - it never runs on two nodes at once;
//   - while a node that does not host it is switched, it never stops or
//     moves;
//   - it moves at most once, during the step that switches its own node,
//     and that move is clean: a stop on the old node, then a start on one
//     other node, with no gap longer than maxGap.
func checkStayedUp(t *testing.T, samples []rscSample, maxGap time.Duration) (moves int, gap time.Duration) {
	t.Helper()
	if len(samples) < 10 {
		t.Fatalf("only %d samples of the resource's location", len(samples))
	}
	if len(samples[0].where) != 1 {
		t.Fatalf("resource not running when the migration began: %v", samples[0].where)
	}
	at := samples[0].where[0]
	var gapStart time.Duration = -1
	for _, s := range samples {
		switch len(s.where) {
		case 0:
			if gapStart < 0 {
				gapStart = s.at
			}
			if !strings.Contains(s.step, at) {
				t.Fatalf("%v (%s): resource stopped on %s while another node was switched", s.at, s.step, at)
			}
		case 1:
			if gapStart >= 0 {
				gap = max(gap, s.at-gapStart)
				gapStart = -1
			}
			if s.where[0] != at {
				if !strings.Contains(s.step, at) {
					t.Fatalf("%v (%s): resource moved %s -> %s while another node was switched", s.at, s.step, at, s.where[0])
				}
				moves++
				at = s.where[0]
			}
		default:
			t.Fatalf("%v (%s): resource active on %v", s.at, s.step, s.where)
		}
	}
	if gapStart >= 0 {
		t.Fatalf("resource not running at the end of the migration (since %v)", gapStart)
	}
	if moves > 1 {
		t.Fatalf("resource moved %d times, want at most once", moves)
	}
	if gap > maxGap {
		t.Fatalf("resource was down for %v during its move, want at most %v", gap, maxGap)
	}
	return moves, gap
}

// switchStack stops Pacemaker and the daemon on n and starts the other
// daemon with the same corosync.conf, then Pacemaker again, and waits
// until every node sees all three online with one DC.
func (pc *pcmkCluster) switchStack(n *pcmkNode, stack string) {
	pc.t.Helper()
	pc.stopNode(n)
	var others []*pcmkNode
	for _, m := range pc.nodes {
		if m != n {
			others = append(others, m)
		}
	}
	pc.waitView(others, 60*time.Second)
	n.stack = stack
	pc.startDaemon(n)
	pc.startPacemaker(n)
	pc.waitView(pc.nodes, 120*time.Second)
	pc.checkTools(pc.nodes)
}

// TestNetnsPacemakerRollingMigration migrates a Pacemaker cluster from
// corosync 3.1.7 to ringfenced one node at a time (stop Pacemaker and
// corosync, start ringfenced with the same corosync.conf, start
// Pacemaker), the node hosting the Dummy last, through the mixed cluster
// of one corosync and two ringfenced nodes; then rolls a node the Dummy
// does not run on back to corosync. The Dummy stays up as checkStayedUp defines; nothing is
// fenced and no action fails.
func TestNetnsPacemakerRollingMigration(t *testing.T) {
	needPacemaker(t)
	pc := newPcmkCluster(t, stackCorosync, stackCorosync, stackCorosync)
	pc.startAll()
	dc := pc.waitView(pc.nodes, 120*time.Second)
	pc.checkTools(pc.nodes)
	var host string
	for _, n := range pc.nodes {
		if n.name != dc {
			host = n.name
		}
	}
	pc.configure(pc.node(dc), host)
	pc.waitRunningOn(pc.node(dc), "dummy", 60*time.Second, func(at string) bool { return at == host })
	// The watch below relies on the agent's state file. crm_resource
	// counts a pending start as running, so wait for the file.
	pc.waitActive(host, 30*time.Second)
	t.Logf("all corosync: DC %s, dummy on %s", dc, host)

	order := []*pcmkNode{}
	for _, n := range pc.nodes {
		if n.name != host {
			order = append(order, n)
		}
	}
	order = append(order, pc.node(host))
	w := pc.watch()
	for i, n := range order {
		step := fmt.Sprintf("switch %s to ringfenced", n.name)
		w.setStep(step)
		start := time.Now()
		pc.switchStack(n, stackRingfenced)
		t.Logf("%s: done in %.1fs, cluster now %v", step, time.Since(start).Seconds(), pc.stacks())
		if i == 1 {
			// The mixed cluster: one corosync, two ringfenced.
			where, err := pc.locate(pc.node(dc), "dummy")
			if err != nil || len(where) != 1 || where[0] != host {
				t.Fatalf("mixed cluster %v: dummy on %v (%v), want %s", pc.stacks(), where, err, host)
			}
		}
	}
	// Roll back a node the Dummy does not run on: moving it again is
	// not what this step is about.
	where, err := pc.locate(pc.nodes[0], "dummy")
	if err != nil || len(where) != 1 {
		t.Fatalf("after the migration dummy runs on %v (%v)", where, err)
	}
	var back *pcmkNode
	for _, n := range pc.nodes {
		if n.name != where[0] {
			back = n
			break
		}
	}
	w.setStep(fmt.Sprintf("roll %s back to corosync", back.name))
	pc.switchStack(back, stackCorosync)
	t.Logf("rolled %s back: cluster now %v", back.name, pc.stacks())
	w.setStep("done")
	time.Sleep(time.Second)
	moves, gap := checkStayedUp(t, w.finish(), 20*time.Second)

	any := pc.nodes[0]
	if hist := pc.fenceHistory(any, "*"); !strings.Contains(hist, "0 events found") {
		t.Fatalf("fencing during the migration:\n%s", hist)
	}
	if mon := pc.mustRun(any, "crm_mon", "-1"); strings.Contains(mon, "Failed") {
		t.Fatalf("failed actions after the migration:\n%s", mon)
	}
	t.Logf("dummy stayed up: %d clean move(s), longest gap %v; no fencing, no failed actions", moves, gap)
}

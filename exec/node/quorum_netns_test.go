package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringfence/ringfence/tools/netns"
)

// quorumScenarioDir holds the scenarios TestNetnsQuorumScenarios plays.
const quorumScenarioDir = "../../votequorum/testdata/netns"

// TestNetnsQuorumScenarios plays every quorum scenario on a Debian
// corosync cluster and a ringfenced cluster at the same time (and, for
// scenarios marked mixed, on a ring of both daemons): each action is done
// to every cluster, and every status step must find the scenario's verdict
// and the very same `corosync-quorumtool -s` as corosync's (date and ring
// id aside) on every cluster, node by node.
func TestNetnsQuorumScenarios(t *testing.T) {
	needCmapctl(t)
	for _, tool := range []string{"corosync", "corosync-quorumtool"} {
		if _, err := osexec.LookPath(tool); err != nil {
			t.Skipf("needs %s (Debian package corosync) to compare with", tool)
		}
	}
	if err := netns.Available(); err != nil {
		t.Skip(err)
	}
	files, err := filepath.Glob(filepath.Join(quorumScenarioDir, "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios in %s: %v", quorumScenarioDir, err)
	}
	bin := daemonBinary(t)
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txt")
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			s, err := parseQuorumScenario(file, f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			if s.Qnetd {
				for _, tool := range []string{"corosync-qnetd", "corosync-qdevice"} {
					if _, err := osexec.LookPath(tool); err != nil {
						t.Skipf("needs %s (Debian packages corosync-qnetd, corosync-qdevice)", tool)
					}
				}
			}
			start := time.Now()
			// The first side is the reference the others must match.
			pair := []*quorumCluster{
				newQuorumCluster(t, "corosync", func(int) []string { return []string{"corosync"} }, s),
				newQuorumCluster(t, "ringfenced", func(int) []string { return []string{bin} }, s),
			}
			if s.Mixed {
				// Odd hosts run ringfenced, even hosts corosync: one
				// ring whose nodes must count each other's votes.
				pair = append(pair, newQuorumCluster(t, "mixed", func(i int) []string {
					if i%2 == 1 {
						return []string{bin}
					}
					return []string{"corosync"}
				}, s))
			}
			for _, st := range s.Steps {
				if err := playQuorumStep(t, pair, st); err != nil {
					t.Fatalf("%s:%d (%s): %v", filepath.Base(file), st.Line, st.Op, err)
				}
			}
			t.Logf("%s: %d steps in %v", name, len(s.Steps), time.Since(start).Round(time.Millisecond))
		})
	}
}

// quorumCluster is one side of the comparison.
type quorumCluster struct {
	name    string
	c       *netns.Cluster
	daemon  func(host int) []string
	conf    string
	s       *quorumScenario
	procs   map[int]*netns.Proc
	qdevs   map[int]*netns.Proc
	blocked [][2]int
	all     []*netns.Proc // every daemon started
}

func newQuorumCluster(t *testing.T, name string, daemon func(int) []string, s *quorumScenario) *quorumCluster {
	t.Helper()
	c := netns.NewCluster(t, s.Hosts, netns.Options{})
	q := &quorumCluster{name: name, c: c, daemon: daemon, s: s, procs: map[int]*netns.Proc{}, qdevs: map[int]*netns.Proc{}}
	// token_coefficient 0: failure detection takes one token timeout
	// whatever the cluster size, which keeps the scenarios short.
	o := netns.CorosyncOptions{Token: s.Token, QuorumExtra: s.Quorum, TotemExtra: []string{"token_coefficient: 0"}}
	if s.Qnetd {
		qnetd := c.Hosts[s.Hosts-1]
		for i := 1; i < s.Hosts; i++ {
			o.Nodes = append(o.Nodes, i)
		}
		o.QuorumExtra = append(o.QuorumExtra, "device {", "\tmodel: net", "\tvotes: 1",
			"\tnet {", "\t\thost: "+qnetd.Addr.String(), "\t\talgorithm: ffsplit", "\t\ttls: off", "\t}", "}")
		if _, err := qnetd.Run(context.Background(), "mkdir", "-p", "/run/corosync-qnetd"); err != nil {
			t.Fatal(err)
		}
		if _, err := qnetd.Start("qnetd", "corosync-qnetd", "-f", "-s", "off"); err != nil {
			t.Fatal(err)
		}
	}
	conf, err := c.WriteCorosyncConf(o)
	if err != nil {
		t.Fatal(err)
	}
	q.conf = conf
	if d := os.Getenv("QKEEP"); d != "" {
		t.Cleanup(func() { osexec.Command("cp", "-r", c.Dir(), filepath.Join(d, name)).Run() })
	}
	return q
}

func (q *quorumCluster) host(i int) *netns.Host { return q.c.Hosts[i-1] }

// playQuorumStep does one step to every cluster.
func playQuorumStep(t *testing.T, pair []*quorumCluster, st quorumStep) error {
	switch st.Op {
	case "start":
		for _, q := range pair {
			if err := q.start(st.Hosts); err != nil {
				return fmt.Errorf("%s: %w", q.name, err)
			}
		}
	case "kill":
		for _, q := range pair {
			for _, i := range st.Hosts {
				if p := q.qdevs[i]; p != nil {
					_ = p.Kill()
				}
				if p := q.procs[i]; p != nil {
					if err := p.Kill(); err != nil {
						return fmt.Errorf("%s: kill %d: %w", q.name, i, err)
					}
				}
			}
		}
	case "cut", "heal":
		for _, q := range pair {
			for _, i := range st.Hosts {
				f := q.host(i).Cut
				if st.Op == "heal" {
					f = q.host(i).Heal
				}
				if err := f(); err != nil {
					return err
				}
			}
		}
	case "split":
		for _, q := range pair {
			for gi, g := range st.Groups {
				for _, o := range st.Groups[gi+1:] {
					for _, a := range g {
						for _, b := range o {
							for _, ab := range [][2]int{{a, b}, {b, a}} {
								if err := q.host(ab[0]).Block(q.host(ab[1])); err != nil {
									return err
								}
								q.blocked = append(q.blocked, ab)
							}
						}
					}
				}
			}
		}
	case "join":
		for _, q := range pair {
			for _, ab := range q.blocked {
				if err := q.host(ab[0]).Unblock(q.host(ab[1])); err != nil {
					return err
				}
			}
			q.blocked = nil
		}
	case "quorumtool", "cmap":
		tool := "corosync-quorumtool"
		args := st.Args
		if st.Op == "cmap" {
			tool, args = "corosync-cmapctl", append([]string{"-s"}, st.Args...)
		}
		var codes []int
		var outs []string
		for _, q := range pair {
			out, code := q.run(st.Hosts[0], tool, args...)
			codes, outs = append(codes, code), append(outs, out)
		}
		t.Logf("%s %s on node %d: exit %v; %s said %q", tool, strings.Join(args, " "), st.Hosts[0], codes, pair[0].name, strings.TrimSpace(outs[0]))
		for ci := range pair[1:] {
			if codes[ci+1] != codes[0] {
				return fmt.Errorf("exit status %s %d, %s %d:\n%s\n---\n%s", pair[0].name, codes[0], pair[ci+1].name, codes[ci+1], outs[0], outs[ci+1])
			}
		}
	case "members":
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		for _, q := range pair {
			for _, i := range st.Hosts {
				if _, err := q.host(i).WaitMembers(ctx, start, st.Members, 100*time.Millisecond); err != nil {
					return fmt.Errorf("%s: %w", q.name, err)
				}
			}
		}
		t.Logf("line %d: members %v on hosts %v of every cluster after %v", st.Line, st.Members, st.Hosts, time.Since(start).Round(time.Millisecond))
	case "status":
		return checkStatus(t, pair, st)
	case "sleep":
		time.Sleep(st.Sleep)
	case "nolog":
		for _, q := range pair {
			for _, p := range q.all {
				b, err := os.ReadFile(p.LogPath)
				if err != nil {
					return err
				}
				if i := strings.Index(string(b), st.Text); i >= 0 {
					line, _, _ := strings.Cut(string(b[i:]), "\n")
					return fmt.Errorf("%s %s logged %q", q.name, p.LogPath, line)
				}
			}
		}
	}
	return nil
}

// start starts the daemons on hosts and, with a quorum device, the
// qdevice once the daemon's cmap answers (qdevice exits when it cannot
// connect).
func (q *quorumCluster) start(hosts []int) error {
	for _, i := range hosts {
		p, err := q.host(i).StartDaemon(q.conf, q.daemon(i)...)
		if err != nil {
			return err
		}
		q.procs[i] = p
		q.all = append(q.all, p)
	}
	if !q.s.Qnetd {
		return nil
	}
	// The devices start once the daemons agree on the ring, as
	// corosync-qdevice.service starts after corosync: Corosync 3.1.7
	// aborts (votequorum.c, assert(sender_node != NULL)) when a device's
	// nodeinfo from a node reaches it before that node's own nodeinfo,
	// which a device poll during a forming ring's first sync can cause.
	// That crash of the reference side, not a difference, is what an
	// early start made this test report now and then.
	var running []uint32
	for i, p := range q.procs {
		if !p.Exited() {
			running = append(running, uint32(i))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for _, i := range hosts {
		if _, err := q.host(i).WaitMembers(ctx, time.Now(), running, 100*time.Millisecond); err != nil {
			return fmt.Errorf("host %d: ring never formed before the quorum devices start: %w", i, err)
		}
	}
	for _, i := range hosts {
		h := q.host(i)
		deadline := time.Now().Add(20 * time.Second)
		for {
			if _, err := h.Run(context.Background(), "corosync-cmapctl", "-g", "runtime.votequorum.this_node_id"); err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("host %d: daemon's cmap never answered", i)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if _, err := h.Run(context.Background(), "mkdir", "-p", "/run/corosync-qdevice"); err != nil {
			return err
		}
		p, err := h.Start("qdevice", "corosync-qdevice", "-f", "-d")
		if err != nil {
			return err
		}
		q.qdevs[i] = p
	}
	return nil
}

// run runs a tool on host i and returns its output and exit status (-1:
// it could not run).
func (q *quorumCluster) run(i int, tool string, args ...string) (string, int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := q.host(i).Command(ctx, append([]string{tool}, args...)...).CombinedOutput()
	var ee *osexec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	default:
		return string(out) + err.Error(), -1
	}
}

// checkStatus waits until every listed host of every cluster shows the
// wanted verdict, then until all print what corosync prints, and
// fails with both outputs when either wait runs out.
func checkStatus(t *testing.T, pair []*quorumCluster, st quorumStep) error {
	start := time.Now()
	deadline := start.Add(60 * time.Second)
	outs := make([][]string, len(pair))
	verdictsMet := time.Time{}
	for {
		ok, same := true, true
		// One round asks every host of every cluster at once.
		var wg sync.WaitGroup
		for ci, q := range pair {
			outs[ci] = make([]string, len(st.Hosts))
			for hi, i := range st.Hosts {
				wg.Add(1)
				go func() {
					defer wg.Done()
					out, _ := q.run(i, "corosync-quorumtool", "-s")
					outs[ci][hi] = normaliseStatus(out)
				}()
			}
		}
		wg.Wait()
		for ci := range pair {
			for _, out := range outs[ci] {
				if v, good := readVerdict(out); !good || !st.Want.matches(v) {
					ok = false
				}
			}
		}
		for ci := range pair[1:] {
			for hi := range st.Hosts {
				if outs[ci+1][hi] != outs[0][hi] {
					same = false
				}
			}
		}
		if ok && verdictsMet.IsZero() {
			verdictsMet = time.Now()
		}
		if ok && same {
			t.Logf("line %d: hosts %v of every cluster show %s after %v", st.Line, st.Hosts, summary(outs[0][0]), time.Since(start).Round(time.Millisecond))
			if testing.Verbose() {
				t.Logf("node %d:\n%s", st.Hosts[0], outs[0][0])
			}
			return nil
		}
		// Limits are generous: the CI machine is small and shared. Once
		// the verdicts hold, the outputs get a few seconds to agree
		// (a sync may still be finishing on one side).
		if time.Now().After(deadline) || (!verdictsMet.IsZero() && time.Since(verdictsMet) > 15*time.Second) {
			var b strings.Builder
			for hi, i := range st.Hosts {
				for ci, q := range pair {
					v, _ := readVerdict(outs[ci][hi])
					fmt.Fprintf(&b, "\n--- %s node %d (%v):\n%s", q.name, i, v, outs[ci][hi])
				}
			}
			if !ok {
				return fmt.Errorf("want %v on hosts %v; got:%s", st.Want, st.Hosts, b.String())
			}
			return fmt.Errorf("verdicts hold, but the clusters print different status:%s", b.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// summary is the one-line verdict of a status output for the test log.
func summary(out string) string {
	v, _ := readVerdict(out)
	return v.String()
}

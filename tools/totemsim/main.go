// Command totemsim runs seeded random simulations of a totem ring and
// checks extended virtual synchrony. It exits 1 when any seed violates an
// invariant, printing the seed so that `-seed N -trace` replays it.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ringfence/ringfence/totem/sim"
	"github.com/ringfence/ringfence/totem/srp"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("totemsim", flag.ContinueOnError)
	nodesFlag := fs.String("nodes", "2-16", "node count, or a range lo-hi to spread seeds over")
	seeds := fs.Int("seeds", 100, "number of seeds to run")
	first := fs.Int64("seed", 0, "run only this seed (with -trace to print its event log)")
	faults := fs.String("faults", "all", "faults: all, none, or a comma list of loss,dup,delay,partition,asym,crash,leave")
	phase := fs.Duration("duration", 10*time.Second, "virtual time with faults and traffic per seed")
	settle := fs.Duration("settle", 30*time.Second, "virtual time allowed to converge after healing")
	rate := fs.Float64("rate", 100, "application messages per virtual second")
	trace := fs.Bool("trace", false, "print the event log of -seed, or the tail of each failing seed's log")
	token := fs.Duration("token", 300*time.Millisecond, "base totem.token; derived timeouts follow Corosync's formulas")
	coef := fs.Duration("token-coefficient", 0, "totem.token_coefficient (Corosync's default is 650ms)")
	workers := fs.Int("j", runtime.GOMAXPROCS(0), "parallel workers")
	quorumFlag := fs.String("quorum", "mixed", "votequorum on every node, checking that no two partitions are quorate: off, majority, or mixed (majority, weighted votes or wait_for_all by seed)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	lo, hi, err := parseRange(*nodesFlag)
	if err != nil {
		fmt.Fprintln(os.Stderr, "totemsim:", err)
		return 2
	}
	f, err := parseFaults(*faults)
	if err != nil {
		fmt.Fprintln(os.Stderr, "totemsim:", err)
		return 2
	}
	qmode, err := sim.ParseQuorumMode(*quorumFlag)
	if err != nil {
		fmt.Fprintln(os.Stderr, "totemsim:", err)
		return 2
	}
	type job struct {
		seed  int64
		nodes int
	}
	var jobs []job
	if *first != 0 {
		jobs = append(jobs, job{*first, nodesFor(*first, lo, hi)})
	} else {
		for i := 1; i <= *seeds; i++ {
			jobs = append(jobs, job{int64(i), nodesFor(int64(i), lo, hi)})
		}
	}
	start := time.Now()
	results := make([]sim.Result, len(jobs))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				j := jobs[i]
				tm := srp.TimingFromConfig(srp.BaseTiming{Token: *token, TokenCoefficient: *coef, TokenCoefficientSet: true}, j.nodes)
				results[i] = sim.Run(sim.RunConfig{Seed: j.seed, Nodes: j.nodes, Faults: f, Timing: &tm,
					FaultPhase: *phase, SettleLimit: *settle, MsgPerSec: *rate, Quorum: qmode, Trace: *trace && *first != 0})
			}
		}()
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()

	var violations int
	var delivered, confs, qchecks uint64
	var maxConverge time.Duration
	for i, r := range results {
		delivered += r.Delivered
		confs += r.Confs
		qchecks += r.QuorumChecks
		if r.Err == nil && r.Converge > maxConverge {
			maxConverge = r.Converge
		}
		if *first != 0 && *trace {
			for _, l := range r.Trace {
				fmt.Println(l)
			}
		}
		if r.Err != nil {
			violations++
			fmt.Printf("FAIL seed=%d nodes=%d: %v\n  replay: go run ./tools/totemsim -nodes %d -seed %d -faults %s -duration %s -settle %s -rate %g -token %s -token-coefficient %s -quorum %s -trace\n",
				jobs[i].seed, jobs[i].nodes, r.Err, jobs[i].nodes, jobs[i].seed, *faults, *phase, *settle, *rate, *token, *coef, *quorumFlag)
			if *trace && *first == 0 {
				// Runs are deterministic: replay the seed with the event log on.
				tm := srp.TimingFromConfig(srp.BaseTiming{Token: *token, TokenCoefficient: *coef, TokenCoefficientSet: true}, jobs[i].nodes)
				rr := sim.Run(sim.RunConfig{Seed: jobs[i].seed, Nodes: jobs[i].nodes, Faults: f, Timing: &tm,
					FaultPhase: *phase, SettleLimit: *settle, MsgPerSec: *rate, Quorum: qmode, Trace: true})
				tail := rr.Trace
				if len(tail) > 400 {
					tail = tail[len(tail)-400:]
				}
				for _, l := range tail {
					fmt.Println("  " + l)
				}
			}
		}
	}
	fmt.Fprintf(os.Stderr, "elapsed %s, slowest convergence after healing %s (virtual)\n",
		time.Since(start).Round(time.Millisecond), maxConverge)
	fmt.Printf("seeds=%d violations=%d delivered=%d configurations=%d quorum_checks=%d\n", len(jobs), violations, delivered, confs, qchecks)
	if violations > 0 {
		return 1
	}
	return 0
}

// nodesFor spreads seeds over the node range deterministically.
func nodesFor(seed int64, lo, hi int) int {
	return lo + int(seed%int64(hi-lo+1))
}

func parseRange(s string) (int, int, error) {
	lo, hi := s, s
	if i := strings.IndexByte(s, '-'); i >= 0 {
		lo, hi = s[:i], s[i+1:]
	}
	a, err1 := strconv.Atoi(lo)
	b, err2 := strconv.Atoi(hi)
	if err1 != nil || err2 != nil || a < 1 || b < a || b > 32 {
		return 0, 0, fmt.Errorf("bad -nodes %q: want N or LO-HI within 1..32", s)
	}
	return a, b, nil
}

func parseFaults(s string) (sim.Faults, error) {
	switch s {
	case "all":
		return sim.AllFaults(), nil
	case "none", "":
		return sim.Faults{}, nil
	}
	all := sim.AllFaults()
	var f sim.Faults
	for _, p := range strings.Split(s, ",") {
		switch strings.TrimSpace(p) {
		case "loss":
			f.Loss = all.Loss
		case "dup":
			f.Dup = all.Dup
		case "delay":
			f.MaxDelay = all.MaxDelay
		case "partition":
			f.Partitions = true
		case "asym":
			f.Asymmetric = true
		case "crash":
			f.Crashes = true
		case "leave":
			f.Leaves = true
		default:
			return f, fmt.Errorf("unknown fault %q", p)
		}
	}
	return f, nil
}

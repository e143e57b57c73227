// Command demo runs a three-node Totem ring in the simulator on virtual
// time, with Corosync's default timing at token 1000, and narrates what an
// operator would see: the ring forming, ordered delivery, a node killed, the
// ring re-forming without it, and the node rejoining. `make demo` runs it
// after checking a corosync.conf and before scheduling a small cluster.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ringfence/ringfence/totem/sim"
	"github.com/ringfence/ringfence/totem/srp"
)

func main() {
	// `demo node N CONF STATEDIR` is one node of the cluster demo;
	// `demo cluster` runs that demo; plain `demo` runs the simulator story.
	if len(os.Args) == 5 && os.Args[1] == "node" {
		var id int
		fmt.Sscan(os.Args[2], &id)
		if err := runNode(id, os.Args[3], os.Args[4]); err != nil {
			fmt.Fprintf(os.Stderr, "node %d: %v\n", id, err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) == 2 && os.Args[1] == "cluster" {
		if err := runCluster(os.Stdout); err != nil {
			fmt.Fprintf(os.Stderr, "demo: %v\n", err)
			os.Exit(1)
		}
		return
	}
	seed := flag.Int64("seed", 1, "simulator seed (loss and delay are drawn from it)")
	flag.Parse()
	if err := run(*seed); err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}

func run(seed int64) error {
	ids := []uint32{1, 2, 3}
	timing := srp.TimingFromConfig(srp.BaseTiming{Token: time.Second}, len(ids))
	s := sim.New(seed, ids, timing)
	s.AutoAck = true
	s.MinDelay, s.MaxDelay = 100*time.Microsecond, 400*time.Microsecond

	// Narrate node 1's view, in Corosync's words.
	var lastRegular time.Duration
	s.Observe = func(id uint32, rd srp.Ready) {
		if id != 1 {
			return
		}
		for _, sc := range rd.StateChanges {
			// Corosync says "A processor failed" only when the token is
			// lost in the operational state; merges and joins are quiet.
			if sc.To == srp.StateGather && sc.From == srp.StateOperational && strings.Contains(sc.Reason, "token was lost") {
				say(s, "[TOTEM ] A processor failed, forming new configuration. (%s)", sc.Reason)
			}
		}
		for _, ev := range rd.Events {
			if ev.Conf != nil && ev.Conf.Type == srp.Regular {
				lastRegular = s.Now()
				say(s, "[TOTEM ] %s", ev.Conf.Notice())
				say(s, "[QUORUM] Members[%d]: %s", len(ev.Conf.Members), list(ev.Conf.Members))
			}
		}
	}

	fmt.Printf("Three nodes (1, 2, 3), token %v, consensus %v, on virtual time.\n\n", timing.Token, timing.Consensus)
	for _, id := range ids {
		if err := s.Start(id); err != nil {
			return err
		}
	}
	if err := runUntil(s, 10*time.Second, func() bool { return converged(s, ids) }); err != nil {
		return fmt.Errorf("ring did not form: %w", err)
	}

	fmt.Println("\nEach node multicasts 100 messages; every node must deliver all 300 in one order.")
	before := s.Delivered
	for i := 0; i < 100; i++ {
		for _, id := range ids {
			if err := s.Broadcast(id, fmt.Sprintf("m%d-%d", id, i)); err != nil {
				return err
			}
		}
	}
	if err := s.RunFor(2 * time.Second); err != nil {
		return err
	}
	say(s, "delivered %d messages (300 on each of 3 nodes); agreed-order checker: %s", s.Delivered-before, verdict(s))

	fmt.Println("\nNode 3 is killed (no clean leave).")
	killedAt := s.Now()
	s.Crash(3)
	if err := runUntil(s, 20*time.Second, func() bool { return converged(s, []uint32{1, 2}) }); err != nil {
		return fmt.Errorf("ring did not re-form: %w", err)
	}
	say(s, "the survivors re-formed %v after the kill", (lastRegular - killedAt).Round(time.Millisecond))

	fmt.Println("\nNode 3 restarts with its persisted ring sequence.")
	restartedAt := s.Now()
	if err := s.Start(3); err != nil {
		return err
	}
	if err := runUntil(s, 20*time.Second, func() bool { return converged(s, ids) }); err != nil {
		return fmt.Errorf("node 3 did not rejoin: %w", err)
	}
	say(s, "node 3 was back in the ring %v after it started", (lastRegular - restartedAt).Round(time.Millisecond))
	fmt.Printf("\nvirtual-synchrony checks: %s\n", verdict(s))
	if err := s.Check.Err(); err != nil {
		return err
	}
	return nil
}

func say(s *sim.Sim, format string, args ...any) {
	fmt.Printf("%9.3fs  %s\n", s.Now().Seconds(), fmt.Sprintf(format, args...))
}

func list(ids []uint32) string {
	out := ""
	for i, id := range ids {
		if i > 0 {
			out += " "
		}
		out += fmt.Sprint(id)
	}
	return out
}

// converged says whether exactly the given nodes share one operational ring.
func converged(s *sim.Sim, want []uint32) bool {
	var ring *srp.Node
	for _, id := range want {
		n := s.Node(id)
		if n == nil || n.State() != srp.StateOperational || len(n.Members()) != len(want) {
			return false
		}
		if ring != nil && n.RingID() != ring.RingID() {
			return false
		}
		ring = n
	}
	return true
}

// runUntil advances virtual time in small steps until cond holds.
func runUntil(s *sim.Sim, limit time.Duration, cond func() bool) error {
	end := s.Now() + limit
	for s.Now() < end {
		if err := s.RunFor(10 * time.Millisecond); err != nil {
			return err
		}
		if cond() {
			// Let the sync-time traffic settle so the narration is complete.
			return s.RunFor(50 * time.Millisecond)
		}
	}
	return fmt.Errorf("not reached within %v of virtual time", limit)
}

func verdict(s *sim.Sim) string {
	if err := s.Check.Err(); err != nil {
		return "VIOLATION: " + err.Error()
	}
	return "no violation"
}

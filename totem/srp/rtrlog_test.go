package srp_test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ringfence/ringfence/totem/sim"
	"github.com/ringfence/ringfence/totem/srp"
	"github.com/ringfence/ringfence/totem/wire"
)

// Lost multicasts show in the log as Corosync shows them: on each valid
// token with retransmit requests, "Retransmit List N" at debug level and
// "Retransmit List: " with the sequence numbers in hex at notice level.
func TestRetransmitListIsLogged(t *testing.T) {
	s := sim.New(1, []uint32{1, 2, 3}, sim.SimTiming(3))
	sent := map[uint32]bool{} // seqs of node 1's multicasts
	var lines []string        // "debug:..." / "notice:..." of all nodes, in order
	s.Observe = func(id uint32, rd srp.Ready) {
		for _, d := range rd.Debug {
			lines = append(lines, "debug:"+d)
		}
		for _, nt := range rd.Notices {
			lines = append(lines, "notice:"+nt)
		}
		for _, p := range rd.Packets {
			if m, ok := p.Msg.(*wire.Mcast); ok && id == 1 && m.SystemFrom == 1 {
				sent[m.Seq] = true
			}
		}
	}
	for _, id := range s.IDs() {
		if err := s.Start(id); err != nil {
			t.Fatal(err)
		}
	}
	run(t, s, 3*time.Second)
	if !s.Converged() {
		t.Fatalf("no ring formed:\n%s", s.Describe())
	}
	for i := range 10 {
		if err := s.Broadcast(1, fmt.Sprint("clean", i)); err != nil {
			t.Fatal(err)
		}
	}
	run(t, s, time.Second)
	for _, l := range lines {
		if strings.Contains(l, "Retransmit List") {
			t.Fatalf("retransmit list logged without loss: %q", l)
		}
	}
	lines = nil
	s.DropNext(wire.TypeMcast, 1, 3, 5)
	for i := range 5 {
		if err := s.Broadcast(1, fmt.Sprint("lost", i)); err != nil {
			t.Fatal(err)
		}
	}
	run(t, s, 2*time.Second)
	format := regexp.MustCompile(`^notice:Retransmit List: ([0-9a-f]+ )+$`)
	logged := map[uint32]bool{}
	for i, l := range lines {
		if !strings.HasPrefix(l, "notice:Retransmit List") {
			continue
		}
		if !format.MatchString(l) {
			t.Fatalf("badly formed %q", l)
		}
		seqs := strings.Fields(strings.TrimPrefix(l, "notice:Retransmit List: "))
		if i == 0 || lines[i-1] != fmt.Sprintf("debug:Retransmit List %d", len(seqs)) {
			t.Fatalf("%q not preceded by its count at debug level", l)
		}
		for _, f := range seqs {
			v, err := strconv.ParseUint(f, 16, 32)
			if err != nil || !sent[uint32(v)] {
				t.Fatalf("%q lists %s, not one of node 1's multicasts", l, f)
			}
			logged[uint32(v)] = true
		}
	}
	// Every lost multicast was asked for, hence logged.
	if len(logged) != 5 {
		t.Fatalf("%d sequence numbers logged, want the 5 lost ones: %q", len(logged), lines)
	}
}

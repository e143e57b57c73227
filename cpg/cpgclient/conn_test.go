package cpgclient_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringfence/ringfence/cpg/cpgclient"
)

const group = "cpgclient-test"

// exercise runs the client API on one connection per node: join, the
// confchgs that follow, membership, local node id, agreed-order
// multicast from every node at once, one partial (over 1 MiB) message,
// iteration and a leave. ids[i] is the node of rs[i].
func exercise(t *testing.T, rs []*recorder, ids []uint32) {
	n := len(rs)
	for i, r := range rs {
		if id, err := r.conn.LocalNodeID(); err != nil || id != ids[i] {
			t.Fatalf("client %d: LocalNodeID = %d, %v; want %d", i, id, err, ids[i])
		}
		if err := r.conn.Join(group); err != nil {
			t.Fatalf("client %d: join: %v", i, err)
		}
		// The join of one process is confirmed before the next joins,
		// so every client sees the joins in the same order.
		waitFor(t, fmt.Sprintf("client %d's join", i), 20*time.Second, func() bool {
			log, _, _ := r.snapshot()
			return slices.ContainsFunc(log, func(l string) bool {
				return strings.Contains(l, fmt.Sprintf("joined=[%d/%d:join]", ids[i], r.conn.PID()))
			})
		})
	}
	want := make([]cpgclient.Address, n)
	for i, r := range rs {
		want[i] = cpgclient.Address{NodeID: ids[i], PID: r.conn.PID()}
	}
	slices.SortFunc(want, func(a, b cpgclient.Address) int {
		if a.NodeID != b.NodeID {
			return int(a.NodeID) - int(b.NodeID)
		}
		return int(a.PID) - int(b.PID)
	})
	for i, r := range rs {
		got, err := r.conn.Membership(group)
		if err != nil {
			t.Fatal(err)
		}
		for j := range got {
			got[j].Reason = 0
		}
		slices.SortFunc(got, func(a, b cpgclient.Address) int {
			if a.NodeID != b.NodeID {
				return int(a.NodeID) - int(b.NodeID)
			}
			return int(a.PID) - int(b.PID)
		})
		if !slices.Equal(got, want) {
			t.Fatalf("client %d: membership %v, want %v", i, got, want)
		}
	}
	// The first client saw every join: n confchgs, the last listing all.
	log0, _, _ := rs[0].snapshot()
	var confchgs []string
	for _, l := range log0 {
		if strings.HasPrefix(l, "confchg") {
			confchgs = append(confchgs, l)
		}
	}
	if len(confchgs) != n {
		t.Fatalf("client 0 saw %d confchgs, want %d:\n%s", len(confchgs), n, strings.Join(log0, "\n"))
	}

	// Everybody multicasts at once; everybody delivers everything in
	// one order, each sender's messages in the order it sent them.
	const per = 40
	var wg sync.WaitGroup
	for i, r := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range per {
				msg := []byte(fmt.Sprintf("c%d-m%02d", i, m))
				for {
					err := r.conn.Mcast(msg[:3], msg[3:])
					if err == nil {
						break
					}
					if !errors.Is(err, cpgclient.ErrTryAgain) {
						t.Errorf("client %d: mcast: %v", i, err)
						return
					}
					time.Sleep(time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	waitFor(t, "all deliveries", 30*time.Second, func() bool {
		for _, r := range rs {
			if _, msgs, _ := r.snapshot(); len(msgs) < n*per {
				return false
			}
		}
		return true
	})
	_, ref, _ := rs[0].snapshot()
	if len(ref) != n*per {
		t.Fatalf("client 0 delivered %d messages, want %d", len(ref), n*per)
	}
	for i, r := range rs[1:] {
		if _, msgs, _ := r.snapshot(); !slices.Equal(msgs, ref) {
			t.Fatalf("client %d delivered another order:\n%v\nclient 0:\n%v", i+1, msgs, ref)
		}
	}
	next := map[string]int{}
	for _, m := range ref {
		src, body, _ := strings.Cut(m, ":")
		sender, seq, _ := strings.Cut(body, "-m")
		if want := fmt.Sprintf("%02d", next[sender]); seq != want {
			t.Fatalf("from %s (%s): message %s out of order, want %s", src, sender, seq, want)
		}
		next[sender]++
	}

	// A message larger than one IPC request goes as partial multicasts
	// and comes back whole.
	big := make([]byte, 1<<20+300<<10)
	for i := range big {
		big[i] = byte(i * 7 % 251)
	}
	if err := rs[0].conn.Mcast(big); err != nil {
		t.Fatalf("big mcast: %v", err)
	}
	waitFor(t, "the big message", 30*time.Second, func() bool {
		for _, r := range rs {
			if _, _, b := r.snapshot(); len(b) == 0 {
				return false
			}
		}
		return true
	})
	for i, r := range rs {
		if _, _, b := r.snapshot(); len(b) != 1 || !bytes.Equal(b[0], big) {
			t.Fatalf("client %d: big message corrupted (%d deliveries)", i, len(b))
		}
	}

	items, err := rs[0].conn.Iterate(cpgclient.IterOneGroup, group)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != n {
		t.Fatalf("iteration of %s: %v, want %d processes", group, items, n)
	}
	names, err := rs[0].conn.Iterate(cpgclient.IterNameOnly, "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(names, cpgclient.IterItem{Group: group}) {
		t.Fatalf("name-only iteration %v lacks %s", names, group)
	}

	// The last client leaves: the others see it go with reason LEAVE.
	last := rs[n-1]
	if err := last.conn.Leave(group); err != nil {
		t.Fatal(err)
	}
	gone := fmt.Sprintf("left=[%d/%d:leave]", ids[n-1], last.conn.PID())
	for i, r := range rs[:n-1] {
		waitFor(t, fmt.Sprintf("client %d to see the leave", i), 20*time.Second, func() bool {
			log, _, _ := r.snapshot()
			return slices.ContainsFunc(log, func(l string) bool { return strings.Contains(l, gone) })
		})
	}
	if err := last.conn.Join(group); err == nil {
		t.Fatal("a join after a leave on the same connection succeeded; corosync answers EXIST or BUSY")
	}
}

func TestRingfencedThreeNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("forms a real ring on loopback")
	}
	prefixes := startRing(t, 3)
	var rs []*recorder
	for i, p := range prefixes {
		rs = append(rs, dial(t, cpgclient.Options{ServicePrefix: p, PID: uint32(1000 + i)}, direct))
	}
	exercise(t, rs, []uint32{1, 2, 3})
}

// TestTotemConfchgAndFinalize checks the model-v1 extras on one node:
// the initial TOTEM_CONFCHG a join asks for, and that FINALIZE makes the
// process leave the group for the others with reason PROCDOWN.
func TestTotemConfchgAndFinalize(t *testing.T) {
	if testing.Short() {
		t.Skip("forms a real ring on loopback")
	}
	prefixes := startRing(t, 1)
	a := dial(t, cpgclient.Options{ServicePrefix: prefixes[0], PID: 7, Flags: cpgclient.InitialTotemConf}, direct)
	b := dial(t, cpgclient.Options{ServicePrefix: prefixes[0], PID: 8}, direct)
	for _, r := range []*recorder{a, b} {
		if err := r.conn.Join(group); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "both joins at a", 10*time.Second, func() bool {
		log, _, _ := a.snapshot()
		return slices.ContainsFunc(log, func(l string) bool { return strings.Contains(l, "joined=[1/8:join]") })
	})
	log, _, _ := a.snapshot()
	if len(log) < 2 || log[0] != "confchg "+group+" members=[1/7] left=[] joined=[1/7:join]" || log[1] != "totem nodes=[1]" {
		t.Fatalf("a's first callbacks:\n%s", strings.Join(log, "\n"))
	}
	if log, _, _ := b.snapshot(); slices.ContainsFunc(log, func(l string) bool { return strings.HasPrefix(l, "totem") }) {
		t.Fatalf("b did not ask for the totem confchg but got one:\n%s", strings.Join(log, "\n"))
	}
	if err := b.conn.Finalize(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b's departure", 10*time.Second, func() bool {
		log, _, _ := a.snapshot()
		return slices.ContainsFunc(log, func(l string) bool { return strings.Contains(l, "left=[1/8:procdown]") })
	})
	if err := b.conn.Join(group); !errors.Is(err, cpgclient.ErrClosed) {
		t.Fatalf("join on a finalized connection: %v", err)
	}
}

package sim

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringfence/ringfence/votequorum"
)

func majority(ids []uint32) func(uint32) votequorum.Config {
	list := make([]votequorum.NodeEntry, len(ids))
	for i, id := range ids {
		list[i] = votequorum.NodeEntry{NodeID: id}
	}
	return func(id uint32) votequorum.Config { return votequorum.Config{NodeID: id, Nodelist: list} }
}

func startAll(t *testing.T, s *Sim) {
	t.Helper()
	for _, id := range s.IDs() {
		if err := s.Start(id); err != nil {
			t.Fatal(err)
		}
	}
}

// A 2|1 partition of three nodes: the pair keeps quorum, the single node
// loses it, and healing gives every node quorum back.
func TestQuorumFollowsPartitions(t *testing.T) {
	ids := []uint32{1, 2, 3}
	s := New(7, ids, fastTiming(3))
	s.EnableQuorum(majority(ids))
	startAll(t, s)
	if err := s.RunFor(3 * time.Second); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if v := s.QuorumView(id); !v.Quorate || v.Syncing || !slices.Equal(v.Members, ids) {
			t.Fatalf("node %d after start: %+v, want quorate with %v", id, v, ids)
		}
	}
	s.Partition([]uint32{1, 2}, []uint32{3})
	if err := s.RunFor(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[uint32]bool{1: true, 2: true, 3: false} {
		if got := s.Quorate(id); got != want {
			t.Fatalf("node %d quorate=%v after the 2|1 split, want %v (view %+v)", id, got, want, s.QuorumView(id))
		}
	}
	s.Heal()
	if err := s.RunFor(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := s.checkQuorumFinal("majority"); err != nil {
		t.Fatal(err)
	}
	if s.QuorumChecks == 0 {
		t.Fatal("the split-brain check never ran")
	}
}

// The check must be able to fail: two_node makes each half of a split
// quorate on purpose (a fence race decides in real clusters), and the
// simulator has to call that a split brain.
func TestQuorumCheckCatchesTwoNodeSplit(t *testing.T) {
	ids := []uint32{1, 2}
	s := New(3, ids, fastTiming(2))
	base := majority(ids)
	s.EnableQuorum(func(id uint32) votequorum.Config {
		c := base(id)
		c.TwoNode = true
		return c
	})
	startAll(t, s)
	if err := s.RunFor(3 * time.Second); err != nil {
		t.Fatalf("before the split: %v", err)
	}
	s.Partition([]uint32{1}, []uint32{2})
	err := s.RunFor(5 * time.Second)
	if err == nil || !strings.Contains(err.Error(), "split brain") {
		t.Fatalf("two_node split: got %v, want a split-brain violation", err)
	}
}

// Random runs with quorum on, for each configuration the mixed mode picks.
func TestRandomRunsNeverSplitQuorum(t *testing.T) {
	seeds := 30
	if testing.Short() {
		seeds = 9
	}
	for seed := int64(1); seed <= int64(seeds); seed++ {
		nodes := 2 + int(seed)%9
		res := Run(RunConfig{Seed: seed, Nodes: nodes, Faults: AllFaults(), Quorum: QuorumMixed})
		if res.Err != nil {
			t.Fatalf("seed %d nodes %d: %v", seed, nodes, res.Err)
		}
		if res.QuorumChecks == 0 {
			t.Fatalf("seed %d: no quorum check ran", seed)
		}
	}
}

// Quorum payloads and application payloads share the ring; the checker
// must never mistake one for the other.
func TestQuorumPayloadsAreToldApart(t *testing.T) {
	if !isQuorumPayload(quorumPayload(quorumKindBarrier, make([]byte, 12))) {
		t.Fatal("a barrier is not recognised as a quorum payload")
	}
	app := make([]byte, 16)
	app[0] = 32 // node 32's message id
	if isQuorumPayload(app) {
		t.Fatal("an application payload was taken for a quorum one")
	}
}

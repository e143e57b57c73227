package cpg_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ringfence/ringfence/cpg"
	"github.com/ringfence/ringfence/exec"
	"github.com/ringfence/ringfence/exec/exectest"
	"github.com/ringfence/ringfence/ipc"
)

// cluster runs one exec engine and one cpg service per node on buses.
type cluster struct {
	t      *testing.T
	bus    *exectest.Bus
	cpg    map[uint32]*cpg.Service
	eng    map[uint32]*exec.Engine
	events map[uint32][]string // per node, rendered callbacks
}

func newCluster(t *testing.T, ids ...uint32) *cluster {
	c := &cluster{t: t, cpg: map[uint32]*cpg.Service{}, eng: map[uint32]*exec.Engine{}, events: map[uint32][]string{}}
	c.bus = c.newBus()
	for _, id := range ids {
		c.addNode(c.bus, id)
	}
	return c
}

func (c *cluster) newBus() *exectest.Bus {
	b := exectest.NewBus()
	b.BeforeCollect = c.pump
	return b
}

func (c *cluster) addNode(b *exectest.Bus, id uint32) {
	e := exec.NewEngine(id)
	s := cpg.New(id)
	if err := e.Register(s); err != nil {
		c.t.Fatal(err)
	}
	c.cpg[id], c.eng[id] = s, e
	b.Add(e)
}

// pump moves a node's cpg output into its engine and records callbacks.
func (c *cluster) pump(id uint32) {
	r := c.cpg[id].Ready()
	c.eng[id].Send(r.Messages...)
	for _, ev := range r.Events {
		c.events[id] = append(c.events[id], ev.String())
	}
}

func (c *cluster) run(b *exectest.Bus) {
	c.t.Helper()
	if !b.Run(100) {
		c.t.Fatal("bus did not settle")
	}
	for id := range c.cpg {
		c.pump(id)
	}
}

// expect checks and clears the callbacks each node produced.
func (c *cluster) expect(step string, want map[uint32][]string) {
	c.t.Helper()
	for id := range c.cpg {
		got := c.events[id]
		if !slices.Equal(got, want[id]) {
			c.t.Errorf("%s: node %d callbacks\n got:\n\t%s\nwant:\n\t%s", step, id, strings.Join(got, "\n\t"), strings.Join(want[id], "\n\t"))
		}
		c.events[id] = nil
	}
}

func ok(t *testing.T, what string, err ipc.CsError) {
	t.Helper()
	if err != ipc.CsOK {
		t.Fatalf("%s: error %d", what, err)
	}
}

// TestScenarioThreeNodes follows one group through joins, a message, a
// node failure, a partitioned node merging back, a leave and process
// deaths. The expected callbacks are derived from exec/cpg.c of 3.1.7
// (see the comments for the non-obvious ones).
func TestScenarioThreeNodes(t *testing.T) {
	c := newCluster(t, 1, 2, 3)
	c.bus.ConfChg(1, 2, 3)
	c.run(c.bus)
	ring := c.bus.Ring()

	c.cpg[1].Connect(11)
	c.cpg[2].Connect(21)
	c.cpg[3].Connect(31)
	ok(t, "join 11", c.cpg[1].Join(11, "g", 100, 0))
	c.run(c.bus)
	c.expect("join 1/100", map[uint32][]string{
		1: {"c11 confchg g members=[1/100] left=[] joined=[1/100:join]"},
	})

	ok(t, "join 21", c.cpg[2].Join(21, "g", 200, cpg.FlagDeliverInitialTotemConf))
	c.run(c.bus)
	c.expect("join 2/200", map[uint32][]string{
		1: {"c11 confchg g members=[1/100 2/200] left=[] joined=[2/200:join]"},
		// A model-v1 client asking for it gets the totem membership
		// right after its first confchg.
		2: {"c21 confchg g members=[1/100 2/200] left=[] joined=[2/200:join]",
			fmt.Sprintf("c21 totem ring %s nodes=[1 2 3]", ring)},
	})

	ok(t, "join 31", c.cpg[3].Join(31, "g", 300, 0))
	c.run(c.bus)
	all3 := "confchg g members=[1/100 2/200 3/300] left=[] joined=[3/300:join]"
	c.expect("join 3/300", map[uint32][]string{1: {"c11 " + all3}, 2: {"c21 " + all3}, 3: {"c31 " + all3}})

	ok(t, "mcast", c.cpg[2].Mcast(21, []byte("hi")))
	c.run(c.bus)
	c.expect("mcast", map[uint32][]string{
		1: {`c11 deliver g from 2/200 "hi"`}, 2: {`c21 deliver g from 2/200 "hi"`}, 3: {`c31 deliver g from 2/200 "hi"`},
	})

	// Node 3 fails: the survivors see its process leave with NODEDOWN,
	// then the new totem membership.
	c.bus.ConfChg(1, 2)
	c.run(c.bus)
	ring2 := c.bus.Ring()
	down := "confchg g members=[1/100 2/200] left=[3/300:nodedown] joined=[]"
	c.expect("node 3 down", map[uint32][]string{
		1: {"c11 " + down, fmt.Sprintf("c11 totem ring %s nodes=[1 2]", ring2)},
		2: {"c21 " + down, fmt.Sprintf("c21 totem ring %s nodes=[1 2]", ring2)},
	})

	// Node 3 restarts alone (a fresh daemon on its own ring), a new
	// client joins there, then it merges with 1 and 2.
	delete(c.events, 3)
	alone := c.newBus()
	alone.StartRing(1000)
	c.addNode(alone, 3)
	alone.ConfChg(3)
	c.run(alone)
	c.cpg[3].Connect(32)
	ok(t, "join 32", c.cpg[3].Join(32, "g", 301, 0))
	c.run(alone)
	c.expect("node 3 alone", map[uint32][]string{3: {"c32 confchg g members=[3/301] left=[] joined=[3/301:join]"}})
	alone.Remove(3)
	c.bus.Add(c.eng[3])
	c.bus.ConfChg(1, 2, 3)
	c.run(c.bus)
	ring3 := c.bus.Ring()
	merged := "members=[1/100 2/200 3/301] left=[]"
	c.expect("merge", map[uint32][]string{
		1: {"c11 confchg g " + merged + " joined=[3/301:nodeup]", fmt.Sprintf("c11 totem ring %s nodes=[1 2 3]", ring3)},
		2: {"c21 confchg g " + merged + " joined=[3/301:nodeup]", fmt.Sprintf("c21 totem ring %s nodes=[1 2 3]", ring3)},
		// Corosync stacks received joinlist entries, so the joined
		// list runs from the last delivered entry (node 2's) back.
		3: {"c32 confchg g " + merged + " joined=[2/200:nodeup 1/100:nodeup]", fmt.Sprintf("c32 totem ring %s nodes=[1 2 3]", ring3)},
	})
	if got := fmt.Sprint(c.cpg[3].Membership("g")); got != "[1/100 2/200 3/301]" {
		t.Errorf("membership on node 3: %s", got)
	}

	// 2/200 leaves. The leaver hears its own leave.
	ok(t, "leave 21", c.cpg[2].Leave(21, "g", 200))
	c.run(c.bus)
	left := "confchg g members=[1/100 3/301] left=[2/200:leave] joined=[]"
	c.expect("leave 2/200", map[uint32][]string{1: {"c11 " + left}, 2: {"c21 " + left}, 3: {"c32 " + left}})

	// Corosync quirk: the client that left stays LEAVE_STARTED, so it
	// still receives the group's messages and cannot join again.
	ok(t, "mcast 11", c.cpg[1].Mcast(11, []byte("after")))
	c.run(c.bus)
	c.expect("mcast after leave", map[uint32][]string{
		1: {`c11 deliver g from 1/100 "after"`}, 2: {`c21 deliver g from 1/100 "after"`}, 3: {`c32 deliver g from 1/100 "after"`},
	})
	if err := c.cpg[2].Join(21, "g", 200, 0); err != ipc.CsErrExist {
		t.Errorf("rejoin after leave: %d, want EXIST (the client still holds pid and group)", err)
	}
	if err := c.cpg[2].Join(21, "g", 201, 0); err != ipc.CsErrBusy {
		t.Errorf("join with another pid after leave: %d, want BUSY", err)
	}
	if err := c.cpg[2].Mcast(21, []byte("x")); err != ipc.CsErrNotExist {
		t.Errorf("mcast after leave: %d, want NOT_EXIST", err)
	}

	// The process behind client 32 dies: PROCDOWN everywhere.
	c.cpg[3].Disconnect(32)
	c.run(c.bus)
	died := "confchg g members=[1/100] left=[3/301:procdown] joined=[]"
	c.expect("client 32 died", map[uint32][]string{1: {"c11 " + died}, 2: {"c21 " + died}})

	// Client 11 finalizes and then disconnects: it hears nothing more.
	ok(t, "finalize", c.cpg[1].Finalize(11))
	c.cpg[1].Disconnect(11)
	c.run(c.bus)
	c.expect("client 11 gone", map[uint32][]string{2: {"c21 confchg g members=[] left=[1/100:procdown] joined=[]"}})
}

// TestScenarioGroupsOrderAndZombies: several groups lose processes of a
// failed node at once (one confchg per group, groups in name order), and
// a process whose node stayed but that no joinlist mentions is removed
// with PROCDOWN after the NODEUP joins.
func TestScenarioGroupsOrderAndZombies(t *testing.T) {
	c := newCluster(t, 1, 2, 3)
	c.bus.ConfChg(1, 2, 3)
	c.run(c.bus)
	c.cpg[1].Connect(1)
	c.cpg[1].Connect(2)
	ok(t, "join b", c.cpg[1].Join(1, "b", 10, 0))
	ok(t, "join a", c.cpg[1].Join(2, "a", 11, 0))
	c.cpg[3].Connect(3)
	c.cpg[3].Connect(4)
	ok(t, "3 join b", c.cpg[3].Join(3, "b", 30, 0))
	ok(t, "3 join a", c.cpg[3].Join(4, "a", 31, 0))
	c.run(c.bus)
	for id := range c.events {
		c.events[id] = nil
	}

	c.bus.ConfChg(1, 2)
	c.run(c.bus)
	r := c.bus.Ring()
	c.expect("node 3 down", map[uint32][]string{
		// Group "a" first although node 3 joined "b" first; newer
		// clients (2) before older (1) in the totem confchg round.
		1: {"c2 confchg a members=[1/11] left=[3/31:nodedown] joined=[]",
			"c1 confchg b members=[1/10] left=[3/30:nodedown] joined=[]",
			fmt.Sprintf("c2 totem ring %s nodes=[1 2]", r),
			fmt.Sprintf("c1 totem ring %s nodes=[1 2]", r)},
	})

	// A zombie: node 1 believes node 2 runs 2/99 in "a" (its PROCJOIN
	// arrived, but node 2 lost the process without telling: simulate it
	// by delivering a PROCJOIN from node 2 to node 1 only).
	pj := (&cpg.ProcJoin{Group: "a", PID: 99, Reason: cpg.ReasonJoin}).Encode()
	if err := c.eng[1].DeliverServices(2, pj, false); err != nil {
		t.Fatal(err)
	}
	c.pump(1)
	c.expect("zombie join", map[uint32][]string{1: {"c2 confchg a members=[1/11 2/99] left=[] joined=[2/99:join]"}})
	// The next membership change (same members, new ring) resyncs:
	// node 2's joinlist does not mention 2/99.
	c.bus.ConfChg(1, 2)
	c.run(c.bus)
	r = c.bus.Ring()
	c.expect("resync", map[uint32][]string{
		1: {"c2 confchg a members=[1/11] left=[2/99:procdown] joined=[]",
			fmt.Sprintf("c2 totem ring %s nodes=[1 2]", r),
			fmt.Sprintf("c1 totem ring %s nodes=[1 2]", r)},
	})
}

func TestRequestErrors(t *testing.T) {
	s := cpg.New(1)
	s.Connect(1)
	s.Connect(2)
	if err := s.Join(1, strings.Repeat("x", 129), 5, 0); err != ipc.CsErrNameTooLong {
		t.Errorf("long name: %d", err)
	}
	if err := s.Leave(1, "g", 5); err != ipc.CsErrNotExist {
		t.Errorf("leave unjoined: %d", err)
	}
	if err := s.Mcast(1, []byte("x")); err != ipc.CsErrNotExist {
		t.Errorf("mcast unjoined: %d", err)
	}
	ok(t, "join", s.Join(1, "g", 5, 0))
	if err := s.Join(2, "g", 5, 0); err != ipc.CsErrExist {
		t.Errorf("same pid and group on another connection: %d", err)
	}
	if err := s.Join(1, "h", 6, 0); err != ipc.CsErrExist {
		t.Errorf("second join on one connection: %d", err)
	}
	if err := s.Leave(1, "g", 5); err != ipc.CsErrBusy {
		t.Errorf("leave while joining: %d", err)
	}
	ok(t, "mcast while joining", s.Mcast(1, []byte("early")))
	if err := s.Join(99, "g", 1, 0); err != ipc.CsErrBadHandle {
		t.Errorf("unknown client: %d", err)
	}
	r := s.Ready()
	if len(r.Messages) != 2 {
		t.Fatalf("%d messages queued", len(r.Messages))
	}
	// Deliver our own PROCJOIN, then a second connection for the same
	// pid and group after the first one's leave was sent but before it
	// came back: TRY_AGAIN.
	for _, m := range r.Messages[:1] {
		if err := s.Deliver(1, cpg.FnProcJoin, m.Bytes(), false); err != nil {
			t.Fatal(err)
		}
	}
	ok(t, "leave", s.Leave(1, "g", 5))
	ok(t, "finalize", s.Finalize(1))
	if err := s.Join(2, "g", 5, 0); err != ipc.CsErrTryAgain {
		t.Errorf("join before own leave delivered: %d", err)
	}
	if s.LocalGet() != 1 {
		t.Errorf("local get %d", s.LocalGet())
	}
}

func TestIterationOrder(t *testing.T) {
	s := cpg.New(1)
	s.Connect(1)
	join := func(node uint32, group string, pid uint32) {
		b := (&cpg.ProcJoin{Group: group, PID: pid, Reason: cpg.ReasonJoin}).Encode()
		if err := s.Deliver(node, cpg.FnProcJoin, b, false); err != nil {
			t.Fatal(err)
		}
	}
	join(1, "A", 10)
	join(1, "B", 11)
	join(2, "A", 20)
	join(3, "A", 30)
	join(2, "B", 21)
	collect := func(typ uint32, group string) string {
		h, err := s.IterationInitialize(1, typ, group)
		ok(t, "init", err)
		var out []string
		for {
			it, err := s.IterationNext(h)
			if err == ipc.CsErrNoSections {
				break
			}
			ok(t, "next", err)
			out = append(out, fmt.Sprintf("%s:%d/%d", it.Group, it.NodeID, it.PID))
		}
		ok(t, "finalize", s.IterationFinalize(h))
		if _, err := s.IterationNext(h); err != ipc.CsErrLibrary {
			t.Errorf("next after finalize: %d", err)
		}
		return strings.Join(out, " ")
	}
	// Process list: A1/10 B1/11 A2/20 B2/21 A3/30. New groups go to the
	// front; later members go right behind their group's first.
	if got := collect(cpg.IterAll, ""); got != "B:1/11 B:2/21 A:1/10 A:3/30 A:2/20" {
		t.Errorf("all: %s", got)
	}
	if got := collect(cpg.IterNameOnly, ""); got != "B:0/0 A:0/0" {
		t.Errorf("names: %s", got)
	}
	if got := collect(cpg.IterOneGroup, "A"); got != "A:1/10 A:3/30 A:2/20" {
		t.Errorf("one group: %s", got)
	}
}

// TestPartialMcast: fragments are delivered as PARTIAL_DELIVER callbacks;
// a confchg the sender sees between the first fragment and a later one
// interrupts the message.
func TestPartialMcast(t *testing.T) {
	c := newCluster(t, 1, 2)
	c.bus.ConfChg(1, 2)
	c.run(c.bus)
	c.cpg[1].Connect(1)
	c.cpg[2].Connect(2)
	ok(t, "join 1", c.cpg[1].Join(1, "g", 10, 0))
	ok(t, "join 2", c.cpg[2].Join(2, "g", 20, 0))
	c.run(c.bus)
	for id := range c.events {
		c.events[id] = nil
	}
	ok(t, "first", c.cpg[1].PartialMcast(1, 6, cpg.PartialFirst, []byte("abc")))
	ok(t, "last", c.cpg[1].PartialMcast(1, 6, cpg.PartialLast, []byte("def")))
	c.run(c.bus)
	want := []string{`partial g from 1/10 type 1 len 6 "abc"`, `partial g from 1/10 type 3 len 6 "def"`}
	c.expect("partial", map[uint32][]string{
		1: {"c1 " + want[0], "c1 " + want[1]},
		2: {"c2 " + want[0], "c2 " + want[1]},
	})
	ok(t, "first again", c.cpg[1].PartialMcast(1, 6, cpg.PartialFirst, []byte("abc")))
	c.cpg[2].Connect(3)
	ok(t, "join 3", c.cpg[2].Join(3, "g", 21, 0))
	c.run(c.bus)
	if err := c.cpg[1].PartialMcast(1, 6, cpg.PartialLast, []byte("def")); err != 16 {
		t.Errorf("fragment after a confchg: %d, want CS_ERR_INTERRUPT (16)", err)
	}
}

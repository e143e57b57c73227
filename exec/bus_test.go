package exec_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ringfence/ringfence/cmap"
	"github.com/ringfence/ringfence/exec"
	"github.com/ringfence/ringfence/exec/exectest"
)

type testNode struct {
	e   *exec.Engine
	svc map[exec.ServiceID]*fakeService
}

// newCluster builds engines for ids, each running fake services 0, 2, 5
// (service 2 needs two retries before it is done) plus any extra ids.
func newCluster(t *testing.T, b *exectest.Bus, extra map[uint32][]exec.ServiceID, ids ...uint32) map[uint32]*testNode {
	t.Helper()
	nodes := map[uint32]*testNode{}
	for _, id := range ids {
		n := &testNode{e: exec.NewEngine(id), svc: map[exec.ServiceID]*fakeService{}}
		for _, s := range append([]exec.ServiceID{0, 2, 5}, extra[id]...) {
			f := &fakeService{id: s, node: id}
			if s == 2 {
				f.retries = 2
			}
			if err := n.e.Register(f); err != nil {
				t.Fatal(err)
			}
			n.svc[s] = f
		}
		b.Add(n.e)
		nodes[id] = n
	}
	return nodes
}

func TestBusThreeNodesSync(t *testing.T) {
	b := exectest.NewBus()
	nodes := newCluster(t, b, nil, 1, 2, 3)
	b.ConfChg(1, 2, 3)
	if !b.Run(50) {
		t.Fatal("bus did not settle")
	}
	for id, n := range nodes {
		if b.Completed[id] != 1 || n.e.InSync() {
			t.Errorf("node %d: completed %d, in sync %v", id, b.Completed[id], n.e.InSync())
		}
		if len(b.Errors[id]) != 0 {
			t.Errorf("node %d: errors %v", id, b.Errors[id])
		}
		for sid, f := range n.svc {
			// Each node joined alone: its transitional list is itself.
			init := fmt.Sprintf("init trans=[%d] members=[1 2 3]", id)
			want := []string{init, "process", "activate"}
			if sid == 2 {
				want = []string{init, "process-retry", "process-retry", "process", "activate"}
			}
			if !slices.Equal(f.calls, want) {
				t.Errorf("node %d service %d calls %q, want %q", id, sid, f.calls, want)
			}
			// Activation happens only once every member's sync
			// message has been delivered.
			if len(f.activeAt) != 1 || !slices.Equal(f.activeAt[0], []uint32{1, 2, 3}) {
				t.Errorf("node %d service %d: heard %v at activation", id, sid, f.activeAt)
			}
		}
	}
	// Services are processed in ascending id order on the wire: no
	// message of service 2 before every barrier of service 0, and so on.
	var order []string
	for _, s := range b.Log {
		if s.Msg.Group == exec.GroupServices {
			h, _ := exec.DecodeHeader(s.Msg.Iov[0], false)
			order = append(order, fmt.Sprint(h.Service()))
		}
	}
	if got := strings.Join(order, ""); got != "000222555" {
		t.Errorf("service message order %s", got)
	}
}

// TestBusUnknownServiceIsDummy: node 1 runs an extra sync service (9)
// that the others do not know; they add it as a dummy entry and the
// sync still completes everywhere.
func TestBusUnknownServiceIsDummy(t *testing.T) {
	b := exectest.NewBus()
	nodes := newCluster(t, b, map[uint32][]exec.ServiceID{1: {9}}, 1, 2)
	var logs []string
	b.OnReady = func(id uint32, r exec.Ready) {
		for _, l := range r.Logs {
			logs = append(logs, fmt.Sprintf("%d %s", id, l.Text))
		}
	}
	b.ConfChg(1, 2)
	if !b.Run(50) {
		t.Fatal("bus did not settle")
	}
	for id, n := range nodes {
		if b.Completed[id] != 1 {
			t.Errorf("node %d completed %d", id, b.Completed[id])
		}
		if got := n.e.SyncServices(); !slices.Equal(got, []int32{0, 2, 5, 9}) {
			t.Errorf("node %d sync services %v", id, got)
		}
	}
	if !slices.Contains(logs, "2 Committing synchronization for Unknown External Service (id = 9)") {
		t.Errorf("no dummy commit in %q", logs)
	}
	if got := nodes[1].svc[9].calls; !slices.Equal(got, []string{"init trans=[1] members=[1 2]", "process", "activate"}) {
		t.Errorf("service 9 on node 1: %q", got)
	}
}

// TestBusConfChgMidSync: a node fails while service 2 is still retrying.
// The survivors abort it, discard the old ring's late barriers, and
// complete the sync of the new ring with the right transitional list.
func TestBusConfChgMidSync(t *testing.T) {
	b := exectest.NewBus()
	nodes := newCluster(t, b, nil, 1, 2, 3)
	b.ConfChg(1, 2, 3)
	// Deliver the three SERVICE_BUILDs; service 0 processes and its
	// messages and barriers get queued but are only partly delivered.
	b.Step(3)
	b.Step(3) // node 2's barrier and all of node 3's traffic stay queued
	if nodes[1].svc[0].calls[len(nodes[1].svc[0].calls)-1] != "process" {
		t.Fatalf("setup: service 0 calls %q", nodes[1].svc[0].calls)
	}
	oldRing := b.Ring()
	b.ConfChg(1, 2)
	if !b.Run(50) {
		t.Fatal("bus did not settle")
	}
	for _, id := range []uint32{1, 2} {
		n := nodes[id]
		if b.Completed[id] != 1 {
			t.Errorf("node %d completed %d times", id, b.Completed[id])
		}
		if n.e.Ring() != b.Ring() || b.Ring() == oldRing {
			t.Errorf("node %d ring %s, bus %s", id, n.e.Ring(), b.Ring())
		}
		calls := n.svc[0].calls
		if calls[len(calls)-1] != "activate" || !slices.Contains(calls, "init trans=[1 2] members=[1 2]") {
			t.Errorf("node %d service 0 calls %q", id, calls)
		}
		// Late barriers and service builds of the old ring were
		// delivered on the new one and ignored.
		if n.e.Counters().SyncOldRing == 0 {
			t.Errorf("node %d: no old-ring sync message counted", id)
		}
		for _, err := range b.Errors[id] {
			if !strings.Contains(err.Error(), "for ring") {
				t.Errorf("node %d: unexpected error %v", id, err)
			}
		}
	}
}

// TestBusAbortInProcess: the confchg arrives while service 2 is
// processing (retrying): its SyncAbort runs, and it is re-initialised.
func TestBusAbortInProcess(t *testing.T) {
	b := exectest.NewBus()
	nodes := newCluster(t, b, nil, 1, 2, 3)
	b.ConfChg(1, 2, 3)
	for range 20 {
		b.Step(1)
		if nodes[1].e.Pending() && slices.Contains(nodes[1].svc[2].calls, "process-retry") {
			break
		}
	}
	if !slices.Contains(nodes[1].svc[2].calls, "process-retry") {
		t.Fatalf("setup: service 2 never retried: %q", nodes[1].svc[2].calls)
	}
	b.ConfChg(1, 3)
	if !b.Run(50) {
		t.Fatal("bus did not settle")
	}
	calls := nodes[1].svc[2].calls
	if !slices.Contains(calls, "abort") || calls[len(calls)-1] != "activate" {
		t.Errorf("service 2 calls %q", calls)
	}
	if b.Completed[1] != 1 || b.Completed[3] != 1 {
		t.Errorf("completed %v", b.Completed)
	}
}

func TestDispatchCounters(t *testing.T) {
	e := exec.NewEngine(1)
	p := &plainService{id: exec.ServiceCPG, n: 3}
	if err := e.Register(p); err != nil {
		t.Fatal(err)
	}
	if err := e.Register(&plainService{id: exec.ServiceCPG, n: 1}); err == nil {
		t.Error("duplicate registration accepted")
	}
	msg := func(svc exec.ServiceID, fn uint16) []byte {
		b := make([]byte, 16)
		exec.PutHeader(b, exec.Header{ID: exec.MakeID(svc, fn), Size: 16})
		return b
	}
	for _, fn := range []uint16{0, 2, 2} {
		if err := e.DeliverServices(2, msg(exec.ServiceCPG, fn), false); err != nil {
			t.Fatal(err)
		}
	}
	// The same message from a big-endian sender.
	be := []byte{0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 0}
	if err := e.DeliverServices(3, be, true); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct {
		b    []byte
		want string
	}{
		{msg(exec.ServiceCPG, 3), "unknown fn"},
		{msg(exec.ServiceVotequorum, 0), "unknown service"},
		{msg(exec.ServiceID(0xffff), 0), "unknown service"},
		{[]byte{1, 2, 3}, "shorter"},
	} {
		err := e.DeliverServices(2, bad.b, false)
		if !errors.Is(err, exec.ErrDropped) || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%x: %v, want %q", bad.b, err, bad.want)
		}
	}
	if !slices.Equal(p.got, []uint16{0, 2, 2, 1}) {
		t.Errorf("delivered fns %v", p.got)
	}
	c := e.Counters()
	if c.Delivered != 4 || c.UnknownFn != 1 || c.UnknownService != 2 || c.Short != 1 {
		t.Errorf("counters %+v", c)
	}
	e.Send(exec.ServiceMessage(msg(exec.ServiceCPG, 1), []byte("data")))
	st := cmap.New()
	if err := e.PublishStats(st); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]uint64{
		"runtime.services.cpg.0.rx": 1, "runtime.services.cpg.1.rx": 1, "runtime.services.cpg.2.rx": 2,
		"runtime.services.cpg.1.tx": 1, "runtime.services.cpg.0.tx": 0,
	} {
		got, err := st.GetUint64(key)
		if err != nil || got != want {
			t.Errorf("%s = %d, %v; want %d", key, got, err, want)
		}
	}
	if id, err := st.GetUint16("runtime.services.cpg.service_id"); err != nil || id != 2 {
		t.Errorf("service_id %d %v", id, err)
	}
}

func TestMemberObjects(t *testing.T) {
	e := exec.NewEngine(1)
	st := cmap.New()
	e.SetMemberStore(st, func(id uint32) string { return fmt.Sprintf("r(0) ip(10.0.0.%d) ", id) })
	e.ConfChg(exec.ConfChg{Kind: exec.Regular, Members: []uint32{1, 2}, Joined: []uint32{1, 2}})
	e.ConfChg(exec.ConfChg{Kind: exec.Transitional, Members: []uint32{1}, Left: []uint32{2}})
	if s, _ := st.GetString("runtime.members.2.status"); s != "left" {
		t.Errorf("status after leave %q", s)
	}
	e.ConfChg(exec.ConfChg{Kind: exec.Regular, Members: []uint32{1, 2}, Joined: []uint32{2}})
	for key, want := range map[string]string{
		"runtime.members.2.ip": "r(0) ip(10.0.0.2) ", "runtime.members.2.status": "joined", "runtime.members.1.status": "joined",
	} {
		if got, err := st.GetString(key); err != nil || got != want {
			t.Errorf("%s = %q %v", key, got, err)
		}
	}
	if n, _ := st.GetUint32("runtime.members.2.join_count"); n != 2 {
		t.Errorf("join_count %d", n)
	}
	if n, _ := st.GetUint32("runtime.members.1.join_count"); n != 1 {
		t.Errorf("node 1 join_count %d", n)
	}
}

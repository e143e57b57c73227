package cfgipc_test

import (
	"encoding/binary"
	"testing"

	"github.com/ringfence/ringfence/cmap"
	"github.com/ringfence/ringfence/exec"
	"github.com/ringfence/ringfence/exec/cfgipc"
	"github.com/ringfence/ringfence/ipc"
)

// ring is a two-node ring of cfg handlers: Send queues messages and
// deliverAll hands each to both nodes in order, as totem would.
type ring struct {
	queue []exec.Message
	nodes []*cfgipc.Handler
}

func (r *ring) send(msgs ...exec.Message) { r.queue = append(r.queue, msgs...) }

func (r *ring) deliverAll(t *testing.T, from uint32) {
	t.Helper()
	for _, m := range r.queue {
		b := m.Bytes()
		h, err := exec.DecodeHeader(b, false)
		if err != nil || h.Service() != cfgipc.ServiceID || int(h.Size) != len(b) {
			t.Fatalf("bad cfg exec message %x (%v)", b, err)
		}
		for _, n := range r.nodes {
			if err := n.Deliver(from, h.Fn(), b, false); err != nil {
				t.Fatal(err)
			}
		}
	}
	r.queue = nil
}

func killRequest(nodeid uint32, reason string) []byte {
	b := u32req(cfgipc.ReqKillNode, 288, nodeid)
	binary.LittleEndian.PutUint16(b[24:], uint16(len(reason)))
	copy(b[26:], reason)
	return b
}

// TestKillNodeExec: -k goes to the ring only for a joined member and
// only the target acts on it, learning who asked and why.
func TestKillNodeExec(t *testing.T) {
	store := fixtureStore(2)
	store.Set("runtime.members.1.status", cmap.Str("joined"))
	store.Set("runtime.members.2.status", cmap.Str("joined"))
	store.Set("runtime.members.3.status", cmap.Str("left"))
	r := &ring{}
	type kill struct {
		by     uint32
		reason string
	}
	var killed [3][]kill
	for id := uint32(1); id <= 2; id++ {
		r.nodes = append(r.nodes, cfgipc.New(cfgipc.Config{NodeID: id, Store: store, Send: r.send,
			Killed: func(by uint32, reason string) { killed[id] = append(killed[id], kill{by, reason}) }}))
	}
	for _, c := range []struct {
		node uint32
		want ipc.CsError
	}{{3, ipc.CsErrNotExist}, {9, ipc.CsErrNotExist}, {2, ipc.CsOK}} {
		if got := call(r.nodes[0], 1, killRequest(c.node, "Killed by corosync-cfgtool")); len(*got) != 1 || errOf((*got)[0]) != c.want {
			t.Fatalf("kill %d: %x, want %v", c.node, *got, c.want)
		}
	}
	if len(r.queue) != 1 || len(r.queue[0].Bytes()) != 288 {
		t.Fatalf("exec messages: %d", len(r.queue))
	}
	r.deliverAll(t, 1)
	if len(killed[1]) != 0 || len(killed[2]) != 1 || killed[2][0] != (kill{1, "Killed by corosync-cfgtool"}) {
		t.Fatalf("killed: %v", killed)
	}
}

// TestReloadExec: the requester's answer waits for its own message to
// come back; every node reloads on delivery.
func TestReloadExec(t *testing.T) {
	r := &ring{}
	var reloads [3]int
	results := [3]ipc.CsError{0, ipc.CsErrInvalidParm, ipc.CsOK}
	for id := uint32(1); id <= 2; id++ {
		r.nodes = append(r.nodes, cfgipc.New(cfgipc.Config{NodeID: id, Send: r.send,
			ReloadConfig: func() ipc.CsError { reloads[id]++; return results[id] }}))
	}
	got := call(r.nodes[0], 7, request(cfgipc.ReqReloadConfig, 16))
	if len(*got) != 0 || reloads != [3]int{} {
		t.Fatalf("answered before delivery: %x %v", *got, reloads)
	}
	r.deliverAll(t, 1)
	if reloads != [3]int{0, 1, 1} || len(*got) != 1 || errOf((*got)[0]) != ipc.CsErrInvalidParm {
		t.Fatalf("after delivery: reloads %v, replies %x", reloads, *got)
	}
	// Node 2's request: node 1 reloads but owes nobody an answer.
	got2 := call(r.nodes[1], 3, request(cfgipc.ReqReloadConfig, 16))
	r.deliverAll(t, 2)
	if reloads != [3]int{0, 2, 2} || len(*got2) != 1 || errOf((*got2)[0]) != ipc.CsOK || len(*got) != 1 {
		t.Fatalf("node 2's reload: reloads %v, replies %x / %x", reloads, *got2, *got)
	}
}

// TestShutdownExecAndTimeout: an agreed shutdown goes through the ring
// (the node leaves when its own SHUTDOWN is delivered), IMMEDIATE skips
// the trackers, a second request while one is pending gets EXIST, and
// trackers that never answer veto a REQUEST at the timeout.
func TestShutdownExecAndTimeout(t *testing.T) {
	r := &ring{}
	var shut [3][]uint32
	for id := uint32(1); id <= 2; id++ {
		r.nodes = append(r.nodes, cfgipc.New(cfgipc.Config{NodeID: id, Send: r.send,
			Shutdown: func(f uint32) { shut[id] = append(shut[id], f) }}))
	}
	h := r.nodes[0]
	trk := &sink{}
	h.Attach(1, trk)
	h.Attach(2, &sink{})
	call(h, 1, request(cfgipc.ReqTrackStart, 24))
	got := call(h, 2, u32req(cfgipc.ReqTryShutdown, 24, cfgipc.ShutdownRequest))
	if again := call(h, 3, u32req(cfgipc.ReqTryShutdown, 24, cfgipc.ShutdownRequest)); len(*again) != 1 || errOf((*again)[0]) != ipc.CsErrExist {
		t.Fatalf("second TRYSHUTDOWN: %x", *again)
	}
	h.ExpireShutdown()
	if len(*got) != 1 || errOf((*got)[0]) != ipc.CsErrBusy || len(r.queue) != 0 {
		t.Fatalf("timed-out REQUEST: %x, %d messages", *got, len(r.queue))
	}
	if last := trk.events[len(trk.events)-1]; ipc.CsError(binary.LittleEndian.Uint32(last[16:])) != 5 {
		t.Fatalf("no CS_ERR_TIMEOUT TESTSHUTDOWN to the tracker: %x", last)
	}
	got = call(h, 2, u32req(cfgipc.ReqTryShutdown, 24, cfgipc.ShutdownImmediate))
	if len(*got) != 1 || errOf((*got)[0]) != ipc.CsOK || len(r.queue) != 1 || len(shut[1]) != 0 {
		t.Fatalf("IMMEDIATE: %x, %d messages, %v", *got, len(r.queue), shut)
	}
	r.deliverAll(t, 1)
	if len(shut[1]) != 1 || shut[1][0] != cfgipc.ShutdownImmediate || len(shut[2]) != 0 {
		t.Fatalf("shutdowns after delivery: %v", shut)
	}
}

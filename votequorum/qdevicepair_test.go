package votequorum

import (
	"errors"
	"testing"
)

// checkDevicePairs fails when a quorum device NODEINFO in msgs does not
// directly follow this node's own NODEINFO (see Machine.sendNodeInfo).
func checkDevicePairs(t *testing.T, what string, us uint32, msgs []Message) {
	t.Helper()
	for i, msg := range msgs {
		ni, ok := msg.(NodeInfo)
		if !ok || ni.NodeID != QdeviceNodeID {
			continue
		}
		prev, ok := NodeInfo{}, false
		if i > 0 {
			prev, ok = msgs[i-1].(NodeInfo)
		}
		if !ok || prev.NodeID != us {
			t.Errorf("%s: device NODEINFO at %d of %v does not follow our own NODEINFO", what, i, msgs)
		}
	}
}

// A node that joins a ring knows nobody until their NODEINFOs arrive, and
// corosync 3.1.7 asserts on a device NODEINFO from a sender it has no entry
// for. Every batch of messages our machine emits must therefore be safe to
// deliver, on its own, to such a fresh node; here a fresh machine stands in
// for it (ours returns ErrUnknownSender where corosync would abort).
func TestQdeviceNodeInfoNeverPrecedesOwn(t *testing.T) {
	cfg := Config{NodeID: 1, Nodelist: nodelist(1, 2, 3), Qdevice: QdeviceConfig{Model: "net", Votes: u32(1)}}
	m, err := New(cfg, t0)
	if err != nil {
		t.Fatal(err)
	}
	fresh := func() *Machine {
		f, err := New(Config{NodeID: 2, Nodelist: nodelist(1, 2, 3), Qdevice: QdeviceConfig{Model: "net", Votes: u32(1)}}, t0)
		if err != nil {
			t.Fatal(err)
		}
		f.Ready()
		return f
	}
	var replies []Status
	step := func(what string, deliverOwn bool) {
		t.Helper()
		rd := m.Ready()
		replies = append(replies, rd.RegisterReplies...)
		msgs := rd.Messages
		checkDevicePairs(t, what, 1, msgs)
		f := fresh()
		for _, msg := range msgs {
			if err := f.Deliver(1, msg); errors.Is(err, ErrUnknownSender) {
				t.Errorf("%s: a node that joined now would abort on %v", what, msgs)
			}
		}
		if deliverOwn {
			for _, msg := range msgs {
				if err := m.Deliver(1, msg); err != nil {
					t.Fatalf("%s: own delivery: %v", what, err)
				}
			}
		}
	}
	step("startup", true)

	ring := RingID{Rep: 1, Seq: 8}
	m.SyncInit(nil, []uint32{1}, ring)
	m.SyncProcess()
	step("sync", true)
	m.SyncActivate()
	step("activate", true)

	if st, pending := m.QdeviceRegister("Qdevice"); st != OK || !pending {
		t.Fatalf("register: %v %v", st, pending)
	}
	// The QDEVICE_REG comes back; corosync answers with the device's
	// NODEINFO and then ours, which alone would make a fresh node abort.
	step("register", true)
	step("registered", true)
	if len(replies) != 1 || replies[0] != OK {
		t.Fatalf("register replies %v", replies)
	}
	if st := m.QdevicePoll("Qdevice", true, ring); st != OK {
		t.Fatalf("poll: %v", st)
	}
	step("poll", true)

	ring = RingID{Rep: 1, Seq: 12}
	m.SyncInit(nil, []uint32{1, 2}, ring)
	m.SyncProcess()
	step("sync with device", true)
	m.QdevicePoll("Qdevice", false, ring)
	step("poll no vote", true)
	m.ReloadConfig(cfg)
	step("reload", true)
}

// The prefix is added only where it is missing: sync and reload keep
// corosync's exact NODEINFO sequence.
func TestSyncNodeInfoSequenceUnchanged(t *testing.T) {
	m, _ := New(Config{NodeID: 3, Nodelist: nodelist(1, 2, 3)}, t0)
	m.Ready()
	m.SyncInit(nil, []uint32{3}, RingID{Rep: 3, Seq: 4})
	m.SyncProcess()
	msgs := m.Ready().Messages
	if len(msgs) != 2 || msgs[0].(NodeInfo).NodeID != 3 || msgs[1].(NodeInfo).NodeID != QdeviceNodeID {
		t.Fatalf("sync messages %v", msgs)
	}
}

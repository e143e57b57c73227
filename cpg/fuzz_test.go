package cpg

import (
	"bytes"
	"testing"
)

// FuzzDecode: Decode never panics, and whatever it accepts re-encodes
// to a message that decodes to the same bytes again.
func FuzzDecode(f *testing.F) {
	for _, name := range allCaptures {
		for _, c := range cpgMessages(f, name) {
			f.Add(c.Payload, false)
		}
	}
	f.Add((&JoinList{Entries: []JoinEntry{{PID: 1, Group: "g"}}}).Encode(), false)
	f.Add(bytes.Join((&PartialMcast{Group: "g", MsgLen: 9, Type: PartialFirst, Data: []byte("abc")}).Encode(), nil), true)
	f.Fuzz(func(t *testing.T, b []byte, swapped bool) {
		m, err := Decode(b, swapped)
		if err != nil || m == nil {
			return
		}
		enc := encodeAny(m)
		m2, err := Decode(enc, false)
		if err != nil {
			t.Fatalf("re-encoding of %T rejected: %v", m, err)
		}
		if !bytes.Equal(encodeAny(m2), enc) {
			t.Fatalf("%T: encode/decode not stable", m)
		}
	})
}

// FuzzServiceDeliver feeds arbitrary exec messages to a CPG service with
// local clients, around a sync: nothing panics, the process list stays
// sorted by (node, pid) without duplicates, and callbacks only go to
// connected clients.
func FuzzServiceDeliver(f *testing.F) {
	for _, name := range allCaptures {
		for _, c := range cpgMessages(f, name) {
			f.Add(c.Payload, uint8(c.Node), false)
		}
	}
	f.Add((&JoinList{Entries: []JoinEntry{{PID: 1, Group: "g"}, {PID: 1, Group: "g"}}}).Encode(), uint8(2), false)
	f.Fuzz(func(t *testing.T, b []byte, from uint8, swapped bool) {
		s := New(1)
		s.Connect(1)
		s.Connect(2)
		s.Join(1, "g", 10, FlagDeliverInitialTotemConf)
		s.Join(2, "gotest", 11, 0)
		for _, m := range s.Ready().Messages {
			_ = s.Deliver(1, FnProcJoin, m.Bytes(), false)
		}
		node := uint32(from%4) + 1
		s.SyncInit([]uint32{1}, []uint32{1, node}, wireRing(node))
		if len(b) >= 4 {
			fn := uint16(le.Uint32(b) & 0xffff)
			if swapped {
				fn = uint16(le.Uint32(b) >> 24)
			}
			_ = s.Deliver(node, fn, b, swapped)
			_ = s.Deliver(node, FnJoinList, b, swapped)
		}
		s.SyncProcess()
		s.SyncActivate()
		for i := 1; i < len(s.procs); i++ {
			a, c := s.procs[i-1], s.procs[i]
			if a.nodeID > c.nodeID || (a.nodeID == c.nodeID && a.pid > c.pid) {
				t.Fatalf("process list out of order: %+v", s.procs)
			}
		}
		for i, p := range s.procs {
			if s.findProc(p.group, p.pid, p.nodeID) != i {
				t.Fatalf("duplicate process %+v", p)
			}
		}
		for _, e := range s.Ready().Events {
			if e.Client != 1 && e.Client != 2 {
				t.Fatalf("event for unknown client: %v", e)
			}
		}
	})
}

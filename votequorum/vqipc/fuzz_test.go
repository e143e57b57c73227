package vqipc_test

import (
	"encoding/binary"
	"testing"

	"github.com/ringfence/ringfence/ipc"
	"github.com/ringfence/ringfence/votequorum"
	"github.com/ringfence/ringfence/votequorum/vqipc"
)

type sink struct{ events [][]byte }

func (s *sink) SendEvent(b []byte) error { s.events = append(s.events, b); return nil }

func request(id int32, size int) []byte {
	b := make([]byte, size)
	ipc.PutRequestHeader(b, id, size)
	return b
}

// checkEvents verifies every event's header size matches its length.
func checkEvents(t *testing.T, s *sink) {
	for _, e := range s.events {
		h, err := ipc.ParseResponseHeader(e)
		if err != nil || int(h.Size) != len(e) {
			t.Fatalf("event header %+v does not match its %d bytes", h, len(e))
		}
	}
}

// FuzzRequest feeds arbitrary requests to both decoders: no panics,
// exact response sizes, and well-formed events.
func FuzzRequest(f *testing.F) {
	tr := request(vqipc.VReqTrackStart, 32)
	binary.LittleEndian.PutUint32(tr[24:], 3)
	f.Add(false, int32(vqipc.VReqTrackStart), tr)
	f.Add(false, int32(vqipc.VReqGetInfo), request(0, 24))
	f.Add(false, int32(vqipc.VReqQdeviceRegister), append(request(5, 272)[:16], make([]byte, 256)...))
	f.Add(false, int32(vqipc.VReqQdevicePoll), request(8, 296))
	qt := request(vqipc.QReqTrackStart, 24)
	binary.LittleEndian.PutUint32(qt[16:], 3)
	f.Add(true, int32(vqipc.QReqTrackStart), qt)
	f.Add(true, int32(vqipc.QReqModelGetType), request(4, 24))
	f.Fuzz(func(t *testing.T, quorum bool, id int32, msg []byte) {
		if len(msg) >= 16 {
			binary.LittleEndian.PutUint32(msg[8:], uint32(len(msg)))
		}
		nd := newNode(t, 3, 2)
		s := &sink{}
		if quorum {
			q := nd.svcs.Quorum
			q.Attach(1, s)
			resp := q.Process(1, id%8, msg)
			h, err := ipc.ParseResponseHeader(resp)
			if err != nil || int(h.Size) != len(resp) {
				t.Fatalf("bad response %+v", h)
			}
			want := map[int32]int{0: 32, 1: 24, 2: 24, 3: 32, 4: 32}[id%8]
			if h.Error != ipc.CsErrInvalidParm && len(resp) != want {
				t.Fatalf("quorum request %d answered with %d bytes, want %d", id%8, len(resp), want)
			}
		} else {
			v := nd.svcs.Votequorum
			v.Attach(1, s)
			v.Process(1, id%12, msg, func(resp []byte) {
				h, err := ipc.ParseResponseHeader(resp)
				if err != nil || int(h.Size) != len(resp) {
					t.Fatalf("bad response %+v", h)
				}
				want := 24
				if id%12 == vqipc.VReqGetInfo {
					want = 320
				}
				if h.Error != ipc.CsErrInvalidParm && len(resp) != want {
					t.Fatalf("votequorum request %d answered with %d bytes, want %d", id%12, len(resp), want)
				}
			})
			nd.pump(t)
		}
		checkEvents(t, s)
	})
}

// TestTrackStartEventsBeforeResponse checks the V0 quorum notification
// layout (48+4n, list at 44) and the votequorum GETINFO of an unknown
// node.
func TestNotificationLayouts(t *testing.T) {
	nd := newNode(t, 3, 2)
	s := &sink{}
	q := nd.svcs.Quorum
	q.Attach(7, s)
	tr := request(vqipc.QReqTrackStart, 24)
	binary.LittleEndian.PutUint32(tr[16:], 1) // CURRENT
	resp := q.Process(7, vqipc.QReqTrackStart, tr)
	if len(resp) != 24 || binary.LittleEndian.Uint32(resp[16:]) != 1 {
		t.Fatalf("trackstart response %x", resp)
	}
	if len(s.events) != 1 {
		t.Fatalf("V0 trackstart sent %d events, want 1 notification", len(s.events))
	}
	ev := s.events[0]
	le := binary.LittleEndian
	if le.Uint32(ev[0:]) != vqipc.QEvNotification || len(ev) != 48+4*2 || le.Uint32(ev[24:]) != 1 ||
		le.Uint64(ev[32:]) != 4 || le.Uint32(ev[40:]) != 2 || le.Uint32(ev[44:]) != 1 || le.Uint32(ev[48:]) != 2 {
		t.Errorf("V0 notification %x", ev)
	}

	v := nd.svcs.Votequorum
	v.Attach(8, s)
	gi := request(vqipc.VReqGetInfo, 24)
	binary.LittleEndian.PutUint32(gi[16:], 99)
	var got []byte
	v.Process(8, vqipc.VReqGetInfo, gi, func(b []byte) { got = b })
	if len(got) != 320 || binary.LittleEndian.Uint32(got[16:]) != uint32(ipc.CsErrNotExist) {
		t.Errorf("GETINFO of unknown node: %d bytes error %d", len(got), binary.LittleEndian.Uint32(got[16:]))
	}
	binary.LittleEndian.PutUint32(gi[16:], 2)
	v.Process(8, vqipc.VReqGetInfo, gi, func(b []byte) { got = b })
	if le.Uint32(got[24:]) != 2 || le.Uint32(got[28:]) != 1 || le.Uint32(got[36:]) != 3 || le.Uint32(got[44:]) != 2 || le.Uint32(got[48:]) != 2 || le.Uint32(got[52:])&2 != 2 {
		t.Errorf("GETINFO node 2: %x", got[24:64])
	}
}

// TestTrackChanges: trackers with CHANGES get the current state at
// TRACKSTART and a fresh notification when a later sync changes quorum
// (node 2 joins a minority node 1), with the votequorum context echoed.
func TestTrackChanges(t *testing.T) {
	nd := newNode(t, 3, 1)
	qs, vs := &sink{}, &sink{}
	nd.svcs.Quorum.Attach(1, qs)
	nd.svcs.Votequorum.Attach(2, vs)
	qt := request(vqipc.QReqTrackStart, 24)
	binary.LittleEndian.PutUint32(qt[16:], 2) // CHANGES
	nd.svcs.Quorum.Process(1, vqipc.QReqTrackStart, qt)
	vt := request(vqipc.VReqTrackStart, 32)
	binary.LittleEndian.PutUint64(vt[16:], 0xfeedbeef)
	binary.LittleEndian.PutUint32(vt[24:], 2)
	nd.svcs.Votequorum.Process(2, vqipc.VReqTrackStart, vt, func([]byte) {})
	if len(qs.events) != 1 || binary.LittleEndian.Uint32(qs.events[0][24:]) != 0 {
		t.Fatalf("quorum trackstart: %d events", len(qs.events))
	}
	if len(vs.events) != 2 || binary.LittleEndian.Uint32(vs.events[0]) != vqipc.VEvNodelist || binary.LittleEndian.Uint32(vs.events[1]) != vqipc.VEvQuorum {
		t.Fatalf("votequorum trackstart: %d events", len(vs.events))
	}
	qs.events, vs.events = nil, nil

	m := nd.m
	m.SyncInit([]uint32{1}, []uint32{1, 2}, votequorum.RingID{Rep: 1, Seq: 8})
	m.SyncProcess()
	nd.pump(t)
	if err := m.Deliver(2, votequorum.NodeInfo{NodeID: 2, Votes: 1, ExpectedVotes: 3}); err != nil {
		t.Fatal(err)
	}
	m.SyncActivate()
	nd.pump(t)

	le := binary.LittleEndian
	if len(qs.events) == 0 {
		t.Fatal("quorum tracker got no notification")
	}
	ev := qs.events[len(qs.events)-1]
	if le.Uint32(ev[24:]) != 1 || le.Uint64(ev[32:]) != 8 || le.Uint32(ev[40:]) != 2 || len(ev) != 56 {
		t.Errorf("quorum V0 notification after join: %x", ev)
	}
	var sawQuorate bool
	for _, e := range vs.events {
		if le.Uint64(e[24:]) == 0xfeedbeef && le.Uint32(e) == vqipc.VEvNodelist {
			continue
		}
		if le.Uint32(e) == vqipc.VEvQuorum {
			if le.Uint64(e[32:]) != 0xfeedbeef {
				t.Errorf("context not echoed: %x", e[32:40])
			}
			sawQuorate = sawQuorate || le.Uint32(e[24:]) == 1
		}
	}
	if !sawQuorate {
		t.Errorf("votequorum tracker never saw quorate: %d events", len(vs.events))
	}
}

// TestQuorumWithoutProvider: no quorum.provider means GETTYPE 0 and
// always quorate, as vsf_quorum does.
func TestQuorumWithoutProvider(t *testing.T) {
	q := vqipc.NewQuorum(false)
	q.Attach(1, &sink{})
	r := q.Process(1, vqipc.QReqGetType, request(vqipc.QReqGetType, 16))
	if binary.LittleEndian.Uint32(r[24:]) != 0 {
		t.Errorf("GETTYPE without provider: %d", binary.LittleEndian.Uint32(r[24:]))
	}
	r = q.Process(1, vqipc.QReqGetQuorate, request(vqipc.QReqGetQuorate, 16))
	if len(r) != 32 || binary.LittleEndian.Uint32(r[24:]) != 1 {
		t.Errorf("GETQUORATE without provider: %x", r)
	}
}

// TestQdeviceRequests maps the qdevice requests onto the machine: the
// REGISTER answer waits for the QDEVICE_REG message to come back, and
// GETINFO then shows the device's flags.
func TestQdeviceRequests(t *testing.T) {
	nd := newNode(t, 3, 3)
	v := nd.svcs.Votequorum
	v.Attach(1, &sink{})
	named := func(id int32, size int, name string) []byte {
		b := request(id, size)
		copy(b[16:16+254], name)
		return b
	}
	var replies [][]byte
	reply := func(b []byte) { replies = append(replies, b) }
	v.Process(1, vqipc.VReqQdeviceRegister, named(vqipc.VReqQdeviceRegister, 272, "Qdevice"), reply)
	if len(replies) != 0 {
		t.Fatalf("REGISTER answered before its message came back: %x", replies)
	}
	nd.pump(t)
	if len(replies) != 1 || len(replies[0]) != 24 || binary.LittleEndian.Uint32(replies[0][16:]) != 1 {
		t.Fatalf("REGISTER replies after delivery: %x", replies)
	}
	poll := named(vqipc.VReqQdevicePoll, 296, "Qdevice")
	binary.LittleEndian.PutUint32(poll[272:], 1)
	binary.LittleEndian.PutUint32(poll[280:], 1)
	binary.LittleEndian.PutUint64(poll[288:], 4)
	v.Process(1, vqipc.VReqQdevicePoll, poll, reply)
	nd.pump(t)
	if e := binary.LittleEndian.Uint32(replies[1][16:]); e != 1 {
		t.Fatalf("POLL: error %d", e)
	}
	gi := request(vqipc.VReqGetInfo, 24)
	v.Process(1, vqipc.VReqGetInfo, gi, reply)
	info := replies[2]
	flags := binary.LittleEndian.Uint32(info[52:])
	if flags&(64|128|256) != 64|128|256 || string(info[60:67]) != "Qdevice" || info[67] != 0 {
		t.Errorf("GETINFO after register+poll: flags %#x name %q", flags, info[60:68])
	}
	v.Process(1, vqipc.VReqQdeviceUnregister, named(vqipc.VReqQdeviceUnregister, 272, "Qdevice"), reply)
	nd.pump(t)
	v.Process(1, vqipc.VReqGetInfo, gi, reply)
	if flags := binary.LittleEndian.Uint32(replies[len(replies)-1][52:]); flags&64 != 0 {
		t.Errorf("still registered after UNREGISTER: flags %#x", flags)
	}
}

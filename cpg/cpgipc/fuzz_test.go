package cpgipc_test

import (
	"encoding/binary"
	"testing"

	"github.com/ringfence/ringfence/cpg"
	"github.com/ringfence/ringfence/cpg/cpgipc"
	"github.com/ringfence/ringfence/exec"
	"github.com/ringfence/ringfence/ipc"
)

type sink struct{ events [][]byte }

func (s *sink) SendEvent(b []byte) error { s.events = append(s.events, b); return nil }

// wantSize is the exact response size libcpg allocates per request id.
var wantSize = map[int32]int{0: 24, 1: 24, 3: 9248, 4: 32, 5: 32, 6: 168, 7: 24, 8: 24, 9: 24, 10: 24, 11: 24, 12: 24}

func request(id int32, size int) []byte {
	b := make([]byte, size)
	ipc.PutRequestHeader(b, id, size)
	return b
}

func joinReq(group string, pid uint32) []byte {
	b := request(cpgipc.ReqJoin, 168)
	binary.LittleEndian.PutUint32(b[16:], uint32(len(group)))
	copy(b[24:], group)
	binary.LittleEndian.PutUint32(b[152:], pid)
	return b
}

// FuzzRequest feeds arbitrary messages to the request decoder: it must
// never panic, and every answer must have the size libcpg expects.
func FuzzRequest(f *testing.F) {
	f.Add(int32(0), joinReq("g", 7))
	f.Add(int32(2), append(request(2, 45), 'h', 'e', 'l', 'l', 'o'))
	f.Add(int32(3), request(3, 152))
	f.Add(int32(5), request(5, 160))
	f.Add(int32(6), request(6, 24))
	f.Add(int32(12), request(12, 60))
	f.Fuzz(func(t *testing.T, id int32, msg []byte) {
		if len(msg) >= 16 {
			binary.LittleEndian.PutUint32(msg[8:], uint32(len(msg)))
		}
		var sent []exec.Message
		h := cpgipc.New(cpg.New(1), func(m ...exec.Message) { sent = append(sent, m...) })
		h.Attach(1, &sink{})
		h.Process(1, cpgipc.ReqJoin, joinReq("g", 7)) // some state to act on
		resp := h.Process(1, id%16, msg)
		if resp == nil {
			if id%16 != cpgipc.ReqMcast {
				t.Fatalf("no response to request %d", id%16)
			}
			return
		}
		hdr, err := ipc.ParseResponseHeader(resp)
		if err != nil || int(hdr.Size) != len(resp) {
			t.Fatalf("bad response header %+v %v", hdr, err)
		}
		if w, ok := wantSize[id%16]; ok && hdr.Error != ipc.CsErrInvalidParm && len(resp) != w {
			t.Fatalf("request %d answered with %d bytes, want %d", id%16, len(resp), w)
		}
		h.Flush()
	})
}

// TestEventLayouts checks the byte offsets of the callbacks against the
// libcpg structs (and the 48+4n / list-at-44 quirk of TOTEM_CONFCHG).
func TestEventLayouts(t *testing.T) {
	s := &sink{}
	svc := cpg.New(1)
	var out []exec.Message
	h := cpgipc.New(svc, func(m ...exec.Message) { out = append(out, m...) })
	h.Attach(9, s)
	if r := h.Process(9, cpgipc.ReqJoin, joinReq("grp", 42)); binary.LittleEndian.Uint32(r[16:]) != 1 {
		t.Fatalf("join failed: %x", r)
	}
	h.Flush()
	if len(out) != 1 {
		t.Fatalf("join queued %d exec messages, want 1", len(out))
	}
	if err := svc.Deliver(1, cpg.FnProcJoin, out[0].Bytes(), false); err != nil {
		t.Fatalf("deliver: %v", err)
	}
	h.Flush()
	if len(s.events) != 1 {
		t.Fatalf("got %d events after join, want 1 confchg", len(s.events))
	}
	ev := s.events[0]
	le := binary.LittleEndian
	if id, size := le.Uint32(ev[0:]), le.Uint32(ev[8:]); id != cpgipc.EvConfchg || size != 184+2*24 || int(size) != len(ev) {
		t.Fatalf("confchg header id %d size %d len %d", id, size, len(ev))
	}
	if string(ev[32:35]) != "grp" || le.Uint32(ev[24:]) != 3 {
		t.Errorf("group not at 24: %q", ev[24:40])
	}
	if le.Uint32(ev[160:]) != 1 || le.Uint32(ev[168:]) != 1 || le.Uint32(ev[176:]) != 0 {
		t.Errorf("counts members/joined/left = %d/%d/%d, want 1/1/0", le.Uint32(ev[160:]), le.Uint32(ev[168:]), le.Uint32(ev[176:]))
	}
	// members first (reason 0), then left (none), then joined.
	if le.Uint32(ev[184:]) != 1 || le.Uint32(ev[192:]) != 42 || le.Uint32(ev[200:]) != 0 {
		t.Errorf("member entry %x", ev[184:208])
	}
	if le.Uint32(ev[208:]) != 1 || le.Uint32(ev[216:]) != 42 || le.Uint32(ev[224:]) != cpg.ReasonJoin {
		t.Errorf("joined entry %x", ev[208:232])
	}
}

package cfgipc_test

import (
	"encoding/binary"
	"testing"

	"github.com/ringfence/ringfence/exec/cfgipc"
	"github.com/ringfence/ringfence/ipc"
)

type sink struct{ events [][]byte }

func (s *sink) SendEvent(b []byte) error { s.events = append(s.events, b); return nil }

func request(id int32, size int) []byte {
	b := make([]byte, size)
	ipc.PutRequestHeader(b, id, size)
	return b
}

func u32req(id int32, size int, v uint32) []byte {
	b := request(id, size)
	binary.LittleEndian.PutUint32(b[16:], v)
	return b
}

// call runs one request and returns the replies produced so far.
func call(h *cfgipc.Handler, conn uint64, msg []byte) *[][]byte {
	var got [][]byte
	id := int32(binary.LittleEndian.Uint32(msg))
	h.Process(conn, id, msg, func(b []byte) { got = append(got, b) })
	return &got
}

func errOf(b []byte) ipc.CsError { return ipc.CsError(binary.LittleEndian.Uint32(b[16:])) }

// TestShutdownNegotiation: trackers are asked with TESTSHUTDOWN, the
// requester's answer waits for them, a "no" vetoes a REQUEST.
func TestShutdownNegotiation(t *testing.T) {
	var shut []uint32
	h := cfgipc.New(cfgipc.Config{NodeID: 1, Shutdown: func(f uint32) { shut = append(shut, f) }})
	trk1, trk2, req := &sink{}, &sink{}, &sink{}
	h.Attach(1, trk1)
	h.Attach(2, trk2)
	h.Attach(3, req)
	for _, c := range []uint64{1, 2, 3} {
		if r := call(h, c, request(cfgipc.ReqTrackStart, 24)); len(*r) != 1 || errOf((*r)[0]) != ipc.CsOK {
			t.Fatalf("trackstart: %v", *r)
		}
	}
	// REQUEST: two trackers asked, the requester is not.
	r := call(h, 3, u32req(cfgipc.ReqTryShutdown, 24, cfgipc.ShutdownRequest))
	if len(*r) != 0 {
		t.Fatalf("TRYSHUTDOWN answered before the trackers: %x", *r)
	}
	if len(trk1.events) != 1 || len(trk2.events) != 1 || len(req.events) != 0 {
		t.Fatalf("TESTSHUTDOWN events: %d %d %d", len(trk1.events), len(trk2.events), len(req.events))
	}
	if ev := trk1.events[0]; len(ev) != 32 || binary.LittleEndian.Uint32(ev) != cfgipc.EvTestShutdown {
		t.Fatalf("TESTSHUTDOWN event %x", ev)
	}
	call(h, 1, u32req(cfgipc.ReqReplyToShutdown, 24, 1))
	if len(*r) != 0 {
		t.Fatal("answered with one tracker outstanding")
	}
	call(h, 2, u32req(cfgipc.ReqReplyToShutdown, 24, 0))
	if len(*r) != 1 || errOf((*r)[0]) != ipc.CsErrBusy || len(shut) != 0 {
		t.Fatalf("vetoed REQUEST: replies %x, shutdowns %v", *r, shut)
	}
	// REGARDLESS with a tracker that goes away: agreed.
	r = call(h, 3, u32req(cfgipc.ReqTryShutdown, 24, cfgipc.ShutdownRegardless))
	call(h, 1, u32req(cfgipc.ReqReplyToShutdown, 24, 0))
	h.Detach(2)
	if len(*r) != 1 || errOf((*r)[0]) != ipc.CsOK || len(shut) != 1 || shut[0] != cfgipc.ShutdownRegardless {
		t.Fatalf("REGARDLESS: replies %x, shutdowns %v", *r, shut)
	}
}

// TestNodeAddrsAndStatusSizes checks the variable GET_NODE_ADDRS reply
// and the fixed NODESTATUSGET sizes, including unknown nodes.
func TestNodeAddrsAndStatusSizes(t *testing.T) {
	h := cfgipc.New(cfgipc.Config{NodeID: 1, Store: fixtureStore(2), Members: func() []uint32 { return []uint32{1} }})
	r := call(h, 1, u32req(cfgipc.ReqGetNodeAddrs, 24, 0))
	b := (*r)[0]
	if len(b) != 48 || errOf(b) != ipc.CsOK || binary.LittleEndian.Uint32(b[24:]) != 2 || binary.LittleEndian.Uint32(b[28:]) != 1 ||
		b[32] != 198 || b[33] != 18 || b[34] != 0 || b[35] != 1 {
		t.Errorf("GET_NODE_ADDRS local: %x", b)
	}
	r = call(h, 1, u32req(cfgipc.ReqGetNodeAddrs, 24, 7))
	if b := (*r)[0]; len(b) != 32 || errOf(b) != ipc.CsErrNotExist {
		t.Errorf("GET_NODE_ADDRS unknown: %x", b)
	}
	ns := request(cfgipc.ReqNodeStatusGet, 32)
	binary.LittleEndian.PutUint32(ns[16:], 2)
	binary.LittleEndian.PutUint32(ns[24:], 1)
	r = call(h, 1, ns)
	b = (*r)[0]
	// node 2 is configured but not reachable: link enabled, not connected.
	if len(b) != 4200 || b[32] != 0 || b[40] != 1 || b[41] != 0 || binary.LittleEndian.Uint32(b[44:]) != 1410 || string(b[48:58]) != "198.18.0.2" {
		t.Errorf("NODESTATUSGET node 2: len %d %x", len(b), b[24:64])
	}
	binary.LittleEndian.PutUint32(ns[24:], 2)
	r = call(h, 1, ns)
	if b := (*r)[0]; len(b) != 32 || errOf(b) != 19 {
		t.Errorf("NODESTATUSGET v2: %x", b)
	}
	r = call(h, 1, request(cfgipc.ReqRingStatusGet, 16))
	if b := (*r)[0]; len(b) != 10272 || binary.LittleEndian.Uint32(b[24:]) != 1 || string(b[32:44]) != "0 198.18.0.1" || string(b[2080:2082]) != "OK" {
		t.Errorf("RINGSTATUSGET: %q %q", b[32:48], b[2080:2084])
	}
}

// FuzzRequest: arbitrary requests never panic and every reply carries
// its own size in the header.
func FuzzRequest(f *testing.F) {
	f.Add(int32(cfgipc.ReqGetNodeAddrs), u32req(5, 24, 1))
	f.Add(int32(cfgipc.ReqNodeStatusGet), u32req(9, 32, 1))
	f.Add(int32(cfgipc.ReqKillNode), u32req(2, 288, 2))
	f.Add(int32(cfgipc.ReqTryShutdown), u32req(3, 24, 0))
	f.Add(int32(cfgipc.ReqTrackStart), request(10, 24))
	f.Fuzz(func(t *testing.T, id int32, msg []byte) {
		if len(msg) >= 16 {
			binary.LittleEndian.PutUint32(msg[8:], uint32(len(msg)))
		}
		h := cfgipc.New(cfgipc.Config{NodeID: 1, Store: fixtureStore(2), Members: func() []uint32 { return []uint32{1, 2} },
			Killed: func(uint32, string) {}, ReloadConfig: func() ipc.CsError { return ipc.CsOK }})
		h.Attach(1, &sink{})
		h.Attach(2, &sink{})
		call(h, 2, request(cfgipc.ReqTrackStart, 24))
		h.Process(1, id%14, msg, func(b []byte) {
			hd, err := ipc.ParseResponseHeader(b)
			if err != nil || int(hd.Size) != len(b) {
				t.Fatalf("bad reply header %+v for request %d", hd, id%14)
			}
		})
		h.ExpireShutdown()
	})
}

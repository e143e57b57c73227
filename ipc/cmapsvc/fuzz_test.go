package cmapsvc

import (
	"encoding/binary"
	"testing"

	"github.com/ringfence/ringfence/cmap"
	"github.com/ringfence/ringfence/ipc"
)

// expectedSize gives the exact reply size for a request id, or -1 for GET
// whose size depends on the request.
var expectedSize = map[int32]int{
	ReqSet: 24, ReqDelete: 24, ReqAdjustInt: 24, ReqIterInit: sizeIterInitRes, ReqIterNext: sizeIterNextRes,
	ReqIterFinalize: 24, ReqTrackAdd: sizeTrackAddRes, ReqTrackDelete: sizeTrackDelRes, ReqSetCurrentMap: 24,
}

var expectedID = map[int32]int32{
	ReqSet: ResSet, ReqDelete: ResDelete, ReqGet: ResGet, ReqAdjustInt: ResAdjustInt, ReqIterInit: ResIterInit,
	ReqIterNext: ResIterNext, ReqIterFinalize: ResIterFinalize, ReqTrackAdd: ResTrackAdd,
	ReqTrackDelete: ResTrackDelete, ReqSetCurrentMap: ResSetCurrentMap,
}

func seedRequest(id int32, key string, arg uint64, extra []byte) []byte {
	size := max(RequestSizes[id], offSetValue+len(extra))
	b := make([]byte, size)
	ipc.PutRequestHeader(b, id, size)
	if id == ReqIterNext || id == ReqIterFinalize || id == ReqTrackDelete || id == ReqSetCurrentMap {
		binary.LittleEndian.PutUint64(b[offHandle:], arg)
		return b
	}
	putName(b, offKey, key)
	if len(b) >= offReqArg+8 {
		binary.LittleEndian.PutUint64(b[offReqArg:], arg)
	}
	if id == ReqSet {
		b[offSetType] = byte(cmap.TypeString)
		copy(b[offSetValue:], extra)
	}
	if id == ReqTrackAdd {
		binary.LittleEndian.PutUint32(b[offReqArg:], uint32(arg))
		binary.LittleEndian.PutUint64(b[offTrackInst:], 7)
	}
	return b
}

// FuzzRequest feeds arbitrary cmap requests (that passed the server's
// id and minimum-size checks, as the server guarantees) to the handler
// and checks that every reply has a correct header and exact size.
func FuzzRequest(f *testing.F) {
	f.Add(seedRequest(ReqSet, "a.b.c", 4, []byte("abc\x00")))
	f.Add(seedRequest(ReqSet, "a.b.c", 1<<62, nil))
	f.Add(seedRequest(ReqGet, "test.key", 0, nil))
	f.Add(seedRequest(ReqGet, "test.key", 1000, nil))
	f.Add(seedRequest(ReqGet, "test.key", 1<<63, nil))
	f.Add(seedRequest(ReqDelete, "test.key", 0, nil))
	f.Add(seedRequest(ReqAdjustInt, "test.int", 5, nil))
	f.Add(seedRequest(ReqIterInit, "test.", 0, nil))
	f.Add(seedRequest(ReqIterNext, "", 12345, nil))
	f.Add(seedRequest(ReqIterFinalize, "", 1, nil))
	f.Add(seedRequest(ReqTrackAdd, "test.", uint64(cmap.TrackPrefix|cmap.TrackAdd), nil))
	f.Add(seedRequest(ReqTrackDelete, "", 3, nil))
	f.Add(seedRequest(ReqSetCurrentMap, "", 1, nil))
	f.Add(seedRequest(ReqSetCurrentMap, "", 0xffffffff, nil))
	f.Fuzz(func(t *testing.T, msg []byte) {
		h, err := ipc.ParseRequestHeader(msg)
		if err != nil || h.ID < 0 || int(h.ID) >= len(RequestSizes) || len(msg) < RequestSizes[h.ID] {
			return // the server answers these itself
		}
		def := cmap.New()
		def.ApplyDefaultReadOnly()
		def.Set("test.key", cmap.Str("value"))
		def.Set("test.int", cmap.U32(1))
		stats := cmap.New()
		svc := New(def, stats)
		st := newConnState()
		defer st.close()
		// Run the message twice so handles created by the first run can
		// be used by the second.
		for range 2 {
			out := svc.process(st, h.ID, msg, nopSink{}, 1<<20)
			rh, err := ipc.ParseResponseHeader(out)
			if err != nil || int(rh.Size) != len(out) {
				t.Fatalf("reply header %+v for %d bytes (%v)", rh, len(out), err)
			}
			if rh.ID != expectedID[h.ID] {
				t.Fatalf("request %d answered with id %d", h.ID, rh.ID)
			}
			if want, ok := expectedSize[h.ID]; ok && len(out) != want {
				t.Fatalf("request %d: reply of %d bytes, want %d", h.ID, len(out), want)
			}
			if h.ID == ReqGet {
				asked := binary.LittleEndian.Uint64(msg[offReqArg:])
				if rh.Error == ipc.CsOK && uint64(len(out)) != sizeGetRes+asked {
					t.Fatalf("GET for %d bytes answered with %d", asked, len(out))
				}
				if rh.Error != ipc.CsOK && len(out) != sizeGetRes {
					t.Fatalf("GET error reply of %d bytes", len(out))
				}
			}
		}
	})
}

type nopSink struct{}

func (nopSink) SendEvent([]byte) error { return nil }
func (nopSink) Close()                 {}

package srp

import (
	"bytes"
	"testing"

	"github.com/ringfence/ringfence/totem/wire"
)

func TestEncapsulatedRoundTrip(t *testing.T) {
	it := &item{from: 3, system: 3, seq: 42, thisSeqno: 7, ringID: wire.RingID{Rep: 1, Seq: 9}, payload: []byte("abc"), guarantee: 1}
	b := encodeInner(it)
	if len(b) != wire.McastHeaderSize+3 {
		t.Fatalf("inner mcast is %d bytes, want 45+3", len(b))
	}
	// The inner mcast must be exactly what the wire codec would produce.
	m, err := wire.Decode(b)
	if err != nil {
		t.Fatalf("wire.Decode of an inner mcast: %v", err)
	}
	mc := m.(*wire.Mcast)
	if mc.Seq != 42 || mc.SystemFrom != 3 || mc.RingID != it.ringID || !bytes.Equal(mc.Payload, it.payload) || mc.Header.Encapsulated != wire.EncapsulatedNormal {
		t.Fatalf("decoded %+v", mc)
	}
	got, err := decodeInner(b)
	if err != nil || got.seq != 42 || got.from != 3 || !bytes.Equal(got.payload, it.payload) {
		t.Fatalf("decodeInner: %+v %v", got, err)
	}
	if _, err := decodeInner(b[:44]); err == nil {
		t.Fatal("short inner mcast accepted")
	}
}

// FuzzDecodeInner: the encapsulated payload of a recovery mcast comes from
// the network and must never panic the parser.
func FuzzDecodeInner(f *testing.F) {
	f.Add(encodeInner(&item{from: 1, system: 1, seq: 1, ringID: wire.RingID{Rep: 1, Seq: 5}, payload: []byte("p")}))
	f.Add([]byte{0xc0, 0x70, 3, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		it, err := decodeInner(b)
		if err != nil {
			return
		}
		again, err := decodeInner(encodeInner(it))
		if err != nil || again.seq != it.seq || again.ringID != it.ringID || !bytes.Equal(again.payload, it.payload) {
			t.Fatalf("re-encode changed the message: %+v vs %+v (%v)", again, it, err)
		}
	})
}

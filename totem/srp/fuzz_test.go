package srp_test

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/ringfence/ringfence/totem/sim"
	"github.com/ringfence/ringfence/totem/wire"
)

// FuzzStep feeds hostile datagrams to a node of a formed two-node ring
// and then lets the ring run: no input may panic the state machine.
// The input is a sequence of 2-byte length-prefixed datagrams.
func FuzzStep(f *testing.F) {
	ring := wire.RingID{Rep: 1, Seq: 9}
	seeds := []wire.Message{
		&wire.OrfToken{Header: wire.Header{Type: wire.TypeOrfToken, NodeID: 2}, Seq: 40000, TokenSeq: 99, Aru: 7, AruAddr: 2, RingID: ring,
			RtrList: []wire.RtrItem{{RingID: ring, Seq: 1}, {RingID: ring, Seq: 0xffffffff}}},
		&wire.Mcast{Header: wire.Header{Type: wire.TypeMcast, Encapsulated: wire.EncapsulatedRecovery, NodeID: 2}, SystemFrom: 2, Seq: 3, RingID: ring, Payload: []byte{1, 2, 3}},
		&wire.Mcast{Header: wire.Header{Type: wire.TypeMcast, Encapsulated: wire.EncapsulatedNormal, NodeID: 2}, SystemFrom: 2, Seq: 16000, RingID: ring, Payload: []byte("x")},
		&wire.Join{Header: wire.Header{Type: wire.TypeJoin, NodeID: 0}, SystemFrom: 2, RingSeq: 1 << 62, ProcList: []uint32{1, 2, 3, 3}, FailedList: []uint32{1}},
		&wire.CommitToken{Header: wire.Header{Type: wire.TypeCommitToken, NodeID: 2}, RingID: wire.RingID{Rep: 1, Seq: 100}, MembIndex: 2,
			Addr: []uint32{1, 2}, MembList: make([]wire.CommitMember, 2)},
		&wire.MergeDetect{Header: wire.Header{Type: wire.TypeMergeDetect, NodeID: 7}, SystemFrom: 7, RingID: wire.RingID{Rep: 7, Seq: 3}},
		&wire.TokenHoldCancel{Header: wire.Header{Type: wire.TypeTokenHoldCancel, NodeID: 2}, RingID: ring},
	}
	for _, m := range seeds {
		b, err := wire.Encode(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(frame(b))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := sim.New(1, []uint32{1, 2}, sim.SimTiming(2))
		_ = s.Start(1)
		_ = s.Start(2)
		_ = s.RunFor(time.Second)
		for len(data) >= 2 {
			n := int(binary.LittleEndian.Uint16(data))
			data = data[2:]
			if n > len(data) {
				n = len(data)
			}
			m, err := wire.Decode(data[:n])
			data = data[n:]
			if err != nil {
				continue
			}
			s.Inject(1, 2, m)
		}
		_ = s.RunFor(2 * time.Second)
	})
}

func frame(b []byte) []byte {
	out := make([]byte, 2, 2+len(b))
	binary.LittleEndian.PutUint16(out, uint16(len(b)))
	return append(out, b...)
}

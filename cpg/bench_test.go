package cpg

import (
	"bytes"
	"testing"
)

// BenchmarkDeliverMcast measures delivering one 1 KiB MCAST to a group
// of 64 processes with 8 local clients joined.
func BenchmarkDeliverMcast(b *testing.B) {
	s := New(1)
	for i := range 8 {
		s.Connect(ClientID(i))
		s.Join(ClientID(i), "bench", uint32(100+i), 0)
	}
	for _, m := range s.Ready().Messages {
		_ = s.Deliver(1, FnProcJoin, m.Bytes(), false)
	}
	for n := uint32(2); n <= 8; n++ {
		for p := range uint32(8) {
			_ = s.Deliver(n, FnProcJoin, (&ProcJoin{Group: "bench", PID: p, Reason: ReasonJoin}).Encode(), false)
		}
	}
	s.Ready()
	msg := bytes.Join((&Mcast{Group: "bench", PID: 3, Source: Source{NodeID: 5}, Data: make([]byte, 1024)}).Encode(), nil)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Deliver(5, FnMcast, msg, false); err != nil {
			b.Fatal(err)
		}
		s.events = s.events[:0]
	}
}

package cpgipc_test

import (
	"encoding/binary"
	"testing"

	"github.com/ringfence/ringfence/cpg"
	"github.com/ringfence/ringfence/cpg/cpgipc"
	"github.com/ringfence/ringfence/exec"
)

type countSink struct{ n int }

func (s *countSink) SendEvent([]byte) error { s.n++; return nil }

// BenchmarkMcastLoopback measures one 1 KiB CPG message through the
// handler without IPC: decode MCAST, the service queues the exec
// message, it is delivered back and encoded as a DELIVER event.
func BenchmarkMcastLoopback(b *testing.B) {
	svc := cpg.New(1)
	var out []exec.Message
	h := cpgipc.New(svc, func(m ...exec.Message) { out = append(out, m...) })
	s := &countSink{}
	h.Attach(1, s)
	h.Process(1, cpgipc.ReqJoin, joinReq("bench", 1))
	h.Flush()
	for _, m := range out {
		svc.Deliver(1, cpg.FnProcJoin, m.Bytes(), false)
	}
	out = nil
	h.Flush()
	req := request(cpgipc.ReqMcast, 40+1024)
	binary.LittleEndian.PutUint32(req[32:], 1024)
	b.SetBytes(1024)
	b.ReportAllocs()
	for b.Loop() {
		h.Process(1, cpgipc.ReqMcast, req)
		h.Flush()
		for _, m := range out {
			if err := svc.Deliver(1, cpg.FnMcast, m.Bytes(), false); err != nil {
				b.Fatal(err)
			}
		}
		out = out[:0]
		h.Flush()
	}
	if s.n < b.N {
		b.Fatalf("%d events for %d messages", s.n, b.N)
	}
}

package cpgclient

import (
	"testing"

	"github.com/ringfence/ringfence/cpg"
	"github.com/ringfence/ringfence/cpg/cpgipc"
	"github.com/ringfence/ringfence/ipc"
)

// FuzzParseEvent feeds arbitrary event messages to the decoder: it must
// return an event or an error, never panic or read out of bounds, and a
// decoded delivery must lie inside the message.
func FuzzParseEvent(f *testing.F) {
	deliver := ipc.NewResponse(cpgipc.EvDeliver, 184+5, ipc.CsOK)
	put32(deliver, 24, 3)
	copy(deliver[32:], "grp")
	put32(deliver, 160, 5)
	copy(deliver[184:], "hello")
	f.Add(deliver)
	conf := ipc.NewResponse(cpgipc.EvConfchg, 184+48, ipc.CsOK)
	put32(conf, 160, 1)
	put32(conf, 168, 1)
	f.Add(conf)
	totem := ipc.NewResponse(cpgipc.EvTotemConfchg, 52, ipc.CsOK)
	put32(totem, 40, 2)
	f.Add(totem)
	part := ipc.NewResponse(cpgipc.EvPartialDeliver, 200+4, ipc.CsOK)
	put32(part, 160, 10)
	put32(part, 168, 4)
	put32(part, 192, partialFirst)
	f.Add(part)
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := ParseEvent(b)
		if err != nil {
			return
		}
		if ev.Kind == cpg.EventDeliver && len(ev.Data) > len(b) {
			t.Fatalf("delivery of %d bytes from a %d-byte message", len(ev.Data), len(b))
		}
		c := &Conn{assemblies: map[[2]uint32][]byte{}}
		c.handle(b) // no callbacks: must not panic either
	})
}

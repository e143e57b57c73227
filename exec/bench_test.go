package exec_test

import (
	"testing"

	"github.com/ringfence/ringfence/exec"
	"github.com/ringfence/ringfence/exec/exectest"
)

// BenchmarkSyncThreeNodes measures one full sync round (confchg to
// "completed" on every node) of three engines with three services.
func BenchmarkSyncThreeNodes(b *testing.B) {
	bus := exectest.NewBus()
	for _, id := range []uint32{1, 2, 3} {
		e := exec.NewEngine(id)
		for _, s := range []exec.ServiceID{0, 2, 5} {
			_ = e.Register(&fakeService{id: s, node: id})
		}
		bus.Add(e)
	}
	b.ReportAllocs()
	for b.Loop() {
		bus.ConfChg(1, 2, 3)
		if !bus.Run(100) {
			b.Fatal("did not settle")
		}
		bus.Log = bus.Log[:0]
	}
}

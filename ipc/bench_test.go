package ipc_test

import (
	"testing"

	"github.com/ringfence/ringfence/ipc"
	"github.com/ringfence/ringfence/ipc/client"
)

// BenchmarkSHMRoundTrip is one request/response through the shared-memory
// rings (Go client → Go server → Go client), 64-byte payload.
func BenchmarkSHMRoundTrip(b *testing.B) {
	f := startEcho(b, ipc.Config{})
	c, err := client.Dial(f.name)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := request(0, make([]byte, 64))
	b.ResetTimer()
	for range b.N {
		if _, err := c.SendRecv(req, -1); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

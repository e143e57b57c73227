package sim

import "testing"

// BenchmarkRandomRun measures one seeded 8-node run with every fault: 10 s
// of faults and traffic, then healing and convergence.
func BenchmarkRandomRun(b *testing.B) {
	var delivered uint64
	for i := 0; i < b.N; i++ {
		res := Run(RunConfig{Seed: int64(i + 1), Nodes: 8, Faults: AllFaults()})
		if res.Err != nil {
			b.Fatalf("seed %d: %v", i+1, res.Err)
		}
		delivered += res.Delivered
	}
	b.ReportMetric(float64(delivered)/float64(b.N), "deliveries/run")
}

// BenchmarkSteadyRing measures ordered throughput of a fault-free 5-node
// ring in events processed per wall-clock second.
func BenchmarkSteadyRing(b *testing.B) {
	for i := 0; i < b.N; i++ {
		res := Run(RunConfig{Seed: int64(i + 1), Nodes: 5, MsgPerSec: 2000})
		if res.Err != nil {
			b.Fatal(res.Err)
		}
		b.ReportMetric(float64(res.Delivered), "deliveries/run")
	}
}

package netns

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// benchSizes are the cluster sizes BenchmarkDaemonFailover runs, from
// RINGFENCE_BENCH_NODES ("3,16,32") or 3 and 16.
func benchSizes(b *testing.B) []int {
	spec := os.Getenv("RINGFENCE_BENCH_NODES")
	if spec == "" {
		return []int{3, 16}
	}
	var ns []int
	for _, f := range strings.Split(spec, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 2 || n > MaxHosts {
			b.Fatalf("RINGFENCE_BENCH_NODES: bad size %q", f)
		}
		ns = append(ns, n)
	}
	return ns
}

// BenchmarkDaemonFailover measures the cluster daemon (corosync by
// default, or whatever RINGFENCE_DAEMON names; it is started as
// DAEMON -f -c CONF) with udpu and token 1000, as seen from host 1 polling
// runtime.members every 50 ms:
//
//	form-s    start of all daemons → host 1 lists every node
//	kill-s    SIGKILL of the last node → host 1 lists the others
//	rejoin-s  restart of that node → host 1 lists every node again
//	cut-s     link of the last node down → host 1 lists the others
//	heal-s    link up again → host 1 lists every node
//
// Run it with -benchtime 1x: each iteration builds a fresh cluster.
//
//	go test -run '^$' -bench DaemonFailover -benchtime 1x ./tools/netns
func BenchmarkDaemonFailover(b *testing.B) {
	needDaemon(b)
	if err := Available(); err != nil {
		b.Skip(err)
	}
	for _, n := range benchSizes(b) {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			var sum Failover
			for i := 0; i < b.N; i++ {
				c := NewCluster(b, n, Options{})
				r, err := c.MeasureFailover(CorosyncOptions{Token: 1000}, 3*time.Minute)
				if err != nil {
					b.Fatal(err)
				}
				c.Close()
				b.Log(r)
				sum.Form += r.Form
				sum.Kill += r.Kill
				sum.Rejoin += r.Rejoin
				sum.Cut += r.Cut
				sum.Heal += r.Heal
			}
			per := func(d time.Duration) float64 { return (d / time.Duration(b.N)).Seconds() }
			b.ReportMetric(per(sum.Form), "form-s")
			b.ReportMetric(per(sum.Kill), "kill-s")
			b.ReportMetric(per(sum.Rejoin), "rejoin-s")
			b.ReportMetric(per(sum.Cut), "cut-s")
			b.ReportMetric(per(sum.Heal), "heal-s")
		})
	}
}

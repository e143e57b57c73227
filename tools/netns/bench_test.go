package netns

import (
	"context"
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
			var sum [5]time.Duration
			for i := 0; i < b.N; i++ {
				r := failoverRound(b, n)
				for k := range sum {
					sum[k] += r[k]
				}
			}
			for k, name := range []string{"form-s", "kill-s", "rejoin-s", "cut-s", "heal-s"} {
				b.ReportMetric((sum[k] / time.Duration(b.N)).Seconds(), name)
			}
		})
	}
}

func failoverRound(b *testing.B, n int) [5]time.Duration {
	var r [5]time.Duration
	c := NewCluster(b, n, Options{})
	defer c.Close()
	observer, victim := c.Hosts[0], c.Hosts[n-1]
	all := Indices(c.Hosts...)
	rest := Indices(c.Hosts[:n-1]...)
	conf, procs, formed := startRing(b, c, CorosyncOptions{Token: 1000})
	r[0] = formed
	wait := func(start time.Time, want []uint32) time.Duration {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		d, err := observer.WaitMembers(ctx, start, want, 50*time.Millisecond)
		if err != nil {
			b.Fatal(err)
		}
		return d
	}

	start := time.Now()
	procs[n-1].Kill()
	r[1] = wait(start, rest)

	start = time.Now()
	p, err := victim.StartDaemon(conf)
	if err != nil {
		b.Fatal(err)
	}
	procs[n-1] = p
	r[2] = wait(start, all)

	start = time.Now()
	if err := victim.Cut(); err != nil {
		b.Fatal(err)
	}
	r[3] = wait(start, rest)

	start = time.Now()
	if err := victim.Heal(); err != nil {
		b.Fatal(err)
	}
	r[4] = wait(start, all)
	b.Logf("%d nodes: form %v, SIGKILL %v, rejoin %v, cut %v, heal %v", n, r[0], r[1], r[2], r[3], r[4])
	return r
}

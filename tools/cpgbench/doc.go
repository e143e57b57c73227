// Command cpgbench measures CPG throughput and latency against the local
// daemon (ringfenced or corosync): one sender joins a group and keeps N
// multicasts in flight (default 64); for each message size it reports
// messages per second, MB/s of payload, and the p50 and p99 latency from
// cpg_mcast_joined to the sender's own delivery of the message.
//
//	cpgbench [-sizes 100,1024,10240] [-inflight 64] [-duration 5s]
//
// Each size prints one line, e.g.
//
//	size=1024 msgs=61234 msg/s=12246.8 MB/s=12.54 p50=4.981ms p99=7.402ms
//
// testdata/cpgbench.c is the same benchmark written against Debian's
// libcpg (same arguments, same output line); the figures test compiles it
// when libcpg-dev is installed, so the Go client and libcpg are measured
// side by side on ringfenced and on corosync. TestCPGBenchFigures
// (RINGFENCE_BENCH=1, root) runs both on 3 and 16 network-namespace nodes
// and prints the table with ratios; `make bench` runs it.
package main

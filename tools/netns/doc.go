// Package netns builds throwaway clusters of network namespaces for tests
// that run real daemons on real UDP: one namespace holds a bridge, each
// host namespace is wired to it with a veth pair and gets an address in
// 198.18.0.0/15 (198.18.0.1 for host 1, and so on). Every host also has a
// private mount namespace with tmpfs over /run and /var/lib/corosync, so
// several corosync (or ringfenced) instances can share one machine without
// fighting over pid files and ring-id state.
//
// The harness can start, kill, stop and continue processes on a host, run
// commands there, cut and heal a host's link, block one direction between
// two hosts, and add packet loss (Loss: netem when the kernel has
// sch_netem, else nftables `numgen random` drops on the veths) or delay
// (Delay: netem only).
// Everything it creates is removed by a t.Cleanup, and Sweep removes what a
// crashed run left behind (namespace names carry the creating pid).
//
// On top sit the daemon helpers: a corosync.conf for the cluster, starting
// the daemon (corosync, or the command in RINGFENCE_DAEMON, always as
// DAEMON -f -c CONF), reading the membership through corosync-cmapctl,
// MeasureFailover for the formation/failover baseline, and Scenario, the
// text scripts in testdata/netns.
//
// It needs root and the ip, nsenter and unshare commands; NewCluster skips
// the test with a one-line reason when they are missing.
package netns

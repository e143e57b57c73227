// Package exec is Ringfence's service engine: the part of Corosync's
// exec/main.c and exec/sync.c that sits between totempg and the services.
//
// It owns:
//
//   - the exec header (qb_ipc_request_header: id = service<<16|fn at 0,
//     size at 8, padding ignored on input and zeroed on output) and the
//     service ids of Corosync 3.1.7 (CMAP 0 … WD 7);
//   - a registry of services and the dispatch of group "a" messages to
//     them by service and fn, with per-fn rx/tx counters that can be
//     published as runtime.services.<name>.<fn>.rx/tx cmap keys; unknown
//     services and fns are dropped and counted;
//   - the synchronisation protocol that runs after every REGULAR
//     configuration change (group "sync": SERVICE_BUILD, then per service
//     SyncProcess → BARRIER → SyncActivate), byte-compatible with
//     Corosync so that real peers complete "service synchronization";
//   - the cmap sync participant (service 0): the config_version exchange
//     and the mismatch verdict.
//
// Engine is a pure state machine in the style of etcd's raft: no
// goroutines, sockets, timers or clocks. The daemon feeds it
// configuration changes (ConfChg) and delivered messages
// (DeliverServices for group "a", DeliverSync for group "sync"), calls
// Process when Pending says a service's sync work is waiting (Corosync
// runs it as scheduled work after the current delivery batch), and
// drains Ready: messages to multicast in order (each names its totempg
// group and keeps the iovec boundaries Corosync uses, because they steer
// totempg packing), the "sync completed" event and log lines.
//
// Nothing in this package talks to totem/srp directly: configuration
// changes arrive as plain values so that the srp implementation can
// evolve independently.
package exec

// Package cpg is Corosync's closed process group service (service 2) as
// a pure state machine, plus its exec messages on the wire.
//
// It owns the cluster-wide process list (every process joined to every
// group, kept sorted by node id and pid exactly as exec/cpg.c keeps it),
// the local clients (one per IPC connection, identified by an opaque
// ClientID) and their join state, and the CPG part of the sync protocol
// (DOWNLIST, JOINLIST and the confchg callbacks generated on activate).
//
// There are no goroutines, sockets or clocks. The IPC layer maps each
// libcpg request onto a method (Connect, Join, Leave, Mcast, PartialMcast,
// Membership, LocalGet, IterationInitialize/Next/Finalize, Finalize,
// Disconnect); methods return Corosync's cs_error_t and queue exec
// messages. The daemon multicasts those (exec.Engine.Send) and feeds
// every delivered cpg exec message back through Deliver (the service is
// registered with the exec engine). What clients must be told comes out
// of Ready as Callbacks: CONFCHG, DELIVER, PARTIAL_DELIVER and
// TOTEM_CONFCHG, each addressed to one client, in the order Corosync
// sends them.
//
// Behaviour follows Corosync 3.1.7 including its quirks, which are noted
// where they happen (for example a client that left a group stays in
// LEAVE_STARTED, keeps receiving the group's messages and can only join
// again on a new connection).
package cpg

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
// where they happen:
//
//   - a client that left a group stays LEAVE_STARTED: it keeps receiving
//     the group's messages and confchgs and can only join again on a new
//     connection (JOIN answers EXIST or BUSY);
//   - received JOINLIST entries are stacked, so a NODEUP confchg lists the
//     joined processes from the last delivered entry back to the first;
//   - per-group confchgs of one sync step come in strcmp order of the
//     group names (names cut at the first NUL, as the C map keys are);
//   - a process no joinlist vouches for gets its own PROCDOWN confchg,
//     after the NODEUP ones;
//   - the DOWNLIST node array keeps stale ids of earlier syncs beyond its
//     count, and we send them too (byte-exact with the captures);
//   - an MCAST from a node with no process in the group is dropped for
//     every client, and clients are visited newest connection first;
//   - iteration returns each group's first process, then the others of
//     that group in reverse, with groups newest-first.
//
// Where we deliberately differ: names longer than 128 bytes in exec
// messages are rejected as malformed (Corosync would read past the
// name), and LEAVE checks the name length too.
package cpg

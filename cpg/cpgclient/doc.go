// Package cpgclient is the Go side of libcpg: a closed process group
// client over the libqb IPC client (ipc/client), without cgo. It talks to
// ringfenced and to a real corosync 3.1.7 alike, since both speak the same
// IPC and the same cpg request and event structs.
//
// It owns one IPC connection per Conn and the client-side model-v1
// semantics libcpg gives its users:
//
//   - Join, Leave, Mcast (agreed order; messages larger than one IPC
//     request are split into partial multicasts, as libcpg does),
//     Membership, LocalNodeID and the group iteration;
//   - a dispatch loop (Dispatch, Run) that turns the event channel into
//     Deliver, Confchg and TotemConfchg callbacks, reassembling partial
//     deliveries per sending process and dropping a half-assembled
//     message when its sender leaves the group;
//   - flow control: Mcast answers ErrTryAgain when the daemon raised the
//     request ring's flow-control level to 1 or 2 (libcpg's limit of 2 for
//     multicasts), and the caller retries.
//
// Callbacks run on the goroutine that calls Dispatch or Run, one at a
// time, in the order the daemon sent them. Requests may be issued from
// any goroutine, including from inside a callback.
//
// The request and event layouts are the C structs of ipc_cpg.h with every
// member aligned to 8 bytes; events are hostile input and a malformed one
// is reported as an error and counted (Conn.Malformed), never a panic.
package cpgclient

// Package node is the runtime of a Ringfence cluster node: the event loop
// that turns the pure state machines (totem/srp, totem/pg, exec and the
// services) into a daemon speaking Totem on real UDP sockets.
//
// One goroutine, the owner, holds every piece of protocol state: the srp
// node, the totempg packer and assembler, the exec engine with its
// services, the cmap store and the IPC server's dispatch. The transport's
// reader and the IPC server only hand data over channels. The owner runs a
// single timer armed from srp's Ready.Deadline and, after every input,
// carries out what the state machines asked for:
//
//   - packets are encoded (totem/wire) and sent: unicast tokens to one
//     nodeid, multicasts to the whole nodelist;
//   - deliveries go through the assembler and the dispatcher to the exec
//     engine (group "a" for services, group "sync" for the sync protocol);
//   - configuration changes are logged in Corosync's words, update
//     runtime.members.<id>.* in cmap, reset the assembler's per-node state
//     and start the exec sync; when the sync completes the node
//     acknowledges it to srp (TransAck), switches the assembler back to
//     the regular phase and opens the IPC door.
//
// The node also owns what a Corosync daemon keeps on the side: the ring
// sequence file (ringid_<nodeid> in the state directory), logging as the
// logging {} section asks, the pid lock file and sd_notify.
package node

// Package transport moves opaque totem datagrams between cluster nodes.
//
// It owns the sockets that Corosync 3.1's udpu and udp transports open, with
// the same addresses and ports, so that a Ringfence node and a Corosync node
// see each other exactly as two Corosync nodes would:
//
//   - udpu: one socket bound to ring0_addr:mcastport receives everything and
//     sends tokens (source port = mcastport); a "multicast" is a copy sent
//     to every nodelist member, the sender included, from the same socket
//     (corosync uses an ephemeral-port socket, but its receivers check only
//     the source address). Datagrams from addresses outside the nodelist
//     are dropped and counted (block_unlisted_ips).
//   - udp: a socket on mcastaddr:mcastport joined to the group, a token
//     socket on ring0_addr:mcastport, and one sending socket on
//     ring0_addr:mcastport-1 with multicast loop off; the sender's own copy
//     of a multicast is handed over in process.
//   - Memory: an in-process network for tests and the simulator.
//
// udpu hands the kernel a token visit's runs of multicast frames as one
// UDP_SEGMENT (GSO) datagram per member, and reads with UDP_GRO, splitting
// coalesced reads back into datagrams (gso.go, gro.go); on the wire and at
// every receiver the datagrams are those corosync would see.
// RINGFENCE_NO_GSO=1 turns both off.
//
// The bytes are not interpreted here beyond their length: decoding belongs
// to totem/wire, the protocol to totem/srp. A transport only promises to
// hand each received datagram over once, with its source address, the
// nodeid that address belongs to and the local receipt time.
package transport

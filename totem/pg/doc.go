// Package pg owns the totempg layer of Corosync 3.1: the envelope inside
// every totem mcast payload.
//
// Above totem/srp, which orders fixed-size packets, applications want to
// send messages of any size (up to 1 MiB) addressed to named groups. This
// package bridges the two the way Corosync's exec/totempg.c does on the wire:
//
//   - Packer queues application messages, packs small ones together into
//     one packet and cuts large ones into numbered fragments. A partly
//     filled packet waits for Flush, which the srp layer calls when the
//     token arrives. Packing decisions (which bytes end up in which packet,
//     fragment numbers, continuation bytes) follow totempg.c exactly, so a
//     real Corosync peer reassembles what we send.
//   - Assembler is the receiving half: fed the payloads srp delivers, in
//     order, it rebuilds complete messages per sending node, with separate
//     state for the regular and the transitional phase, and drops what it
//     cannot rebuild (a continuation whose start it never saw) until the
//     sender's next clean start.
//   - The group header (u16 count, u16 lengths, names) in front of every
//     message, and Dispatcher, which hands a message to each local group
//     instance whose names match. Corosync uses two groups: "a" for service
//     exec messages and "sync" for the post-membership sync protocol.
//
// Everything here is pure: no goroutines, timers or I/O. Integers are
// written little-endian; a receiver told that the sender was big-endian
// swaps the totempg counts and lengths and the group header, and passes
// the flag up so that services can convert their own payloads.
//
// # Where the receiver differs from Corosync
//
// The sending side is byte-exact. The receiving side agrees with Corosync
// on every stream a sender produces without loss, and differs only after
// a broken continuation chain (a node that missed the head of a message,
// typically across a ring change):
//
//   - Corosync drops the whole packet in which it notices the break, and
//     again the whole packet in which the orphaned message ends. We drop
//     only the orphaned piece and still deliver the complete messages that
//     share those packets, which is what members that saw the whole chain
//     deliver.
//   - Corosync leaves its fragment bookkeeping stale after throwing away,
//     and for packets of more than two messages keeps the wrong bytes as
//     the next partial. We restart cleanly with the new head.
//   - Corosync asserts (and aborts) when a reassembly outgrows its buffer;
//     we drop the message with ErrTooLarge and skip the rest of it.
//
// The continuation byte cannot reveal every loss: if the lost packet and
// the one before it carry the same fragment number (possible because the
// counter restarts at 1 whenever a small piece is staged), the next piece
// looks like a proper continuation. srp never loses packets inside a
// ring, so neither Corosync nor we guard against that.
package pg

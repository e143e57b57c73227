// Package sim runs many totem/srp nodes in one process on virtual time and
// checks extended virtual synchrony after every step.
//
// Everything is driven by one priority queue of events (packet arrivals,
// timer expiries, application broadcasts, faults) ordered by virtual time
// and insertion order, and all randomness comes from one seeded source, so a
// seed replays exactly. The network can lose, duplicate, delay and reorder
// packets, partition and heal, cut single directions of a link, and crash
// and restart nodes, whose ring seq survives in a MemRingSeqStore like the
// ringid file survives on disk.
//
// The Checker enforces the invariants of ARCHITECTURE.md: agreed order,
// no loss inside a configuration (members that move together from one
// configuration into the next delivered the same messages in it, and in
// the transitional configuration), self delivery, membership agreement, no
// duplicates and no messages from nowhere; and, once faults stop, liveness:
// one ring holding every live node within a bounded virtual time with every
// queued message delivered.
package sim

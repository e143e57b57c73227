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
//
// With EnableQuorum (RunConfig.Quorum; totemsim -quorum, on by default)
// every node also runs a votequorum machine, synchronised after each
// REGULAR configuration the way the daemon's exec sync does it (NODEINFO,
// then a barrier naming the ring; SyncActivate once every member's
// barrier is delivered), and the quorum invariant is checked after every
// step: no two nodes with disjoint memberships are quorate at once
// (votequorum.CheckSplitBrain). Random runs use the configurations whose
// corosync semantics promise it: plain majority, weighted votes and
// wait_for_all; two_node, auto_tie_breaker and last_man_standing allow two
// quorate sides by design or after some partition sequences and are left
// out. After healing, every node must be quorate with the full membership.
package sim

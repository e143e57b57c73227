// Package srp is the Totem Single Ring Protocol as a pure state machine,
// behaving on the wire like Corosync 3.1.7's totemsrp.
//
// A Node owns no goroutine, socket, timer, clock or randomness. The caller
// (the daemon's event loop, or the simulator in totem/sim) feeds it:
//
//	n := srp.New(cfg, store)        // loads the persisted ring seq, enters GATHER
//	n.Step(from, msg)               // a decoded wire message arrived
//	n.Tick(now)                     // virtual or real time advanced
//	n.Broadcast(payload, guarantee) // queue a totempg packet for ordered delivery
//	n.TransAck()                    // sync after the last REGULAR change completed
//	n.Leave()                       // clean shutdown: multicast a LEAVE join
//
// and then drains what it must do with rd := n.Ready(), carries it out
// (send rd.Packets, hand rd.Events to the upper layer in order, arm one
// timer for rd.Deadline) and calls n.Advance().
//
// Events are ordered: message deliveries and configuration changes come in
// one slice because extended virtual synchrony is about their relative
// order. On a membership change a node delivers, in this order, the old-ring
// messages it can deliver without a gap, the TRANSITIONAL configuration, the
// remaining recovered old-ring messages from transitional members, then the
// REGULAR configuration. Deliveries made during the change carry
// Recovered=true.
//
// Membership follows Corosync: states OPERATIONAL, GATHER, COMMIT, RECOVERY;
// joins with proc and failed lists; consensus; a commit token created by the
// lowest nodeid with ring seq = highest seen + 4; recovery that re-multicasts
// old-ring messages encapsulated in new-ring mcasts; retrans_flg counting
// before OPERATIONAL. Token hold, merge detect, FAILED TO RECEIVE and the
// fcc/backlog flow control are modelled with Corosync's constants.
package srp

// Time is a time.Duration since an epoch the caller picks (process start
// for the daemon, zero for the simulator); Tick never moves it backwards.
// Call Tick(now) before Step: timers a message arms count from the last
// Tick.
//
// Where this package departs from Corosync 3.1.7, on purpose
//
// None of these change a byte on the wire; they change when or whether a
// node acts, where Corosync's choice loses liveness or safety under the
// simulator's faults:
//
//   - A join identical to one sent less than a join interval ago is not
//     sent again on re-entering GATHER (the join timer still repeats it).
//     Nodes whose failed lists cannot be adopted from each other otherwise
//     answer each other's joins in a storm that grows with the ring.
//   - The consensus timer restarts on re-entering GATHER only when our
//     proc or failed list changed. Corosync restarts it every time, which
//     lets disagreeing joins postpone consensus forever ("continuously in
//     gather state").
//   - New-ring mcasts received in RECOVERY, recovery copies or not, go to
//     the recovery queue, and the regular queue only ever takes mcasts of
//     the ring it belongs to. After a failed recovery Corosync gathers
//     under the id of the ring it never installed and could file that
//     ring's mcasts among the old ring's seqs.
//   - TransAck moves messages left in the trans queue to the front of the
//     normal queue instead of stranding them (Corosync's upper layer never
//     leaves any there).
//   - Our own join counts only as our own agreement: echoes of older own
//     joins and a previous incarnation's LEAVE (fast restart) are ignored,
//     as are our own merge detects and mcasts of other rings. Corosync
//     would adopt the stale failed list and could list itself as failed.
//   - Process-pause detection (pause_flush) is not modelled: it needs a
//     wall clock; the daemon can drop stale joins itself.

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

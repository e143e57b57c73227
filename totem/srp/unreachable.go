package srp

// PeerUnreachable tells the node that an outside failure detector (the
// heartbeat of totem/heartbeat) found member id unreachable on every
// link. Instead of waiting for the token to be lost, the node puts id in
// its failed list and gathers at once. It reports whether it acted.
//
// Consensus then needs no timeout: the join carries id in its failed list,
// every survivor adopts that list from a member of its ring (joinProcess),
// so the candidates of all survivors agree as soon as their joins have
// crossed, and the lowest of them sends the commit token. A survivor whose
// own detector has not fired yet is pulled along by the first join.
//
// Nothing happens when id is not part of what the node is forming or runs
// (an unknown node, a node already failed, a node outside the ring) or is
// the node itself: a report about a node that is not in the membership
// must not disturb a healthy ring.
func (n *Node) PeerUnreachable(id uint32) bool {
	if n.stopped || id == n.id || id == 0 {
		return false
	}
	switch n.state {
	case StateOperational:
		if !setHas(n.memb, id) {
			return false
		}
	case StateGather:
		if !setHas(n.procList, id) || setHas(n.failedList, id) {
			return false
		}
	case StateCommit, StateRecovery:
		if !setHas(n.newMemb, id) {
			return false
		}
	default:
		return false
	}
	n.notice("A processor failed, forming new configuration: node %d is unreachable on every link (heartbeat).", id)
	n.failedList = setAdd(n.failedList, id)
	switch n.state {
	case StateRecovery:
		n.recoveryTokenLoss("heartbeat: a member of the new ring is unreachable")
		n.orfTokenDiscard = true
	default:
		n.gatherEnter("heartbeat: a member is unreachable on every link")
	}
	return true
}

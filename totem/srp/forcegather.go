package srp

// ForceGather is what setting runtime.force_gather does in Corosync
// (totemsrp_force_gather): the node acts as if its token timer had just
// expired, whatever its state, so an operational ring forms again.
// Call Tick first, as before Step.
func (n *Node) ForceGather() {
	if n.stopped {
		return
	}
	n.cancel(timerTokenLoss)
	n.tokenLoss()
}

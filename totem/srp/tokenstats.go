package srp

import "time"

// tokenLog remembers when the valid tokens arrived (Corosync's
// stats.token ring), for the token warning and the stats.srp averages.
type tokenLog struct {
	lastRx time.Duration // when the newest valid token arrived; 0 = never
}

// tokenReceived records a valid token (not a retransmitted copy, of our
// ring, in OPERATIONAL or RECOVERY), as Corosync's TOKEN_RECEIVED
// callback does.
func (n *Node) tokenReceived() { n.tokenLog.lastRx = n.now }

// sinceTokenReceived is how long ago the last valid token arrived, or
// the node's whole lifetime when none has.
func (n *Node) sinceTokenReceived() time.Duration { return n.now - n.tokenLog.lastRx }

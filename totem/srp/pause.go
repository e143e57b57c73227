package srp

import "time"

// Corosync notices when its process was not scheduled for a while (a VM
// pause, SIGSTOP, swapping): a timer re-armed every fifth of the token
// timeout stamps the time, and a join that arrives more than half a token
// timeout after the last stamp means the process slept. Everything queued
// on the socket meanwhile is stale, so it logs "Process pause detected
// for N ms, flushing membership messages." and discards what is queued
// instead of running the membership protocol on it.
//
// srp has no socket. The timer here stamps the time it was due, not the
// time it ran, so that a timer that fires late after a pause does not
// hide the pause. The datagrams that waited in the socket are those the
// caller steps at the instant of the detection (before its clock moves
// on with the next Tick): srp drops them, the join that revealed the
// pause included.

// pauseCheckEvery is the stamping timer's period (token timeout / 5).
func (t Timing) pauseCheckEvery() time.Duration { return t.Token / 5 }

// startPauseTimer stamps now and arms the timer, as Corosync does at
// initialization and again when it enters OPERATIONAL.
func (n *Node) startPauseTimer() {
	n.pauseStamp = n.now
	n.arm(timerPause, n.cfg.Timing.pauseCheckEvery())
}

// pauseTimer runs when the timer was due at due. The stamp never goes
// back (the first Tick or a flush may have set a later one).
func (n *Node) pauseTimer(due time.Duration) {
	n.pauseStamp = max(n.pauseStamp, due)
	n.arm(timerPause, n.cfg.Timing.pauseCheckEvery())
}

// firstTick stamps the time the caller's loop starts running the node:
// what it did between New and then (opening sockets, starting helpers)
// is no pause. Corosync stamps at initialization, for the same reason.
func (n *Node) firstTick(now time.Duration) {
	if !n.ticked {
		n.ticked = true
		n.pauseStamp = max(n.pauseStamp, now)
	}
}

// pauseFlush reports whether a message must be dropped: it came during a
// flush, or it is a join that reveals a pause, which starts one.
func (n *Node) pauseFlush(join bool) bool {
	if n.pauseFlushing {
		if n.now == n.pauseFlushAt {
			return true
		}
		n.pauseFlushing = false
	}
	if !join {
		return false
	}
	paused := n.now - n.pauseStamp
	if paused <= n.cfg.Timing.Token/2 {
		return false
	}
	n.notice("Process pause detected for %d ms, flushing membership messages.", paused.Milliseconds())
	n.stats.PauseFlushes++
	n.pauseFlushing, n.pauseFlushAt = true, n.now
	// The flush dealt with this pause: later joins are judged afresh.
	n.pauseStamp = n.now
	return true
}

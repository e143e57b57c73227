package srp

import "time"

// tokenLogSize is Corosync's TOTEM_TOKEN_STATS_MAX: how many valid tokens
// the averages look back over.
const tokenLogSize = 100

// tokenRecord is one valid token's visit.
type tokenRecord struct {
	rx, tx  time.Duration // tx 0: the visit did not complete
	backlog uint32        // our backlog when the token came (fcc's cbl)
}

// tokenLog remembers the recent valid tokens (Corosync's stats.token
// ring): the token warning reports the age of the newest, and the
// stats.srp averages are computed over all of them.
type tokenLog struct {
	recs             [tokenLogSize]tokenRecord
	earliest, latest int
}

// tokenReceived records a valid token (not a retransmitted copy, of our
// ring, in OPERATIONAL or RECOVERY), as Corosync's TOKEN_RECEIVED
// callback does.
func (n *Node) tokenReceived() {
	l := &n.tokenLog
	l.latest = (l.latest + 1) % tokenLogSize
	if l.latest == l.earliest {
		l.earliest = (l.earliest + 1) % tokenLogSize
		l.recs[l.earliest] = tokenRecord{}
	}
	l.recs[l.latest] = tokenRecord{rx: n.now}
}

// tokenDone records the end of a token visit (passed on or held), with
// the backlog flow control computed for it. The caller still has to send
// and deliver what the visit produced: TokenSent moves the end there.
func (n *Node) tokenDone() {
	r := &n.tokenLog.recs[n.tokenLog.latest]
	r.tx, r.backlog = n.now, n.cbl
	if r.tx == 0 {
		r.tx = 1 // a visit at time 0 still completed
	}
	n.rd.TokenVisit = true
}

// TokenSent ends the latest token visit at tx, on the caller's clock,
// after it sent the visit's packets and delivered its messages; rx, when
// not 0, is when it began handling the token. Corosync's hold time runs
// from its TOKEN_RECEIVED callback to its TOKEN_SENT one, which it calls
// after sending the token and delivering to the services; srp alone
// sees the visit as instantaneous, since its clock moves only with Tick.
// A visit that did not complete is left alone.
func (n *Node) TokenSent(rx, tx time.Duration) {
	r := &n.tokenLog.recs[n.tokenLog.latest]
	if r.tx == 0 {
		return
	}
	// Keep rotation intervals consistent: the start may only move later
	// than what srp recorded, and not past the end.
	if rx > r.rx && rx <= tx {
		r.rx = rx
	}
	if tx > r.tx {
		r.tx = tx
	}
}

// sinceTokenReceived is how long ago the last valid token arrived, or
// the node's whole lifetime when none has (Corosync: since boot).
func (n *Node) sinceTokenReceived() time.Duration {
	return n.now - n.tokenLog.recs[n.tokenLog.latest].rx
}

// TokenTimes summarises the recent valid tokens for stats.srp.
type TokenTimes struct {
	// Tokens is how many visits the means cover; 0 leaves them unset
	// (Corosync then keeps publishing its previous values).
	Tokens int
	// Rotation is the mean time between two tokens (mtt_rx_token).
	Rotation time.Duration
	// Hold is the mean time from receiving the token to passing it on
	// (avg_token_workload).
	Hold time.Duration
	// Backlog is the mean backlog the flow control saw (avg_backlog_calc).
	Backlog uint32
	// SinceLast is time_since_token_last_received.
	SinceLast time.Duration
}

// TokenTimes computes what Corosync's stats updater does: means over the
// visits in the log whose predecessor is also in it. Corosync adds
// tx-rx for a visit that did not complete (tx 0), which wraps around;
// such a visit counts here with a hold of 0.
func (n *Node) TokenTimes() TokenTimes {
	l := &n.tokenLog
	tt := TokenTimes{SinceLast: n.sinceTokenReceived()}
	var rot, hold time.Duration
	var backlog uint64
	for t := l.latest; ; {
		prev := (t + tokenLogSize - 1) % tokenLogSize
		if prev == l.earliest {
			break
		}
		r := l.recs[t]
		if r.tx != 0 || r.rx != l.recs[prev].rx {
			rot += r.rx - l.recs[prev].rx
			if r.tx != 0 {
				hold += r.tx - r.rx
			}
			backlog += uint64(r.backlog)
			tt.Tokens++
		}
		t = prev
	}
	if tt.Tokens > 0 {
		tt.Rotation = rot / time.Duration(tt.Tokens)
		tt.Hold = hold / time.Duration(tt.Tokens)
		tt.Backlog = uint32(backlog / uint64(tt.Tokens))
	}
	return tt
}

// ClearTokenTimes forgets the token log, as corosync-cmapctl -C totem
// does (Corosync zeroes its whole stats structure).
func (n *Node) ClearTokenTimes() { n.tokenLog = tokenLog{} }

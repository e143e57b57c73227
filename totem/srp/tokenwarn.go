package srp

import "time"

// Corosync warns the operator when the token is late, well before it is
// declared lost: a timer armed with the token-loss timer, at TokenWarning
// percent of the token timeout, logs at notice level how long ago the
// last valid token arrived and re-arms itself for as long as no token
// comes (every token re-arms the loss timer, and with it this one).

// tokenWarningAfter is the warning interval, computed in whole
// milliseconds as Corosync does; 0 means warnings are disabled.
func (t Timing) tokenWarningAfter() time.Duration {
	if t.TokenWarning <= 0 {
		return 0
	}
	return time.Duration(int64(t.TokenWarning)*t.Token.Milliseconds()/100) * time.Millisecond
}

// followTokenLoss keeps the warning timer in step with the token-loss
// timer: armed (or cancelled) whenever that one is.
func (n *Node) followTokenLoss(armed bool) {
	after := n.cfg.Timing.tokenWarningAfter()
	if !armed || after <= 0 {
		n.timers[timerTokenWarning] = 0
		return
	}
	n.arm(timerTokenWarning, after)
}

// tokenWarning fires when the token is overdue. A reload may have set
// token_warning to 0 since the timer was armed: then it just stops.
func (n *Node) tokenWarning() {
	after := n.cfg.Timing.tokenWarningAfter()
	if after <= 0 {
		return
	}
	// Corosync's wording, trailing space included, so that existing log
	// filters keep matching.
	n.notice("Token has not been received in %d ms ", n.sinceTokenReceived().Milliseconds())
	n.arm(timerTokenWarning, after)
}

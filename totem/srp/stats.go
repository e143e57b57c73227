package srp

// Stats mirrors Corosync's stats.srp.* counters.
type Stats struct {
	// OrfTokenTx counts, as Corosync 3.1.7 does, only the tokens this
	// node created as a new ring's representative; every forwarded token
	// counts in TokenForwardTx.
	OrfTokenTx, OrfTokenRx               uint64
	MembMergeDetectTx, MembMergeDetectRx uint64
	MembJoinTx, MembJoinRx               uint64
	McastTx, McastRetx, McastRx          uint64
	MembCommitTokenTx, MembCommitTokenRx uint64
	TokenHoldCancelTx, TokenHoldCancelRx uint64
	OperationalEntered                   uint64
	OperationalTokenLost                 uint64
	GatherEntered, GatherTokenLost       uint64
	CommitEntered, CommitTokenLost       uint64
	RecoveryEntered, RecoveryTokenLost   uint64
	ConsensusTimeouts                    uint64
	RxMsgDropped                         uint64
	ContinuousGather                     uint64
	// FailedToRecv counts FAILED TO RECEIVE events; Corosync only logs
	// them, so it has no stats.srp key.
	FailedToRecv uint64
	// TokenForwardTx counts tokens passed on to the next member, which
	// Corosync does not count.
	TokenForwardTx uint64
	// PauseFlushes counts detected process pauses ("Process pause
	// detected"); Corosync only logs them.
	PauseFlushes uint64
}

// Keys returns the counters under their Corosync cmap names, without the
// "stats.srp." prefix.
func (s Stats) Keys() map[string]uint64 {
	return map[string]uint64{
		"orf_token_tx":           s.OrfTokenTx,
		"orf_token_rx":           s.OrfTokenRx,
		"memb_merge_detect_tx":   s.MembMergeDetectTx,
		"memb_merge_detect_rx":   s.MembMergeDetectRx,
		"memb_join_tx":           s.MembJoinTx,
		"memb_join_rx":           s.MembJoinRx,
		"mcast_tx":               s.McastTx,
		"mcast_retx":             s.McastRetx,
		"mcast_rx":               s.McastRx,
		"memb_commit_token_tx":   s.MembCommitTokenTx,
		"memb_commit_token_rx":   s.MembCommitTokenRx,
		"token_hold_cancel_tx":   s.TokenHoldCancelTx,
		"token_hold_cancel_rx":   s.TokenHoldCancelRx,
		"operational_entered":    s.OperationalEntered,
		"operational_token_lost": s.OperationalTokenLost,
		"gather_entered":         s.GatherEntered,
		"gather_token_lost":      s.GatherTokenLost,
		"commit_entered":         s.CommitEntered,
		"commit_token_lost":      s.CommitTokenLost,
		"recovery_entered":       s.RecoveryEntered,
		"recovery_token_lost":    s.RecoveryTokenLost,
		"consensus_timeouts":     s.ConsensusTimeouts,
		"rx_msg_dropped":         s.RxMsgDropped,
		"continuous_gather":      s.ContinuousGather,
	}
}

package srp

// Stats mirrors Corosync's stats.srp.* counters.
type Stats struct {
	OrfTokenTx, OrfTokenRx                   uint64
	MembMergeDetectTx, MembMergeDetectRx     uint64
	MembJoinTx, MembJoinRx                   uint64
	McastTx, McastRetx, McastRx              uint64
	MembCommitTokenTx, MembCommitTokenRx     uint64
	TokenHoldCancelTx, TokenHoldCancelRx     uint64
	OperationalEntered, OperationalTokenLost uint64
	GatherEntered, GatherTokenLost           uint64
	CommitEntered, CommitTokenLost           uint64
	RecoveryEntered, RecoveryTokenLost       uint64
	ConsensusTimeouts                        uint64
	RxMsgDropped                             uint64
	ContinuousGather                         uint64
	FailedToRecv                             uint64
}

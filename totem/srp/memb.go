package srp

import (
	"github.com/ringfence/ringfence/totem/wire"
)

// gatherEnter is memb_state_gather_enter: announce our view in a join and
// wait for consensus.
func (n *Node) gatherEnter(reason string) {
	n.orfTokenDiscard = true
	n.originatedToken = false
	n.procList = setAdd(n.procList, n.id)
	n.sendJoin()
	if n.timers[timerJoin] == 0 || n.state != StateGather {
		n.arm(timerJoin, n.cfg.Timing.Join)
	}
	// Corosync restarts the consensus timer on every re-entry. Joins that
	// keep disagreeing without changing anyone's view (a failed list the
	// receiver may not adopt because the sender is not in its membership)
	// then postpone it forever and no ring forms ("continuously in gather
	// state"). We restart it only when our view changed; views only grow,
	// so a gather round is bounded.
	viewChanged := !setEqual(n.consensusProc, n.procList) || len(n.consensusProc) != len(n.procList) ||
		!setEqual(n.consensusFailed, n.failedList) || len(n.consensusFailed) != len(n.failedList)
	if n.state != StateGather || n.timers[timerConsensus] == 0 || viewChanged {
		n.arm(timerConsensus, n.cfg.Timing.Consensus)
		n.consensusProc = append([]uint32(nil), n.procList...)
		n.consensusFailed = append([]uint32(nil), n.failedList...)
	}
	n.cancel(timerTokenRetransmit)
	n.cancel(timerTokenLoss)
	n.cancel(timerMerge)
	n.cancel(timerHold)
	n.consensus = map[uint32]bool{n.id: true}
	if n.state == StateGather && reason == "The consensus timeout expired." {
		n.stats.ContinuousGather++
	}
	n.stats.GatherEntered++
	n.setState(StateGather, reason)
}

// sendJoin multicasts our view. Re-entering GATHER repeats the join at
// once in Corosync; when the view has not changed since a join sent less
// than a join interval ago we leave the repeat to the join timer. Without
// this, nodes whose failed lists they cannot adopt from each other (the
// sender is not in the receiver's membership) bounce identical joins in a
// storm that grows with every node that answers.
func (n *Node) sendJoin() {
	if n.lastJoinAt != 0 && n.now-n.lastJoinAt < n.cfg.Timing.Join &&
		n.lastJoinSeq == n.ringID.Seq && setEqual(n.lastJoinProc, n.procList) && setEqual(n.lastJoinFailed, n.failedList) &&
		len(n.lastJoinProc) == len(n.procList) && len(n.lastJoinFailed) == len(n.failedList) {
		return
	}
	n.lastJoinAt = n.now
	if n.lastJoinAt == 0 {
		n.lastJoinAt = 1
	}
	n.lastJoinSeq = n.ringID.Seq
	n.lastJoinProc = append([]uint32(nil), n.procList...)
	n.lastJoinFailed = append([]uint32(nil), n.failedList...)
	n.stats.MembJoinTx++
	n.send(0, &wire.Join{
		Header:     n.header(wire.TypeJoin),
		SystemFrom: n.id,
		RingSeq:    n.ringID.Seq,
		ProcList:   append([]uint32(nil), n.procList...),
		FailedList: append([]uint32(nil), n.failedList...),
	})
}

func (n *Node) candidates() []uint32 { return setSub(n.procList, n.failedList) }

func (n *Node) consensusAgreed() bool {
	for _, id := range n.candidates() {
		if !n.consensus[id] {
			return false
		}
	}
	return true
}

func (n *Node) lowestInConfig() bool {
	c := n.candidates()
	return len(c) > 0 && c[0] == n.id
}

func (n *Node) consensusExpired() {
	n.stats.ConsensusTimeouts++
	if n.consensusAgreed() {
		n.consensus = map[uint32]bool{n.id: true}
		n.arm(timerTokenLoss, n.cfg.Timing.Token)
		return
	}
	var missing []uint32
	for _, id := range n.procList {
		if !n.consensus[id] {
			missing = append(missing, id)
		}
	}
	n.failedList = setAdd(n.failedList, missing...)
	n.gatherEnter("consensus timeout")
}

// handleJoin is message_handler_memb_join.
func (n *Node) handleJoin(j *wire.Join) {
	if j.RingSeq > n.tokenRingIDSeq {
		n.tokenRingIDSeq = j.RingSeq
	}
	// Our own join comes back to us and only counts as our own agreement.
	// An echo of an older view (reordered by the network) or the LEAVE of
	// our previous incarnation (a fast restart) would otherwise make us
	// adopt stale failures, or put ourselves in our own failed list, where
	// we can never form a ring again.
	if j.SystemFrom == n.id && (j.Header.NodeID == wire.LeaveNodeID ||
		!setEqual(j.ProcList, n.procList) || !setEqual(j.FailedList, n.failedList)) {
		return
	}
	switch n.state {
	case StateOperational:
		if setHas(j.FailedList, n.id) {
			return
		}
		if setHas(n.memb, j.SystemFrom) && j.RingSeq < n.ringID.Seq {
			return
		}
		n.joinProcess(j)
	case StateGather:
		n.joinProcess(j)
	case StateCommit:
		if setHas(n.newMemb, j.SystemFrom) && j.RingSeq >= n.ringID.Seq {
			n.joinProcess(j)
			n.gatherEnter("join during commit state")
		}
	case StateRecovery:
		if setHas(n.newMemb, j.SystemFrom) && j.RingSeq >= n.ringID.Seq {
			n.joinProcess(j)
			n.recoveryTokenLoss("join during recovery")
		}
	}
}

func (n *Node) joinProcess(j *wire.Join) {
	leave := j.Header.NodeID == wire.LeaveNodeID
	if leave && len(j.FailedList) > 0 {
		n.leftCleanly[j.FailedList[len(j.FailedList)-1]] = true
	}
	gathered := false
	switch {
	case setEqual(j.ProcList, n.procList) && setEqual(j.FailedList, n.failedList):
		if !leave {
			n.consensus[j.SystemFrom] = true
		}
		if n.consensusAgreed() && n.failedToRecv {
			// Everyone agreed that we failed to receive: form a ring of one.
			n.failedToRecv = false
			n.procList = []uint32{n.id}
			n.failedList = nil
			n.commitTokenCreate()
			n.commitEnter()
			return
		}
		if n.consensusAgreed() && n.lowestInConfig() {
			n.commitTokenCreate()
			n.commitEnter()
			return
		}
	case setSubset(j.ProcList, n.procList) && setSubset(j.FailedList, n.failedList):
	case setHas(n.failedList, j.SystemFrom):
	default:
		n.procList = setAdd(n.procList, j.ProcList...)
		if setHas(j.FailedList, n.id) {
			n.failedList = setAdd(n.failedList, j.SystemFrom)
		} else if setHas(n.memb, j.SystemFrom) {
			if !setHas(n.failedList, j.SystemFrom) {
				n.failedList = setAdd(n.failedList, j.FailedList...)
			} else {
				n.failedList = setAdd(n.failedList, setSub(j.FailedList, n.memb)...)
			}
		}
		n.gatherEnter("merge during join")
		gathered = true
		// The join that changed our view may announce exactly the view we
		// now hold (a survivor adopting the failed list of the first one
		// to notice). Corosync counts its sender only when that join comes
		// again, on the sender's join timer: a wait of up to one join
		// timeout in every failover. The join says the same now as its
		// repeat would, so it counts now.
		if !leave && setEqual(j.ProcList, n.procList) && setEqual(j.FailedList, n.failedList) &&
			len(j.ProcList) == len(n.procList) && len(j.FailedList) == len(n.failedList) {
			n.consensus[j.SystemFrom] = true
			if n.consensusAgreed() && n.lowestInConfig() && !n.failedToRecv {
				n.commitTokenCreate()
				n.commitEnter()
				return
			}
		}
	}
	if !gathered && n.state == StateOperational {
		n.gatherEnter("join during operational state")
	}
}

func (n *Node) handleMergeDetect(m *wire.MergeDetect) {
	// Our own merge detect from another ring can only be a previous
	// incarnation's, still in flight.
	if m.RingID == n.ringID || m.SystemFrom == n.id {
		return
	}
	switch n.state {
	case StateOperational:
		n.procList = setAdd(n.procList, m.SystemFrom)
		n.gatherEnter("merge during operational state")
	case StateGather:
		if !setHas(n.procList, m.SystemFrom) {
			n.procList = setAdd(n.procList, m.SystemFrom)
			n.gatherEnter("merge during gather state")
		}
	}
}

// commitTokenCreate is run by the lowest nodeid once consensus is reached.
func (n *Node) commitTokenCreate() {
	members := sorted(n.candidates())
	n.commitToken = &wire.CommitToken{
		Header:   n.header(wire.TypeCommitToken),
		RingID:   wire.RingID{Rep: n.id, Seq: n.tokenRingIDSeq + 4},
		Addr:     members,
		MembList: make([]wire.CommitMember, len(members)),
	}
}

func (n *Node) handleCommitToken(ct *wire.CommitToken) {
	if len(ct.Addr) == 0 || len(ct.Addr) != len(ct.MembList) || ct.MembIndex < 0 || int(ct.MembIndex) > len(ct.Addr) {
		n.stats.RxMsgDropped++
		return
	}
	switch n.state {
	case StateGather:
		if setEqual(ct.Addr, n.candidates()) && len(ct.Addr) == len(n.candidates()) && ct.RingID.Seq > n.ringID.Seq {
			if int(ct.MembIndex) >= len(ct.Addr) {
				return
			}
			n.commitToken = cloneMsg(ct).(*wire.CommitToken)
			n.commitEnter()
		}
	case StateCommit:
		if ct.RingID.Seq == n.ringID.Seq && int(ct.MembIndex) == len(ct.Addr) {
			n.recoveryEnter(cloneMsg(ct).(*wire.CommitToken))
		}
	case StateRecovery:
		if n.id == n.ringID.Rep && !n.originatedToken {
			n.originatedToken = true
			n.sendInitialToken()
			n.arm(timerTokenLoss, n.cfg.Timing.Token)
			n.arm(timerTokenRetransmit, n.cfg.Timing.TokenRetransmit)
		}
	}
}

func (n *Node) oldRingSave() {
	if n.oldRingSaved {
		return
	}
	n.oldRingSaved = true
	n.oldRingID = n.ringID
	n.oldAru = n.aru
	n.oldHighSeq = n.highSeqReceived
}

func (n *Node) recoveryTokenLoss(reason string) {
	n.aru = n.oldAru
	n.highSeqReceived = n.oldHighSeq
	n.gatherEnter(reason)
}

// commitEnter fills our entry of the commit token, adopts and persists the
// new ring id and passes the token on.
func (n *Node) commitEnter() {
	n.oldRingSave()
	ct := n.commitToken
	idx := int(ct.MembIndex)
	n.newMemb = append([]uint32(nil), ct.Addr...)
	e := &ct.MembList[idx]
	e.RingID = n.oldRingID
	e.Aru = n.oldAru
	n.receivedFlg = n.aru == n.highSeqReceived
	e.ReceivedFlg = b2u(n.receivedFlg)
	e.HighDelivered = n.highDelivered
	high := e.Aru
	for i := 0; i <= idx; i++ {
		if ct.MembList[i].RingID == e.RingID && seqLT(high, ct.MembList[i].Aru) {
			high = ct.MembList[i].Aru
		}
	}
	for i := 0; i <= idx; i++ {
		if ct.MembList[i].RingID == e.RingID && seqLT(ct.MembList[i].Aru, high) {
			ct.MembList[i].ReceivedFlg = 0
			if i == idx {
				n.receivedFlg = false
			}
		}
	}
	ct.MembIndex++
	n.tokenTarget = ct.Addr[int(ct.MembIndex)%len(ct.Addr)]
	n.cancel(timerJoin)
	n.cancel(timerConsensus)
	n.ringID = ct.RingID
	if err := n.persist.StoreRingSeq(n.ringID.Seq); err != nil {
		n.notice("Failed to store ring seq %d: %v", n.ringID.Seq, err)
	}
	n.tokenRingIDSeq = n.ringID.Seq
	n.setState(StateCommit, "commit token")
	n.stats.CommitEntered++
	n.stats.ContinuousGather = 0
	n.arm(timerTokenRetransmit, n.cfg.Timing.TokenRetransmit)
	n.arm(timerTokenLoss, n.cfg.Timing.Token)
	n.trc, n.pbl, n.cbl = 0, 0, 0
	n.sendCommitToken(ct)
}

func (n *Node) sendCommitToken(ct *wire.CommitToken) {
	ct.TokenSeq++
	ct.Header = n.header(wire.TypeCommitToken)
	n.lastToken = cloneMsg(ct)
	n.stats.MembCommitTokenTx++
	n.send(n.tokenTarget, cloneMsg(ct))
	n.arm(timerTokenRetransmit, n.cfg.Timing.TokenRetransmit)
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// recoveryEnter works out the transitional membership and queues the
// old-ring messages that some transitional member may lack.
func (n *Node) recoveryEnter(ct *wire.CommitToken) {
	n.orfTokenDiscard = false
	n.highRingDelivered = 0
	n.recovery = newSortQueue(0)
	n.retransQueue = nil
	lowRingAru := n.oldHighSeq
	n.sendCommitToken(ct)
	n.tokenSeq = ^uint32(0)

	n.transMemb = nil
	for i, id := range ct.Addr {
		if setHas(n.memb, id) && ct.MembList[i].RingID == n.oldRingID {
			n.transMemb = append(n.transMemb, id)
		}
	}
	allReceived := true
	for i, id := range ct.Addr {
		if setHas(n.transMemb, id) && ct.MembList[i].ReceivedFlg == 0 {
			n.deliverMemb = append([]uint32(nil), n.transMemb...)
			allReceived = false
			break
		}
	}
	if !allReceived {
		for i, id := range ct.Addr {
			if setHas(n.deliverMemb, id) && ct.MembList[i].RingID == n.oldRingID {
				if seqLT(ct.MembList[i].Aru, lowRingAru) {
					lowRingAru = ct.MembList[i].Aru
				}
				if seqLT(n.highRingDelivered, ct.MembList[i].HighDelivered) {
					n.highRingDelivered = ct.MembList[i].HighDelivered
				}
			}
		}
		for s := lowRingAru + 1; seqLTE(s, n.oldHighSeq) && lowRingAru != n.oldHighSeq; s++ {
			it := n.regular.get(s)
			if it == nil {
				continue
			}
			n.retransQueue = append(n.retransQueue, &item{
				from: n.id, system: n.id, encap: wire.EncapsulatedRecovery,
				payload: encodeInner(it),
			})
		}
	}
	n.aru = 0
	n.aruCount = 0
	n.seqUnchanged = 0
	n.highSeqReceived = 0
	n.installSeq = 0
	n.lastReleased = 0
	n.retransFlgCount = 0
	n.rotationCounter = 0
	n.arm(timerTokenLoss, n.cfg.Timing.Token)
	n.arm(timerTokenRetransmit, n.cfg.Timing.TokenRetransmit)
	n.setState(StateRecovery, "commit token completed the ring")
	n.stats.RecoveryEntered++
	n.stats.ContinuousGather = 0
}

func (n *Node) sendInitialToken() {
	tok := &wire.OrfToken{
		Header:  n.header(wire.TypeOrfToken),
		Aru:     ^uint32(0),
		AruAddr: n.id,
		RingID:  n.ringID,
	}
	n.setRetransFlg = len(n.retransQueue) > 0
	tok.RetransFlg = b2u(n.setRetransFlg)
	n.stats.OrfTokenTx++
	n.lastToken = cloneMsg(tok)
	n.send(n.tokenTarget, tok)
}

// operationalEnter installs the new ring: deliver what can be delivered
// from the old ring, the transitional configuration, the rest of the
// recovered messages, then the regular configuration.
func (n *Node) operationalEnter() {
	n.originatedToken = false
	n.consensus = map[uint32]bool{n.id: true}
	n.oldRingSaved = false

	// Unwrap recovered old-ring messages into the old ring's queue.
	for s := uint32(1); seqLTE(s, n.aru) && n.aru != 0; s++ {
		rit := n.recovery.get(s)
		if rit == nil || rit.encap != wire.EncapsulatedRecovery {
			continue
		}
		inner, err := decodeInner(rit.payload)
		if err != nil {
			n.stats.RxMsgDropped++
			continue
		}
		if inner.ringID != n.oldRingID || !n.regular.inRange(inner.seq) || n.regular.get(inner.seq) != nil {
			continue
		}
		n.regular.add(inner.seq, inner)
		if seqLT(n.oldHighSeq, inner.seq) {
			n.oldHighSeq = inner.seq
		}
	}

	aruSave := n.aru
	n.aru = n.oldAru
	n.deliver(false, n.oldHighSeq, true)

	left := setSub(n.memb, n.transMemb)
	joined := setSub(n.newMemb, n.transMemb)
	var failed []uint32
	for _, id := range left {
		if !n.leftCleanly[id] {
			failed = append(failed, id)
		}
	}
	n.memb = append([]uint32(nil), n.newMemb...)
	n.setRetransFlg = false
	n.rd.Events = append(n.rd.Events, Event{Conf: &ConfChg{
		Type: Transitional, RingID: n.ringID, Members: sorted(n.transMemb), Left: left, Failed: failed,
	}})
	n.waitingTransAck = true
	n.deliver(true, n.oldHighSeq, true)
	n.aru = aruSave
	reg := &ConfChg{Type: Regular, RingID: n.ringID, Members: sorted(n.newMemb), Joined: joined, Left: left, Failed: failed}
	n.rd.Events = append(n.rd.Events, Event{Conf: reg})

	// The recovery queue becomes the regular queue of the new ring. The
	// encapsulated prefix has been delivered above; anything after it is
	// new-ring traffic from members that became operational first.
	n.regular = n.recovery
	n.regularRing = n.ringID
	n.recovery = newSortQueue(0)
	n.lastAru = 0
	n.procList = append([]uint32(nil), n.newMemb...)
	n.failedList = nil
	hd := uint32(0)
	for {
		it := n.regular.get(hd + 1)
		if it == nil || it.encap != wire.EncapsulatedRecovery || !seqLTE(hd+1, n.highSeqReceived) {
			break
		}
		hd++
	}
	n.highDelivered = hd
	n.regular.release(hd)
	n.lastReleased = hd

	n.notice("%s", reg.Notice())
	if len(failed) > 0 {
		n.notice("Failed to receive the leave message. failed:%s", idList(failed))
	}
	n.leftCleanly = map[uint32]bool{}
	n.setState(StateOperational, "recovery complete")
	n.stats.OperationalEntered++
	n.arm(timerPause, n.cfg.Timing.pauseCheckEvery()) // Corosync restarts the period here
	n.stats.ContinuousGather = 0
	n.receivedFlg = true
	n.oldRingID = n.ringID
	// New-ring messages already received can go up now.
	n.deliver(false, n.highSeqReceived, false)
}

package srp

import (
	"strconv"

	"github.com/ringfence/ringfence/totem/wire"
)

// handleToken is Corosync's message_handler_orf_token.
func (n *Node) handleToken(in *wire.OrfToken) {
	if n.orfTokenDiscard {
		return
	}
	tok := cloneMsg(in).(*wire.OrfToken)
	if len(tok.RtrList) > wire.MaxRtrEntries {
		tok.RtrList = tok.RtrList[:wire.MaxRtrEntries]
	}

	// An unchanged seq means an idle ring: count towards token hold and
	// let the representative announce itself with merge detects.
	if tok.Seq == n.lastSeq {
		if n.timers[timerMerge] == 0 {
			n.arm(timerMerge, n.cfg.Timing.Merge)
		}
		n.seqUnchanged++
	} else {
		n.cancel(timerMerge)
		n.cancel(timerHold)
		n.seqUnchanged = 0
	}
	n.lastSeq = tok.Seq

	rep := n.ringID.Rep == n.id
	n.tokenHeld = false
	if rep && n.seqUnchanged > n.cfg.Timing.SeqnoUnchangedConst {
		n.tokenHeld = true
	} else if !rep && n.seqUnchanged >= n.cfg.Timing.SeqnoUnchangedConst {
		n.tokenHeld = true
	}
	forward := !(rep && n.tokenHeld)

	if n.state == StateCommit || tok.RingID != n.ringID {
		return
	}
	if seqLTE(tok.TokenSeq, n.tokenSeq) {
		return // a retransmitted copy we already handled
	}
	n.tokenReceived()
	if n.state == StateOperational {
		n.messagesFree(tok.Aru)
	}

	lastAru := n.lastAru
	n.lastAru = tok.Aru

	allowed := n.fccCalculate(tok)
	remcast := n.tokenRtr(tok, &allowed)
	n.fccRtrLimit(tok, &allowed)
	sent := n.tokenMcast(tok, allowed)
	n.fccTokenUpdate(tok, uint32(remcast+sent))

	if seqLT(n.aru, tok.Aru) || n.id == tok.AruAddr || tok.AruAddr == 0 {
		tok.Aru = n.aru
		if tok.Aru == tok.Seq {
			tok.AruAddr = 0
		} else {
			tok.AruAddr = n.id
		}
	}
	if tok.Aru == lastAru && tok.AruAddr != 0 {
		n.aruCount++
	} else {
		n.aruCount = 0
	}
	if n.aruCount > n.cfg.Timing.FailRecvConst && tok.AruAddr == n.id {
		n.notice("FAILED TO RECEIVE")
		n.stats.FailedToRecv++
		n.failedToRecv = true
		n.failedList = setAdd(n.failedList, n.id)
		n.gatherEnter("failed to receive")
		return
	}

	n.tokenSeq = tok.TokenSeq
	tok.TokenSeq++
	if n.state == StateRecovery {
		n.recoveryTokenRound(tok)
	}
	tok.Header = n.header(wire.TypeOrfToken)
	n.lastToken = cloneMsg(tok)
	if forward {
		n.stats.TokenForwardTx++
		n.send(n.tokenTarget, tok)
	}
	if n.state == StateOperational {
		n.deliver(false, n.highSeqReceived, false)
	}
	n.arm(timerTokenLoss, n.cfg.Timing.Token)
	n.arm(timerTokenRetransmit, n.cfg.Timing.TokenRetransmit)
	if rep && n.tokenHeld {
		n.arm(timerHold, n.cfg.Timing.Hold)
	}
	n.tokenDone()
}

// recoveryTokenRound counts the rotations after which recovery is over.
func (n *Node) recoveryTokenRound(tok *wire.OrfToken) {
	if len(n.retransQueue) > 0 {
		if tok.RetransFlg == 0 {
			tok.RetransFlg = 1
			n.setRetransFlg = true
		}
	} else if tok.RetransFlg == 1 && n.setRetransFlg {
		tok.RetransFlg = 0
		n.setRetransFlg = false
	}
	if tok.RetransFlg == 0 {
		n.retransFlgCount++
	} else {
		n.retransFlgCount = 0
	}
	if n.retransFlgCount == 2 {
		n.installSeq = tok.Seq
	}
	if n.retransFlgCount >= 2 && !n.receivedFlg && seqLTE(n.installSeq, n.aru) {
		n.receivedFlg = true
		n.deliverMemb = append([]uint32(nil), n.transMemb...)
	}
	if n.retransFlgCount >= 3 && seqLTE(n.installSeq, tok.Aru) {
		n.rotationCounter++
	} else {
		n.rotationCounter = 0
	}
	if n.rotationCounter == 2 {
		n.operationalEnter()
		n.rotationCounter = 0
		n.retransFlgCount = 0
	}
}

func (n *Node) sortQueue() *sortQueue {
	if n.state == StateRecovery {
		return n.recovery
	}
	return n.regular
}

// fccCalculate is the flow control of Corosync's fcc_calculate.
func (n *Node) fccCalculate(tok *wire.OrfToken) int {
	t := n.cfg.Timing
	allowed := t.MaxMessages
	if w := t.WindowSize - int(tok.FCC); w < allowed {
		allowed = w
	}
	if allowed < 0 {
		allowed = 0
	}
	n.cbl = n.backlog()
	if d := tok.Backlog + n.cbl - n.pbl; d != 0 {
		calc := int(uint32(t.WindowSize) * n.pbl / d)
		if calc > 0 && allowed > calc {
			allowed = calc
		}
	}
	return allowed
}

func (n *Node) backlog() uint32 {
	switch n.state {
	case StateOperational:
		if n.waitingTransAck {
			return uint32(len(n.transQueue))
		}
		return uint32(len(n.newQueue))
	case StateRecovery:
		return uint32(len(n.retransQueue))
	}
	return 0
}

// fccRtrLimit keeps the sort queue from overflowing.
func (n *Node) fccRtrLimit(tok *wire.OrfToken, allowed *int) {
	limit := n.lastReleased + QueueRtrItemsMax - uint32(*allowed) - uint32(n.cfg.Timing.WindowSize)
	if seqLT(limit, tok.Seq) {
		*allowed = 0
	}
}

func (n *Node) fccTokenUpdate(tok *wire.OrfToken, transmitted uint32) {
	tok.FCC += transmitted - n.trc
	tok.Backlog += n.cbl - n.pbl
	n.trc = transmitted
	n.pbl = n.cbl
}

// tokenRtr answers retransmit requests and adds our own.
func (n *Node) tokenRtr(tok *wire.OrfToken, allowed *int) int {
	n.logRtrList(tok.RtrList)
	q := n.sortQueue()
	sent := 0
	for i := 0; sent < *allowed && i < len(tok.RtrList); {
		r := tok.RtrList[i]
		if r.RingID != n.ringID {
			i++
			continue
		}
		if it := q.get(r.Seq); it != nil && q.inRange(r.Seq) {
			n.send(0, n.mcastOf(it))
			n.stats.McastRetx++
			sent++
			tok.RtrList = append(tok.RtrList[:i], tok.RtrList[i+1:]...)
			continue
		}
		i++
	}
	*allowed -= sent
	rng := tok.Seq - n.aru
	if int32(rng) < 0 || rng >= QueueRtrItemsMax {
		rng = 0
	}
	for i := uint32(1); len(tok.RtrList) < wire.MaxRtrEntries && i <= rng; i++ {
		s := n.aru + i
		if !q.inRange(s) {
			break
		}
		if q.get(s) != nil {
			continue
		}
		if q.missCount(s) < n.cfg.Timing.MissCountConst {
			continue
		}
		found := false
		for _, r := range tok.RtrList {
			if r.Seq == s {
				found = true
				break
			}
		}
		if !found {
			tok.RtrList = append(tok.RtrList, wire.RtrItem{RingID: n.ringID, Seq: s})
		}
	}
	return sent
}

// mcastOf rebuilds the wire message for a stored item.
func (n *Node) mcastOf(it *item) *wire.Mcast {
	h := wire.Header{Type: wire.TypeMcast, Encapsulated: it.encap, NodeID: it.from}
	return &wire.Mcast{Header: h, SystemFrom: it.system, Seq: it.seq, ThisSeqno: it.thisSeqno, RingID: it.ringID, Guarantee: it.guarantee, Payload: it.payload}
}

// tokenMcast sends up to allowed queued messages with fresh seqs.
func (n *Node) tokenMcast(tok *wire.OrfToken, allowed int) int {
	var q *[]*item
	sq := n.regular
	if n.state == StateRecovery {
		q = &n.retransQueue
		sq = n.recovery
		n.arm(timerTokenRetransmit, n.cfg.Timing.TokenRetransmit)
	} else if n.waitingTransAck {
		q = &n.transQueue
	} else {
		q = &n.newQueue
	}
	sent := 0
	for ; sent < allowed && len(*q) > 0; sent++ {
		src := (*q)[0]
		*q = (*q)[1:]
		tok.Seq++
		it := *src
		it.seq = tok.Seq
		it.thisSeqno = n.globalSeqno
		n.globalSeqno++
		it.ringID = n.ringID
		sq.add(it.seq, &it)
		n.send(0, n.mcastOf(&it))
		n.highSeqReceived = tok.Seq
	}
	n.updateAru()
	return sent
}

func (n *Node) updateAru() {
	q := n.sortQueue()
	for n.aru != n.highSeqReceived && q.get(n.aru+1) != nil {
		n.aru++
	}
}

// messagesFree drops messages everybody has and we delivered.
func (n *Node) messagesFree(tokenAru uint32) {
	to := tokenAru
	if seqLT(n.lastAru, to) {
		to = n.lastAru
	}
	if seqLT(n.highDelivered, to) {
		to = n.highDelivered
	}
	if seqLT(to, n.lastReleased) || to == n.lastReleased {
		return
	}
	n.regular.release(to)
	n.lastReleased = to
}

// handleMcast is Corosync's message_handler_mcast.
func (n *Node) handleMcast(m *wire.Mcast) {
	if m.RingID != n.ringID {
		if m.SystemFrom == n.id {
			// Our own message of another ring: sent by a previous
			// incarnation, no reason to gather.
			n.stats.RxMsgDropped++
			return
		}
		switch n.state {
		case StateOperational:
			n.procList = setAdd(n.procList, m.SystemFrom)
			n.gatherEnter("foreign message in operational state")
		case StateGather:
			if !setHas(n.procList, m.SystemFrom) {
				n.procList = setAdd(n.procList, m.SystemFrom)
				n.gatherEnter("foreign message in gather state")
			}
		default:
			n.stats.RxMsgDropped++
		}
		return
	}
	// In RECOVERY every new-ring mcast, recovery copy or not, goes to the
	// recovery queue: the regular queue still holds the old ring keyed by
	// old seqs. In COMMIT the recovery queue is about to be reset.
	q := n.regular
	switch n.state {
	case StateRecovery:
		q = n.recovery
	case StateCommit:
		n.stats.RxMsgDropped++
		return
	default:
		// After a failed recovery the node gathers under the id of the
		// ring it never installed; the regular queue still belongs to
		// the last installed ring and must not mix in other seqs.
		if m.RingID != n.regularRing {
			n.stats.RxMsgDropped++
			return
		}
	}
	if q.inRange(m.Seq) && q.get(m.Seq) == nil {
		it := &item{from: m.Header.NodeID, system: m.SystemFrom, seq: m.Seq, ringID: m.RingID,
			payload: append([]byte(nil), m.Payload...), guarantee: m.Guarantee,
			encap: m.Header.Encapsulated, thisSeqno: m.ThisSeqno}
		if seqLT(n.highSeqReceived, m.Seq) {
			n.highSeqReceived = m.Seq
		}
		q.add(m.Seq, it)
	}
	n.updateAru()
	if n.state == StateOperational {
		n.deliver(false, n.highSeqReceived, false)
	}
}

// deliver hands messages up to end to the application in seq order. With
// skip, holes are passed over and only messages from deliverMemb count.
func (n *Node) deliver(skip bool, end uint32, recovered bool) {
	rng := end - n.highDelivered
	if int32(rng) <= 0 {
		return
	}
	base := n.highDelivered
	for i := uint32(1); i <= rng; i++ {
		s := base + i
		if !n.regular.inRange(s) {
			break
		}
		it := n.regular.get(s)
		if it == nil && !skip {
			break
		}
		n.highDelivered = s
		if it == nil {
			continue
		}
		if skip && !setHas(n.deliverMemb, it.system) {
			continue
		}
		if it.encap == wire.EncapsulatedRecovery {
			continue // a recovery copy, already unwrapped when it counted
		}
		n.rd.Events = append(n.rd.Events, Event{Msg: &Delivery{
			From: it.from, Payload: it.payload, RingID: it.ringID, Seq: it.seq, Recovered: recovered,
		}})
	}
}

// logRtrList logs a token's retransmit requests as Corosync does on every
// valid token that carries some, before serving them: the count at debug
// level, then the sequence numbers, in hex each followed by a space, at
// notice level. Operators grep for "Retransmit List: ".
func (n *Node) logRtrList(rtr []wire.RtrItem) {
	if len(rtr) == 0 {
		return
	}
	n.debug("Retransmit List %d", len(rtr))
	b := make([]byte, 0, len("Retransmit List: ")+9*len(rtr))
	b = append(b, "Retransmit List: "...)
	for _, r := range rtr {
		b = strconv.AppendUint(b, uint64(r.Seq), 16)
		b = append(b, ' ')
	}
	n.rd.Notices = append(n.rd.Notices, string(b))
}

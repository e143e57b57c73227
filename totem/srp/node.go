package srp

import (
	"fmt"
	"time"

	"github.com/ringfence/ringfence/totem/wire"
)

// Node is one totem processor. It is not safe for concurrent use: one
// goroutine owns it, as in etcd-io/raft.
type Node struct {
	cfg     Config
	id      uint32
	persist RingSeqStore
	state   State
	stopped bool
	now     time.Duration

	// Pause detection (pause.go).
	pauseStamp    time.Duration // when the pause timer was last due
	pauseFlushAt  time.Duration // the instant whose messages are dropped
	pauseFlushing bool
	ticked        bool // Tick ran at least once

	// Rings and membership.
	ringID          wire.RingID
	regularRing     wire.RingID // ring whose messages the regular queue holds
	oldRingID       wire.RingID
	tokenRingIDSeq  uint64   // highest ring seq heard of
	memb            []uint32 // current regular configuration
	newMemb         []uint32 // configuration being installed
	transMemb       []uint32
	deliverMemb     []uint32
	leftMemb        []uint32
	procList        []uint32
	failedList      []uint32
	consensus       map[uint32]bool
	leftCleanly     map[uint32]bool
	failedToRecv    bool
	commitToken     *wire.CommitToken
	tokenTarget     uint32
	lastJoinAt      time.Duration
	consensusProc   []uint32 // view when the consensus timer was armed
	consensusFailed []uint32
	lastJoinSeq     uint64
	lastJoinProc    []uint32
	lastJoinFailed  []uint32

	// Ordering state of the current ring.
	regular, recovery *sortQueue
	aru               uint32 // my_aru
	highSeqReceived   uint32
	highDelivered     uint32
	lastReleased      uint32
	lastAru           uint32 // token aru seen on the previous visit
	oldRingSaved      bool
	oldAru            uint32
	oldHighSeq        uint32
	highRingDelivered uint32
	receivedFlg       bool
	tokenSeq          uint32 // my_token_seq: newest token_seq accepted
	lastSeq           uint32 // token.seq on the previous visit
	seqUnchanged      int
	tokenHeld         bool
	aruCount          int
	retransFlgCount   int
	rotationCounter   int
	installSeq        uint32
	setRetransFlg     bool
	trc, pbl, cbl     uint32
	originatedToken   bool
	orfTokenDiscard   bool
	globalSeqno       uint32

	// The last token (orf or commit) this node sent, for retransmission.
	lastToken wire.Message

	// Send queues (Corosync's new_message_queue, new_message_queue_trans,
	// retrans_message_queue).
	newQueue, transQueue []*item
	retransQueue         []*item
	waitingTransAck      bool

	timers   [numTimers]time.Duration // 0 = not armed
	tokenLog tokenLog

	rd    Ready
	stats Stats
}

type timerKind int

const (
	timerTokenLoss timerKind = iota
	timerTokenRetransmit
	timerHold
	timerJoin
	timerConsensus
	timerMerge
	timerTokenWarning
	timerPause
	numTimers
)

// New creates a node, loads its ring seq and enters GATHER, as Corosync
// does when its interface comes up.
func New(cfg Config, persist RingSeqStore) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MessageQueueMax <= 0 {
		cfg.MessageQueueMax = DefaultMessageQueueMax
	}
	if persist == nil {
		persist = &MemRingSeqStore{}
	}
	seq, err := persist.LoadRingSeq()
	if err != nil {
		return nil, fmt.Errorf("srp: load ring seq: %w", err)
	}
	n := &Node{
		cfg:             cfg,
		id:              cfg.NodeID,
		persist:         persist,
		state:           StateOperational,
		consensus:       map[uint32]bool{},
		leftCleanly:     map[uint32]bool{},
		regular:         newSortQueue(0),
		recovery:        newSortQueue(0),
		receivedFlg:     true,
		tokenSeq:        ^uint32(0),
		waitingTransAck: true,
	}
	n.ringID = wire.RingID{Rep: n.id, Seq: seq + 1}
	n.oldRingID = n.ringID
	n.regularRing = n.ringID
	n.tokenRingIDSeq = n.ringID.Seq
	n.memb = []uint32{n.id}
	n.procList = []uint32{n.id}
	n.startPauseTimer()
	n.gatherEnter("interface change")
	return n, nil
}

// ID returns the node's nodeid.
func (n *Node) ID() uint32 { return n.id }

// State returns the membership state.
func (n *Node) State() State { return n.state }

// RingID returns the current ring id.
func (n *Node) RingID() wire.RingID { return n.ringID }

// Members returns the current regular configuration.
func (n *Node) Members() []uint32 { return append([]uint32(nil), n.memb...) }

// Stats returns a copy of the counters.
func (n *Node) Stats() Stats { return n.stats }

// Pending reports how many application messages wait to be sent.
func (n *Node) Pending() int { return len(n.newQueue) + len(n.transQueue) }

// QueuedInUse reports how many messages wait in the queue the next token
// drains: the trans queue while waiting for TransAck, else the new-message
// queue (the queue totemsrp_avail measures). The messages held in the
// new-message queue until TransAck must not count against sync traffic.
func (n *Node) QueuedInUse() int {
	if n.waitingTransAck {
		return len(n.transQueue)
	}
	return len(n.newQueue)
}

// WaitingTransAck reports whether new messages are being held until TransAck.
func (n *Node) WaitingTransAck() bool { return n.waitingTransAck }

// Ready returns what the caller must do; call Advance once it is done.
func (n *Node) Ready() Ready {
	rd := n.rd
	rd.Deadline = n.deadline()
	return rd
}

// HasReady reports whether Ready has anything besides the deadline.
func (n *Node) HasReady() bool { return !n.rd.Empty() }

// Advance acknowledges the last Ready.
func (n *Node) Advance() { n.rd = Ready{} }

func (n *Node) deadline() time.Duration {
	var d time.Duration
	for _, t := range n.timers {
		if t != 0 && (d == 0 || t < d) {
			d = t
		}
	}
	return d
}

func (n *Node) arm(k timerKind, after time.Duration) {
	t := n.now + after
	if t == 0 {
		t = 1
	}
	n.timers[k] = t
	if k == timerTokenLoss {
		n.followTokenLoss(true)
	}
}

func (n *Node) cancel(k timerKind) {
	n.timers[k] = 0
	if k == timerTokenLoss {
		n.followTokenLoss(false)
	}
}

func (n *Node) send(to uint32, m wire.Message) {
	n.rd.Packets = append(n.rd.Packets, Packet{To: to, Msg: m})
}

func (n *Node) notice(format string, args ...any) {
	n.rd.Notices = append(n.rd.Notices, fmt.Sprintf(format, args...))
}

func (n *Node) debug(format string, args ...any) {
	n.rd.Debug = append(n.rd.Debug, fmt.Sprintf(format, args...))
}

func (n *Node) setState(s State, reason string) {
	n.rd.StateChanges = append(n.rd.StateChanges, StateChange{From: n.state, To: s, Reason: reason})
	n.state = s
}

func (n *Node) header(t wire.Type) wire.Header {
	return wire.Header{Type: t, NodeID: n.id}
}

// Tick advances the clock and fires every timer that is due, earliest
// first.
func (n *Node) Tick(now time.Duration) {
	if now > n.now {
		n.now = now
	}
	n.firstTick(n.now)
	if n.stopped {
		return
	}
	for {
		k, due := -1, time.Duration(0)
		for i, t := range n.timers {
			if t != 0 && t <= n.now && (k < 0 || t < due) {
				k, due = i, t
			}
		}
		if k < 0 {
			return
		}
		n.timers[k] = 0
		if timerKind(k) == timerPause {
			n.pauseTimer(due)
			continue
		}
		n.fire(timerKind(k))
	}
}

func (n *Node) fire(k timerKind) {
	switch k {
	case timerTokenLoss:
		n.tokenLoss()
	case timerTokenRetransmit:
		if n.state != StateGather && n.lastToken != nil {
			n.retransmitToken()
			n.arm(timerTokenRetransmit, n.cfg.Timing.TokenRetransmit)
		}
	case timerHold:
		if n.state == StateOperational || n.state == StateRecovery {
			n.retransmitToken()
		}
	case timerJoin:
		if n.state == StateGather || n.state == StateCommit {
			n.lastJoinAt = 0 // the periodic resend always goes out
			n.sendJoin()
			n.arm(timerJoin, n.cfg.Timing.Join)
		}
	case timerConsensus:
		n.consensusExpired()
	case timerTokenWarning:
		n.tokenWarning()
	case timerMerge:
		if n.state == StateOperational && n.ringID.Rep == n.id {
			n.stats.MembMergeDetectTx++
			n.send(0, &wire.MergeDetect{Header: n.header(wire.TypeMergeDetect), SystemFrom: n.id, RingID: n.ringID})
		}
	}
}

func (n *Node) retransmitToken() {
	if n.lastToken == nil {
		return
	}
	n.send(n.tokenTarget, cloneMsg(n.lastToken))
}

func (n *Node) tokenLoss() {
	switch n.state {
	case StateOperational:
		n.notice("A processor failed, forming new configuration: token timed out (%dms), waiting %dms for consensus.",
			n.cfg.Timing.Token.Milliseconds(), n.cfg.Timing.Consensus.Milliseconds())
		n.stats.OperationalTokenLost++
		n.gatherEnter("The token was lost in the OPERATIONAL state.")
	case StateGather:
		n.consensusExpired()
		n.gatherEnter("The consensus timeout expired.")
		n.stats.GatherTokenLost++
	case StateCommit:
		n.stats.CommitTokenLost++
		n.gatherEnter("The token was lost in the COMMIT state.")
	case StateRecovery:
		n.stats.RecoveryTokenLost++
		n.recoveryTokenLoss("The token was lost in the RECOVERY state.")
		n.orfTokenDiscard = true
	}
}

// Broadcast queues payload (a totempg packet) for ordered delivery to
// every member. It fails when the queue in use is full.
func (n *Node) Broadcast(payload []byte, g Guarantee) error {
	if n.stopped {
		return ErrStopped
	}
	q := &n.newQueue
	if n.waitingTransAck {
		q = &n.transQueue
	}
	return n.enqueue(q, payload, g)
}

// BroadcastAfterSync queues a message behind the sync: it goes to the
// new-message queue even while srp waits for TransAck. The runtime uses
// it for packets packed before a membership change, whose earlier
// fragments are already in that queue (or on the wire): sending them
// ahead of those, with the sync traffic, would break the fragment chain.
func (n *Node) BroadcastAfterSync(payload []byte, g Guarantee) error {
	if n.stopped {
		return ErrStopped
	}
	return n.enqueue(&n.newQueue, payload, g)
}

func (n *Node) enqueue(q *[]*item, payload []byte, g Guarantee) error {
	if len(*q) >= n.cfg.MessageQueueMax {
		return ErrQueueFull
	}
	*q = append(*q, &item{from: n.id, system: n.id, payload: append([]byte(nil), payload...), guarantee: uint32(g), encap: wire.EncapsulatedNormal})
	n.stats.McastTx++
	// Like totemsrp_event_signal: a held token is released for new data.
	n.tokenHoldCancel()
	return nil
}

// Avail reports how many more messages Broadcast accepts.
func (n *Node) Avail() int {
	q := n.newQueue
	if n.waitingTransAck {
		q = n.transQueue
	}
	return n.cfg.MessageQueueMax - len(q)
}

// TransAck tells the node that the upper layer finished synchronising
// after the last REGULAR configuration; ordinary messages flow again.
//
// Corosync's upper layer only acks once its sync messages are delivered,
// so its trans queue is empty by then. A caller that acks earlier must not
// strand messages: what is left moves to the front of the normal queue.
func (n *Node) TransAck() {
	if !n.waitingTransAck {
		return
	}
	n.waitingTransAck = false
	if len(n.transQueue) > 0 {
		n.newQueue = append(n.transQueue, n.newQueue...)
		n.transQueue = nil
	}
}

// Leave multicasts a LEAVE join and stops the node: every later input is
// ignored.
func (n *Node) Leave() {
	if n.stopped {
		return
	}
	n.failedList = setAdd(n.failedList, n.id)
	j := &wire.Join{
		Header:     wire.Header{Type: wire.TypeJoin, NodeID: wire.LeaveNodeID},
		SystemFrom: n.id,
		RingSeq:    n.ringID.Seq,
		ProcList:   setSub(n.procList, []uint32{n.id}),
		// Corosync appends self last; keep the other failed entries first.
		FailedList: append(setSub(n.failedList, []uint32{n.id}), n.id),
	}
	n.stats.MembJoinTx++
	n.send(0, j)
	n.stopped = true
	n.timers = [numTimers]time.Duration{}
}

func (n *Node) tokenHoldCancel() {
	if !n.tokenHeld {
		return
	}
	n.tokenHeld = false
	n.stats.TokenHoldCancelTx++
	n.send(0, &wire.TokenHoldCancel{Header: n.header(wire.TypeTokenHoldCancel), RingID: n.ringID})
}

// Step feeds one received message. from is the transport's idea of the
// sender and is only used for diagnostics: totem trusts the message.
func (n *Node) Step(from uint32, m wire.Message) {
	if n.stopped || m == nil {
		return
	}
	_, join := m.(*wire.Join)
	if n.pauseFlush(join) {
		return
	}
	switch msg := m.(type) {
	case *wire.OrfToken:
		n.stats.OrfTokenRx++
		n.handleToken(msg)
	case *wire.Mcast:
		n.stats.McastRx++
		n.handleMcast(msg)
	case *wire.MergeDetect:
		n.stats.MembMergeDetectRx++
		n.handleMergeDetect(msg)
	case *wire.Join:
		n.stats.MembJoinRx++
		n.handleJoin(msg)
	case *wire.CommitToken:
		n.stats.MembCommitTokenRx++
		n.handleCommitToken(msg)
	case *wire.TokenHoldCancel:
		n.stats.TokenHoldCancelRx++
		if msg.RingID == n.ringID {
			n.seqUnchanged = 0
			if n.ringID.Rep == n.id && n.state != StateGather && n.lastToken != nil {
				n.retransmitToken()
				n.arm(timerTokenRetransmit, n.cfg.Timing.TokenRetransmit)
			}
		}
	default:
		n.stats.RxMsgDropped++
	}
}

func cloneMsg(m wire.Message) wire.Message {
	switch v := m.(type) {
	case *wire.OrfToken:
		c := *v
		c.RtrList = append([]wire.RtrItem(nil), v.RtrList...)
		return &c
	case *wire.CommitToken:
		c := *v
		c.Addr = append([]uint32(nil), v.Addr...)
		c.MembList = append([]wire.CommitMember(nil), v.MembList...)
		return &c
	}
	return m
}

package sim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ringfence/ringfence/totem/srp"
	"github.com/ringfence/ringfence/totem/wire"
	"github.com/ringfence/ringfence/votequorum"
)

// Vote quorum on top of the simulated ring: every node runs a votequorum
// machine, driven the way the daemon's exec sync drives it, so that the
// simulator can check the quorum invariant of ARCHITECTURE.md ("no two
// partitions are ever quorate at once") under the same faults that test
// virtual synchrony.
//
// The driver mirrors corosync's sync for one service: after a REGULAR
// configuration a node calls SyncInit and SyncProcess, multicasts the
// machine's messages and then a barrier; when the barriers of every member
// of the new ring have been delivered in that ring, it calls SyncActivate.
// Agreed order makes that the same point of the total order on every
// member, as corosync's sync barrier is.

// quorumMagic starts every payload the quorum layer multicasts. Application
// payloads start with a message id whose top byte is a node id (at most a
// few dozen here), so they never carry it.
const quorumMagic = 0xF17E0000_00000000

const (
	quorumKindMessage = 1 // a votequorum exec message follows
	quorumKindBarrier = 2 // the sender finished its sync messages
)

// quorumEpoch maps virtual time onto the wall clock the machine expects.
var quorumEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type quorumNode struct {
	m       *votequorum.Machine
	ring    wire.RingID
	members []uint32
	syncing bool
	heard   map[uint32]bool // barriers delivered in ring
	// deadline is the machine's next timer, already scheduled.
	deadline time.Time
	// queued: something was broadcast since the node's last Ready.
	queued bool
}

// EnableQuorum gives every node a votequorum machine built from config(id)
// (fresh at every start, as a restarted daemon starts afresh) and checks,
// after every step that can change a quorum verdict, that no two nodes
// with disjoint memberships are quorate at once. Call before starting
// nodes. Configurations that allow two quorate partitions by design
// (two_node, and auto_tie_breaker or last_man_standing after some
// partition sequences) must not be enabled for random runs.
func (s *Sim) EnableQuorum(config func(id uint32) votequorum.Config) {
	s.quorumConfig = config
}

// Quorate reports whether a running node's votequorum machine says quorate.
func (s *Sim) Quorate(id uint32) bool {
	sn := s.nodes[id]
	return sn != nil && sn.up && sn.q != nil && sn.q.m.Quorate()
}

// QuorumView is a running node's votequorum view (zero when quorum is off).
func (s *Sim) QuorumView(id uint32) votequorum.NodeView {
	sn := s.nodes[id]
	if sn == nil || !sn.up || sn.q == nil {
		return votequorum.NodeView{}
	}
	return sn.q.m.View()
}

func (s *Sim) startQuorum(sn *simNode) error {
	if s.quorumConfig == nil {
		sn.q = nil
		return nil
	}
	m, err := votequorum.New(s.quorumConfig(sn.id), quorumEpoch.Add(s.now))
	if err != nil {
		return fmt.Errorf("sim: node %d votequorum: %w", sn.id, err)
	}
	sn.q = &quorumNode{m: m}
	return nil
}

// isQuorumPayload tells the quorum layer's payloads from application ones.
func isQuorumPayload(p []byte) bool {
	return len(p) >= 9 && binary.BigEndian.Uint64(p)&0xFFFFFFFF_00000000 == quorumMagic
}

func quorumPayload(kind byte, body []byte) []byte {
	p := make([]byte, 9+len(body))
	binary.BigEndian.PutUint64(p, quorumMagic)
	p[8] = kind
	copy(p[9:], body)
	return p
}

// quorumConf feeds a configuration change to the node's machine.
func (s *Sim) quorumConf(sn *simNode, cc *srp.ConfChg) {
	q := sn.q
	if cc.Type != srp.Regular {
		return
	}
	q.ring = cc.RingID
	q.members = slices.Clone(cc.Members)
	q.syncing = true
	q.heard = map[uint32]bool{}
	q.m.SyncInit(nil, q.members, votequorum.RingID{Rep: cc.RingID.Rep, Seq: cc.RingID.Seq})
	// Without a quorum device SyncProcess never has to wait.
	q.m.SyncProcess()
	s.quorumSend(sn)
	// Like corosync's sync barrier, ours names the ring it was sent for:
	// queued messages survive membership changes (srp sends them in the
	// next ring), and a stale barrier must not end a newer sync.
	var ring [12]byte
	binary.BigEndian.PutUint32(ring[:4], cc.RingID.Rep)
	binary.BigEndian.PutUint64(ring[4:], cc.RingID.Seq)
	s.quorumBroadcast(sn, quorumPayload(quorumKindBarrier, ring[:]))
}

// quorumDeliver handles one delivered quorum payload.
func (s *Sim) quorumDeliver(sn *simNode, d *srp.Delivery) {
	q := sn.q
	p := d.Payload
	s.trace("node %d quorum deliver kind %d from %d at %s/%d", sn.id, p[8], d.From, d.RingID, d.Seq)
	switch p[8] {
	case quorumKindMessage:
		err := q.m.DeliverBytes(d.From, p[9:], false)
		switch {
		case errors.Is(err, votequorum.ErrUnknownSender):
			// A quorum-device NODEINFO left over from an interrupted sync
			// whose first half was delivered in a ring this node was not
			// in. Corosync asserts here; the daemon drops it, and so do we.
			s.QuorumDropped++
		case err != nil:
			s.Check.failf("node %d: votequorum rejected a message from %d: %v", sn.id, d.From, err)
		}
	case quorumKindBarrier:
		if len(p) != 9+12 {
			s.Check.failf("node %d delivered a %d-byte quorum barrier", sn.id, len(p))
			return
		}
		for_ := wire.RingID{Rep: binary.BigEndian.Uint32(p[9:13]), Seq: binary.BigEndian.Uint64(p[13:21])}
		if !q.syncing || d.RingID != q.ring || for_ != q.ring {
			return // a barrier of an older sync
		}
		q.heard[d.From] = true
		for _, id := range q.members {
			if !q.heard[id] {
				return
			}
		}
		q.syncing = false
		q.m.SyncActivate()
	default:
		s.Check.failf("node %d delivered a quorum payload of unknown kind %d", sn.id, p[8])
	}
	s.quorumSend(sn)
}

// quorumTick advances the machine's clock and sends what it queued.
func (s *Sim) quorumTick(sn *simNode) {
	sn.q.m.Tick(quorumEpoch.Add(s.now))
	s.quorumSend(sn)
}

// quorumSend multicasts what the machine queued and arms its next timer.
func (s *Sim) quorumSend(sn *simNode) {
	q := sn.q
	for _, msg := range q.m.Ready().Messages {
		s.quorumBroadcast(sn, quorumPayload(quorumKindMessage, msg.Encode()))
	}
	if at, ok := q.m.NextDeadline(); ok && !at.Equal(q.deadline) {
		q.deadline = at
		inc, qn := sn.inc, q
		s.Schedule(at.Sub(quorumEpoch), func() {
			if sn.up && sn.inc == inc && sn.q == qn {
				s.quorumTick(sn)
				s.process(sn)
			}
		})
	}
}

func (s *Sim) quorumBroadcast(sn *simNode, p []byte) {
	// A full queue or a stopped node loses the message as a daemon would;
	// the next configuration change runs the sync again.
	if err := sn.n.Broadcast(p, srp.Agreed); err == nil {
		sn.q.queued = true
		s.trace("node %d quorum sends kind %d (%d bytes)", sn.id, p[8], len(p))
	}
}

// checkQuorum is the invariant: among running nodes that are not syncing,
// no two with disjoint memberships are both quorate.
func (s *Sim) checkQuorum() {
	if s.quorumConfig == nil || s.Check.err != nil {
		return
	}
	views := make([]votequorum.NodeView, 0, len(s.ids))
	for _, id := range s.ids {
		if sn := s.nodes[id]; sn.up && sn.q != nil {
			views = append(views, sn.q.m.View())
		}
	}
	s.QuorumChecks++
	if err := votequorum.CheckSplitBrain(views); err != nil {
		s.Check.fail(fmt.Sprintf("quorum: %v at %s", err, s.now))
	}
}

// QuorumMode picks the votequorum configuration of a randomised run.
type QuorumMode int

const (
	// QuorumOff runs no votequorum machines.
	QuorumOff QuorumMode = iota
	// QuorumMajority: one vote per node, expected votes from the nodelist.
	QuorumMajority
	// QuorumMixed picks per seed among plain majority, weighted votes
	// (some nodes with 2 or 3 votes) and wait_for_all: the configurations
	// whose corosync semantics promise at most one quorate partition.
	QuorumMixed
)

// ParseQuorumMode reads "off", "majority" or "mixed".
func ParseQuorumMode(s string) (QuorumMode, error) {
	switch s {
	case "off", "none":
		return QuorumOff, nil
	case "majority":
		return QuorumMajority, nil
	case "mixed":
		return QuorumMixed, nil
	}
	return QuorumOff, fmt.Errorf("unknown quorum mode %q (off, majority, mixed)", s)
}

// quorumConfigFor builds the per-node configuration of a run and a short
// description for failure reports.
func quorumConfigFor(mode QuorumMode, seed int64, ids []uint32) (func(uint32) votequorum.Config, string) {
	votes := map[uint32]uint32{}
	wfa := false
	desc := "majority"
	if mode == QuorumMixed {
		switch uint64(seed) % 3 {
		case 1:
			desc = "weighted"
			for i, id := range ids {
				// Deterministic per seed: a spread of 1, 2 and 3 votes.
				votes[id] = 1 + uint32((uint64(seed)+uint64(i)*7)%3)
			}
		case 2:
			desc = "wait_for_all"
			wfa = true
		}
	}
	list := make([]votequorum.NodeEntry, len(ids))
	for i, id := range ids {
		list[i] = votequorum.NodeEntry{NodeID: id}
		if v, ok := votes[id]; ok {
			v := v
			list[i].QuorumVotes = &v
		}
	}
	if desc == "weighted" {
		desc += fmt.Sprint(votes)
	}
	return func(id uint32) votequorum.Config {
		c := votequorum.Config{NodeID: id, Nodelist: list}
		if wfa {
			on := true
			c.WaitForAll = &on
		}
		return c
	}, desc
}

// checkQuorumFinal: once every node is up in one ring and the sync is
// over, every node must be quorate with that ring's members (every one of
// these configurations is quorate with all nodes present).
func (s *Sim) checkQuorumFinal(desc string) error {
	var live []uint32
	for _, id := range s.ids {
		if s.nodes[id].up {
			live = append(live, id)
		}
	}
	for _, id := range live {
		v := s.nodes[id].q.m.View()
		if v.Syncing || !v.Quorate || !slices.Equal(v.Members, live) {
			return fmt.Errorf("quorum (%s): node %d after convergence: quorate=%v syncing=%v members=%v, want quorate with %v",
				desc, id, v.Quorate, v.Syncing, v.Members, live)
		}
	}
	return nil
}

package sim

import (
	"container/heap"
	"encoding/binary"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"time"

	"github.com/ringfence/ringfence/totem/srp"
	"github.com/ringfence/ringfence/totem/wire"
	"github.com/ringfence/ringfence/votequorum"
)

// Network is a set of simulated nodes on one virtual clock.
type Network struct {
	Sim
}

// Sim holds the virtual world. Use New, then drive it with the methods
// below or with Run for a randomised run.
type Sim struct {
	now   time.Duration
	queue eventQueue
	evSeq uint64
	rng   *rand.Rand

	ids   []uint32
	nodes map[uint32]*simNode

	// Link state: blocked[from][to] cuts one direction.
	blocked map[[2]uint32]bool
	// drops counts packets of a type to discard on a link (scenario
	// "drop token 1->2").
	drops map[dropKey]int

	Loss     float64
	Dup      float64
	MinDelay time.Duration
	MaxDelay time.Duration
	Timing   srp.Timing
	Codec    func(wire.Message) (wire.Message, error)
	AutoAck  bool // call TransAck once a REGULAR change is delivered
	// AckDelayMax, when set, delays each automatic TransAck by a random
	// time up to it, as a sync protocol would.
	AckDelayMax time.Duration
	TraceLog    []string
	traceOn     bool
	Check       *Checker
	Packets     uint64
	Delivered   uint64
	// MaxEvents turns a packet storm into a reported failure instead of a
	// hang; 0 means no limit.
	// Observe, when set, sees every Ready a node produced, after the
	// checker did (scenario tests record deliveries and notices with it).
	Observe   func(id uint32, rd srp.Ready)
	MaxEvents uint64
	events    uint64
	ByType    [8]uint64

	// quorumConfig, when set, gives every node a votequorum machine
	// (EnableQuorum); QuorumChecks counts the split-brain checks made.
	quorumConfig func(id uint32) votequorum.Config
	QuorumChecks uint64
	// QuorumDropped counts quorum-device NODEINFOs dropped because their
	// sender's own NODEINFO was never seen (see quorumDeliver).
	QuorumDropped uint64
}

type dropKey struct {
	t        wire.Type
	from, to uint32
}

type simNode struct {
	id      uint32
	n       *srp.Node
	store   *srp.MemRingSeqStore
	up      bool
	inc     int
	timerAt time.Duration
	sent    uint64 // app message counter
	q       *quorumNode
}

// New builds a world of nodes with the given ids, all down.
func New(seed int64, ids []uint32, timing srp.Timing) *Sim {
	s := &Sim{
		rng:      rand.New(rand.NewSource(seed)),
		nodes:    map[uint32]*simNode{},
		blocked:  map[[2]uint32]bool{},
		drops:    map[dropKey]int{},
		MinDelay: 100 * time.Microsecond,
		MaxDelay: 1 * time.Millisecond,
		Timing:   timing,
		Codec:    WireCodec,
		AutoAck:  true,
	}
	s.ids = append([]uint32(nil), ids...)
	sort.Slice(s.ids, func(i, j int) bool { return s.ids[i] < s.ids[j] })
	for _, id := range s.ids {
		s.nodes[id] = &simNode{id: id, store: &srp.MemRingSeqStore{}}
	}
	s.Check = NewChecker()
	return s
}

// EnableTrace keeps an event log for replay output.
func (s *Sim) EnableTrace() { s.traceOn = true }

func (s *Sim) trace(format string, args ...any) {
	if s.traceOn {
		s.TraceLog = append(s.TraceLog, fmt.Sprintf("%10.3fms ", float64(s.now)/1e6)+fmt.Sprintf(format, args...))
	}
}

// Now is the virtual time.
func (s *Sim) Now() time.Duration { return s.now }

// IDs lists all node ids.
func (s *Sim) IDs() []uint32 { return s.ids }

// Node returns the state machine of a running node, or nil.
func (s *Sim) Node(id uint32) *srp.Node {
	sn := s.nodes[id]
	if sn == nil || !sn.up {
		return nil
	}
	return sn.n
}

// Up reports whether a node runs.
func (s *Sim) Up(id uint32) bool { sn := s.nodes[id]; return sn != nil && sn.up }

// Start boots a node (first start or restart after Crash).
func (s *Sim) Start(id uint32) error {
	sn := s.nodes[id]
	if sn == nil {
		return fmt.Errorf("sim: no node %d", id)
	}
	if sn.up {
		return fmt.Errorf("sim: node %d already up", id)
	}
	n, err := srp.New(srp.Config{NodeID: id, Nodes: s.ids, Timing: s.Timing}, sn.store)
	if err != nil {
		return err
	}
	sn.n = n
	sn.up = true
	sn.inc++
	sn.timerAt = 0
	if err := s.startQuorum(sn); err != nil {
		sn.up, sn.n = false, nil
		return err
	}
	s.Check.nodeStarted(id, s.now)
	s.trace("start %d (ring seq %d)", id, sn.store.Seq)
	s.tick(sn, s.now)
	return nil
}

// SetStoredRingSeq sets what a node's ring seq store holds, as if its
// ringid file said so; use it before Start.
func (s *Sim) SetStoredRingSeq(id uint32, seq uint64) {
	if sn := s.nodes[id]; sn != nil {
		sn.store.Seq = seq
	}
}

// StoredRingSeq is what a node's store holds.
func (s *Sim) StoredRingSeq(id uint32) uint64 {
	if sn := s.nodes[id]; sn != nil {
		return sn.store.Seq
	}
	return 0
}

// Crash stops a node without any message.
func (s *Sim) Crash(id uint32) {
	sn := s.nodes[id]
	if sn == nil || !sn.up {
		return
	}
	sn.up = false
	sn.n = nil
	sn.q = nil
	s.Check.nodeCrashed(id)
	s.trace("crash %d", id)
}

// Leave shuts a node down cleanly.
func (s *Sim) Leave(id uint32) {
	sn := s.nodes[id]
	if sn == nil || !sn.up {
		return
	}
	sn.n.Leave()
	s.process(sn)
	sn.up = false
	sn.n = nil
	sn.q = nil
	s.Check.nodeCrashed(id)
	s.trace("leave %d", id)
}

// Partition splits the network into groups; nodes not named are isolated.
func (s *Sim) Partition(groups ...[]uint32) {
	group := map[uint32]int{}
	for i, g := range groups {
		for _, id := range g {
			group[id] = i + 1
		}
	}
	s.blocked = map[[2]uint32]bool{}
	for _, a := range s.ids {
		for _, b := range s.ids {
			if a != b && (group[a] == 0 || group[a] != group[b]) {
				s.blocked[[2]uint32{a, b}] = true
			}
		}
	}
	s.trace("partition %v", groups)
}

// Block cuts the direction from→to only.
func (s *Sim) Block(from, to uint32) {
	s.blocked[[2]uint32{from, to}] = true
	s.trace("block %d->%d", from, to)
}

// Heal restores every link.
func (s *Sim) Heal() {
	s.blocked = map[[2]uint32]bool{}
	s.trace("heal")
}

// DropNext discards the next count packets of type t from→to.
func (s *Sim) DropNext(t wire.Type, from, to uint32, count int) {
	s.drops[dropKey{t, from, to}] += count
}

// Broadcast makes the application on node id send one message. The
// payload starts with a unique id the checker follows.
func (s *Sim) Broadcast(id uint32, body string) error {
	sn := s.nodes[id]
	if sn == nil || !sn.up {
		return fmt.Errorf("sim: node %d is down", id)
	}
	sn.sent++
	mid := uint64(id)<<40 | uint64(sn.inc)<<32 | sn.sent
	p := make([]byte, 8+len(body))
	binary.BigEndian.PutUint64(p, mid)
	copy(p[8:], body)
	if err := sn.n.Broadcast(p, srp.Agreed); err != nil {
		return err
	}
	s.Check.broadcast(id, sn.inc, mid)
	s.trace("app %d sends %x %q", id, mid, body)
	s.process(sn)
	return nil
}

// Inject hands a message to a running node as if it came from the
// network (fuzzing and hostile-input tests).
func (s *Sim) Inject(to, from uint32, m wire.Message) {
	sn := s.nodes[to]
	if sn == nil || !sn.up {
		return
	}
	sn.n.Tick(s.now)
	sn.n.Step(from, m)
	s.process(sn)
}

// MsgBody returns the application text of a delivered payload.
func MsgBody(p []byte) string {
	if len(p) < 8 {
		return ""
	}
	return string(p[8:])
}

// RunFor processes events for d of virtual time.
func (s *Sim) RunFor(d time.Duration) error { return s.RunUntil(s.now + d) }

// RunUntil processes events up to virtual time t; it stops at the first
// invariant violation.
func (s *Sim) RunUntil(t time.Duration) error {
	for len(s.queue) > 0 && s.queue[0].at <= t {
		e := heap.Pop(&s.queue).(*event)
		s.now = e.at
		s.events++
		if s.MaxEvents > 0 && s.events > s.MaxEvents {
			s.Check.failf("liveness: more than %d events by %s (packet storm?) packets by type %v", s.MaxEvents, s.now, s.ByType)
			return s.Check.Err()
		}
		s.handle(e)
		if err := s.Check.Err(); err != nil {
			return err
		}
	}
	s.now = t
	return s.Check.Err()
}

// Schedule runs fn at virtual time at.
func (s *Sim) Schedule(at time.Duration, fn func()) {
	s.push(&event{at: at, kind: evFault, fn: fn})
}

func (s *Sim) handle(e *event) {
	switch e.kind {
	case evPacket:
		sn := s.nodes[e.node]
		if sn == nil || !sn.up {
			return
		}
		sn.n.Tick(s.now)
		sn.n.Step(e.from, e.msg)
		s.process(sn)
	case evTimer:
		sn := s.nodes[e.node]
		if sn == nil || !sn.up || sn.inc != e.inc {
			return
		}
		if sn.timerAt == e.at {
			sn.timerAt = 0
		}
		s.tick(sn, s.now)
	case evApp, evFault:
		e.fn()
	}
}

func (s *Sim) tick(sn *simNode, now time.Duration) {
	sn.n.Tick(now)
	s.process(sn)
}

// process carries out a node's Ready.
func (s *Sim) process(sn *simNode) {
	n := sn.n
	rd := n.Ready()
	n.Advance()
	for _, nt := range rd.Notices {
		s.trace("node %d notice: %s", sn.id, nt)
	}
	for _, sc := range rd.StateChanges {
		s.trace("node %d %s -> %s (%s)", sn.id, sc.From, sc.To, sc.Reason)
	}
	for _, ev := range rd.Events {
		if ev.Conf != nil {
			s.trace("node %d conf %s ring %s members %v left %v joined %v", sn.id, ev.Conf.Type, ev.Conf.RingID, ev.Conf.Members, ev.Conf.Left, ev.Conf.Joined)
			s.Check.conf(sn.id, ev.Conf)
			if sn.q != nil {
				s.quorumConf(sn, ev.Conf)
			}
		} else if isQuorumPayload(ev.Msg.Payload) {
			if sn.q == nil {
				s.Check.failf("node %d delivered a quorum payload with quorum off", sn.id)
			} else {
				s.quorumDeliver(sn, ev.Msg)
			}
		} else {
			s.Delivered++
			if s.traceOn {
				s.trace("node %d deliver %q from %d at %s/%d recovered=%v", sn.id, MsgBody(ev.Msg.Payload), ev.Msg.From, ev.Msg.RingID, ev.Msg.Seq, ev.Msg.Recovered)
			}
			s.Check.deliver(sn.id, ev.Msg)
		}
	}
	if len(rd.Events) > 0 && s.AutoAck && n.WaitingTransAck() && n.State() == srp.StateOperational {
		if s.AckDelayMax <= 0 {
			n.TransAck()
		} else {
			inc, ring := sn.inc, n.RingID()
			s.Schedule(s.now+time.Duration(s.rng.Int63n(int64(s.AckDelayMax))), func() {
				// Ack only the configuration the sync was for.
				if sn.up && sn.inc == inc && sn.n.RingID() == ring && sn.n.State() == srp.StateOperational {
					sn.n.TransAck()
					s.process(sn)
				}
			})
		}
	}
	if sn.q != nil && len(rd.Events) > 0 {
		s.checkQuorum()
	}
	if s.Observe != nil {
		s.Observe(sn.id, rd)
	}
	for _, p := range rd.Packets {
		s.transmit(sn.id, p)
	}
	if rd.Deadline != 0 && (sn.timerAt == 0 || rd.Deadline < sn.timerAt) {
		sn.timerAt = rd.Deadline
		at := rd.Deadline
		if at < s.now {
			at = s.now
		}
		s.push(&event{at: at, kind: evTimer, node: sn.id, inc: sn.inc})
	}
	// Quorum messages queued while handling these events may go out at
	// once (Broadcast releases a held token): let the node act on them.
	if sn.q != nil && sn.q.queued && sn.up {
		sn.q.queued = false
		s.process(sn)
	}
}

func (s *Sim) transmit(from uint32, p srp.Packet) {
	if s.traceOn {
		if j, ok := p.Msg.(*wire.Join); ok {
			s.trace("node %d join hdr=%d ring_seq=%d proc=%v failed=%v", from, j.Header.NodeID, j.RingSeq, j.ProcList, j.FailedList)
		}
	}
	if p.To != 0 {
		s.unicast(from, p.To, p.Msg)
		return
	}
	// Like Corosync's transports, a multicast reaches the sender too: a
	// lone node forms its ring by agreeing with its own join.
	for _, to := range s.ids {
		s.unicast(from, to, p.Msg)
	}
}

func (s *Sim) unicast(from, to uint32, m wire.Message) {
	s.Packets++
	s.ByType[m.Hdr().Type&7]++
	if s.blocked[[2]uint32{from, to}] {
		return
	}
	k := dropKey{m.Hdr().Type, from, to}
	if s.drops[k] > 0 {
		s.drops[k]--
		s.trace("drop %s %d->%d", k.t, from, to)
		return
	}
	if s.Loss > 0 && from != to && s.rng.Float64() < s.Loss {
		return
	}
	copies := 1
	if s.Dup > 0 && s.rng.Float64() < s.Dup {
		copies = 2
	}
	sn := s.nodes[to]
	for i := 0; i < copies; i++ {
		msg, err := s.Codec(m)
		if err != nil {
			s.Check.fail(fmt.Sprintf("codec: %v", err))
			return
		}
		d := s.MinDelay
		if s.MaxDelay > s.MinDelay {
			d += time.Duration(s.rng.Int63n(int64(s.MaxDelay - s.MinDelay)))
		}
		s.push(&event{at: s.now + d, kind: evPacket, node: to, from: from, inc: sn.inc, msg: msg})
	}
}

// Converged reports whether every live node is OPERATIONAL in one ring
// that holds exactly the live nodes, with nothing left to send.
func (s *Sim) Converged() bool {
	var ring wire.RingID
	var live []uint32
	for _, id := range s.ids {
		if s.nodes[id].up {
			live = append(live, id)
		}
	}
	for i, id := range live {
		n := s.nodes[id].n
		if n.State() != srp.StateOperational || n.Pending() > 0 || n.WaitingTransAck() {
			return false
		}
		if i == 0 {
			ring = n.RingID()
		} else if n.RingID() != ring {
			return false
		}
		if fmt.Sprint(n.Members()) != fmt.Sprint(live) {
			return false
		}
	}
	return true
}

// Describe prints one line per node for failure reports.
func (s *Sim) Describe() string {
	var b strings.Builder
	for _, id := range s.ids {
		sn := s.nodes[id]
		if !sn.up {
			fmt.Fprintf(&b, "node %d down\n", id)
			continue
		}
		fmt.Fprintf(&b, "node %d %s ring %s members %v pending %d\n", id, sn.n.State(), sn.n.RingID(), sn.n.Members(), sn.n.Pending())
	}
	return b.String()
}
